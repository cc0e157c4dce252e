"""PdfProcess: the PDF written by a process forked before the slow imports, byte for byte the PDF that
write_pdf writes here; WeasyPrint's errors raised here; a dead process falls back to writing here."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

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
