"""Roles in the protocol: form kinds and layouts, the intervention's items, the analysis plan.

Each refusal is tested on an edited copy of the bundled protocol: the loader (and so ``rodnan protocol
check``) names the YAML path, the line and the rule.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rodnan.cli.app import app
from rodnan.core.protocol import Study
from rodnan.core.protocol.model import InterventionRolesDef
from tests.protocol_edits import broken, line_of, problems

MH_LOG = "    log: {start: mh_start, end: mh_end}\n"


def _only(text: str) -> tuple[int | None, str, str]:
    [problem] = problems(text)
    return problem


# --- accessors ---------------------------------------------------------------------------------------


def test_intervention_accessors(study: Study) -> None:
    """The bundled protocol's infusion form and the codes of its roles (as the file states them)."""
    assert study.intervention_form.code == "infusion"
    roles = study.intervention_items
    assert isinstance(roles, InterventionRolesDef)
    assert (roles.date, roles.cells, roles.weight, roles.lot, roles.donor) == (
        "infusion_date",
        "cells_administered",
        "infusion_weight",
        "product_lot",
        "donor_code",
    )
    assert set(roles.codes) == set(study.intervention_form.items)
    assert study.intervention_visit.code == "D0"


def test_form_kinds_layouts_and_patient_forms(study: Study) -> None:
    assert [f.code for f in study.log_forms] == ["medical_history", "pregnancy_test"]
    history = study.form_by_code["medical_history"]
    assert history.kind == "log"
    assert history.log is not None
    assert (history.log.start, history.log.end) == ("mh_start", "mh_end")
    assert [study.item_by_code[c].type for c in history.items] == ["text", "partial_date", "boolean", "partial_date"]
    assert study.form_by_code["mrss"].layout == "body_grid"
    assert {f.code for f in study.forms if f.patient} == {"sf36", "ssc_haq"}
    assert {f.code for f in study.forms if f.layout == "questionnaire"} == {"sf36", "ssc_haq"}
    assert study.form_by_code["demographics"].kind == "scheduled"
    assert study.form_by_code["demographics"].log is None
    assert study.form_by_code["demographics"].layout == "default"
    assert history not in study.scheduled_forms


def test_body_grid_lists_the_17_mrss_areas_once(study: Study) -> None:
    """10 rows (3 midline, 7 paired) covering the 17 area items of the form, each once."""
    form = study.form_by_code["mrss"]
    codes = [code for area in form.body_areas for code in area.codes]
    assert len(form.body_areas) == 10
    assert len(codes) == 17
    assert set(codes) == set(form.items) - {"mrss"}


def test_analysis_plan_reproduces_the_former_python_constants(study: Study) -> None:
    """The plan moved from core/analysis (pipeline.py, datasets.py) to the protocol unchanged: the old values."""
    plan = study.analysis
    assert plan is not None
    assert plan.longitudinal == ["MRSS", "SF36PCS", "SF36MCS", "HAQDI"]
    assert plan.organ_parameters == ["FVCPP", "VCPP", "DLCOPP", "MPAP", "ALB", "CREAT", "PROT24H", "WEIGHT"]
    assert plan.comparison_visit == "M12"
    assert plan.cox.multivariable == ["MRSSBL", "FVCPPBL", "DLCOPPBL", "ATABL"]
    assert plan.cox.min_events_per_covariate == 5
    old = [
        ("MRSSBL", "mRSS", 5, "points"), ("FVCPPBL", "FVC % predicted", 10, "% pred."),
        ("VCPPBL", "VC % predicted", 10, "% pred."), ("DLCOPPBL", "DLCO % predicted", 10, "% pred."),
        ("MPAPBL", "Mean PAP (echo)", 10, "mmHg"), ("ALBBL", "Albumin", 5, "g/L"), ("CREATBL", "Creatinine", 10, "µmol/L"),
        ("PROT24BL", "24-h proteinuria", 0.5, "g/24 h"), ("ATABL", "ATA (anti-Scl-70)", 1, ""), ("ACABL", "ACA", 1, ""),
        ("ANABL", "ANA", 1, ""), ("SSDNABL", "Anti-ssDNA", 10, "IU/mL"), ("DSDNABL", "Anti-dsDNA", 10, "IU/mL"),
        ("IGGBL", "IgG", 5, "g/L"), ("IGABL", "IgA", 1, "g/L"), ("IGMBL", "IgM", 0.5, "g/L"), ("C3BL", "C3", 0.1, "g/L"),
        ("C4BL", "C4", 0.1, "g/L"), ("CD19BL", "B cells (CD19+)", 100, "/µL"), ("CD3BL", "T cells (CD3+)", 100, "/µL"),
    ]  # fmt: skip
    assert [(c.column, c.label, c.per, c.unit) for c in plan.cox.covariates] == old
    assert [c.column for c in plan.cox.covariates if c.positive == "positive"] == ["ATABL", "ACABL", "ANABL"]
    assert plan.cox.covariates[0].per_label == "per 5 points"
    assert plan.cox.covariates[8].per_label == "positive vs not"
    assert len(plan.parameters) == 32 + 3
    assert plan.parameter_by_code["PROT24H"].item == "urine_protein_24h"
    assert plan.parameter_by_code["PROT24H"].baseline == "PROT24BL"
    assert plan.adsl_items == {"AGE": "age", "SEX": "sex"}


# --- refusals: form kinds, log forms, layouts -------------------------------------------------------------


def test_log_form_in_a_series_is_refused() -> None:
    text = broken("      forms: [mrss, ssc_haq, sf36,\n", "      forms: [mrss, ssc_haq, sf36, medical_history,\n")
    line, path, rule = _only(text)
    assert path == "schedule.series[0].forms[3]"
    assert rule == "form 'medical_history' is a log form (repeating per subject); series list scheduled forms only"
    assert line == line_of(text, "forms: [mrss, ssc_haq, sf36, medical_history,")


def test_log_form_at_a_fixed_visit_is_refused() -> None:
    text = broken("      forms: [infusion,\n", "      forms: [infusion, medical_history,\n")
    line, path, rule = _only(text)
    assert path == "schedule.visits[1].forms[1]"
    assert "'medical_history' is a log form" in rule
    assert line == line_of(text, "forms: [infusion, medical_history,")


def test_log_form_without_a_start_item_is_refused() -> None:
    text = broken(MH_LOG, "    log: {end: mh_end}\n")
    line, path, rule = _only(text)
    assert (path, rule) == ("forms[10].log.start", "Field required")
    assert line == line_of(text, "log: {end: mh_end}")


def test_log_form_without_log_dates_is_refused() -> None:
    text = broken(MH_LOG, "")
    line, path, rule = _only(text)
    assert path == "forms[10]"
    assert "a log form needs log: {start: <date item>" in rule
    assert line == line_of(text, "- code: medical_history")


def test_log_start_must_be_a_date_item_of_the_form() -> None:
    text = broken(MH_LOG, "    log: {start: mh_term, end: age}\n")
    assert problems(text) == [
        (line_of(text, "log: {start: mh_term"), "forms[10].log.start",
         "item 'mh_term' is a text item; this role needs a date or partial_date item"),
        (line_of(text, "log: {start: mh_term"), "forms[10].log.end", "item 'age' is not an item of form 'medical_history'"),
    ]  # fmt: skip


def test_body_grid_without_body_areas_is_refused() -> None:
    text = broken('    short_label: "Serology"\n', '    short_label: "Serology"\n    layout: body_grid\n')
    line, path, rule = _only(text)
    assert path == "forms[8]"
    assert "layout body_grid needs body_areas" in rule
    assert line == line_of(text, "- code: serology")


def test_body_area_item_must_be_a_number_item_of_the_form() -> None:
    text = broken("      - {area: Face, item: mrss_face}\n", "      - {area: Face, item: sf36_q1}\n")
    line, path, rule = _only(text)
    assert (path, rule) == ("forms[4].body_areas[0].item", "body area: item 'sf36_q1' is not an item of form 'mrss'")
    assert line == line_of(text, "{area: Face, item: sf36_q1}")


def test_unknown_layout_is_refused() -> None:
    _, path, rule = _only(broken("    layout: table\n", "    layout: grid\n"))
    assert path == "forms[10].layout"
    assert rule.startswith("Input should be 'default', 'body_grid', 'questionnaire' or 'table'")


# --- refusals: the intervention's roles -------------------------------------------------------------------


def test_intervention_form_must_be_a_form() -> None:
    text = broken("  form: infusion\n", "  form: infusions\n")
    line, path, rule = _only(text)
    assert (path, rule) == ("intervention.form", "the intervention form 'infusions' is not a form of the protocol")
    assert line == line_of(text, "  form: infusions")


def test_intervention_form_must_not_be_a_log_form() -> None:
    text = broken("  form: infusion\n", "  form: medical_history\n")
    rules = {(path, rule) for _, path, rule in problems(text)}
    assert ("intervention.form", "the intervention form 'medical_history' must be a scheduled form, not a log form") in rules


def test_missing_role_is_refused() -> None:
    text = broken("  roles: {date: infusion_date, ", "  roles: {")
    line, path, rule = _only(text)
    assert (path, rule) == ("intervention.roles.date", "Field required")
    assert line == line_of(text, "  roles: {")


@pytest.mark.parametrize(
    ("old", "new", "path", "rule"),
    [
        ("cells: cells_administered", "cells: mrss", "intervention.roles.cells", "item 'mrss' is not an item of form 'infusion'"),
        ("cells: cells_administered", "cells: cells_x", "intervention.roles.cells", "item 'cells_x' is not in items"),
        ("lot: product_lot", "lot: infusion_date", "intervention.roles.lot",
         "item 'infusion_date' is a date item; this role needs a text item"),
        ("date: infusion_date", "date: product_lot", "intervention.roles.date",
         "item 'product_lot' is a text item; this role needs a date item"),
        ("weight: infusion_weight", "weight: cells_administered", "intervention.roles.weight",
         "item 'cells_administered' is in {cells}, which does not convert to kg (the weight role)"),
        ("cells: cells_administered", "cells: infusion_weight", "intervention.roles.cells",
         "item 'infusion_weight' is in kg, which does not convert to {cells} (the cells role)"),
    ],
)  # fmt: skip
def test_role_item_on_the_form_with_the_right_type_and_unit(old: str, new: str, path: str, rule: str) -> None:
    text = broken(old, new)
    assert _only(text) == (line_of(text, "  roles: {"), path, rule)


# --- refusals: the analysis plan --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "needle", "path", "rule"),
    [
        ("{column: VCPPBL, label:", "{column: VCPPXBL, label:", "{column: VCPPXBL", "analysis.cox.covariates[2].column",
         "'VCPPXBL' is not the baseline variable of a parameter in analysis.parameters"),
        ("{code: LVEF, item: lvef,", "{code: LVEF, item: lvef_x,", "{code: LVEF, item: lvef_x", "analysis.parameters[10].item",
         "item 'lvef_x' is not in items"),
        ("{code: LVEF, item: lvef,", "{code: LVEF, item: mh_term,", "{code: LVEF, item: mh_term", "analysis.parameters[10].item",
         "item 'mh_term' is a text item; a parameter reads a number, integer or choice item"),
        ("multivariable: [MRSSBL, FVCPPBL, DLCOPPBL, ATABL]", "multivariable: [MRSSBL, FVCPPBL, DLCOPPBL, LVEFBL]",
         "multivariable: [", "analysis.cox.multivariable[3]", "'LVEFBL' is not a covariate of analysis.cox.covariates"),
        ("comparison_visit: M12", "comparison_visit: M13", "comparison_visit: M13", "analysis.comparison_visit",
         "visit M13 is not in the schedule"),
        ("longitudinal: [MRSS, SF36PCS", "longitudinal: [ATA, SF36PCS", "longitudinal: [ATA", "analysis.longitudinal[0]",
         "'ATA' is not a parameter of a number item in analysis.parameters"),
        ("label: ATA (anti-Scl-70), positive: positive}", "label: ATA (anti-Scl-70), positive: yes}", "positive: yes}",
         "analysis.cox.covariates[8].positive", "'yes' is not a choice of ATA (negative, positive)"),
        ("{column: MRSSBL, label: mRSS, per: 5, unit: points}", "{column: MRSSBL, label: mRSS, positive: positive}",
         "{column: MRSSBL", "analysis.cox.covariates[0].positive",
         "'MRSSBL' is a number covariate: positive applies to choice covariates"),
        ("adsl_items: {AGE: age,", "adsl_items: {AGE: age_years,", "adsl_items:", "analysis.adsl_items.AGE",
         "item 'age_years' is not in items"),
    ],
)  # fmt: skip
def test_analysis_plan_refusals(old: str, new: str, needle: str, path: str, rule: str) -> None:
    text = broken(old, new)
    assert _only(text) == (line_of(text, needle), path, rule)


# --- rodnan protocol check --------------------------------------------------------------------------------


def test_protocol_check_reports_a_role_by_path_and_line(tmp_path: Path) -> None:
    text = broken("weight: infusion_weight", "weight: product_lot")
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["protocol", "check", str(path)])
    assert result.exit_code == 1
    line = line_of(text, "  roles: {")
    assert (
        f"line {line}: intervention.roles.weight: item 'product_lot' is a text item; this role needs a number or integer item"
        in " ".join(result.output.split())
    )
