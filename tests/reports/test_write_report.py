"""write_report: the HTML has every section and no external URL, the footer's hashes are the files', the output is
reproducible, data-derived text is escaped, and the PDF is a PDF of several pages."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import shutil
import zlib
from pathlib import Path

import pandas as pd
import pytest

from rodnan.core.protocol import bundled_protocol_path
from rodnan.errors import InputError
from rodnan.reports import SECTIONS, ReportPaths, fingerprint_data, write_report


def test_report_has_every_section_heading_in_order(html: str) -> None:
    """Summary, CONSORT, Kaplan–Meier, Cox, Mixed model, Wilcoxon, Responders, Remission, Adverse events, Swimmer plot,
    Methods."""
    headings = re.findall(r"<h2>(.*?)</h2>", html)
    assert headings == list(SECTIONS)
    assert "Kaplan–Meier" in headings


def test_report_names_no_external_resource(html: str) -> None:
    """No http(s) URL anywhere; every src and href is inline (data:) or a fragment; no script."""
    assert "http://" not in html
    assert "https://" not in html
    for attribute in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html):
        assert attribute.startswith(("data:", "#")), attribute[:40]
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    # CONSORT, KM DFS and OS, spaghetti, organ function, swimmer, DFS forest (no OS forest: no deaths among the 20)
    assert html.count('src="data:image/svg+xml;base64,') == 7


def test_footer_hashes_are_the_sha256_of_the_files(html: str, data_dir: Path) -> None:
    """The protocol hash is SHA-256 of the protocol file; the data hash is SHA-256 of sha256sum's listing of the inputs."""
    protocol = hashlib.sha256(bundled_protocol_path().read_bytes()).hexdigest()
    names = sorted(
        p.name for p in data_dir.iterdir() if p.name in {"subjects.csv", "values.csv", "adverse_events.csv", "simulation.json"}
    )
    assert names == ["adverse_events.csv", "simulation.json", "subjects.csv", "values.csv"]
    listing = "".join(f"{hashlib.sha256((data_dir / n).read_bytes()).hexdigest()}  {n}\n" for n in names)
    data = hashlib.sha256(listing.encode()).hexdigest()
    assert re.search(r'<code id="protocol-sha256">([0-9a-f]{64})</code>', html).group(1) == protocol  # type: ignore[union-attr]
    assert re.search(r'<code id="data-sha256">([0-9a-f]{64})</code>', html).group(1) == data  # type: ignore[union-attr]
    assert fingerprint_data(data_dir).sha256 == data
    assert 'id="rodnan-version">0.1.0<' in html
    assert '<time id="generated" datetime="2026-01-02T03:04:05Z">' in html
    assert "protocol nct00962923 version 1" in html.lower()


def test_same_input_and_time_give_byte_identical_html(
    written: ReportPaths, data_dir: Path, tmp_path: Path, now: dt.datetime
) -> None:
    """Reproducible: a second run on the same files with the same `now` writes the same bytes."""
    again = write_report(data_dir, tmp_path, now=now, pdf=False)
    assert again.pdf is None
    assert again.html.read_bytes() == written.html.read_bytes()


def _pdf_objects(content: bytes) -> bytes:
    """The PDF's bytes with every Flate stream inflated (WeasyPrint packs the page objects into object streams)."""
    parts = [content]
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", content, flags=re.DOTALL):
        with contextlib.suppress(zlib.error):
            parts.append(zlib.decompress(stream))
    return b"\n".join(parts)


def test_pdf_is_a_pdf_with_several_pages(written: ReportPaths) -> None:
    """report.pdf starts with %PDF and has more than one page: its page objects, and the /Count of its page tree."""
    assert written.pdf is not None
    content = written.pdf.read_bytes()
    assert content.startswith(b"%PDF-")
    objects = _pdf_objects(content)
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", objects))
    assert pages > 5
    trees = [d for d in re.findall(rb"<<[^<>]*>>", objects) if re.search(rb"/Type\s*/Pages\b", d)]
    assert [int(re.search(rb"/Count\s+(\d+)", tree).group(1)) for tree in trees] == [pages]  # type: ignore[union-attr]


def test_report_states_the_statistics(html: str) -> None:
    """Spot checks: KM transform, Firth warning, mixed model, Clopper-Pearson, simulated data, screening not recorded."""
    assert "log-log transform" in html
    assert "fewer than 10 events per variable" in html
    assert "Slope per month (95 % CI)" in html
    assert "Clopper–Pearson" in html
    assert "Simulated data (rodnan simulate, seed 1)" in html
    assert "the number of candidates screened and the reasons they were not eligible were not recorded" in html


def test_timings_cover_every_step(written: ReportPaths) -> None:
    """write_report returns how long reading, analysis, figures, HTML and PDF took."""
    assert set(written.timings) == {"read", "analyse", "figures", "html", "pdf", "total"}
    assert written.timings["total"] >= written.timings["analyse"]


def test_data_derived_text_is_escaped(data_dir: Path, tmp_path: Path, now: dt.datetime) -> None:
    """An adverse-event term with markup appears as text (&lt;...&gt;), never as markup."""
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    events = pd.read_csv(copy / "adverse_events.csv", dtype=str, keep_default_na=False)
    events.loc[0, "term"] = '<img src="http://x">Fever & "chills"'
    events.to_csv(copy / "adverse_events.csv", index=False, lineterminator="\n")
    text = write_report(copy, tmp_path / "out", now=now, pdf=False).html.read_text(encoding="utf-8")
    assert "&lt;img src=&#34;http://x&#34;&gt;Fever &amp; &#34;chills&#34;" in text  # markupsafe's escapes of < " & >
    assert '<img src="http://x">' not in text


def test_missing_directory_is_an_input_error(tmp_path: Path) -> None:
    """A data directory that does not exist: InputError naming it."""
    with pytest.raises(InputError, match="does not exist"):
        write_report(tmp_path / "nowhere", tmp_path / "out")


def test_bad_row_is_an_input_error_naming_file_line_and_rule(data_dir: Path, tmp_path: Path) -> None:
    """A non-numeric albumin: InputError naming values.csv, the line and the column; nothing is written."""
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    lines = (copy / "values.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    row = next(k for k, line in enumerate(lines) if ",albumin," in line)
    parts = lines[row].split(",")
    parts[3] = "abc"
    lines[row] = ",".join(parts)
    (copy / "values.csv").write_text("".join(lines), encoding="utf-8")
    with pytest.raises(InputError, match=rf"values\.csv line {row + 1}, column 'value': albumin: must be a number"):
        write_report(copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()
