"""The report as PDF: WeasyPrint lays out the report's HTML on A4 pages (the stylesheet's ``@page`` rules)."""

from __future__ import annotations

from pathlib import Path


def write_pdf(text: str, path: Path) -> None:
    """Render report HTML to a PDF file with WeasyPrint (no network: every resource is inline).

    Args:
        text: the HTML of :func:`~rodnan.reports.render.build_report_html`.
        path: the PDF file to write.
    """
    from weasyprint import HTML  # imported here: loading pango takes a moment and HTML-only runs skip it

    HTML(string=text, base_url=None).write_pdf(str(path))
