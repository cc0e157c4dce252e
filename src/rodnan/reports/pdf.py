"""The report as PDF: WeasyPrint lays out the report's HTML on A4 pages (the stylesheet's ``@page`` rules).

:func:`write_pdf` does it in this process. :class:`PdfProcess` does it in a process forked at the start of
``rodnan report``: that process loads WeasyPrint (and pango) while this one reads and analyses the data,
then writes the PDF when it is handed the HTML, so the loading is off the command's critical path. The PDF
is the same either way: the same HTML through the same function.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from pathlib import Path
from types import TracebackType
from typing import Any

from rodnan.core.workers import can_fork, error_payload, raise_error


def write_pdf(text: str, path: Path) -> None:
    """Render report HTML to a PDF file with WeasyPrint (no network: every resource is inline).

    Args:
        text: the HTML of :func:`~rodnan.reports.render.build_report_html`.
        path: the PDF file to write.
    """
    from weasyprint import HTML  # imported here: loading pango takes a moment and HTML-only runs skip it

    HTML(string=text, base_url=None).write_pdf(str(path))


class PdfProcess:
    """A forked process that loads WeasyPrint now and writes one PDF when :meth:`write` hands it the HTML.

    Fork it before this process opens a database or starts a thread. Where processes cannot be forked, or
    the process has died, :meth:`write` writes the PDF here. Use it as a context manager: leaving stops the
    process if no PDF was asked for.
    """

    def __init__(self) -> None:
        self._connection: Any = None
        self._process: Any = None
        if not can_fork():
            return
        context = mp.get_context("fork")
        self._connection, theirs = context.Pipe(duplex=True)
        self._process = context.Process(target=_serve, args=(theirs, self._connection), daemon=True, name="rodnan-report-pdf")
        self._process.start()
        theirs.close()

    def write(self, text: str, path: Path) -> None:
        """Write the PDF of ``text`` to ``path`` (in the forked process when it is there, else here).

        Raises:
            The exception WeasyPrint raised (or RuntimeError with its text when it cannot be pickled).
        """
        if self._process is None:
            write_pdf(text, path)
            return
        try:
            self._connection.send((text, str(path)))
            kind, payload = self._connection.recv()
        except (EOFError, OSError):  # the process died: write it here
            kind, payload = "fallback", None
        finally:
            self.close()
        if kind == "fallback":
            write_pdf(text, path)
        elif kind == "error":
            raise_error(payload, "writing the PDF")

    def close(self) -> None:
        """Stop the process (it exits by itself once it has written the PDF)."""
        if self._process is None:
            return
        self._connection.close()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._process = None

    def __enter__(self) -> PdfProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()


def _serve(connection: Any, callers: Any) -> None:
    """The PDF process: WeasyPrint loaded, then one (HTML, path) received, the PDF written, the outcome sent.

    ``callers`` is the caller's end of the pipe, inherited by the fork: closed here, so that the caller
    closing its end is an end of file here."""
    callers.close()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the command's to handle: it stops this process
    try:
        import weasyprint  # noqa: F401  # the point of this process: loaded while the command does the rest

        text, path = connection.recv()
    except (EOFError, OSError, ImportError):  # no PDF wanted after all, or WeasyPrint cannot load: write() falls back
        connection.close()
        return
    try:
        write_pdf(text, Path(path))
        message: tuple[str, Any] = ("done", None)
    except Exception as exc:
        message = ("error", error_payload(exc))
    connection.send(message)
    connection.close()
