"""The template filters that print UCUM codes the way a lab report does (the stored values keep UCUM)."""

from __future__ import annotations

import pytest

from rodnan.core.eligibility import evaluate_criteria
from rodnan.web.ui import pathway_labels, unit_label, units_in_text
from tests.candidates import LUNG_ELIGIBLE


@pytest.mark.parametrize(
    ("code", "printed"),
    [("10*9/L", "× 10⁹/L"), ("mm[Hg]", "mmHg"), ("g/(24.h)", "g/24 h"), ("umol/L", "µmol/L"), ("{score}", ""), ("a", "years"),
     ("{cells}/kg", "cells/kg"), ("[lb_av]", "lb"), ("g/L", "g/L"), ("{ratio}", "ratio"), ("ug/dL", "µg/dL"), ("", "")],
)  # fmt: skip
def test_unit_label_prints_ucum_codes_for_people(code: str, printed: str) -> None:
    assert unit_label(code) == printed


def test_units_in_text_replaces_whole_words_only() -> None:
    reason = "not met: urine_protein_24h 0.1 g/(24.h), not > 0.5 g/(24.h); mrss 15 {score}, not > 20 {score}; mpap_echo 17 mm[Hg]"
    assert units_in_text(reason) == (
        "not met: urine_protein_24h 0.1 g/24 h, not > 0.5 g/24 h; mrss 15, not > 20; mpap_echo 17 mmHg"
    )
    assert units_in_text("a value of 3 a") == "a value of 3 a"[:-1] + "years"  # only the unit word, not the article
    assert units_in_text(None) == ""


def test_pathway_labels_name_the_qualifying_pathways(study) -> None:
    result = evaluate_criteria(study, LUNG_ELIGIBLE)
    assert pathway_labels(result) == "Lung involvement"
