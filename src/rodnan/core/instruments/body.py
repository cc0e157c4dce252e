"""Body measures: weight loss over the preceding 12 months, and body mass index.

Weight loss (the digestive-tract pathway of NCT00962923: "weight loss exceeding 10 % body weight
in the preceding year"; shared/domain.md §8.3, definition to confirm with the PI):

    weight loss [%] = 100 x (W_12 months before - W_now) / W_12 months before   (negative for a gain)

Body mass index (WHO. Obesity: preventing and managing the global epidemic. Technical Report
Series 894, 2000):

    BMI [kg/m2] = weight [kg] / height [m]^2

Missing data: both inputs are required.

Worked examples (hand-computed): 60 kg a year ago and 53 kg now is a loss of 11.67 %; 70 kg and
175 cm give a BMI of 22.86 kg/m2.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rodnan.core.instruments.base import FloatArray, InputDoc, InstrumentDef, Score, number_input
from rodnan.errors import InputError

WEIGHT_LOSS_SOURCE = "NCT00962923 registry record (weight loss in the preceding year); shared/domain.md §8.3"
BMI_SOURCE = "WHO Technical Report Series 894, 2000"


def _positive(name: str, value: float, low: float, high: float, unit: str) -> None:
    if not low <= value <= high:
        raise InputError(name, f"must be from {low:g} to {high:g} {unit}", value)


def compute_weight_loss_pct(weight_before_kg: float, weight_now_kg: float) -> float:
    """Weight lost since ``weight_before_kg``, in % of it (negative for a gain).

    Raises:
        InputError: a weight outside 20-300 kg.
    """
    _positive("weight_before", weight_before_kg, 20, 300, "kg")
    _positive("weight_now", weight_now_kg, 20, 300, "kg")
    return 100 * (weight_before_kg - weight_now_kg) / weight_before_kg


def compute_bmi(weight_kg: float, height_cm: float) -> float:
    """Body mass index in kg/m2.

    Raises:
        InputError: weight outside 20-300 kg or height outside 100-250 cm.
    """
    _positive("weight", weight_kg, 20, 300, "kg")
    _positive("height", height_cm, 100, 250, "cm")
    return weight_kg / (height_cm / 100) ** 2


def _score_weight_loss(answers: Mapping[str, object], options: Mapping[str, str]) -> Score:
    before, now = number_input(answers, "weight_before"), number_input(answers, "weight_now")
    if before is None or now is None:
        missing = tuple(n for n, v in (("weight_before", before), ("weight_now", now)) if v is None)
        return Score(
            "weight_loss", None, missing=missing, notes=("not computable: both weights are required",), source=WEIGHT_LOSS_SOURCE
        )
    return Score(
        "weight_loss", compute_weight_loss_pct(before, now), version="% of the earlier weight", source=WEIGHT_LOSS_SOURCE
    )


def _score_bmi(answers: Mapping[str, object], options: Mapping[str, str]) -> Score:
    weight, height = number_input(answers, "weight"), number_input(answers, "height")
    if weight is None or height is None:
        missing = tuple(n for n, v in (("weight", weight), ("height", height)) if v is None)
        return Score("bmi", None, missing=missing, notes=("not computable: weight and height are required",), source=BMI_SOURCE)
    return Score("bmi", compute_bmi(weight, height), version="kg/m2", source=BMI_SOURCE)


def _weight_loss_columns(columns: Mapping[str, FloatArray], options: Mapping[str, str], n: int) -> FloatArray:
    before, now = columns.get("weight_before", np.full(n, np.nan)), columns.get("weight_now", np.full(n, np.nan))
    with np.errstate(invalid="ignore"):
        valid = (before >= 20) & (before <= 300) & (now >= 20) & (now <= 300)  # as compute_weight_loss_pct
    return np.where(valid, 100 * (before - now) / np.where(valid, before, 1.0), np.nan)


WEIGHT_LOSS = InstrumentDef(
    code="weight_loss",
    title="Weight loss over the preceding 12 months (%)",
    source=WEIGHT_LOSS_SOURCE,
    inputs=(
        InputDoc("weight_before", "body weight 12 months before, kg", unit="kg"),
        InputDoc("weight_now", "body weight now, kg", unit="kg"),
    ),
    score=_score_weight_loss,
    columns=_weight_loss_columns,
)

BMI = InstrumentDef(
    code="bmi",
    title="Body mass index (kg/m2)",
    source=BMI_SOURCE,
    inputs=(InputDoc("weight", "body weight, kg", unit="kg"), InputDoc("height", "height, cm", unit="cm")),
    score=_score_bmi,
)

INSTRUMENTS = (WEIGHT_LOSS, BMI)
