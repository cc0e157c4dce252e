"""The report's templates: each compiles, each section is present under its heading, the numbers of the analysis
and of the input files stand in the tables and sentences they belong to, and hostile text from the data or the
protocol comes out as text, never as markup."""

from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import html as html_lib
import re
import shutil
import tomllib
from pathlib import Path

import jinja2
import pandas as pd
import pytest

from rodnan.core.analysis.pipeline import TrialAnalysis, analyse_trial
from rodnan.core.protocol import Study, bundled_protocol_path, load_protocol
from rodnan.core.trialdata import read_trial_dir
from rodnan.reports import SECTIONS, write_report
from rodnan.reports.render import REPORT_SECTIONS, environment

HOSTILE = "<script>alert(1)</script>"


def _section(html: str, anchor: str) -> str:
    """The inner HTML of the section with this id."""
    found = re.search(rf'<section class="[^"]*" id="{re.escape(anchor)}">(.*?)</section>', html, flags=re.DOTALL)
    assert found is not None, anchor
    return found.group(1)


def _text(fragment: str) -> str:
    """A fragment's text: tags removed, entities decoded, whitespace collapsed."""
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def _tables(fragment: str) -> list[list[list[str]]]:
    """Every table of a fragment as rows of cell texts (header row first)."""
    return [
        [
            [_text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.DOTALL)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.DOTALL)
        ]
        for table in re.findall(r"<table[^>]*>(.*?)</table>", fragment, flags=re.DOTALL)
    ]


@pytest.fixture(scope="module")
def analysis(study: Study, data_dir: Path) -> TrialAnalysis:
    """The analysis of the report's data directory, computed apart from the report."""
    return analyse_trial(read_trial_dir(data_dir, study))


def test_every_template_compiles() -> None:
    """Each template file parses; there is a base, the macros, and one template per section of REPORT_SECTIONS."""
    env = environment()
    names = env.list_templates()
    assert set(names) == {"base.html", "macros.html", *(s.template for s in REPORT_SECTIONS)}
    for name in names:
        env.get_template(name)  # raises TemplateSyntaxError on a broken template
    assert env.autoescape is True


def test_a_missing_value_is_an_error_not_an_empty_string() -> None:
    """StrictUndefined: a section rendered without its context fails loudly instead of printing nothing."""
    with pytest.raises(jinja2.UndefinedError):
        environment().get_template("sections/wilcoxon.html").render(images={})


def test_every_section_has_its_heading_and_anchor(html: str) -> None:
    """Each section element carries its id, its heading first, and starts a PDF page where declared."""
    assert [s.title for s in REPORT_SECTIONS] == list(SECTIONS)
    for section in REPORT_SECTIONS:
        found = re.search(rf'<section class="([^"]*)" id="{re.escape(section.anchor)}">\s*<h2>(.*?)</h2>', html)
        assert found is not None, section.title
        assert found.group(2) == section.title
        assert ("page" in found.group(1).split()) == section.page
    assert 'id="kaplan-meier"' in html
    assert 'id="adverse-events"' in html


def test_kaplan_meier_table_has_the_fits_numbers(html: str, analysis: TrialAnalysis, data_dir: Path) -> None:
    """The summary row of each endpoint: its label, n and events of the fit; n is the infused subjects of subjects.csv,
    OS events the deaths recorded there."""
    subjects = pd.read_csv(data_dir / "subjects.csv", dtype=str, keep_default_na=False)
    infused = int((subjects["infusion_date"] != "").sum())
    deaths = int((subjects["death_date"] != "").sum())
    table = _tables(_section(html, "kaplan-meier"))[0]
    assert table[0][:5] == ["Endpoint", "n", "Events", "Median, months (95 % CI)", "At risk at the median"]
    rows = {row[0]: row for row in table[1:]}
    for paramcd, survival in analysis.survival.items():
        row = rows[survival.label]
        assert row[1:3] == [str(survival.kaplan_meier.n), str(survival.kaplan_meier.events)]
        assert row[1] == str(infused)
        if paramcd == "OS":
            assert row[2] == str(deaths)


def test_adverse_event_headline_counts_the_input_file(html: str, data_dir: Path) -> None:
    """The summary's adverse-event sentence and the table's first row: events and subjects counted from the CSV."""
    events = pd.read_csv(data_dir / "adverse_events.csv", dtype=str, keep_default_na=False)
    subjects = pd.read_csv(data_dir / "subjects.csv", dtype=str, keep_default_na=False)
    infused = int((subjects["infusion_date"] != "").sum())
    n_events, n_subjects = len(events), events["subject_id"].nunique()
    summary = _text(_section(html, "summary"))
    assert f"Adverse events: {n_events} in {n_subjects} of {infused} infused subjects;" in summary
    table = _tables(_section(html, "adverse-events"))[0]
    assert table[1][1] == f"{n_subjects} ({100 * n_subjects / infused:.0f} %)"
    assert table[1][2] == str(n_events)
    terms = {row[0] for row in table[1:]}
    assert set(events["term"]) <= terms
    assert set(events["soc"]) <= terms


def test_responders_and_cox_rows_are_the_analysis(html: str, analysis: TrialAnalysis) -> None:
    """Responders: assessed, responders and not assessed per row; Cox: events/n of each univariable model."""
    table = _tables(_section(html, "responders"))[0]
    expected = [[str(r["label"]), str(r["visit"]), str(r["n"]), str(r["responders"])] for _, r in analysis.responders.iterrows()]
    assert [row[:4] for row in table[1:]] == expected
    cox = _section(html, "cox")
    dfs = analysis.survival["DFS"]
    labels = {c.column: c.label for c in analysis.cox_covariates}
    rows = {row[0]: row for row in _tables(cox)[0][1:]}
    for _, fit in dfs.cox_univariable.table.iterrows():
        assert rows[labels[str(fit["covariate"])]][2] == f"{int(fit['events'])}/{int(fit['n'])}"


def test_methods_list_the_software_and_the_protocols_rules(html: str, analysis: TrialAnalysis) -> None:
    """The software table has rodnan's version; the DFS sentence names each event rule of the protocol."""
    methods = _section(html, "methods")
    assert ["rodnan", "0.1.0"] in _tables(methods)[0]
    assert analysis.study.endpoints is not None
    for rule in analysis.study.endpoints.dfs.events:
        assert rule.label in _text(methods)


@pytest.fixture(scope="module")
def hostile_html(data_dir: Path, tmp_path_factory: pytest.TempPathFactory, now: dt.datetime) -> tuple[str, Path]:
    """The report of a copy of the data whose first subject, an adverse-event term and SOC, the directory's name, and
    the protocol's title and sponsor hold markup."""
    root = tmp_path_factory.mktemp("hostile")
    copy = root / f"data {HOSTILE.replace('/', '')}"  # a directory name cannot hold "/"
    shutil.copytree(data_dir, copy)
    subjects = pd.read_csv(copy / "subjects.csv", dtype=str, keep_default_na=False)
    first = subjects.loc[0, "subject_id"]
    for name in ("subjects.csv", "values.csv", "adverse_events.csv"):
        frame = pd.read_csv(copy / name, dtype=str, keep_default_na=False)
        frame.loc[frame["subject_id"] == first, "subject_id"] = first + HOSTILE
        frame.to_csv(copy / name, index=False, lineterminator="\n")
    events = pd.read_csv(copy / "adverse_events.csv", dtype=str, keep_default_na=False)
    events.loc[0, "term"] = f'Fever {HOSTILE} & "chills"'
    events.loc[0, "soc"] = f"General {HOSTILE}"
    events.to_csv(copy / "adverse_events.csv", index=False, lineterminator="\n")
    protocol = bundled_protocol_path().read_text(encoding="utf-8")
    study = load_protocol()
    protocol = protocol.replace(f"title: {study.identity.title}", f"title: 'Title {HOSTILE}'", 1)
    protocol = protocol.replace(f"sponsor: {study.identity.sponsor}", "sponsor: 'Sponsor <b onmouseover=x>'", 1)
    protocol_path = root / "protocol.yaml"
    protocol_path.write_text(protocol, encoding="utf-8")
    assert load_protocol(protocol_path).identity.title == f"Title {HOSTILE}"
    return write_report(copy, root / "out", now=now, protocol=protocol_path, pdf=False).html.read_text(encoding="utf-8"), copy


def test_hostile_text_is_escaped_everywhere(hostile_html: tuple[str, Path]) -> None:
    """No element comes from the data: no <script> or injected <b> at all; each hostile text reads as itself."""
    text, copy = hostile_html
    assert "<script" not in text.lower()
    assert "<b " not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    page = _text(text)
    assert f'Fever {HOSTILE} & "chills"' in page
    assert f"General {HOSTILE}" in page
    assert f"Title {HOSTILE}" in page
    assert "Sponsor <b onmouseover=x>" in page
    assert f"Input data {copy.name}: SHA-256" in page
    assert "<title>NCT00962923: statistical report</title>" in text


def test_hostile_subject_id_is_escaped_in_the_figures(hostile_html: tuple[str, Path]) -> None:
    """The swimmer plot labels subjects: its SVG holds the hostile id as escaped text, no script element."""
    text, _ = hostile_html
    swimmer = _section(text, "swimmer-plot")
    encoded = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', swimmer)
    assert encoded is not None
    svg = base64.b64decode(encoded.group(1)).decode("utf-8")
    assert "<script" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg


def test_page_footer_is_a_css_string_without_markup(html: str) -> None:
    """The PDF page footer lives in the <style> element: a CSS string of plain characters and escapes only."""
    found = re.search(r"@page \{ @bottom-left \{ content: (\"[^\"]*\"); \} \}", html)
    assert found is not None
    assert "<" not in found.group(1)
    assert "\\0000b7 " in found.group(1)  # the middle dot, escaped


def test_every_template_and_stylesheet_is_package_data() -> None:
    """Each file under templates/ and static/ matches a package-data pattern of pyproject.toml (so a wheel ships it)."""
    root = Path(__file__).resolve().parents[2]
    patterns = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"][
        "rodnan.reports"
    ]
    package = root / "src" / "rodnan" / "reports"
    files = [
        p.relative_to(package).as_posix()
        for folder in ("templates", "static")
        for p in (package / folder).rglob("*")
        if p.is_file()
    ]
    assert len(files) == len(REPORT_SECTIONS) + 3  # the sections, base, macros, the stylesheet
    for name in files:
        assert any(fnmatch.fnmatchcase(name, pattern) and name.count("/") == pattern.count("/") for pattern in patterns), name
