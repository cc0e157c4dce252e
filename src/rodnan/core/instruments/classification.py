"""Classification criteria for systemic sclerosis: 2013 ACR/EULAR and 1980 ARA.

2013 ACR/EULAR (van den Hoogen F et al. 2013 classification criteria for systemic sclerosis.
Arthritis Rheum 2013;65:2737-47 and Ann Rheum Dis 2013;72:1747-55, Table 1): items grouped in
categories; a category counts with the highest weight of its items present; the total is the sum
over categories and a total of 9 or more classifies as SSc. Skin thickening of the fingers of both
hands extending proximal to the MCP joints is sufficient on its own (weight 9).

1980 ARA preliminary criteria (Subcommittee for scleroderma criteria of the American Rheumatism
Association. Arthritis Rheum 1980;23:581-90), the criteria NCT00962923 names: the major criterion
(proximal scleroderma) or at least two of the three minor criteria (sclerodactyly; digital pitting
scars or loss of substance of the finger pad; bibasilar pulmonary fibrosis).

Missing data: each finding is yes, no or unknown. A verdict is given when the known findings
decide it whatever the unknown ones are (2013: the total with unknown findings taken as absent is
already 9, or with them taken as present is still below 9; 1980 likewise); otherwise unknown.

Worked examples (shared/domain.md §6): proximal skin thickening alone scores 9 (SSc);
sclerodactyly 4 + Raynaud 3 + anti-Scl-70 and anticentromere 3 (capped) + ILD 2 is 12 (SSc); puffy
fingers 2 + Raynaud 3 + abnormal capillaries 2 is 7 (not classified). 1980: sclerodactyly and
pitting scars classify; sclerodactyly alone does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from rodnan.core.instruments.base import FloatArray, InputDoc, InstrumentDef, Score, boolean_input
from rodnan.errors import InputError

ACR_EULAR_SOURCE = "van den Hoogen F et al. Arthritis Rheum 2013;65:2737-47; Ann Rheum Dis 2013;72:1747-55 (Table 1)"
ARA_SOURCE = "Subcommittee for scleroderma criteria of the ARA. Arthritis Rheum 1980;23:581-90"

ACR_EULAR_2013: dict[str, dict[str, int]] = {  # category: {finding: weight}; van den Hoogen 2013, Table 1
    "skin_proximal": {"skin_thickening_proximal_mcp": 9},
    "skin_fingers": {"puffy_fingers": 2, "sclerodactyly": 4},
    "fingertip_lesions": {"digital_tip_ulcers": 2, "fingertip_pitting_scars": 3},
    "telangiectasia": {"telangiectasia": 2},
    "nailfold_capillaries": {"abnormal_nailfold_capillaries": 2},
    "pah_ild": {"pah": 2, "ild": 2},
    "raynaud": {"raynaud": 3},
    "autoantibodies": {"anticentromere": 3, "anti_scl70": 3, "anti_rna_polymerase_iii": 3},
}
ACR_EULAR_THRESHOLD = 9  # total >= 9: definite SSc
ARA_MINOR = ("sclerodactyly", "digital_pitting_scars", "bibasilar_pulmonary_fibrosis")
ARA_MAJOR = "proximal_scleroderma"


@dataclass(frozen=True)
class ClassificationResult:
    """A classification verdict (True, False, or None when the known findings do not decide it)."""

    classified: bool | None
    score: int | None
    lower: int
    upper: int
    categories: dict[str, int]
    unknown: tuple[str, ...]


def score_acr_eular_2013(findings: Mapping[str, bool | None]) -> ClassificationResult:
    """Score the 2013 ACR/EULAR criteria from findings (True present, False absent, None unknown).

    Raises:
        InputError: a finding that is not one of the criteria's items.
    """
    known = {item for category in ACR_EULAR_2013.values() for item in category}
    for name in findings:
        if name not in known:
            raise InputError(name, f"is not an item of the 2013 ACR/EULAR criteria (items: {', '.join(sorted(known))})")
    lower = upper = 0
    categories: dict[str, int] = {}
    for category, items in ACR_EULAR_2013.items():
        present = [w for item, w in items.items() if findings.get(item) is True]
        possible = [w for item, w in items.items() if findings.get(item) is not False]
        categories[category] = max(present, default=0)
        lower += max(present, default=0)
        upper += max(possible, default=0)
    unknown = tuple(item for item in sorted(known) if findings.get(item) is None)
    classified = True if lower >= ACR_EULAR_THRESHOLD else False if upper < ACR_EULAR_THRESHOLD else None
    return ClassificationResult(classified, lower if not unknown else None, lower, upper, categories, unknown)


def score_ara_1980(findings: Mapping[str, bool | None]) -> ClassificationResult:
    """The 1980 ARA criteria: the major criterion, or at least 2 of the 3 minor criteria.

    Raises:
        InputError: a finding that is not one of the criteria.
    """
    names = (ARA_MAJOR, *ARA_MINOR)
    for name in findings:
        if name not in names:
            raise InputError(name, f"is not a 1980 ARA criterion (criteria: {', '.join(names)})")
    minors_true = sum(findings.get(m) is True for m in ARA_MINOR)
    minors_possible = sum(findings.get(m) is not False for m in ARA_MINOR)
    major = findings.get(ARA_MAJOR)
    unknown = tuple(n for n in names if findings.get(n) is None)
    if major is True or minors_true >= 2:
        classified: bool | None = True
    elif major is False and minors_possible < 2:
        classified = False
    else:
        classified = None
    lower = int(major is True) + minors_true
    return ClassificationResult(
        classified, None if unknown else lower, lower, int(major is not False) + minors_possible, {"minor": minors_true}, unknown
    )


def _as_score(code: str, result: ClassificationResult, source: str, version: str) -> Score:
    verdict = {True: "classified", False: "not classified", None: None}[result.classified]
    notes: tuple[str, ...] = ()
    if result.classified is None:
        notes = (f"undecided: {', '.join(result.unknown)} unknown (the known findings neither reach nor exclude the threshold)",)
    subscores: dict[str, float | str | None] = {"lower": float(result.lower), "upper": float(result.upper)}
    subscores.update({k: float(v) for k, v in result.categories.items()})
    value = None if result.classified is None else float(result.classified)
    return Score(code, value, subscores, version, result.unknown, notes, source, verdict)


def _score_acr_eular(answers: Mapping[str, object], options: Mapping[str, str]) -> Score:
    findings = {item: boolean_input(answers, item) for category in ACR_EULAR_2013.values() for item in category}
    result = score_acr_eular_2013(findings)
    score = _as_score("acr_eular_2013", result, ACR_EULAR_SOURCE, "2013 ACR/EULAR, threshold 9")
    return replace(score, subscores={**score.subscores, "total": None if result.score is None else float(result.score)})


def _score_ara(answers: Mapping[str, object], options: Mapping[str, str]) -> Score:
    findings = {name: boolean_input(answers, name) for name in (ARA_MAJOR, *ARA_MINOR)}
    return _as_score("ara_1980", score_ara_1980(findings), ARA_SOURCE, "1980 ARA preliminary criteria")


ACR_EULAR = InstrumentDef(
    code="acr_eular_2013",
    title="2013 ACR/EULAR classification criteria for SSc (value 1 classified, 0 not)",
    source=ACR_EULAR_SOURCE,
    inputs=tuple(
        InputDoc(item, f"{category.replace('_', ' ')}: weight {weight} (yes/no)", kind="boolean")
        for category, items in ACR_EULAR_2013.items()
        for item, weight in items.items()
    ),
    score=_score_acr_eular,
)


def _ara_columns(columns: Mapping[str, FloatArray], options: Mapping[str, str], n: int) -> FloatArray:
    nan = np.full(n, np.nan)
    major = columns.get(ARA_MAJOR, nan)
    minors = [columns.get(m, nan) for m in ARA_MINOR]
    minors_true = sum((m == 1.0).astype(int) for m in minors)
    minors_possible = sum((m != 0.0).astype(int) for m in minors)  # NaN != 0 counts as possible
    met = (major == 1.0) | (minors_true >= 2)
    not_met = (major == 0.0) & (minors_possible < 2)
    return np.where(met, 1.0, np.where(not_met, 0.0, np.nan))


ARA_1980 = InstrumentDef(
    code="ara_1980",
    title="1980 ARA preliminary criteria for SSc (value 1 met, 0 not met)",
    source=ARA_SOURCE,
    inputs=(
        InputDoc(ARA_MAJOR, "major: proximal scleroderma (skin thickening proximal to the MCP or MTP joints)", kind="boolean"),
        InputDoc("sclerodactyly", "minor: sclerodactyly", kind="boolean"),
        InputDoc("digital_pitting_scars", "minor: digital pitting scars or loss of substance of the finger pad", kind="boolean"),
        InputDoc("bibasilar_pulmonary_fibrosis", "minor: bibasilar pulmonary fibrosis", kind="boolean"),
    ),
    score=_score_ara,
    columns=_ara_columns,
)

INSTRUMENTS = (ACR_EULAR, ARA_1980)
