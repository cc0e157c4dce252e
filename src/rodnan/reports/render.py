"""The report's HTML: the Jinja2 templates filled with the contexts of :mod:`rodnan.reports.context`.

``templates/base.html`` is the document (head, inlined stylesheet, title, the sections in order, the
provenance footer); ``templates/sections/<name>.html`` is one section each; ``templates/macros.html`` holds
the table and figure macros. Autoescaping is on for every template: every value from the data or the
protocol is escaped by Jinja2. Two values are inserted as they are, both into the ``<style>`` element,
whose content HTML does not unescape: the package's own stylesheet, and the PDF page footer made a CSS
string literal by :func:`~rodnan.reports.formatting.css_string` (which leaves no ``<`` or quote in it).

The same analysis, provenance and figures give the same text (no date or path is read here).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

import jinja2
from markupsafe import Markup

from rodnan.core.analysis.pipeline import TrialAnalysis
from rodnan.reports import context
from rodnan.reports.figures import render_figures
from rodnan.reports.formatting import css_string
from rodnan.reports.provenance import Provenance


@dataclass(frozen=True)
class Section:
    """A section of the report.

    Attributes:
        title: its heading (``<h2>``).
        name: its template (``sections/<name>.html``) and the name of its context in the template.
        page: whether it starts a new page in the PDF.
    """

    title: str
    name: str
    page: bool = True

    @property
    def template(self) -> str:
        """The section's template name."""
        return f"sections/{self.name}.html"

    @property
    def anchor(self) -> str:
        """The section element's id: the title in lower case, spaces and en dashes as hyphens."""
        return self.title.lower().replace("–", "-").replace(" ", "-")


REPORT_SECTIONS = (
    Section("Summary", "summary", page=False),
    Section("CONSORT", "consort"),
    Section("Kaplan–Meier", "kaplan_meier"),
    Section("Cox", "cox"),
    Section("Mixed model", "mixed_model"),
    Section("Wilcoxon", "wilcoxon", page=False),
    Section("Responders", "responders", page=False),
    Section("Remission", "remission"),
    Section("Adverse events", "adverse_events"),
    Section("Swimmer plot", "swimmer"),
    Section("Methods", "methods"),
)
"""The report's sections, in order."""
SECTIONS = tuple(section.title for section in REPORT_SECTIONS)
"""The report's section headings, in order."""


@functools.cache
def environment() -> jinja2.Environment:
    """The report's Jinja2 environment: the package's templates, autoescaping on, undefined names an error."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("rodnan.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def stylesheet() -> str:
    """The report's stylesheet (``static/report.css``), inlined into the HTML."""
    return resources.files("rodnan.reports").joinpath("static/report.css").read_text(encoding="utf-8")


def build_report_html(analysis: TrialAnalysis, provenance: Provenance, svgs: Mapping[str, bytes] | None = None) -> str:
    """The report as one self-contained HTML document.

    Args:
        analysis: the result of :func:`~rodnan.core.analysis.pipeline.analyse_trial`.
        provenance: what the footer states (protocol, data, version, time).
        svgs: the figures as SVG bytes by name (:func:`~rodnan.reports.figures.render_figures`; drawn here when None).

    Returns:
        The HTML text: the sections of :data:`REPORT_SECTIONS` in order, then the provenance footer.
    """
    if svgs is None:
        svgs = render_figures(analysis)
    study = analysis.study
    footer = context.footer_context(provenance)
    head = "" if provenance.database is None else f"audit entry {provenance.database.audit_seq} · "
    page_footer = css_string(
        f"{study.identity.registry_number} · protocol {provenance.protocol_code} v{provenance.protocol_version} · "
        f"data SHA-256 {provenance.data.sha256[:16]}… · {head}rodnan {provenance.rodnan_version} · {footer['generated']}"
    )
    values = {
        "title": f"{study.identity.registry_number}: statistical report",
        "subtitle": study.identity.title,
        "css": Markup(stylesheet()),  # safe: the package's own file, inside <style>
        "page_footer": Markup(page_footer),  # safe: a CSS string literal without "<" or quotes (css_string)
        "sections": REPORT_SECTIONS,
        "images": context.image_uris(svgs),
        "footer": footer,
        "summary": context.summary_context(analysis, provenance),
        "consort": context.consort_context(analysis),
        "kaplan_meier": context.kaplan_meier_context(analysis),
        "cox": context.cox_context(analysis),
        "mixed_model": context.mixed_model_context(analysis),
        "wilcoxon": context.wilcoxon_context(analysis),
        "responders": context.responders_context(analysis),
        "remission": context.remission_context(analysis),
        "adverse_events": context.adverse_events_context(analysis),
        "swimmer": {},
        "methods": context.methods_context(analysis, provenance),
    }
    return environment().get_template("base.html").render(values)
