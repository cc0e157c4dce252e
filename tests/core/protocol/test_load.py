"""Loading the protocol file: the bundled NCT00962923 content, and errors with YAML path and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rodnan.core.protocol import Study, load_protocol
from rodnan.errors import ProtocolError
from tests.protocol_edits import broken as _broken
from tests.protocol_edits import line_of as _line_of
from tests.protocol_edits import problems as _problems

RECORD = Path(__file__).resolve().parents[2] / "data" / "NCT00962923.txt"  # the registry record, copied from shared/seed


def test_bundled_protocol_states_the_registry_identity(study: Study) -> None:
    """Identity as in the registry record: number, sponsor, site, design, target 20, status unknown."""
    identity = study.identity
    assert identity.registry_number == "NCT00962923"
    assert identity.sponsor == "The Affiliated Nanjing Drum Tower Hospital of Nanjing University Medical School"
    assert identity.sites[0].city == "Nanjing"
    assert "Drum Tower" in identity.sites[0].name
    assert identity.study_type == "interventional"
    assert identity.design.intervention_model == "single_group"
    assert identity.target_enrolment == 20
    assert identity.registry_status == "unknown"
    assert identity.conditions == ["Systemic Sclerosis"]
    assert len(identity.objectives) == 4


def test_bundled_protocol_states_the_intervention_and_regimen(study: Study) -> None:
    """1 x 10^6 cells/kg once IV; plasmapheresis and cyclophosphamide days 1, 3, 5; infusion day 8 (Zhang 2017)."""
    intervention = study.intervention
    assert intervention.dose.value == 1e6
    assert intervention.dose.unit == "{cells}/kg"
    assert intervention.route == "intravenous"
    assert intervention.donor == "allogeneic"
    assert intervention.infusions == 1
    by_procedure: dict[str, list[int]] = {}
    for step in intervention.regimen:
        by_procedure.setdefault(step.procedure, []).append(step.day)
    assert by_procedure == {"plasmapheresis": [1, 3, 5], "chemotherapy": [1, 3, 5], "cell_infusion": [8]}
    assert {s.agent for s in intervention.regimen if s.procedure == "chemotherapy"} == {"cyclophosphamide"}


def test_schedule_expands_monthly_and_three_monthly_visits(study: Study) -> None:
    """Screening, infusion, monthly M1-M12 (mRSS, SSc-HAQ, SF-36, vital signs); M3, M6, M9, M12 add organ function,
    serology, cells."""
    visits = study.schedule.all_visits
    assert [v.code for v in visits] == ["SCR", "D0", *[f"M{m}" for m in range(1, 13)]]
    month = {v.code: v for v in visits}
    assert month["M1"].day == 30  # 30.4375 rounded
    assert month["M3"].day == 91
    assert month["M12"].day == 365
    assert (month["M5"].window_before, month["M5"].window_after) == (7, 7)
    monthly = {"mrss", "ssc_haq", "sf36", "vital_signs"}
    quarterly = {"organ_function", "serology", "lymphocytes"}
    for m in range(1, 13):
        forms = set(month[f"M{m}"].forms)
        assert forms == (monthly | quarterly if m % 3 == 0 else monthly), m


def test_follow_up_length_is_a_protocol_parameter(study: Study) -> None:
    """Changing follow_up_months changes the generated visits; nothing is hard-coded."""
    longer = study.schedule.model_copy(update={"follow_up_months": 24})
    codes = [v.code for v in longer.all_visits]
    assert codes[-1] == "M24"
    assert len(codes) == 2 + 24


def test_items_carry_units_and_standard_codes(study: Study) -> None:
    """Screening items have UCUM units, accepted alternatives and LOINC codes from domain.md §11."""
    albumin = study.item_by_code["albumin"]
    assert albumin.unit == "g/L"
    assert "g/dL" in albumin.accepted_units
    assert ("LOINC", "1751-7") in [(c.system, c.code) for c in albumin.codes]
    creatinine = study.item_by_code["creatinine"]
    assert creatinine.molar_mass_g_per_mol == pytest.approx(113.12)
    assert {c.code for c in creatinine.codes} >= {"14682-9", "2160-0"}
    assert study.item_by_code["platelets"].unit == "10*9/L"


def test_every_screening_item_of_the_contract_exists(study: Study) -> None:
    """The screening file contract (issue #2) names these item codes."""
    contract = [
        "acr_1980_met",
        "disease_duration_months",
        "mrss",
        "esr",
        "hemoglobin",
        "vc_pct_pred",
        "fvc_pct_pred",
        "dlco_pct_pred",
        "mpap_echo",
        "albumin",
        "weight_loss_12m_pct",
        "urine_protein_24h",
        "creatinine",
        "uncontrolled_arrhythmia",
        "lvef",
        "creatinine_clearance",
        "platelets",
        "hemorrhagic_cystitis",
        "hiv_positive",
        "htlv1_positive",
        "malignancy",
        "pregnant",
        "prosthesis",
        "vascular_access",
    ]
    assert set(contract) <= set(study.item_by_code)
    form_items = study.form_by_code["screening"].items
    # the form also takes the scanned source document (a file item, decision 0021), which no candidate file holds
    assert [code for code in form_items if study.item_by_code[code].type != "file"] == contract


def test_every_exclusion_line_of_the_record_is_its_own_criterion(study: Study) -> None:
    """13 exclusions; inclusion = ARA criteria and at least one of four pathways."""
    exclusion = [c.code for c in study.criteria if c.kind == "exclusion"]
    assert len(exclusion) == 13
    assert [c.code for c in study.criteria if c.kind == "pathway"] == ["rapidly_progressive", "lung", "digestive", "kidney"]
    assert [c.code for c in study.criteria if c.kind == "inclusion"] == ["acr_1980", "qualifying_pathway"]


def test_the_file_records_how_the_typos_are_read(study: Study) -> None:
    """Albumin ',25 g/L' is read as '< 25 g/L' and creatinine '120 mmol/L' as 120 umol/L, with reasons."""
    clarifications = {c.record_text: c.read_as for c in study.eligibility.clarifications}
    assert clarifications["serum albumin ,25 g/L"] == "serum albumin < 25 g/L"
    assert "120 umol/L" in clarifications["serum creatinine above 120 mmol/L"]
    assert "EBMT/ASTIS" in study.eligibility.interpretation


def test_record_text_of_each_criterion_comes_from_the_registry_record(study: Study) -> None:
    """Every quoted record_text (but the synthetic one of the pathway criterion) is a passage of the record."""
    if not RECORD.exists():
        pytest.fail(f"the registry record is expected at {RECORD}")
    record = " ".join(RECORD.read_text(encoding="utf-8").split())
    for criterion in study.criteria:
        text = criterion.definition.record_text
        if text.startswith("("):
            continue
        for part in text.split(" ... "):
            assert part in record, (criterion.code, part)


# --- errors -----------------------------------------------------------------------------------------


def test_incompatible_unit_in_a_criterion_names_the_criterion_and_line() -> None:
    """albumin < 25 mm[Hg] is a load-time error naming the criterion, the unit and the line."""
    text = _broken("albumin < 25 g/L or weight_loss_12m_pct", "albumin < 25 mm[Hg] or weight_loss_12m_pct")
    [(line, path, rule)] = _problems(text)
    assert path == "eligibility.pathways[2].expression"
    assert line == _line_of(text, "albumin < 25 mm[Hg]")
    assert "criterion 'digestive'" in rule
    assert "unit 'mm[Hg]' does not fit item 'albumin'" in rule


def test_malformed_expression_is_reported_with_its_column() -> None:
    """A syntax error names the criterion and the column in the expression."""
    text = _broken("expression: lvef < 50 %", "expression: lvef < < 50 %")
    [(line, path, rule)] = _problems(text)
    assert path == "eligibility.exclusion[1].expression"
    assert line == _line_of(text, "lvef < < 50")
    assert "criterion 'lvef_low'" in rule
    assert "column 8" in rule


def test_wrong_field_type_is_reported_with_path_and_line() -> None:
    """target_enrolment: twenty breaks the integer rule at its own line."""
    text = _broken("target_enrolment: 20", "target_enrolment: twenty")
    [(line, path, rule)] = _problems(text)
    assert path == "identity.target_enrolment"
    assert line == _line_of(text, "target_enrolment: twenty")
    assert "integer" in rule


def test_unknown_key_is_reported() -> None:
    """A misspelt key is not silently ignored."""
    text = _broken("  target_enrolment: 20", "  target_enrolment: 20\n  target_enrollment: 20")
    problems = _problems(text)
    assert [(p, "Extra inputs are not permitted") for _, p, _ in problems] == [
        ("identity.target_enrollment", "Extra inputs are not permitted")
    ]
    assert problems[0][0] == _line_of(text, "target_enrollment")


def test_reference_to_a_missing_form_is_reported() -> None:
    """A visit collecting an undefined form is an error at that list entry (the intervention form is then collected nowhere)."""
    text = _broken("forms: [infusion,", "forms: [infusions,")
    [(line, path, rule), (_, role_path, role_rule)] = _problems(text)
    assert role_path == "intervention.form"
    assert role_rule == "no fixed visit of the schedule collects the intervention form 'infusion'"
    assert path == "schedule.visits[1].forms[0]"
    assert "'infusions', which is not in forms" in rule
    assert line == _line_of(text, "forms: [infusions,")


def test_invalid_ucum_unit_of_an_item_is_reported() -> None:
    """An item unit must be UCUM."""
    text = _broken("    unit: mm/h\n", "    unit: millimetres per hour\n")
    problems = _problems(text)
    assert any(path.endswith(".unit") and "not a valid UCUM unit" in rule for _, path, rule in problems)


def test_accepted_unit_that_does_not_convert_is_reported() -> None:
    """An accepted unit must convert to the item's unit."""
    text = _broken("accepted_units: [g/dL]\n", "accepted_units: [mmol/L]\n")
    [(_, path, rule)] = _problems(text)
    assert path.endswith("accepted_units[0]")
    assert "cannot be converted" in rule


def test_yaml_syntax_error_gives_the_line() -> None:
    """Broken YAML is reported with its line, not a traceback."""
    [(line, path, rule)] = _problems("protocol:\n  code: [unclosed\nidentity: {}\n")
    assert rule.startswith("not valid YAML")
    assert line is not None
    assert path == "<document>"


def test_load_protocol_reports_an_unreadable_file(tmp_path: Path) -> None:
    """A missing file is a ProtocolError, not an OSError traceback."""
    with pytest.raises(ProtocolError, match="cannot be read: No such file"):
        load_protocol(tmp_path / "missing.yaml")


def test_several_problems_are_all_reported() -> None:
    """The loader does not stop at the first problem."""
    text = _broken("target_enrolment: 20", "target_enrolment: -1")
    text = text.replace("registry_status: unknown", "registry_status: maybe")
    assert len(_problems(text)) == 2
