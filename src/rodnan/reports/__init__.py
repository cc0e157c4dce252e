"""Reports rendered from the analysis: the trial's statistical report as self-contained HTML and as PDF.

:func:`write_report` reads a data directory (:func:`write_trial_report` takes the data of any provider of the
trial data contract, such as the web database), runs :func:`~rodnan.core.analysis.pipeline.analyse_trial`, draws
the figures of :mod:`rodnan.reports.figures` and writes ``report.html`` (Jinja2 templates, no external
resource) and ``report.pdf`` (WeasyPrint). The modules, by responsibility:

* :mod:`~rodnan.reports.report`: :func:`write_report` and :func:`write_trial_report`, the steps from the data to the files.
* :mod:`~rodnan.reports.provenance`: :func:`fingerprint_data` and what the footer states.
* :mod:`~rodnan.reports.context`: the analysis result as values for each section's template.
* :mod:`~rodnan.reports.formatting`: how numbers, intervals and p-values are printed.
* :mod:`~rodnan.reports.render`: :func:`build_report_html`, the templates (``templates/``) filled in.
* :mod:`~rodnan.reports.pdf`: the PDF from the HTML.
* :mod:`~rodnan.reports.figures`: the figures (matplotlib), one module per kind.

docs/report.md describes the contents and the provenance footer; decision 0010 the layout.
"""

from rodnan.reports.provenance import DatabaseState, DataFingerprint, Provenance, fingerprint_data, fingerprint_frames
from rodnan.reports.render import SECTIONS, build_report_html
from rodnan.reports.report import ReportPaths, ReportSource, write_report, write_trial_report

__all__ = [
    "SECTIONS",
    "DataFingerprint",
    "DatabaseState",
    "Provenance",
    "ReportPaths",
    "ReportSource",
    "build_report_html",
    "fingerprint_data",
    "fingerprint_frames",
    "write_report",
    "write_trial_report",
]
