"""The endpoints section of the protocol file: the bundled definitions, and load errors with path and line."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from rodnan.core.endpoints import compile_endpoints, evaluate_endpoints, split_variable
from rodnan.core.protocol import Study, load_protocol_text
from rodnan.core.trialdata import from_frames
from rodnan.errors import InputError
from tests.protocol_edits import broken as _broken
from tests.protocol_edits import bundled_text as _text
from tests.protocol_edits import line_of as _line_of
from tests.protocol_edits import problems as _problems


def test_bundled_dfs_rules_follow_domain_section_9_2(study: Study) -> None:
    """E1-E6 in order, E6 (rescue therapy) off, E3 confirmed within 31 days, possible findings counted."""
    endpoints = study.endpoints
    assert endpoints is not None
    dfs = endpoints.dfs
    assert [r.code for r in dfs.events] == [
        "e1_death",
        "e2_skin",
        "e3_lung",
        "e4_cardiopulmonary_renal",
        "e5_new_organ",
        "e6_rescue",
    ]
    assert [r.enabled for r in dfs.events] == [True, True, True, True, True, False]
    rules = {r.code: r for r in dfs.events}
    assert rules["e1_death"].death
    assert rules["e2_skin"].expression == "mrss_chg > 5 and mrss_pchg >= 25 %"
    confirmation = rules["e3_lung"].confirmation
    assert confirmation is not None
    assert confirmation.within_days == 31
    assert rules["e5_new_organ"].new_involvement == ["lung", "digestive", "kidney"]
    assert [t.lower() for t in rules["e4_cardiopulmonary_renal"].adverse_event_terms] == ["scleroderma renal crisis"]
    assert (dfs.origin, dfs.possible_events, dfs.censoring) == ("infusion", "count", "last_complete_assessment")
    assert all(rule.source for rule in dfs.events)


def test_bundled_responses_and_remission(study: Study) -> None:
    """ACR-CRISS and EUSTAR skin improvement at M12; remission of lung, GI and kidney, sustained over two 3-monthly visits."""
    endpoints = study.endpoints
    assert endpoints is not None
    assert endpoints.remission is not None
    assert [(r.code, r.visit, r.instrument) for r in endpoints.responses] == [
        ("criss", "M12", "acr_criss"),
        ("eustarsk", "M12", None),
    ]
    assert [(o.code, o.pathway) for o in endpoints.remission.organs] == [
        ("lung", "lung"),
        ("gi", "digestive"),
        ("renal", "kidney"),
    ]
    assert (endpoints.remission.sustained.visits, endpoints.remission.sustained.every_months) == (2, 3)


def test_compiled_rules_read_items_and_change_variables(study: Study) -> None:
    """E2 reads mrss_chg and mrss_pchg; every variable maps back to an item."""
    compiled = compile_endpoints(study)
    e2 = next(r for r in compiled.rules if r.code == "e2_skin")
    assert e2.expression is not None
    assert e2.expression.item_codes == {"mrss_chg", "mrss_pchg"}
    assert [r.code for r in compiled.rules] == ["e1_death", "e2_skin", "e3_lung", "e4_cardiopulmonary_renal", "e5_new_organ"]
    assert split_variable(study, "fvc_pct_pred_pchg") == ("fvc_pct_pred", "pchg")
    assert split_variable(study, "lvef_base") == ("lvef", "base")
    assert split_variable(study, "mrss") == ("mrss", "value")
    with pytest.raises(InputError):
        split_variable(study, "mrss_change")
    assert {"mrss_chg", "lvef_base", "fvc_pct_pred_pchg"} <= compiled.variables()


def test_percent_change_is_typed_in_percent(study: Study) -> None:
    """mrss_pchg is in %: '25 %' converts, a bare number is taken in %, '0.25' would mean 0.25 %."""
    spec = study.endpoint_item_specs["mrss_pchg"]
    assert (spec.unit, study.endpoint_item_specs["albumin_chg"].unit) == ("%", "g/L")
    assert study.endpoint_item_specs["sex_base"].choices == ("female", "male")
    assert "infusion_date_base" not in study.endpoint_item_specs


def test_bad_expression_names_rule_path_and_line() -> None:
    """An unknown variable in E2 is reported at the rule's expression, with its line and the rule's code."""
    text = _broken("expression: mrss_chg > 5 and mrss_pchg >= 25 %", "expression: mrss_change > 5 and mrss_pchg >= 25 %")
    [(line, path, rule)] = _problems(text)
    assert path == "endpoints.dfs.events[1].expression"
    assert line == _line_of(text, "mrss_change > 5")
    assert "event rule 'e2_skin'" in rule
    assert "unknown item or pathway 'mrss_change'" in rule


def test_unit_that_does_not_fit_a_change_is_reported() -> None:
    """mrss_pchg is in %, so comparing it with g/L is an error."""
    text = _broken("expression: mrss_chg > 5 and mrss_pchg >= 25 %", "expression: mrss_chg > 5 and mrss_pchg >= 25 g/L")
    [(_, path, rule)] = _problems(text)
    assert path == "endpoints.dfs.events[1].expression"
    assert "unit 'g/L' does not fit item 'mrss_pchg'" in rule


def test_unknown_pathway_in_new_involvement() -> None:
    """new_involvement lists pathway codes; a typo is reported at its list entry."""
    text = _broken("new_involvement: [lung, digestive, kidney]", "new_involvement: [lung, digestion, kidney]")
    [(line, path, rule)] = _problems(text)
    assert path == "endpoints.dfs.events[4].new_involvement[1]"
    assert line == _line_of(text, "new_involvement: [lung, digestion")
    assert "'digestion' is not a pathway" in rule


def test_response_visit_must_be_in_the_schedule() -> None:
    """A response at M15 when the follow-up ends at M12 is an error at its visit."""
    text = _broken("      visit: M12\n      expression: mrss_chg < -5", "      visit: M15\n      expression: mrss_chg < -5")
    [(line, path, rule)] = _problems(text)
    assert path == "endpoints.responses[1].visit"
    assert line == _line_of(text, "visit: M15")
    assert "visit M15 is not in the schedule" in rule


def test_enabled_rule_needs_a_trigger() -> None:
    """Switching E6 on without giving it an item to read is an error at the rule (pydantic rule)."""
    text = _broken("        enabled: false\n", "        enabled: true\n")
    [(line, path, rule)] = _problems(text)
    assert path == "endpoints.dfs.events[5]"
    assert "an enabled rule needs death, an expression, new_involvement or adverse_event_terms" in rule
    assert line == _line_of(text, "- code: e6_rescue")


def test_duplicate_rule_code_and_unknown_step1_input() -> None:
    """Two rules called e2_skin; a CRISS step-1 input that the instrument does not have."""
    text = _broken("- code: e3_lung", "- code: e2_skin").replace("new_pah:", "new_pulmonary_hypertension:", 1)
    problems = _problems(text)
    assert ("endpoints.dfs.events", "event rule code 'e2_skin' is used more than once") in [(p, r) for _, p, r in problems]
    [(_, _, rule)] = [p for p in problems if p[1].startswith("endpoints.responses")]
    assert "'new_pulmonary_hypertension' is not a CRISS step-1 input" in rule


def test_remission_pathway_and_expression_are_checked() -> None:
    """A remission organ's pathway must exist and its expression compile."""
    text = _broken(
        "        pathway: kidney\n        expression: not kidney", "        pathway: kidneys\n        expression: not kidneys"
    )
    problems = {(p, r.split(":")[0]) for _, p, r in _problems(text)}
    pathway = "'kidneys' is not a pathway of the eligibility section (rapidly_progressive, lung, digestive, kidney)"
    assert ("endpoints.remission.organs[2].pathway", pathway) in problems
    assert ("endpoints.remission.organs[2].expression", "remission of 'renal'") in problems


def test_item_named_like_a_generated_variable_is_reported() -> None:
    """An item 'mrss_chg' would hide the change of mrss: the loader says so."""
    text = _broken("  - code: crp\n", "  - code: mrss_chg\n")
    problems = _problems(text)
    assert any(
        path.startswith("items[") and "mrss_chg is also the name endpoint expressions use" in rule for _, path, rule in problems
    )


def test_protocol_without_endpoints_loads_but_cannot_be_evaluated(study: Study) -> None:
    """The section is optional in the format; evaluating endpoints without it is an InputError."""
    text = _text()
    start = text.index("\nendpoints:\n")
    end = re.compile(r"\n[a-z_]+:").search(text, start + 1)  # the next top-level section, whichever it is
    assert end is not None
    bare = load_protocol_text(text[:start] + text[end.start() :])
    assert bare.endpoints is None
    subjects = pd.DataFrame(columns=["subject_id", "site", "status", "infusion_date", "end_date"])
    data = from_frames(bare, subjects, pd.DataFrame(columns=["subject_id", "visit", "item", "value", "unit", "date"]))
    with pytest.raises(InputError, match="no endpoints section"):
        evaluate_endpoints(data)
