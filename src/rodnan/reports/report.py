"""The trial's statistical report: self-contained HTML and a PDF made from it by WeasyPrint.

:func:`write_report` reads a directory written by ``rodnan simulate`` (later also the web database, through
the same :class:`~rodnan.core.analysis.data.TrialData` contract), runs
:func:`~rodnan.core.analysis.pipeline.analyse_trial`, draws the figures, and writes ``report.html`` and
``report.pdf``. The sections, in order: Summary, CONSORT, Kaplan–Meier, Cox, Mixed model, Wilcoxon,
Responders, Remission, Adverse events, Swimmer plot, Methods; then the provenance footer.

Self-contained: the stylesheet is inlined and every figure is an SVG image in a ``data:`` URI, so the HTML
names no external resource at all (no CDN, no font server) and the PDF needs no network.

Reproducible: the footer gives the protocol's code and version with the SHA-256 of the protocol file, the
SHA-256 of the input data (:func:`fingerprint_data`: the SHA-256 of ``sha256sum``'s output for the input
files, in name order), the rodnan version and the generation time (UTC). The same input, protocol,
software and ``now`` give a byte-identical HTML file (figures are rendered without dates, with fixed ids).

Every text that comes from the data or the protocol is HTML-escaped (:func:`html.escape`); the page
footer of the PDF, which lives in CSS, is CSS-escaped.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import json
import math
import platform
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from string import Template
from typing import Any

from rodnan import __version__
from rodnan.core.analysis import figures
from rodnan.core.analysis.pipeline import (
    COMPARISON_VISIT,
    LONGITUDINAL_PARAMETERS,
    MIN_EVENTS_PER_VARIABLE_MULTIVARIABLE,
    MULTIVARIABLE_COVARIATES,
    ORGAN_PARAMETERS,
    RATE_MONTHS,
    ChangeAnalysis,
    SurvivalAnalysis,
    TrialAnalysis,
    analyse_trial,
)
from rodnan.core.protocol import bundled_protocol_path, load_protocol
from rodnan.core.trialdata import read_trial_dir
from rodnan.errors import InputError

DATA_FILES = ("adverse_events.csv", "simulation.json", "subjects.csv", "values.csv")
"""The input files that are hashed, when present, in this (name) order."""
SECTIONS = (
    "Summary",
    "CONSORT",
    "Kaplan–Meier",
    "Cox",
    "Mixed model",
    "Wilcoxon",
    "Responders",
    "Remission",
    "Adverse events",
    "Swimmer plot",
    "Methods",
)
"""The report's section headings, in order."""
SOFTWARE = ("numpy", "pandas", "scipy", "lifelines", "statsmodels", "matplotlib", "weasyprint", "pydantic")
"""Packages whose versions the Methods section lists."""


@dataclass(frozen=True)
class DataFingerprint:
    """The SHA-256 of each input file and of the whole input.

    Attributes:
        files: (file name, SHA-256 hex) of each input file present, in name order.
        sha256: SHA-256 of the lines ``"<hex>  <name>\\n"`` of ``files`` (the output of ``sha256sum`` run on
            the same files in the same order, in the data directory), so ``sha256sum adverse_events.csv
            simulation.json subjects.csv values.csv | sha256sum`` reproduces it.
    """

    files: tuple[tuple[str, str], ...]
    sha256: str


@dataclass(frozen=True)
class Provenance:
    """Where a report came from: what its footer states."""

    protocol_code: str
    protocol_version: str
    protocol_file: str
    protocol_sha256: str
    data_name: str
    data: DataFingerprint
    rodnan_version: str
    generated: dt.datetime
    simulation: Mapping[str, Any] | None = None
    software: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ReportPaths:
    """What :func:`write_report` wrote, and how long each step took (seconds)."""

    html: Path
    pdf: Path | None
    timings: Mapping[str, float] = field(default_factory=dict)


def fingerprint_data(data_dir: str | Path) -> DataFingerprint:
    """SHA-256 of each input file of :data:`DATA_FILES` present in ``data_dir``, and of the set (see :class:`DataFingerprint`)."""
    folder = Path(data_dir)
    files = tuple(
        (name, hashlib.sha256((folder / name).read_bytes()).hexdigest()) for name in DATA_FILES if (folder / name).is_file()
    )
    listing = "".join(f"{digest}  {name}\n" for name, digest in files)
    return DataFingerprint(files, hashlib.sha256(listing.encode("ascii")).hexdigest())


def software_versions() -> tuple[tuple[str, str], ...]:
    """Python and the versions of the numerical and rendering packages (:data:`SOFTWARE`)."""
    versions = [("python", platform.python_version()), ("rodnan", __version__)]
    for name in SOFTWARE:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "not installed"))
    return tuple(versions)


def write_report(
    data_dir: str | Path,
    out_dir: str | Path,
    now: dt.datetime | None = None,
    protocol: str | Path | None = None,
    pdf: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> ReportPaths:
    """Analyse the data in ``data_dir`` and write ``report.html`` (and ``report.pdf``) into ``out_dir``.

    Args:
        data_dir: a directory written by ``rodnan simulate`` (subjects.csv, values.csv, adverse_events.csv).
        out_dir: where to write; created if missing.
        now: the generation time stated in the footer (default: the current time); naive times are UTC.
        protocol: the protocol file (default: the bundled NCT00962923 protocol).
        pdf: also write the PDF.
        on_step: called with the name of each step as it starts (for a progress line).

    Returns:
        :class:`ReportPaths` with the files written and the time each step took.

    Raises:
        InputError: the data directory is missing, or a file in it breaks a rule (the error names the file,
            the line and the column).
        ProtocolError: the protocol file is invalid.
    """
    timings: dict[str, float] = {}
    folder = Path(data_dir)
    if not folder.is_dir():
        raise InputError(str(folder), "the data directory does not exist (expected the output of rodnan simulate)")

    def step(name: str) -> None:
        if on_step is not None:
            on_step(name)

    started = time.perf_counter()
    step("reading the protocol and the data")
    protocol_path = bundled_protocol_path() if protocol is None else Path(protocol)
    study = load_protocol(protocol_path)
    data = read_trial_dir(folder, study)
    fingerprint = fingerprint_data(folder)
    timings["read"] = time.perf_counter() - started

    mark = time.perf_counter()
    step("analysing")
    analysis = analyse_trial(data)
    timings["analyse"] = time.perf_counter() - mark

    mark = time.perf_counter()
    step("drawing the figures")
    svgs = render_figures(analysis)
    timings["figures"] = time.perf_counter() - mark

    mark = time.perf_counter()
    step("writing the HTML")
    if now is None:
        generated = dt.datetime.now(dt.UTC)
    elif now.tzinfo is None:
        generated = now.replace(tzinfo=dt.UTC)
    else:
        generated = now.astimezone(dt.UTC)
    provenance = Provenance(
        protocol_code=study.protocol.code,
        protocol_version=study.protocol.version,
        protocol_file=protocol_path.name,
        protocol_sha256=hashlib.sha256(protocol_path.read_bytes()).hexdigest(),
        data_name=folder.resolve().name,
        data=fingerprint,
        rodnan_version=__version__,
        generated=generated,
        simulation=_simulation(folder),
        software=software_versions(),
    )
    text = build_report_html(analysis, provenance, svgs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html_path = out / "report.html"
    html_path.write_text(text, encoding="utf-8")
    timings["html"] = time.perf_counter() - mark

    pdf_path: Path | None = None
    if pdf:
        mark = time.perf_counter()
        step("writing the PDF")
        pdf_path = out / "report.pdf"
        write_pdf(text, pdf_path)
        timings["pdf"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started
    return ReportPaths(html_path, pdf_path, timings)


def write_pdf(text: str, path: Path) -> None:
    """Render report HTML to a PDF file with WeasyPrint (no network: every resource is inline)."""
    from weasyprint import HTML  # imported here: loading pango takes a moment and HTML-only runs skip it

    HTML(string=text, base_url=None).write_pdf(str(path))


def _simulation(folder: Path) -> Mapping[str, Any] | None:
    """simulation.json of a ``rodnan simulate`` directory (None when absent or unreadable)."""
    target = folder / "simulation.json"
    if not target.is_file():
        return None
    try:
        loaded = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


# --- figures ----------------------------------------------------------------------------------------


def render_figures(analysis: TrialAnalysis) -> dict[str, bytes]:
    """Every figure of the report as SVG bytes, keyed by name."""
    built = {
        "consort": figures.figure_consort(analysis.disposition),
        "km_dfs": figures.figure_kaplan_meier(analysis.survival["DFS"].kaplan_meier, analysis.survival["DFS"].label),
        "km_os": figures.figure_kaplan_meier(
            analysis.survival["OS"].kaplan_meier, analysis.survival["OS"].label, colour=figures.COLOURS["vermillion"]
        ),
        "spaghetti": figures.figure_spaghetti([analysis.change[p] for p in LONGITUDINAL_PARAMETERS if p in analysis.change]),
        "organ_function": figures.figure_organ_function(analysis.change),
        "swimmer": figures.figure_swimmer(analysis),
    }
    for paramcd, survival in analysis.survival.items():
        if _has_estimate(survival):
            built[f"forest_{paramcd.lower()}"] = figures.figure_forest(survival)
    return {name: figures.render_svg(figure) for name, figure in built.items()}


def _has_estimate(survival: SurvivalAnalysis) -> bool:
    return bool(survival.cox_univariable.table["hr"].notna().any())


# --- HTML -------------------------------------------------------------------------------------------


def _e(value: object) -> str:
    """HTML-escaped text of a value."""
    return html.escape(str(value), quote=True)


def _number(value: float, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _p(value: float) -> str:
    if math.isnan(value):
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _ci(lower: float, upper: float, digits: int = 2, infinite: str = "∞", separator: str = " to ") -> str:
    """A confidence interval; ``separator`` "–" for positive quantities (hazard ratios), " to " where signs vary."""
    low = _number(lower, digits) if not math.isnan(lower) else "–"
    high = _number(upper, digits) if not math.isnan(upper) else infinite
    return f"{low}{separator}{high}"


def _percent(rate: float, lower: float, upper: float) -> str:
    if math.isnan(rate):
        return "–"
    return f"{100 * rate:.0f} % ({100 * lower:.0f}–{100 * upper:.0f})"


def _median_ci(lower: float, upper: float) -> str:
    """A median's interval in months; NR where the confidence curve never reaches 0.5 (not reached)."""
    return f"{'NR' if math.isnan(lower) else f'{lower:.1f}'} to {'NR' if math.isnan(upper) else f'{upper:.1f}'}"


def _months(value: float) -> str:
    return "not reached" if math.isnan(value) else f"{value:.1f}"


def _table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: Iterable[int] = (), classes: Sequence[str] = ()
) -> str:
    """An HTML table; every cell escaped. ``numeric``: column indexes aligned right; ``classes``: a class per row."""
    right = set(numeric)
    head = "".join(f'<th class="num">{_e(h)}</th>' if k in right else f"<th>{_e(h)}</th>" for k, h in enumerate(headers))
    body = []
    for index, row in enumerate(rows):
        cells = "".join(f'<td class="num">{_e(c)}</td>' if k in right else f"<td>{_e(c)}</td>" for k, c in enumerate(row))
        css = f' class="{_e(classes[index])}"' if index < len(classes) and classes[index] else ""
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure(svgs: Mapping[str, bytes], name: str, caption: str) -> str:
    if name not in svgs:
        return ""
    encoded = base64.b64encode(svgs[name]).decode("ascii")
    image = f'<img alt="{_e(caption)}" src="data:image/svg+xml;base64,{encoded}">'
    return f"<figure>{image}<figcaption>{_e(caption)}</figcaption></figure>"


def _section(title: str, body: str, page: bool = False) -> str:
    anchor = title.lower().replace("–", "-").replace(" ", "-")
    css = "section page" if page else "section"
    return f'<section class="{css}" id="{_e(anchor)}">\n<h2>{_e(title)}</h2>\n{body}\n</section>\n'


def _paragraphs(texts: Iterable[str], css: str = "note") -> str:
    return "".join(f'<p class="{css}">{_e(t)}</p>' for t in texts)


def build_report_html(analysis: TrialAnalysis, provenance: Provenance, svgs: Mapping[str, bytes] | None = None) -> str:
    """The report as one HTML document (see the module docstring); ``svgs`` from :func:`render_figures`."""
    images = svgs if svgs is not None else render_figures(analysis)
    study = analysis.study
    parts = [
        _section("Summary", _summary(analysis, provenance)),
        _section("CONSORT", _consort(analysis, images), page=True),
        _section("Kaplan–Meier", _kaplan_meier(analysis, images), page=True),
        _section("Cox", _cox(analysis, images), page=True),
        _section("Mixed model", _mixed_model(analysis, images), page=True),
        _section("Wilcoxon", _wilcoxon(analysis)),
        _section("Responders", _responders(analysis)),
        _section("Remission", _remission(analysis, images), page=True),
        _section("Adverse events", _adverse_events(analysis), page=True),
        _section("Swimmer plot", _swimmer(analysis, images), page=True),
        _section("Methods", _methods(analysis, provenance), page=True),
    ]
    template = Template(resources.files("rodnan.reports").joinpath("templates/report.html").read_text(encoding="utf-8"))
    css = resources.files("rodnan.reports").joinpath("static/report.css").read_text(encoding="utf-8")
    generated = provenance.generated.strftime("%Y-%m-%dT%H:%M:%SZ")
    page_footer = _css_string(
        f"{study.identity.registry_number} · protocol {provenance.protocol_code} v{provenance.protocol_version} · "
        f"data SHA-256 {provenance.data.sha256[:16]}… · rodnan {provenance.rodnan_version} · {generated}"
    )
    return template.substitute(
        version=_e(provenance.rodnan_version),
        generated=_e(generated),
        title=_e(f"{study.identity.registry_number}: statistical report"),
        subtitle=_e(study.identity.title),
        css=css,
        page_footer=page_footer,
        body="".join(parts),
        footer=_footer(provenance),
    )


def _css_string(text: str) -> str:
    """A CSS string literal holding ``text``: every character outside [A-Za-z0-9 .,:;-] as a 6-digit CSS escape.

    The space after each escape ends it and is consumed by the CSS parser, as the CSS syntax specifies.
    """
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;-")
    return '"' + "".join(c if c in allowed else f"\\{ord(c):06x} " for c in text) + '"'


def _summary(analysis: TrialAnalysis, provenance: Provenance) -> str:
    study = analysis.study
    d = analysis.disposition
    dfs, os_ = analysis.survival["DFS"], analysis.survival["OS"]
    out = []
    if provenance.simulation is not None:
        seed = provenance.simulation.get("seed", "?")
        out.append(
            f'<p class="warning">Simulated data (rodnan simulate, seed {_e(seed)}): synthetic subjects, not patients. '
            "No result in this report is evidence about MSC transplantation.</p>"
        )
    facts = [
        ("Trial", study.identity.registry_number),
        ("Sponsor", study.identity.sponsor),
        ("Protocol", f"{provenance.protocol_code} version {provenance.protocol_version} ({provenance.protocol_file})"),
        ("Data", f"{provenance.data_name} ({', '.join(name for name, _ in provenance.data.files)})"),
        ("Data cut-off", "none (all data)" if analysis.cutoff is None else analysis.cutoff.date().isoformat()),
        ("Subjects", f"{d.screened} in the data, {d.enrolled} enrolled, {d.infused} infused, {d.completed} completed follow-up"),
    ]
    out.append('<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>")
    items = []
    for survival in (dfs, os_):
        km = survival.kaplan_meier
        rate = survival.rates.iloc[-1]
        items.append(
            f"{survival.label}: {km.events} event(s) in {km.n} subjects; median "
            f"{'not reached' if math.isnan(km.median.time) else f'{km.median.time:.1f} months'}; "
            f"{rate['time']:.0f}-month rate {_percent(rate['survival'], rate['lower'], rate['upper'])}."
        )
    mrss = analysis.change.get("MRSS")
    if mrss is not None and mrss.mixed_model is not None:
        slope = mrss.mixed_model.slope
        items.append(
            f"mRSS: mean change {slope.estimate:+.2f} points per month (95 % CI {_ci(slope.lower, slope.upper)}), "
            f"{12 * slope.estimate:+.1f} points over 12 months; median {mrss.baseline_median:.0f} at baseline and "
            f"{mrss.followup_median:.0f} at month 12."
        )
    for _, row in analysis.responders.iterrows():
        items.append(f"{row['label']}: {row['responders']}/{row['n']}, {_percent(row['rate'], row['lower'], row['upper'])}.")
    any_ae = analysis.adverse_events.table.iloc[0]
    items.append(
        f"Adverse events: {any_ae['events']} in {any_ae['subjects']} of {analysis.adverse_events.n_subjects} infused subjects; "
        f"{any_ae['serious_subjects']} subject(s) with a serious event; "
        f"grade ≥ 3 in {int(any_ae['grade_3'] + any_ae['grade_4'] + any_ae['grade_5'])} subject(s)."
    )
    out.append("<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>")
    out.append(
        '<p class="note">Intervals are 95 % confidence intervals. With this number of subjects every estimate is '
        "imprecise and the p-values are descriptive: no adjustment for multiple testing was made.</p>"
    )
    out.append(_paragraphs(analysis.notes))
    return "".join(out)


def _consort(analysis: TrialAnalysis, images: Mapping[str, bytes]) -> str:
    d = analysis.disposition
    text = ""
    if not d.screening_recorded:
        text = _paragraphs(
            [
                "The data hold only enrolled subjects: the number of candidates screened and the reasons they were not "
                "eligible were not recorded, so those boxes say so instead of repeating the enrolled count."
            ]
        )
    return text + _figure(images, "consort", "CONSORT flow: subjects from screening to analysis, with the reasons for leaving.")


def _kaplan_meier(analysis: TrialAnalysis, images: Mapping[str, bytes]) -> str:
    out = [
        _paragraphs(
            [
                "Time from the MSC infusion (month 0) in months of 30.4375 days. 95 % confidence intervals: log-log "
                "transform with the Greenwood variance; the median's interval by Brookmeyer and Crowley. "
                "Population: every infused subject."
            ]
        )
    ]
    rows = []
    for survival in analysis.survival.values():
        km = survival.kaplan_meier
        median_risk = "–"
        if not math.isnan(km.median.time):
            median_risk = str(int(km.at_risk([km.median.time])["n_risk"].iloc[0]))
        median = (
            "not reached"
            if math.isnan(km.median.time)
            else f"{_months(km.median.time)} ({_median_ci(km.median.lower, km.median.upper)})"
        )
        cells: list[object] = [survival.label, km.n, km.events, median, median_risk]
        for _, rate in survival.rates.iterrows():
            cells += [_percent(rate["survival"], rate["lower"], rate["upper"]), int(rate["n_risk"])]
        rows.append(cells)
    headers = ["Endpoint", "n", "Events", "Median, months (95 % CI)", "At risk at the median"]
    for months in RATE_MONTHS:
        headers += [f"{months:.0f}-month rate (95 % CI)", f"At risk at {months:.0f} months"]
    out.append(_table(headers, rows, numeric=range(1, len(headers))))
    out.append(_paragraphs(["NR: not reached. A median estimated where few subjects remain at risk is unstable."]))
    for survival in analysis.survival.values():
        km = survival.kaplan_meier
        out.append(f"<h3>{_e(survival.label)}</h3>")
        out.append(
            _table(
                ["Month", *[f"{t:g}" for t in survival.at_risk["time"]]],
                [
                    ["Number at risk", *[int(v) for v in survival.at_risk["n_risk"]]],
                    ["Cumulative events", *[int(v) for v in survival.at_risk["cum_events"]]],
                    ["Cumulative censored", *[int(v) for v in survival.at_risk["cum_censored"]]],
                ],
                numeric=range(1, len(survival.at_risk) + 1),
            )
        )
        if len(survival.events_by_rule) and survival.paramcd == "DFS":
            out.append(
                _table(["Event rule", "Events"], survival.events_by_rule[["label", "events"]].to_numpy().tolist(), numeric=[1])
            )
        if len(survival.censoring):
            out.append(_table(["Censored because", "Subjects"], survival.censoring.to_numpy().tolist(), numeric=[1]))
        possible = int((survival.rows["EVNTSTAT"] == "POSSIBLE").sum()) if "EVNTSTAT" in survival.rows else 0
        if possible:
            out.append(
                _paragraphs(
                    [
                        f"{possible} event(s) were unconfirmed ('possible': no repeat test within the confirmation "
                        "window) and are counted."
                    ]
                )
            )
        out.append(
            _figure(
                images,
                f"km_{survival.paramcd.lower()}",
                f"{survival.label}: Kaplan–Meier estimate with its 95 % confidence band.",
            )
        )
    return "".join(out)


def _cox_rows(analysis: TrialAnalysis, survival: SurvivalAnalysis) -> list[list[object]]:
    """Covariate, HR per, events/n, HR (95 % CI), p, method (or why there is no estimate)."""
    definitions = {c.column: c for c in analysis.cox_covariates}
    rows: list[list[object]] = []
    for _, row in survival.cox_univariable.table.iterrows():
        definition = definitions[str(row["covariate"])]
        estimable = not math.isnan(float(row["hr"]))
        method = {"firth": "Firth", "none": "partial likelihood"}.get(str(row["penalizer"]), "")
        estimate = f"{_number(float(row['hr']))} ({_ci(float(row['hr_lower']), float(row['hr_upper']), separator='–')})"
        rows.append(
            [
                definition.label,
                definition.per_label,
                f"{int(row['events'])}/{int(row['n'])}",
                estimate if estimable else "–",
                _p(float(row["p"])) if estimable else "–",
                method if estimable else f"no estimate: {_clean_note(str(row['note']))}",
            ]
        )
    return rows


def _clean_note(note: str) -> str:
    """A fit's note for readers: numpy scalar reprs (np.float64(1.0)) shown as plain numbers."""
    for prefix in ("np.float64(", "np.int64("):
        while prefix in note:
            head, _, tail = note.partition(prefix)
            note = head + tail.replace(")", "", 1)
    return note.removeprefix("skipped: ")


def _cox(analysis: TrialAnalysis, images: Mapping[str, bytes]) -> str:
    labels = {c.column: c.label for c in analysis.cox_covariates}
    out = [
        _paragraphs(
            [
                "One Cox model per baseline covariate of the objectives (organ function, skin score, SSc serology, B and "
                "T cells), each on the subjects with that covariate recorded. With fewer than 10 events per variable "
                "Firth's penalised likelihood is used (profile-likelihood intervals and p-values; Heinze & Schemper 2001); "
                "otherwise Efron's partial likelihood with Wald intervals. Continuous covariates are per the step shown; "
                "antibodies positive against not."
            ]
        )
    ]
    for survival in analysis.survival.values():
        out.append(f"<h3>{_e(survival.label)}</h3>")
        table = survival.cox_univariable.table
        events = int(survival.kaplan_meier.events)
        if 0 < events < 10:
            out.append(
                f'<p class="warning">{events} event(s) in {survival.kaplan_meier.n} subjects: fewer than 10 events per '
                "variable even for one covariate. Estimates are unreliable and exploratory; Firth's method is used where "
                "a model can be estimated.</p>"
            )
        if not table["hr"].notna().any():
            why = "there are no events" if events == 0 else "see the univariable notes"
            out.append(_paragraphs([f"No Cox model can be estimated: {why}. There is no table and no forest plot."]))
            continue
        out.append(
            _table(
                ["Covariate", "Hazard ratio per", "Events/n", "HR (95 % CI)", "p", "Method"],
                _cox_rows(analysis, survival),
                numeric=[2, 3, 4],
            )
        )
        prespecified = ", ".join(labels[c] for c in MULTIVARIABLE_COVARIATES)
        model = survival.cox_multivariable
        out.append(
            f"<p><strong>Multivariable model</strong> (prespecified, in priority order: {_e(prespecified)}; one covariate per "
            f"{MIN_EVENTS_PER_VARIABLE_MULTIVARIABLE} events): {_e(survival.multivariable_note)}.</p>"
        )
        if model is not None:
            rows = [
                [
                    labels[str(name)],
                    _number(float(r["hr"])),
                    _ci(float(r["hr_lower"]), float(r["hr_upper"]), separator="–"),
                    _p(float(r["p"])),
                ]
                for name, r in model.coefficients.iterrows()
            ]
            out.append(_table(["Covariate", "HR", "95 % CI", "p"], rows, numeric=[1, 2, 3]))
            out.append(
                _paragraphs(
                    [
                        f"n = {model.n} ({model.n_excluded} excluded for missing values), {model.events} events, EPV "
                        f"{model.events_per_variable:.1f}, likelihood-ratio chi-square {model.lr_chi2:.2f} on {model.lr_df} df "
                        f"(p {_p(model.lr_p)}), concordance {model.concordance:.2f}.",
                        *model.warnings,
                    ]
                )
            )
        out.append(
            _figure(
                images, f"forest_{survival.paramcd.lower()}", f"{survival.label}: hazard ratios with 95 % confidence intervals."
            )
        )
    return "".join(out)


def _mixed_model(analysis: TrialAnalysis, images: Mapping[str, bytes]) -> str:
    out = [
        _paragraphs(
            [
                "Linear mixed model of each outcome on months since the infusion (baseline at month 0), fitted by REML with "
                "a random intercept and a random slope per subject (random intercept only where that fit failed). The "
                "slope is the mean change per month; intervals and p-values are Wald's (normal), without a small-sample "
                "correction, so somewhat narrow with 20 subjects. A straight line summarises the average rate: the "
                "figure shows where the change happens."
            ]
        )
    ]
    rows: list[list[object]] = []
    notes = []
    for paramcd in LONGITUDINAL_PARAMETERS:
        change = analysis.change.get(paramcd)
        if change is None:
            continue
        model = change.mixed_model
        if model is None:
            rows.append([_name(change), "–", "–", "–", "–", "–", "–", change.mixed_model_note])
            continue
        slope = model.slope
        intercept = float(model.fixed_effects.loc[["Intercept"], "estimate"].to_numpy(dtype="float64")[0])
        components = model.variance_components.set_index("component")
        rows.append(
            [
                _name(change),
                model.n_subjects,
                model.n_observations,
                _number(intercept),
                f"{slope.estimate:+.3f} ({_ci(slope.lower, slope.upper, 3)})",
                _p(slope.p),
                f"{12 * slope.estimate:+.2f} ({_ci(12 * slope.lower, 12 * slope.upper)})",
                "intercept + slope" if model.random_slope else "intercept",
            ]
        )
        residual = float(components.loc[["residual"], "sd"].to_numpy(dtype="float64")[0])
        note = f"{_name(change)}: residual SD {residual:.3g}"
        if change.mixed_model_note:
            note += f"; {change.mixed_model_note}"
        if model.warnings:
            note += f"; {'; '.join(model.warnings)}"
        notes.append(note)
    out.append(
        _table(
            [
                "Outcome",
                "Subjects",
                "Records",
                "Intercept",
                "Slope per month (95 % CI)",
                "p",
                "Change over 12 months (95 % CI)",
                "Random effects",
            ],
            rows,
            numeric=[1, 2, 3, 4, 5, 6],
        )
    )
    out.append(_paragraphs(notes))
    out.append(
        _figure(
            images,
            "spaghetti",
            "Each subject's values (grey), the mean by scheduled visit with its 95 % t-interval, and the mixed model's "
            "fitted mean (dashed).",
        )
    )
    return "".join(out)


def _name(change: ChangeAnalysis) -> str:
    unit = change.unit if change.unit and change.unit != "%" else ""
    return f"{change.short_label} ({unit})" if unit else change.short_label


def _wilcoxon(analysis: TrialAnalysis) -> str:
    rows = []
    for paramcd in (*LONGITUDINAL_PARAMETERS, *ORGAN_PARAMETERS):
        change = analysis.change.get(paramcd)
        if change is None:
            continue
        test = change.wilcoxon
        if test is None:
            rows.append([_name(change), 0, "–", "–", "–", "–", "–", "no complete pair"])
            continue
        rows.append(
            [
                _name(change),
                test.n_pairs,
                _number(change.baseline_median),
                _number(change.followup_median),
                _number(test.median_change),
                _number(test.statistic, 1),
                _p(test.p),
                f"{test.method}; {test.n_zero} zero difference(s) dropped" if test.n_zero else test.method,
            ]
        )
    intro = _paragraphs(
        [
            f"Paired Wilcoxon signed-rank test (two-sided) of the value at {COMPARISON_VISIT} against baseline, on the subjects "
            "with both; zero differences dropped as R's wilcox.test does; exact p-value without ties (≤ 50 pairs), "
            "otherwise exact by enumeration (≤ 13 pairs) or the normal approximation with continuity correction. "
            "V is the sum of the ranks of the positive changes."
        ]
    )
    headers = [
        "Parameter",
        "Pairs",
        "Median at baseline",
        f"Median at {COMPARISON_VISIT}",
        "Median change",
        "V",
        "p",
        "p-value method",
    ]
    return intro + _table(headers, rows, numeric=[1, 2, 3, 4, 5, 6])


def _responders(analysis: TrialAnalysis) -> str:
    rows = [
        [r["label"], r["visit"], r["n"], r["responders"], _percent(r["rate"], r["lower"], r["upper"]), r["n_missing"]]
        for _, r in analysis.responders.iterrows()
    ]
    intro = _paragraphs(
        [
            "Responders among the infused subjects assessed at the visit; 95 % Clopper–Pearson exact intervals. Subjects "
            "not assessed are not in the denominator (non-responder imputation is not applied)."
        ]
    )
    return intro + _table(
        ["Response", "Visit", "Assessed", "Responders", "Rate (95 % CI)", "Not assessed"], rows, numeric=[2, 3, 4, 5]
    )


def _remission(analysis: TrialAnalysis, images: Mapping[str, bytes]) -> str:
    rows = [
        [
            _organ(str(r["label"])),
            r["measure"],
            r["involved"],
            r["n"],
            r["responders"],
            _percent(r["rate"], r["lower"], r["upper"]),
            r["n_missing"],
        ]
        for _, r in analysis.remission.iterrows()
    ]
    definitions = [str(label) for label in dict.fromkeys(analysis.remission["label"])]
    intro = _paragraphs(
        [
            "Remission per organ, among the subjects whose organ was involved at baseline (the protocol's pathway met on "
            "the baseline values). 'Undecided' counts subjects whose remission cannot be decided from the recorded values "
            "(a missed visit or a missing component). 95 % Clopper–Pearson intervals."
        ]
    )
    table = _table(
        ["Organ", "Remission", "Involved", "Decided", "In remission", "Rate (95 % CI)", "Undecided"],
        rows,
        numeric=[2, 3, 4, 5, 6],
    )
    caption = (
        "Organ function by scheduled visit (baseline at month 0): mean with 95 % CI, or median with interquartile range "
        "for creatinine and proteinuria; n under each point."
    )
    return (
        intro + table + _paragraphs(["Definitions: " + "; ".join(definitions) + "."]) + _figure(images, "organ_function", caption)
    )


def _organ(label: str) -> str:
    """ "Lung remission (VC, FVC ...)" -> "Lung": the organ's label without its definition."""
    return label.split(" (")[0].removesuffix(" remission")


def _adverse_events(analysis: TrialAnalysis) -> str:
    summary = analysis.adverse_events
    table = summary.table
    rows = []
    classes = []
    for _, r in table.iterrows():
        name = r["term"] if r["level"] != "soc" else r["soc"]
        rows.append(
            [
                name,
                f"{int(r['subjects'])} ({r['percent']:.0f} %)",
                int(r["events"]),
                *[int(r[f"grade_{g}"]) for g in range(1, 6)],
                int(r["serious_subjects"]),
                int(r["related_subjects"]),
            ]
        )
        classes.append({"any": "any", "soc": "soc"}.get(str(r["level"]), "term"))
    headers = [
        "SOC / term",
        "Subjects (%)",
        "Events",
        "Grade 1",
        "Grade 2",
        "Grade 3",
        "Grade 4",
        "Grade 5",
        "Serious",
        "Related",
    ]
    body = _table(headers, rows, numeric=range(1, len(headers)), classes=classes)
    body = body.replace('<tr class="term"><td>', '<tr class="term"><td class="indent">').replace(
        "<table>", '<table class="ae">', 1
    )
    notes = [
        f"Subjects at risk: the {summary.n_subjects} infused subjects. A subject counts once per row, at the worst grade "
        "(CTCAE) recorded in that row; 'Related' counts subjects with an event judged definitely, probably or possibly "
        "related (or 'related'): a reasonable possibility (ICH E2A).",
    ]
    if analysis.adverse_events_before_infusion:
        notes.append(
            f"{analysis.adverse_events_before_infusion} event(s) began before the infusion, during the conditioning regimen "
            "(plasmapheresis and cyclophosphamide); they are included."
        )
    relatedness = list(summary.relatedness_categories)
    if relatedness:
        any_row = table.iloc[0]
        parts = [f"{c}: {int(any_row[f'relatedness: {c}'])}" for c in relatedness]
        notes.append("Subjects by the closest relatedness of their events: " + "; ".join(parts) + ".")
    return _paragraphs(notes[:1]) + body + _paragraphs(notes[1:])


def _swimmer(analysis: TrialAnalysis, images: Mapping[str, bytes]) -> str:
    caption = (
        "Each infused subject's follow-up from the infusion to the last contact or death, with the DFS event (by the "
        "protocol's rule; open marker: an unconfirmed, 'possible' event), death, withdrawal, loss to follow-up and "
        "adverse events at their onset, coloured by CTCAE grade (serious: diamond)."
    )
    return _figure(images, "swimmer", caption)


def _methods(analysis: TrialAnalysis, provenance: Provenance) -> str:
    study = analysis.study
    endpoints = study.endpoints
    rules = [f"{r.label}{'' if r.enabled else ' (switched off)'}" for r in endpoints.dfs.events] if endpoints else []
    censoring = (endpoints.dfs.censoring if endpoints else "last_complete_assessment").replace("_", " ")
    items = [
        "Populations: every analysis is on the infused subjects (safety set; the DFS and OS population). Time origin: the "
        "MSC infusion (day 0); months are days / 30.4375.",
        f"DFS ({endpoints.dfs.label if endpoints else 'DFS'}): the first of the protocol's event rules: "
        + "; ".join(rules)
        + ". "
        f"Subjects without an event are censored at their {censoring}; withdrawal and loss to follow-up are "
        "censored. OS: death from any cause, censored at the last contact. Definitions: docs/endpoints.md.",
        "Kaplan–Meier: product-limit estimate; Greenwood variance; 95 % pointwise intervals with the log-log transform "
        "(S raised to the power exp(±z σ / log S); SAS, Stata and lifelines' default, best coverage in small samples; "
        "R's default is "
        "'log'); the median and its interval as R's print(survfit) (Brookmeyer & Crowley 1982).",
        "Cox models: univariable per covariate, complete cases for that covariate; Efron's ties (lifelines); Firth's "
        "penalised likelihood (Breslow ties, profile penalised-likelihood intervals and likelihood-ratio p-values) when "
        "events per variable are below 10 or the likelihood is monotone. Multivariable: the prespecified covariates in "
        f"priority order, one per {MIN_EVENTS_PER_VARIABLE_MULTIVARIABLE} events, at least two, else not fitted.",
        "Mixed models: statsmodels MixedLM, REML, random intercept and slope (correlated) per subject; Wald intervals "
        "with the normal distribution (no Kenward–Roger correction is available in statsmodels).",
        "Wilcoxon: scipy's signed-rank test following R's wilcox.test(paired = TRUE) defaults.",
        "Rates: Clopper–Pearson exact 95 % intervals (scipy). Adverse events: by MedDRA SOC and term, worst CTCAE grade "
        "per subject, seriousness and relatedness.",
        "No imputation of missing values; no adjustment for multiple testing; p-values are descriptive.",
    ]
    versions = _table(["Software", "Version"], [list(pair) for pair in provenance.software])
    return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>" + versions


def _footer(provenance: Provenance) -> str:
    generated = provenance.generated.strftime("%Y-%m-%dT%H:%M:%SZ")
    files = "; ".join(f"{name} <code>{_e(digest)}</code>" for name, digest in provenance.data.files)
    lines = [
        f"Protocol {_e(provenance.protocol_code)} version {_e(provenance.protocol_version)} ({_e(provenance.protocol_file)}), "
        f'SHA-256 <code id="protocol-sha256">{_e(provenance.protocol_sha256)}</code>',
        f'Input data {_e(provenance.data_name)}: SHA-256 <code id="data-sha256">{_e(provenance.data.sha256)}</code> '
        f"(the SHA-256 of <code>sha256sum {_e(' '.join(n for n, _ in provenance.data.files))}</code>); files: {files}",
        f'rodnan <span id="rodnan-version">{_e(provenance.rodnan_version)}</span>; generated '
        f'<time id="generated" datetime="{_e(generated)}">{_e(generated)}</time> (UTC)',
    ]
    return "<p>" + "<br>\n".join(lines) + "</p>"


def timings_text(timings: Mapping[str, float]) -> str:
    """ "read 0.4 s, analyse 1.2 s, ..." for the command line."""
    return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
