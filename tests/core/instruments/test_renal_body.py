"""Kidney and body measures against hand-computed and published values (shared/domain.md §8)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rodnan.core.instruments import body, renal
from rodnan.errors import InputError


@pytest.mark.parametrize(
    ("age", "weight", "creatinine", "unit", "sex", "expected"),
    [
        (60, 72, 1.0, "mg/dL", "male", 80.000),  # (140-60)*72/(72*1.0), hand-computed, domain.md §8.1
        (60, 72, 1.0, "mg/dL", "female", 68.000),  # x 0.85
        (45, 55, 120, "umol/L", "female", 45.441),  # 120 umol/L = 1.35747 mg/dL; (95*55)/(72*1.35747)*0.85
    ],
)
def test_cockcroft_gault_matches_hand_computed_values(
    age: float, weight: float, creatinine: float, unit: str, sex: str, expected: float
) -> None:
    """Cockcroft & Gault 1976 formula, examples computed by hand in shared/domain.md §8.1."""
    result = renal.compute_crcl_cockcroft_gault(age, weight, creatinine, sex, unit)
    assert result.value == pytest.approx(expected, abs=0.002)


@pytest.mark.parametrize(
    ("age", "creatinine", "unit", "sex", "expected", "tol"),
    [
        (55, 1.2, "mg/dL", "male", 71.0, 0.5),  # National Kidney Foundation calculator shows 71 (domain.md §8.2)
        (55, 1.2, "mg/dL", "male", 71.418, 0.001),  # hand-computed from Inker 2021
        (45, 0.8, "mg/dL", "female", 92.541, 0.001),
        (30, 0.6, "mg/dL", "female", 123.758, 0.001),
        (60, 1.0, "mg/dL", "male", 86.163, 0.001),
        (50, 2.0, "mg/dL", "female", 29.874, 0.001),
        (40, 120, "umol/L", "female", 50.614, 0.002),
    ],
)
def test_ckd_epi_2021_matches_published_and_hand_computed_values(
    age: float, creatinine: float, unit: str, sex: str, expected: float, tol: float
) -> None:
    """CKD-EPI 2021 (Inker 2021): the NKF calculator example and hand-computed values of domain.md §8.2."""
    assert renal.compute_egfr_ckd_epi_2021(age, creatinine, sex, unit).value == pytest.approx(expected, abs=tol)


def test_kidney_adapters_need_every_input() -> None:
    """A missing input makes the result not computable, naming it; bad values are errors naming the field."""
    score = renal.COCKCROFT_GAULT.score_items({"age": 60, "creatinine": 90, "sex": "male"})
    assert score.value is None
    assert score.missing == ("weight",)
    with pytest.raises(InputError, match="sex: must be one of female, male"):
        renal.COCKCROFT_GAULT.score_items({"age": 60, "weight": 70, "creatinine": 90, "sex": "m"})
    with pytest.raises(InputError) as caught:
        renal.compute_crcl_cockcroft_gault(12, 40, 50, "male")
    assert caught.value.field == "age"
    with pytest.raises(InputError) as caught:
        renal.compute_crcl_cockcroft_gault(50, 70, 50, "male", "mm[Hg]")
    assert caught.value.field == "creatinine_unit"


@given(creatinine=st.floats(30, 800), step=st.floats(1, 100))
def test_clearance_and_egfr_fall_as_creatinine_rises(creatinine: float, step: float) -> None:
    """Monotonicity: a higher creatinine never gives a better kidney function."""
    assert (
        renal.compute_crcl_cockcroft_gault(50, 70, creatinine + step, "female").value
        < renal.compute_crcl_cockcroft_gault(50, 70, creatinine, "female").value
    )
    assert (
        renal.compute_egfr_ckd_epi_2021(50, creatinine + step, "male").value
        < renal.compute_egfr_ckd_epi_2021(50, creatinine, "male").value
    )


def test_weight_loss_and_bmi_hand_computed() -> None:
    """60 -> 53 kg is 11.67 % (domain.md §8.3); 70 kg at 175 cm is 22.86 kg/m2 (70 / 1.75^2)."""
    assert body.compute_weight_loss_pct(60, 53) == pytest.approx(11.6667, abs=1e-4)
    assert body.compute_weight_loss_pct(60, 66) == pytest.approx(-10.0)
    assert body.compute_bmi(70, 175) == pytest.approx(22.857, abs=1e-3)
    assert body.WEIGHT_LOSS.score_items({"weight_before": 60}).missing == ("weight_now",)
    with pytest.raises(InputError) as caught:
        body.compute_bmi(70, 17.5)
    assert caught.value.field == "height"
