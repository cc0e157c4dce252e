"""The report's numbers for the templates: one context per section, built from the analysis result.

Each ``*_context`` function reads a :class:`~rodnan.core.analysis.pipeline.TrialAnalysis` (and, for the
summary and the methods, the :class:`~rodnan.reports.provenance.Provenance`) and returns a mapping of
values already formatted for reading (:mod:`rodnan.reports.formatting`): table rows as lists of cells,
counts, labels. The wording around them, the table headers and the layout are in the section templates
(``templates/sections/*.html``); no value here holds markup, and the templates escape every one.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from typing import Any

from rodnan.core.analysis.pipeline import (
    RATE_MONTHS,
    ChangeAnalysis,
    SurvivalAnalysis,
    TrialAnalysis,
)
from rodnan.reports.formatting import NOTHING, ci, clean_note, median_ci, months, number, organ, p_value, percent
from rodnan.reports.provenance import Provenance

Context = dict[str, Any]
"""The values one template reads, by name."""


def image_uris(svgs: Mapping[str, bytes]) -> dict[str, str]:
    """Each figure's SVG as a ``data:`` URI (base64), keyed by the figure's name."""
    return {name: "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii") for name, svg in svgs.items()}


def summary_context(analysis: TrialAnalysis, provenance: Provenance) -> Context:
    """The summary: the trial's facts and the headline result of each analysis."""
    study = analysis.study
    d = analysis.disposition
    survival = []
    for paramcd in ("DFS", "OS"):
        result = analysis.survival[paramcd]
        km = result.kaplan_meier
        rate = result.rates.iloc[-1]
        survival.append(
            {
                "label": result.label,
                "events": km.events,
                "n": km.n,
                "median": "not reached" if math.isnan(km.median.time) else f"{km.median.time:.1f} months",
                "rate_month": f"{rate['time']:.0f}",
                "rate": percent(rate["survival"], rate["lower"], rate["upper"]),
            }
        )
    primary = None  # the first parameter the plan models over time (the mRSS in the bundled protocol)
    change = analysis.change.get(analysis.plan.longitudinal[0]) if analysis.plan.longitudinal else None
    if change is not None and change.mixed_model is not None:
        slope = change.mixed_model.slope
        primary = {
            "label": outcome_name(change),
            "slope": f"{slope.estimate:+.2f}",
            "ci": ci(slope.lower, slope.upper),
            "over_12_months": f"{12 * slope.estimate:+.1f}",
            "baseline_median": f"{change.baseline_median:.0f}",
            "followup_median": f"{change.followup_median:.0f}",
        }
    responders = [
        {"label": r["label"], "responders": r["responders"], "n": r["n"], "rate": percent(r["rate"], r["lower"], r["upper"])}
        for _, r in analysis.responders.iterrows()
    ]
    any_ae = analysis.adverse_events.table.iloc[0]
    return {
        "simulation_seed": None if provenance.simulation is None else provenance.simulation.get("seed", "?"),
        "registry_number": study.identity.registry_number,
        "sponsor": study.identity.sponsor,
        "protocol_code": provenance.protocol_code,
        "protocol_version": provenance.protocol_version,
        "protocol_file": provenance.protocol_file,
        "data_name": provenance.data_name,
        "data_files": ", ".join(name for name, _ in provenance.data.files)
        if provenance.database is None
        else f"{provenance.database.database}, audit {audit_head_text(provenance)}",
        "cutoff": None if analysis.cutoff is None else analysis.cutoff.date().isoformat(),
        "screened": d.screened,
        "enrolled": d.enrolled,
        "infused": d.infused,
        "completed": d.completed,
        "survival": survival,
        "primary": primary,
        "responders": responders,
        "adverse_events": {
            "events": any_ae["events"],
            "subjects": any_ae["subjects"],
            "at_risk": analysis.adverse_events.n_subjects,
            "serious": any_ae["serious_subjects"],
            "grade_3_or_more": int(any_ae["grade_3"] + any_ae["grade_4"] + any_ae["grade_5"]),
        },
        "notes": list(analysis.notes),
    }


def consort_context(analysis: TrialAnalysis) -> Context:
    """CONSORT: whether the screening log is in the data (the figure says the rest)."""
    return {"screening_recorded": analysis.disposition.screening_recorded}


def kaplan_meier_context(analysis: TrialAnalysis) -> Context:
    """Kaplan–Meier: one summary row per endpoint, and per endpoint its at-risk table, events and censoring."""
    rows = []
    endpoints = []
    for survival in analysis.survival.values():
        km = survival.kaplan_meier
        median_risk = NOTHING
        if not math.isnan(km.median.time):
            median_risk = str(int(km.at_risk([km.median.time])["n_risk"].iloc[0]))
        median = (
            "not reached"
            if math.isnan(km.median.time)
            else f"{months(km.median.time)} ({median_ci(km.median.lower, km.median.upper)})"
        )
        cells: list[object] = [survival.label, km.n, km.events, median, median_risk]
        for _, rate in survival.rates.iterrows():
            cells += [percent(rate["survival"], rate["lower"], rate["upper"]), int(rate["n_risk"])]
        rows.append(cells)
        by_rule = []
        if len(survival.events_by_rule) and survival.paramcd == "DFS":
            by_rule = survival.events_by_rule[["label", "events"]].to_numpy().tolist()
        possible = int((survival.rows["EVNTSTAT"] == "POSSIBLE").sum()) if "EVNTSTAT" in survival.rows else 0
        endpoints.append(
            {
                "label": survival.label,
                "figure": f"km_{survival.paramcd.lower()}",
                "times": [f"{t:g}" for t in survival.at_risk["time"]],
                "n_risk": [int(v) for v in survival.at_risk["n_risk"]],
                "cum_events": [int(v) for v in survival.at_risk["cum_events"]],
                "cum_censored": [int(v) for v in survival.at_risk["cum_censored"]],
                "events_by_rule": by_rule,
                "censoring": survival.censoring.to_numpy().tolist() if len(survival.censoring) else [],
                "possible": possible,
            }
        )
    return {"rate_months": [f"{m:.0f}" for m in RATE_MONTHS], "rows": rows, "endpoints": endpoints}


def cox_rows(analysis: TrialAnalysis, survival: SurvivalAnalysis) -> list[list[object]]:
    """Univariable Cox table: covariate, HR per, events/n, HR (95 % CI), p, method (or why there is no estimate)."""
    definitions = {c.column: c for c in analysis.cox_covariates}
    rows: list[list[object]] = []
    for _, row in survival.cox_univariable.table.iterrows():
        definition = definitions[str(row["covariate"])]
        estimable = not math.isnan(float(row["hr"]))
        method = {"firth": "Firth", "none": "partial likelihood"}.get(str(row["penalizer"]), "")
        estimate = f"{number(float(row['hr']))} ({ci(float(row['hr_lower']), float(row['hr_upper']), separator='–')})"
        rows.append(
            [
                definition.label,
                definition.per_label,
                f"{int(row['events'])}/{int(row['n'])}",
                estimate if estimable else NOTHING,
                p_value(float(row["p"])) if estimable else NOTHING,
                method if estimable else f"no estimate: {clean_note(str(row['note']))}",
            ]
        )
    return rows


def cox_context(analysis: TrialAnalysis) -> Context:
    """Cox: per endpoint the univariable table, the multivariable model (or why not) and the forest plot's name."""
    labels = {c.column: c.label for c in analysis.cox_covariates}
    endpoints = []
    for survival in analysis.survival.values():
        events = int(survival.kaplan_meier.events)
        estimable = bool(survival.cox_univariable.table["hr"].notna().any())
        model = survival.cox_multivariable
        multivariable = None
        if estimable and model is not None:
            multivariable = {
                "rows": [
                    [
                        labels[str(name)],
                        number(float(r["hr"])),
                        ci(float(r["hr_lower"]), float(r["hr_upper"]), separator="–"),
                        p_value(float(r["p"])),
                    ]
                    for name, r in model.coefficients.iterrows()
                ],
                "n": model.n,
                "n_excluded": model.n_excluded,
                "events": model.events,
                "events_per_variable": f"{model.events_per_variable:.1f}",
                "lr_chi2": f"{model.lr_chi2:.2f}",
                "lr_df": model.lr_df,
                "lr_p": p_value(model.lr_p),
                "concordance": f"{model.concordance:.2f}",
                "warnings": list(model.warnings),
            }
        endpoints.append(
            {
                "label": survival.label,
                "events": events,
                "n": survival.kaplan_meier.n,
                "estimable": estimable,
                "rows": cox_rows(analysis, survival) if estimable else [],
                "multivariable_note": survival.multivariable_note,
                "multivariable": multivariable,
                "figure": f"forest_{survival.paramcd.lower()}",
            }
        )
    return {
        "endpoints": endpoints,
        "prespecified": ", ".join(labels[c] for c in analysis.plan.cox.multivariable),
        "min_events_per_variable": analysis.plan.cox.min_events_per_covariate,
    }


def outcome_name(change: ChangeAnalysis) -> str:
    """An outcome's short label with its unit ("mRSS", "FVC", "Creatinine (µmol/L)"): no unit for % or none."""
    unit = change.unit if change.unit and change.unit != "%" else ""
    return f"{change.short_label} ({unit})" if unit else change.short_label


def mixed_model_context(analysis: TrialAnalysis) -> Context:
    """Mixed model: a row per longitudinal outcome (or why it was not fitted) and a note on each fit."""
    rows: list[list[object]] = []
    notes = []
    for paramcd in analysis.plan.longitudinal:
        change = analysis.change.get(paramcd)
        if change is None:
            continue
        model = change.mixed_model
        if model is None:
            rows.append([outcome_name(change), *[NOTHING] * 6, change.mixed_model_note])
            continue
        slope = model.slope
        intercept = float(model.fixed_effects.loc[["Intercept"], "estimate"].to_numpy(dtype="float64")[0])
        components = model.variance_components.set_index("component")
        rows.append(
            [
                outcome_name(change),
                model.n_subjects,
                model.n_observations,
                number(intercept),
                f"{slope.estimate:+.3f} ({ci(slope.lower, slope.upper, 3)})",
                p_value(slope.p),
                f"{12 * slope.estimate:+.2f} ({ci(12 * slope.lower, 12 * slope.upper)})",
                "intercept + slope" if model.random_slope else "intercept",
            ]
        )
        residual = float(components.loc[["residual"], "sd"].to_numpy(dtype="float64")[0])
        notes.append(
            {
                "outcome": outcome_name(change),
                "residual_sd": f"{residual:.3g}",
                "note": change.mixed_model_note,
                "warnings": list(model.warnings),
            }
        )
    return {"rows": rows, "notes": notes}


def wilcoxon_context(analysis: TrialAnalysis) -> Context:
    """Wilcoxon: a row per longitudinal and organ-function parameter (pairs, medians, change, V, p, method)."""
    rows: list[list[object]] = []
    for paramcd in (*analysis.plan.longitudinal, *analysis.plan.organ_parameters):
        change = analysis.change.get(paramcd)
        if change is None:
            continue
        test = change.wilcoxon
        if test is None:
            rows.append([outcome_name(change), 0, *[NOTHING] * 5, "no complete pair"])
            continue
        rows.append(
            [
                outcome_name(change),
                test.n_pairs,
                number(change.baseline_median),
                number(change.followup_median),
                number(test.median_change),
                number(test.statistic, 1),
                p_value(test.p),
                f"{test.method}; {test.n_zero} zero difference(s) dropped" if test.n_zero else test.method,
            ]
        )
    return {"visit": analysis.plan.comparison_visit, "rows": rows}


def responders_context(analysis: TrialAnalysis) -> Context:
    """Responders: a row per response definition and visit."""
    rows = [
        [r["label"], r["visit"], r["n"], r["responders"], percent(r["rate"], r["lower"], r["upper"]), r["n_missing"]]
        for _, r in analysis.responders.iterrows()
    ]
    return {"rows": rows}


def remission_context(analysis: TrialAnalysis) -> Context:
    """Remission: a row per organ and measure, and the definitions (the protocol's labels)."""
    rows = [
        [
            organ(str(r["label"])),
            r["measure"],
            r["involved"],
            r["n"],
            r["responders"],
            percent(r["rate"], r["lower"], r["upper"]),
            r["n_missing"],
        ]
        for _, r in analysis.remission.iterrows()
    ]
    return {"rows": rows, "definitions": [str(label) for label in dict.fromkeys(analysis.remission["label"])]}


def adverse_events_context(analysis: TrialAnalysis) -> Context:
    """Adverse events: the table by SOC and term (a class per row: any, soc, term) and its notes' numbers."""
    summary = analysis.adverse_events
    table = summary.table
    rows = []
    classes = []
    for _, r in table.iterrows():
        rows.append(
            [
                r["term"] if r["level"] != "soc" else r["soc"],
                f"{int(r['subjects'])} ({r['percent']:.0f} %)",
                int(r["events"]),
                *[int(r[f"grade_{g}"]) for g in range(1, 6)],
                int(r["serious_subjects"]),
                int(r["related_subjects"]),
            ]
        )
        classes.append({"any": "any", "soc": "soc"}.get(str(r["level"]), "term"))
    relatedness = []
    if len(summary.relatedness_categories):
        any_row = table.iloc[0]
        relatedness = [(c, int(any_row[f"relatedness: {c}"])) for c in summary.relatedness_categories]
    return {
        "at_risk": summary.n_subjects,
        "rows": rows,
        "classes": classes,
        "before_infusion": analysis.adverse_events_before_infusion,
        "relatedness": relatedness,
    }


def methods_context(analysis: TrialAnalysis, provenance: Provenance) -> Context:
    """Methods: the protocol's DFS definition, the censoring rule, and the software versions."""
    endpoints = analysis.study.endpoints
    return {
        "dfs_label": endpoints.dfs.label if endpoints else "DFS",
        "dfs_rules": [f"{r.label}{'' if r.enabled else ' (switched off)'}" for r in endpoints.dfs.events] if endpoints else [],
        "censoring": (endpoints.dfs.censoring if endpoints else "last_complete_assessment").replace("_", " "),
        "min_events_per_variable": analysis.plan.cox.min_events_per_covariate,
        "software": [list(pair) for pair in provenance.software],
        "source": source_text(provenance),
    }


def footer_context(provenance: Provenance) -> Context:
    """The provenance footer: protocol and data hashes, rodnan version, generation time (ISO 8601, UTC)."""
    return {
        "protocol_code": provenance.protocol_code,
        "protocol_version": provenance.protocol_version,
        "protocol_file": provenance.protocol_file,
        "protocol_sha256": provenance.protocol_sha256,
        "data_name": provenance.data_name,
        "data_sha256": provenance.data.sha256,
        "data_files": list(provenance.data.files),
        "rodnan_version": provenance.rodnan_version,
        "generated": generated_text(provenance),
        "database": None if provenance.database is None else provenance.database.database,
        "audit_head": audit_head_text(provenance),
        "lock": lock_text(provenance),
    }


def audit_head_text(provenance: Provenance) -> str:
    """The audit head the report was built from: "entry #12345, hash <hex>", or why there is none."""
    database = provenance.database
    return "not from a database" if database is None else database.head_text


def lock_text(provenance: Provenance) -> str:
    """Whether the database was locked: "locked", "not locked", "no lock recorded", or "not from a database"."""
    database = provenance.database
    return "not from a database" if database is None else database.lock_text


def source_text(provenance: Provenance) -> str:
    """Where the data came from, for the Methods section."""
    database = provenance.database
    if database is None:
        return f"the files of the folder {provenance.data_name}, read through the trial data contract"
    text = (
        f"the web database ({database.database}), read through the trial data contract at audit {audit_head_text(provenance)}; "
        f"database lock: {lock_text(provenance)}"
    )
    if database.completeness_text:
        text += f"; forms by state: {database.completeness_text}"
    return text


def generated_text(provenance: Provenance) -> str:
    """The generation time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return provenance.generated.strftime("%Y-%m-%dT%H:%M:%SZ")
