"""Modified Rodnan skin score (mRSS).

Source: Clements P, Lachenbruch P, Siebold J, et al. Inter and intraobserver variability of total
skin thickness score (modified Rodnan TSS) in systemic sclerosis. J Rheumatol 1995;22:1281-5;
Clements PJ et al. J Rheumatol 1993;20:1892-6 (the 17-site method). Change classification: Dobrota R
et al., Ann Rheum Dis 2016 (EUSTAR): improvement is a decrease of more than 5 points and at least
25 %; the mirror-image increase is progression.

Formula: skin thickness is scored 0 (normal), 1 (mild), 2 (moderate) or 3 (severe: cannot be
pinched into a fold) at 17 areas; the total is their sum, 0-51 points.

Missing data: no published imputation rule; the total is computed only when all 17 areas are
scored, otherwise it is "not computable" and the missing areas are named.

Worked example (shared/domain.md §1): face 1, chest 2, abdomen 1, upper arms 1/1, forearms 2/2,
hands 3/3, fingers 3/3, thighs 1/1, lower legs 1/1, feet 0/0 gives 26.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rodnan.core.instruments.base import FloatArray, InputDoc, InstrumentDef, Score, integer_answer, number_input
from rodnan.errors import InputError

SOURCE = "Clements PJ et al., J Rheumatol 1993;20:1892-6 and 1995;22:1281-5; change: Dobrota R et al., Ann Rheum Dis 2016"

AREAS: tuple[tuple[str, str], ...] = (
    ("face", "Face"),
    ("chest", "Anterior chest"),
    ("abdomen", "Abdomen"),
    ("upper_arm_r", "Upper arm, right"),
    ("upper_arm_l", "Upper arm, left"),
    ("forearm_r", "Forearm, right"),
    ("forearm_l", "Forearm, left"),
    ("hand_r", "Hand (dorsum), right"),
    ("hand_l", "Hand (dorsum), left"),
    ("fingers_r", "Fingers, right"),
    ("fingers_l", "Fingers, left"),
    ("thigh_r", "Thigh, right"),
    ("thigh_l", "Thigh, left"),
    ("lower_leg_r", "Lower leg, right"),
    ("lower_leg_l", "Lower leg, left"),
    ("foot_r", "Foot (dorsum), right"),
    ("foot_l", "Foot (dorsum), left"),
)
"""The 17 areas in CRF order; input codes are ``mrss_<area>``."""

MAX_TOTAL = 51
CHANGE_POINTS = 5  # EUSTAR: change of more than 5 points ...
CHANGE_FRACTION = 0.25  # ... and at least 25 % of baseline (Dobrota 2016)


@dataclass(frozen=True)
class MrssResult:
    """An mRSS total, or why it is not computable."""

    total: int | None
    areas: dict[str, int | None]
    missing: tuple[str, ...]

    @property
    def is_computable(self) -> bool:
        """True when all 17 areas were scored."""
        return self.total is not None


def score_mrss(areas: Mapping[str, int | None]) -> MrssResult:
    """Total skin score from the 17 area scores (keys: the area codes of :data:`AREAS`).

    Raises:
        InputError: an unknown area, or a score that is not a whole number from 0 to 3 (naming the area).
    """
    known = {code for code, _ in AREAS}
    for code in areas:
        if code not in known:
            raise InputError(code, f"is not an mRSS area (areas: {', '.join(known)})")
    scores: dict[str, int | None] = {}
    for code, _ in AREAS:
        scores[code] = integer_answer(areas, code, 0, 3)
    missing = tuple(code for code, value in scores.items() if value is None)
    total = None if missing else sum(v for v in scores.values() if v is not None)
    return MrssResult(total, scores, missing)


def classify_mrss_change(baseline: float, follow_up: float) -> str:
    """EUSTAR classification of a change in mRSS: ``improvement``, ``progression`` or ``stable``.

    Improvement is a decrease of more than 5 points and of at least 25 % of the baseline;
    progression the same increase (Dobrota 2016). A baseline of 0 cannot improve; any increase of
    more than 5 points from 0 is progression.

    Raises:
        InputError: a total outside 0-51.
    """
    for name, value in (("baseline", baseline), ("follow_up", follow_up)):
        if not 0 <= value <= MAX_TOTAL:
            raise InputError(name, f"an mRSS total must be from 0 to {MAX_TOTAL}", value)
    change = follow_up - baseline
    if abs(change) > CHANGE_POINTS and abs(change) >= CHANGE_FRACTION * baseline:
        return "improvement" if change < 0 else "progression"
    return "stable"


def _score(answers: Mapping[str, object], options: Mapping[str, str]) -> Score:
    areas = {code: integer_answer(answers, f"mrss_{code}", 0, 3) for code, _ in AREAS}
    result = score_mrss(areas)
    notes: tuple[str, ...] = ()
    if not result.is_computable:
        notes = (f"total not computable: {len(result.missing)} of 17 areas missing ({', '.join(result.missing)})",)
    baseline = number_input(answers, "baseline_total")
    verdict = None
    if baseline is not None and result.total is not None:
        verdict = classify_mrss_change(baseline, result.total)
    return Score(
        instrument="mrss",
        value=None if result.total is None else float(result.total),
        subscores={f"mrss_{k}": (None if v is None else float(v)) for k, v in result.areas.items()},
        version="17 areas, 0-3 each (total 0-51)",
        missing=tuple(f"mrss_{code}" for code in result.missing),
        notes=notes,
        source=SOURCE,
        verdict=verdict,
    )


def _columns(columns: Mapping[str, FloatArray], options: Mapping[str, str], n: int) -> FloatArray:
    total = np.zeros(n)
    for code, _ in AREAS:
        total = total + columns.get(f"mrss_{code}", np.full(n, np.nan))  # NaN (missing) propagates
    return total


INSTRUMENT = InstrumentDef(
    code="mrss",
    title="Modified Rodnan skin score",
    source=SOURCE,
    inputs=(
        *(InputDoc(f"mrss_{code}", f"{label}: 0 normal, 1 mild, 2 moderate, 3 severe", kind="integer") for code, label in AREAS),
        InputDoc("baseline_total", "optional baseline total, to classify the change (EUSTAR)", kind="number"),
    ),
    score=_score,
    columns=_columns,
)
