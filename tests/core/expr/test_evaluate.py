"""Compiling and evaluating expressions: type checks, units, three-valued logic, vector = scalar."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rodnan.core.expr import ItemSpec, compile_expression
from rodnan.core.verdict import Truth
from rodnan.errors import ExpressionError

ITEMS = {
    "albumin": ItemSpec("albumin", "number", "g/L"),
    "creatinine": ItemSpec("creatinine", "number", "umol/L", molar_mass_g_per_mol=113.12),
    "platelets": ItemSpec("platelets", "number", "10*9/L"),
    "mrss": ItemSpec("mrss", "integer", "{score}"),
    "sex": ItemSpec("sex", "choice", choices=("female", "male")),
    "a": ItemSpec("a", "boolean"),
    "b": ItemSpec("b", "boolean"),
    "c": ItemSpec("c", "boolean"),
    "note": ItemSpec("note", "text"),
}

T, F, U = Truth.TRUE, Truth.FALSE, Truth.UNKNOWN


def truth(text: str, **facts: float | None) -> Truth:
    return compile_expression(text, ITEMS).truth(facts)


def test_constant_in_another_unit_is_converted_to_the_item_unit() -> None:
    """albumin < 2.5 g/dL is the same rule as albumin < 25 g/L."""
    assert truth("albumin < 2.5 g/dL", albumin=24.9) is T
    assert truth("albumin < 2.5 g/dL", albumin=25.0) is F


def test_molar_mass_lets_mass_thresholds_apply_to_molar_items() -> None:
    """creatinine > 1.3575 mg/dL on a value stored in umol/L (1.3575 mg/dL = 120.0 umol/L)."""
    assert truth("creatinine > 1.36 mg/dL", creatinine=121.0) is T
    assert truth("creatinine > 1.36 mg/dL", creatinine=119.0) is F


def test_bare_number_takes_the_item_unit() -> None:
    """mrss > 20 compares with 20 points."""
    assert truth("mrss > 20", mrss=21) is T
    assert truth("mrss > 20", mrss=20) is F


def test_equality_is_tolerant_to_conversion_rounding() -> None:
    """80,000 /mm3 converts to 80.00000000000001 x 10^9/L; it still equals 80 and is not below it."""
    assert truth("platelets < 80000 /mm3", platelets=80.0) is F
    assert truth("platelets >= 80000 /mm3", platelets=80.0) is T
    assert truth("platelets == 80000 /mm3", platelets=80.0) is T


def test_missing_value_makes_a_comparison_unknown() -> None:
    """A comparison over a missing item is unknown, never false."""
    assert truth("albumin < 25 g/L") is U
    assert truth("albumin < 25 g/L", albumin=None) is U
    assert truth("albumin < 25 g/L", albumin=math.nan) is U


def test_kleene_or_and_and_decide_when_they_can() -> None:
    """unknown or true is true; unknown and false is false; not unknown is unknown."""
    assert truth("a or b", a=None, b=1.0) is T
    assert truth("a and b", a=None, b=0.0) is F
    assert truth("a and b", a=None, b=1.0) is U
    assert truth("not a", a=None) is U
    assert truth("any_of(a, b, c)", a=0.0, b=None, c=1.0) is T
    assert truth("all_of(a, b, c)", a=1.0, b=None, c=0.0) is F


def test_constant_on_the_left_is_flipped() -> None:
    """25 g/L > albumin is albumin < 25 g/L."""
    assert truth("25 g/L > albumin", albumin=20.0) is T


def test_choice_and_boolean_comparisons() -> None:
    """Choice items compare with their codes; yes/no items with true/false."""
    assert truth('sex == "female"', sex=0.0) is T
    assert truth('sex != "female"', sex=0.0) is F
    assert truth("a == false", a=0.0) is T


def test_item_against_item_converts_units() -> None:
    """Two items of the same dimension compare after conversion."""
    items = {**ITEMS, "albumin_prev": ItemSpec("albumin_prev", "number", "g/dL")}
    expression = compile_expression("albumin < albumin_prev", items)
    assert expression.truth({"albumin": 30.0, "albumin_prev": 3.5}) is T


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("albumin < 25 mm[Hg]", r"unit 'mm\[Hg\]' does not fit item 'albumin' \(g/L\)"),
        ("albumin < 25 foo", r"unit 'foo' does not fit item 'albumin'"),
        ("albmin < 25 g/L", "unknown item or pathway 'albmin'"),
        ("albumin", "is a number, not a yes/no item"),
        ("a < 3", "can only be compared with == or != to true or false"),
        ('sex == "other"', "'other' is not a choice of 'sex'"),
        ("sex == 1", "can only be compared"),
        ("note == 3", "text item and cannot be used"),
        ("none_of(a)", "unknown function 'none_of'"),
        ("any_of()", "needs at least one operand"),
        ("25 < 30", "needs an item on one side"),
        ("albumin < platelets", "have units that do not convert"),
        ("3", "a number or string alone is not a condition"),
    ],
)
def test_compile_rejects_meaningless_expressions(text: str, message: str) -> None:
    """Type errors are found at load time and name the item, the unit or the function."""
    with pytest.raises(ExpressionError, match=message):
        compile_expression(text, ITEMS)


def test_item_codes_lists_every_item_read() -> None:
    """Used to report the missing items that could change a verdict."""
    expression = compile_expression("albumin < 25 g/L or (a and not b)", ITEMS)
    assert expression.item_codes == {"albumin", "a", "b"}


def test_named_expressions_are_referenced_and_explained_by_name() -> None:
    """A pathway referred to by name shows its name in the explanation."""
    lung = compile_expression("albumin < 25 g/L", ITEMS)
    top = compile_expression("any_of(lung, a)", ITEMS, {"lung": lung})
    facts = {"albumin": 20.0, "a": 0.0}
    assert top.truth(facts) is T
    assert (
        top.explain(facts, lambda code: f"{code}={facts[code]}" if code in facts else code.upper())
        == "LUNG met (albumin=20.0 < 25 g/L)"
    )


# --- properties -------------------------------------------------------------------------------------

maybe_bool = st.sampled_from([1.0, 0.0, None])


@given(a=maybe_bool, b=maybe_bool, c=maybe_bool)
def test_three_valued_laws_hold(a: float | None, b: float | None, c: float | None) -> None:
    """Commutativity, associativity, De Morgan, double negation and distributivity hold in K3."""
    facts = {"a": a, "b": b, "c": c}

    def t(text: str) -> Truth:
        return compile_expression(text, ITEMS).truth(facts)

    assert t("a and b") == t("b and a")
    assert t("a or b") == t("b or a")
    assert t("(a and b) and c") == t("a and (b and c)")
    assert t("not (a and b)") == t("not a or not b")
    assert t("not (a or b)") == t("not a and not b")
    assert t("not not a") == t("a")
    assert t("a and (b or c)") == t("(a and b) or (a and c)")
    assert t("a or true") is T
    assert t("a and false") is F


@given(value_g_per_l=st.floats(min_value=1, max_value=80, allow_nan=False))
def test_verdict_does_not_depend_on_the_unit_of_the_threshold(value_g_per_l: float) -> None:
    """albumin < 25 g/L, < 2.5 g/dL and < 25000 mg/L agree for every value (unit invariance)."""
    facts = {"albumin": value_g_per_l}
    verdicts = {
        compile_expression(text, ITEMS).truth(facts)
        for text in ("albumin < 25 g/L", "albumin < 2.5 g/dL", "albumin < 25000 mg/L")
    }
    assert len(verdicts) == 1


EXPRESSIONS = [
    "albumin < 25 g/L or (a and not b)",
    "any_of(a, b, platelets < 80 10*9/L) and not c",
    "mrss > 20 and (albumin <= 30 g/L or creatinine > 120 umol/L)",
    'sex == "female" or a == false',
]


@settings(max_examples=50, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.one_of(st.none(), st.floats(10, 50)),
            st.one_of(st.none(), st.floats(30, 300)),
            st.one_of(st.none(), st.floats(10, 300)),
            st.one_of(st.none(), st.integers(0, 51).map(float)),
            st.one_of(st.none(), st.sampled_from([0.0, 1.0])),
            maybe_bool,
            maybe_bool,
            maybe_bool,
        ),
        min_size=1,
        max_size=30,
    )
)
def test_column_evaluation_equals_case_by_case_evaluation(data: list[tuple[float | None, ...]]) -> None:
    """The vectorised evaluator gives exactly the scalar evaluator's truth for every row."""
    names = ["albumin", "creatinine", "platelets", "mrss", "sex", "a", "b", "c"]
    columns = {
        name: np.array([np.nan if row[i] is None else row[i] for row in data], dtype=float) for i, name in enumerate(names)
    }
    for text in EXPRESSIONS:
        expression = compile_expression(text, ITEMS)
        vector = expression.truth_array(columns, len(data))
        scalar = [int(expression.truth(dict(zip(names, row, strict=True)))) for row in data]
        assert vector.tolist() == scalar
