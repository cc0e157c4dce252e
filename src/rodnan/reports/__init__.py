"""Reports rendered from the analysis: the trial's statistical report as self-contained HTML and as PDF.

:func:`~rodnan.reports.report.write_report` reads a data directory, runs
:func:`~rodnan.core.analysis.pipeline.analyse_trial`, draws the figures of
:mod:`rodnan.core.analysis.figures` and writes ``report.html`` (no external resource) and ``report.pdf``
(WeasyPrint). docs/report.md describes the contents and the provenance footer.
"""

from rodnan.reports.report import DataFingerprint, ReportPaths, build_report_html, fingerprint_data, write_report

__all__ = ["DataFingerprint", "ReportPaths", "build_report_html", "fingerprint_data", "write_report"]
