"""The report as PDF: WeasyPrint lays out the report's HTML on A4 pages (the stylesheet's ``@page`` rules).

:func:`write_pdf` writes it. WeasyPrint draws SVG slowly (it lays out every letter of a figure's text on
its own: about half of the report's PDF time goes to its eight figures), so where two processors are free
the figures are drawn in a forked process, each as a one-page PDF of its own size, while this process lays
out the text with a blank image of the same size in each figure's place; each figure's page is then placed
over its blank (as qpdf's overlay does, through pikepdf: a form XObject, vector, its text kept). The pages
look the same as the PDF WeasyPrint writes in one pass (tested by rasterising both) and carry the same
text; with one processor, or without ``fork``, it is that one pass.

:class:`PdfProcess` runs :func:`write_pdf` in a process forked at the start of ``rodnan report``: that
process loads WeasyPrint (and pango) while this one reads and analyses the data, then writes the PDF when
it is handed the HTML, so the loading is off the command's critical path.
"""

from __future__ import annotations

import base64
import io
import multiprocessing as mp
import re
import signal
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rodnan.core.workers import can_fork, default_workers, error_payload, raise_error, share_work

if TYPE_CHECKING:
    from weasyprint import Document

_FIGURE = re.compile(r'<img([^>]*?) src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"')
"""A figure of the report's HTML (the ``figure`` macro writes ``<img alt=... src="data:image/svg+xml;base64,...">``)."""
_SVG_ROOT = re.compile(rb"<svg\b[^>]*>")
_SIZE = re.compile(rb'\b(width|height|viewBox)="([^"]*)"')
_SLOT = "data-rodnan-figure"
PX_TO_PT = 0.75
"""CSS pixels (1/96 in) to PDF points (1/72 in)."""


def write_pdf(text: str, path: Path, processes: int | None = None) -> None:
    """Render report HTML to a PDF file with WeasyPrint (no network: every resource is inline).

    Args:
        text: the HTML of :func:`~rodnan.reports.render.build_report_html`.
        path: the PDF file to write.
        processes: 2 (the default where this process may run on two processors) draws the SVG figures in a
            forked process beside the text's layout and places them on the pages (see the module
            docstring); 1 lets WeasyPrint do the whole document here.
    """
    from weasyprint import HTML  # imported here: loading pango takes a moment and HTML-only runs skip it

    split = (default_workers() if processes is None else processes) >= 2 and can_fork()
    blanked, figures = _blank_figures(text) if split else (text, [])
    if figures:

        def lay_out_text() -> tuple[dict[int, tuple[int, float, float, float, float]], bytes]:
            document = HTML(string=blanked, base_url=None).render()
            return _slots(document), document.write_pdf()

        (slots, text_pdf), pages = share_work(figures, _figure_pdf, lay_out_text)
        if sorted(slots) == list(range(len(figures))):
            _place(text_pdf, slots, pages, path)
            return
        # a figure not laid out as an image: never lose it, write the one pass below
    HTML(string=text, base_url=None).write_pdf(str(path))


def _blank_figures(text: str) -> tuple[str, list[bytes]]:
    """The HTML with each SVG figure replaced by an empty SVG of the same size (marked with its number),
    and the figures' SVG in that order."""
    figures: list[bytes] = []

    def blank(match: re.Match[str]) -> str:
        svg = base64.b64decode(match.group(2))
        root = _SVG_ROOT.search(svg)
        if root is None:
            return match.group(0)
        size = b" ".join(b'%s="%s"' % pair for pair in _SIZE.findall(root.group(0)))
        empty = b'<svg xmlns="http://www.w3.org/2000/svg" ' + size + b"/>"
        figures.append(svg)
        uri = "data:image/svg+xml;base64," + base64.b64encode(empty).decode()
        return f'<img{match.group(1)} {_SLOT}="{len(figures) - 1}" src="{uri}"'

    return _FIGURE.sub(blank, text), figures


def _figure_pdf(svg: bytes) -> bytes:
    """One SVG figure as a one-page PDF of the figure's own size (drawn by WeasyPrint, as in the report)."""
    from weasyprint import HTML

    root = _SVG_ROOT.search(svg)
    sizes = dict(_SIZE.findall(root.group(0))) if root is not None else {}
    width, height = sizes.get(b"width", b"100px").decode(), sizes.get(b"height", b"100px").decode()
    page = (
        f"<html><head><style>@page {{ size: {width} {height}; margin: 0 }} html, body {{ margin: 0 }} "
        f"img {{ display: block; width: {width}; height: {height} }}</style></head><body>"
        f'<img src="data:image/svg+xml;base64,{base64.b64encode(svg).decode()}"></body></html>'
    )
    return bytes(HTML(string=page, base_url=None).write_pdf())


def _slots(document: Document) -> dict[int, tuple[int, float, float, float, float]]:
    """Where each blank figure was laid out: its number -> (page index, x, y, width, height) in PDF points,
    y from the page's bottom edge as PDF counts it."""
    from weasyprint.formatting_structure.boxes import ReplacedBox

    slots: dict[int, tuple[int, float, float, float, float]] = {}
    for number, page in enumerate(document.pages):
        for box in page._page_box.descendants():
            element = getattr(box, "element", None)
            if not isinstance(box, ReplacedBox) or element is None or element.get(_SLOT) is None:
                continue
            x, y = box.content_box_x(), box.content_box_y()
            slots[int(element.get(_SLOT))] = (
                number, x * PX_TO_PT, (page.height - y - box.height) * PX_TO_PT, box.width * PX_TO_PT, box.height * PX_TO_PT,
            )  # fmt: skip
    return slots


def _place(text_pdf: bytes, slots: dict[int, tuple[int, float, float, float, float]], pages: list[bytes], path: Path) -> None:
    """Each figure's page over its blank in the text's PDF (qpdf's overlay), written to ``path``."""
    import pikepdf

    with pikepdf.open(io.BytesIO(text_pdf)) as document:
        figures = [pikepdf.open(io.BytesIO(page)) for page in pages]
        try:
            for k, (number, x, y, width, height) in sorted(slots.items()):
                # Page.add_overlay, with a fixed name for the form XObject (add_overlay draws a random one, and
                # the same report must give the same bytes)
                page, form = document.pages[number], figures[k].pages[0].as_form_xobject()
                name = page.add_resource(form, pikepdf.Name.XObject, name=pikepdf.Name(f"/RodnanFigure{k}"))
                placed = page.calc_form_xobject_placement(form, name, pikepdf.Rectangle(x, y, x + width, y + height))
                page.contents_add(b"q\n", prepend=True)
                page.contents_add(b"Q\n", prepend=False)
                page.contents_add(placed, prepend=False)
                page.contents_coalesce()
            document.save(str(path), deterministic_id=True)
        finally:
            for figure in figures:
                figure.close()


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
        # not a daemon: it forks a process of its own to draw the figures (write_pdf); it ends when this
        # process closes its end of the pipe, even if this process dies
        self._process = context.Process(target=_serve, args=(theirs, self._connection), daemon=False, name="rodnan-report-pdf")
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
