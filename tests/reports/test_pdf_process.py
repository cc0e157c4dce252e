"""The report's PDF: PdfProcess (written by a process forked before the slow imports, byte for byte the PDF
written here; WeasyPrint's errors raised here; a dead process means writing here), and write_pdf's figures
drawn beside the text and placed on the pages (the same pages as WeasyPrint's one pass)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rodnan.reports import pdf
from rodnan.reports.pdf import PdfProcess, write_pdf

HTML = "<html><body><h1>Disease-free survival</h1><p>14 infused, 2 events.</p></body></html>"


def test_the_forked_process_writes_the_same_bytes_as_write_pdf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_pdf(HTML, tmp_path / "here.pdf")
    with PdfProcess() as process:
        child = process._process
        assert child is not None

        def not_here(text: str, path: Path) -> None:
            raise AssertionError("the PDF was written in the caller, not in the forked process")

        monkeypatch.setattr(pdf, "write_pdf", not_here)  # the fork kept the real one
        process.write(HTML, tmp_path / "forked.pdf")
    assert (tmp_path / "forked.pdf").read_bytes() == (tmp_path / "here.pdf").read_bytes()
    assert (tmp_path / "here.pdf").read_bytes().startswith(b"%PDF-")
    assert not child.is_alive()


def test_an_error_of_weasyprint_in_the_process_is_raised_here(tmp_path: Path) -> None:
    with PdfProcess() as process, pytest.raises(FileNotFoundError):
        process.write(HTML, tmp_path / "no such folder" / "report.pdf")


def test_a_dead_process_means_the_pdf_is_written_here(tmp_path: Path) -> None:
    with PdfProcess() as process:
        child = process._process
        assert child is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        process.write(HTML, tmp_path / "report.pdf")
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF-")


def test_leaving_without_a_pdf_stops_the_process_at_once() -> None:
    started = time.monotonic()
    with PdfProcess() as process:
        child = process._process
        assert child is not None
    child.join(timeout=10)
    assert not child.is_alive()
    assert time.monotonic() - started < 4  # it saw the end of its pipe; not killed after close()'s 5 s wait


def _pages_as_grey(pdf: Path, folder: Path, dpi: int = 40) -> list[np.ndarray]:
    """Each page rasterised by poppler (pdftoppm), as an array of grey levels 0-255."""
    folder.mkdir()
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", str(pdf), str(folder / "page")], check=True)
    return [np.asarray(Image.open(page), dtype=np.float64) for page in sorted(folder.glob("page-*.pgm"))]


def _page_texts(pdf: Path) -> list[str]:
    """Each page's text (poppler's pdftotext), words in order."""
    done = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True)
    return [" ".join(page.split()) for page in done.stdout.split("\f")]


def test_figures_drawn_beside_the_text_give_the_pages_of_the_one_pass_pdf(html: str, tmp_path: Path) -> None:
    """The report's figures drawn in a forked process as their own pages and placed over blanks of the
    same size: the same pages, the same text on each (the figures' labels and numbers included), and the
    same picture (rasterised at 40 dpi: a mean difference under 0.1 grey level; 0.01 measured)."""
    assert html.count("data:image/svg+xml;base64,") >= 7  # CONSORT, KM of DFS and OS, forest, spaghetti, organs, swimmer
    one_pass, placed = tmp_path / "one-pass.pdf", tmp_path / "placed.pdf"
    write_pdf(html, one_pass, processes=1)
    write_pdf(html, placed, processes=2)
    assert _page_texts(placed) == _page_texts(one_pass)
    assert "Hazard ratio (log scale)" in " ".join(_page_texts(placed))  # a figure's text, from its placed page
    expected, got = _pages_as_grey(one_pass, tmp_path / "a"), _pages_as_grey(placed, tmp_path / "b")
    assert len(got) == len(expected) >= 10
    for page, (want, have) in enumerate(zip(expected, got, strict=True), start=1):
        assert have.shape == want.shape, page
        assert np.abs(have - want).mean() < 0.1, page
    assert placed.read_bytes() != one_pass.read_bytes()  # really the other path


def test_placed_figures_give_the_same_bytes_every_time(html: str, tmp_path: Path) -> None:
    write_pdf(html, tmp_path / "a.pdf", processes=2)
    write_pdf(html, tmp_path / "b.pdf", processes=2)
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()


def test_html_without_figures_is_written_in_one_pass(tmp_path: Path) -> None:
    write_pdf(HTML, tmp_path / "two.pdf", processes=2)
    write_pdf(HTML, tmp_path / "one.pdf", processes=1)
    assert (tmp_path / "two.pdf").read_bytes() == (tmp_path / "one.pdf").read_bytes()


def test_the_forked_process_places_the_figures_as_write_pdf_does(html: str, tmp_path: Path) -> None:
    """The PDF process forks a process of its own to draw the figures: the same bytes as here."""
    write_pdf(html, tmp_path / "here.pdf", processes=2)
    with PdfProcess() as process:
        process.write(html, tmp_path / "forked.pdf")
    assert (tmp_path / "forked.pdf").read_bytes() == (tmp_path / "here.pdf").read_bytes()
