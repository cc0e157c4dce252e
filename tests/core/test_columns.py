"""Whole columns of cells for one item: parsed into the item's unit, bad cells masked with their rule, and the
plausible range and whole-number checks; expectations worked out by hand from the bundled protocol's items."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rodnan.core.columns import check_column, parse_column
from rodnan.core.protocol import Study


def test_numbers_are_converted_by_the_factor_and_bad_cells_masked(study: Study) -> None:
    """Albumin entered in g/dL (factor 10 to g/L): 3.5 -> 35; an empty cell is missing, not bad; text is bad."""
    raw = pd.Series(["3.5", None, "abc", "4"], dtype=object)
    values, bad, rule = parse_column(study.item_by_code["albumin"], raw, 10.0)
    np.testing.assert_array_equal(values, [35.0, np.nan, np.nan, 40.0])
    assert bad.tolist() == [False, False, True, False]
    assert rule == "must be a number"


def test_yes_no_and_choices_become_numbers(study: Study) -> None:
    """Yes/no words in any case give 1.0 / 0.0; a choice gives its 0-based index; unknown words are bad."""
    flags, bad_flags, flag_rule = parse_column(study.item_by_code["hiv_positive"], pd.Series([" Yes", "no", "1", "maybe"]), 1.0)
    np.testing.assert_array_equal(flags, [1.0, 0.0, 1.0, np.nan])
    assert bad_flags.tolist() == [False, False, False, True]
    assert flag_rule == "must be yes/no (true/false, yes/no or 1/0)"
    sexes, bad_sexes, sex_rule = parse_column(study.item_by_code["sex"], pd.Series(["male", "FEMALE", None, "other"]), 1.0)
    np.testing.assert_array_equal(sexes, [1.0, 0.0, np.nan, np.nan])
    assert bad_sexes.tolist() == [False, False, False, True]
    assert sex_rule == "must be one of female, male"


def test_range_and_whole_number_checks(study: Study) -> None:
    """mRSS is a whole number from 0 to 51: 52 and -1 are out of range, 10.5 is not whole, NaN is not checked."""
    problems = check_column(study.item_by_code["mrss"], np.array([10.0, 52.0, 10.5, np.nan, -1.0, np.inf]))
    found = {rule: mask.tolist() for mask, rule in problems}
    assert found == {
        "must be a finite number": [False, False, False, False, False, True],
        "must be within the plausible range 0 to 51 {score}": [False, True, False, False, True, False],
        "must be a whole number": [False, False, True, False, False, False],
    }
    assert check_column(study.item_by_code["albumin"], np.array([5.0, 70.0])) == []
    assert check_column(study.item_by_code["product_lot"], np.array([1e9])) == []  # a text item has no range
