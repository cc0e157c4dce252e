"""SF-36 Health Survey (v1 and v2, standard 4-week recall): 8 scales, norm-based scores, PCS and MCS;
and, as a separate named option, RAND 36-Item Health Survey 1.0 scoring.

Sources:
    SF-36: Ware JE, Sherbourne CD. The MOS 36-item short-form health survey (SF-36). Med Care
    1992;30:473-83; Ware JE, Kosinski M, Keller SD. SF-36 Physical and Mental Health Summary Scales:
    a User's Manual, 1994 (1990 US norms, factor-score coefficients). The algorithm follows the
    Apolone-Mosconi SAS program as ported in R ``lbscorer::sf36`` (GitHub lbraglia/lbscorer,
    ``R/sf36.R``); the v2 ranges and 1998 US norms follow the Stata ``sf36v2`` ado (M. Daigl, 2011).
    RAND-36: Hays RD, Sherbourne CD, Mazel RM. The RAND 36-Item Health Survey 1.0. Health Econ
    1993;2:217-27; RAND "36-Item Short Form Survey Scoring Instructions" (Tables 1 and 2),
    http://www.rand.org/health/surveys_tools/mos/mos_core_36item_scoring.html.

Formula (SF-36):
    1. Recode items so that higher is better: Q1 (GH1) 1..5 -> 5, 4.4, 3.4, 2, 1; Q6, Q11b, Q11d
       reversed (6 - x); Q9a, Q9e (vitality) and Q9d, Q9h (mental health) reversed ((k + 1) - x,
       k = 6 response levels in v1, 5 in v2); Q7 (BP1) 1..6 -> 6, 5.4, 4.2, 3.1, 2.2, 1; Q8 (BP2)
       1..5 -> 5 (6 when Q7 = 1), 4, 3, 2, 1 when Q7 is answered, else 6, 4.75, 3.5, 2.25, 1.
       PF (Q3a-j), RP (Q4a-d), RE (Q5a-c), Q9b, Q9c, Q9f, Q9g, Q9i, Q10, Q11a, Q11c as answered.
    2. Raw scale = sum of its recoded items; scale = 100 x (raw - lowest raw) / (highest - lowest).
    3. z = (scale - mean) / SD with the US general-population norms (1990 for v1, 1998 for v2);
       norm-based T = 50 + 10 z.
    4. PCS = 50 + 10 x sum(z x PCS coefficient), MCS likewise, with the 1990 factor-score
       coefficients for both forms.

Missing data (half-scale rule): a scale is scored when at least half of its items are answered
(PF 5 of 10, RP 2 of 4, BP 1 of 2, GH 3 of 5, VT 2 of 4, SF 1 of 2, RE 2 of 3, MH 3 of 5); each
missing item is replaced by the mean of the answered recoded items of that scale. PCS and MCS need
all 8 scales. The health-transition item (Q2, HT) is reported as answered and never scored.

Out-of-range answers: an answer outside the form's range is an :class:`InputError` naming the item
and the allowed range. This deliberately differs from the SAS program's first step, which sets such
values to missing and so hides typing errors (the Stata ``sf36v2`` ado also stops on them).

RAND-36 (``score_rand36``): each item is recoded to 0-100 (RAND Table 1) and a scale is the mean of
its answered items (RAND Table 2), with no norms and no PCS/MCS. Its GH (Q1 scored 100, 75, 50, 25,
0) and BP (equally spaced Q7 and Q8) differ from the SF-36 recoding above, so the two scorings must
not be mixed.

Worked example (SF36HealthSurvey.jl ``test/runtests.jl``; shared/domain.md §2.5), v1 answers in
questionnaire order Q1, Q2, Q3a-j, Q4a-d, Q5a-c, Q6, Q7, Q8, Q9a-i, Q10, Q11a-d:
1, 2, 3,2,3,2,3,2,1,2,1,2, 1,2,1,2, 1,2,1, 3, 3, 2, 3,2,1,2,1,2,1,2,3, 2, 1,1,2,3 gives PF 55,
RP 50, BP 62, GH 55, VT 50, SF 37.5, RE 33.33, MH 40, PCS 44.4028 and MCS 32.3110.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from rodnan.core.instruments.base import InputDoc, InstrumentDef, Score, number_input
from rodnan.errors import InputError

SOURCE = (
    "Ware JE, Sherbourne CD. Med Care 1992;30:473-83; Ware JE, Kosinski M, Keller SD. SF-36 Physical and Mental "
    "Health Summary Scales: a User's Manual, 1994; Apolone-Mosconi SAS algorithm (R lbscorer::sf36)"
)
RAND36_SOURCE = "Hays RD, Sherbourne CD, Mazel RM. Health Econ 1993;2:217-27; RAND 36-Item Short Form Survey Scoring Instructions"

Sf36Form = Literal["v1", "v2"]
FORMS: tuple[Sf36Form, ...] = ("v1", "v2")
DEFAULT_FORM = "v2"

# --- items -------------------------------------------------------------------------------------------

ITEMS: tuple[tuple[str, str], ...] = (
    ("q1", "In general, your health is: 1 excellent, 2 very good, 3 good, 4 fair, 5 poor"),
    ("q2", "Health now compared with one year ago: 1 much better ... 5 much worse (HT, not scored)"),
    ("q3a", "Vigorous activities (running, lifting heavy objects, strenuous sports)"),
    ("q3b", "Moderate activities (moving a table, vacuuming, bowling, golf)"),
    ("q3c", "Lifting or carrying groceries"),
    ("q3d", "Climbing several flights of stairs"),
    ("q3e", "Climbing one flight of stairs"),
    ("q3f", "Bending, kneeling or stooping"),
    ("q3g", "Walking more than a mile"),
    ("q3h", "Walking several blocks"),
    ("q3i", "Walking one block"),
    ("q3j", "Bathing or dressing yourself"),
    ("q4a", "Physical health: cut down the time spent on work or other activities"),
    ("q4b", "Physical health: accomplished less than you would like"),
    ("q4c", "Physical health: limited in the kind of work or other activities"),
    ("q4d", "Physical health: difficulty performing work or other activities"),
    ("q5a", "Emotional problems: cut down the time spent on work or other activities"),
    ("q5b", "Emotional problems: accomplished less than you would like"),
    ("q5c", "Emotional problems: did work or activities less carefully than usual"),
    ("q6", "Extent health or emotional problems interfered with social activities: 1 not at all ... 5 extremely"),
    ("q7", "Bodily pain in the past 4 weeks: 1 none ... 6 very severe"),
    ("q8", "Extent pain interfered with normal work: 1 not at all ... 5 extremely"),
    ("q9a", "Did you feel full of life?"),
    ("q9b", "Have you been very nervous?"),
    ("q9c", "Have you felt so down in the dumps that nothing could cheer you up?"),
    ("q9d", "Have you felt calm and peaceful?"),
    ("q9e", "Did you have a lot of energy?"),
    ("q9f", "Have you felt downhearted and blue (v2: depressed)?"),
    ("q9g", "Did you feel worn out?"),
    ("q9h", "Have you been happy?"),
    ("q9i", "Did you feel tired?"),
    ("q10", "How much of the time health or emotional problems interfered with social activities: 1 all ... 5 none"),
    ("q11a", "I seem to get sick a little easier than other people: 1 definitely true ... 5 definitely false"),
    ("q11b", "I am as healthy as anybody I know: 1 definitely true ... 5 definitely false"),
    ("q11c", "I expect my health to get worse: 1 definitely true ... 5 definitely false"),
    ("q11d", "My health is excellent: 1 definitely true ... 5 definitely false"),
)
"""The 36 items in questionnaire order: (code, short wording)."""

ITEM_CODES: tuple[str, ...] = tuple(code for code, _ in ITEMS)
HT_ITEM = "q2"  # health transition: categorical, reported as answered

SCALES: tuple[str, ...] = ("PF", "RP", "BP", "GH", "VT", "SF", "RE", "MH")

# Items of each scale, in the SAS variable order (PF01-PF10, RP1-RP4, BP1-BP2, GH1-GH5, VT1-VT4, SF1-SF2,
# RE1-RE3, MH1-MH5); the same assignment for v1, v2 and RAND-36 (lbscorer R/sf36.R; RAND Table 2).
SCALE_ITEMS: dict[str, tuple[str, ...]] = {
    "PF": ("q3a", "q3b", "q3c", "q3d", "q3e", "q3f", "q3g", "q3h", "q3i", "q3j"),
    "RP": ("q4a", "q4b", "q4c", "q4d"),
    "BP": ("q7", "q8"),
    "GH": ("q1", "q11a", "q11b", "q11c", "q11d"),
    "VT": ("q9a", "q9e", "q9g", "q9i"),
    "SF": ("q6", "q10"),
    "RE": ("q5a", "q5b", "q5c"),
    "MH": ("q9b", "q9c", "q9d", "q9f", "q9h"),
}


def _response_ranges(role_high: int, feeling_high: int) -> dict[str, tuple[int, int]]:
    """Allowed answers per item; only Q4/Q5 (role) and Q9 (feelings) differ between forms."""
    ranges: dict[str, tuple[int, int]] = {}
    for code in ITEM_CODES:
        if code.startswith("q3"):
            ranges[code] = (1, 3)
        elif code.startswith(("q4", "q5")):
            ranges[code] = (1, role_high)
        elif code.startswith("q9"):
            ranges[code] = (1, feeling_high)
        elif code == "q7":
            ranges[code] = (1, 6)
        else:  # q1, q2, q6, q8, q10, q11a-d
            ranges[code] = (1, 5)
    return ranges


# Response ranges (SAS/lbscorer for v1; Stata sf36v2 for v2): RP/RE 1-2 (yes/no) in v1, 1-5 in v2;
# VT/MH 1-6 in v1, 1-5 in v2 (v2 drops "a good bit of the time").
RESPONSE_RANGES: dict[str, dict[str, tuple[int, int]]] = {
    "v1": _response_ranges(role_high=2, feeling_high=6),
    "v2": _response_ranges(role_high=5, feeling_high=5),
}

# --- SF-36 recoding (lbscorer R/sf36.R; Stata sf36v2 step 5) -----------------------------------------

GH1_RECODE = {1: 5.0, 2: 4.4, 3: 3.4, 4: 2.0, 5: 1.0}  # Q1, recalibrated
BP1_RECODE = {1: 6.0, 2: 5.4, 3: 4.2, 4: 3.1, 5: 2.2, 6: 1.0}  # Q7
BP2_RECODE_WITH_BP1 = {1: 5.0, 2: 4.0, 3: 3.0, 4: 2.0, 5: 1.0}  # Q8 when Q7 answered; Q8 = 1 is 6 if Q7 = 1
BP2_RECODE_ALONE = {1: 6.0, 2: 4.75, 3: 3.5, 4: 2.25, 5: 1.0}  # Q8 when Q7 is missing
REVERSED_ITEMS = frozenset({"q6", "q9a", "q9d", "q9e", "q9h", "q11b", "q11d"})  # recoded (k + 1) - x

# Half-scale rule: fewest answered items for a scale to be scored (SAS: PFNUM GE 5 ...).
MIN_ANSWERED = {"PF": 5, "RP": 2, "BP": 1, "GH": 3, "VT": 2, "SF": 1, "RE": 2, "MH": 3}

# Lowest and highest raw scale score (sum of recoded items): scale = 100 (raw - low) / (high - low).
RAW_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "v1": {"PF": (10, 30), "RP": (4, 8), "BP": (2, 12), "GH": (5, 25), "VT": (4, 24), "SF": (2, 10), "RE": (3, 6), "MH": (5, 30)},
    "v2": {
        "PF": (10, 30),
        "RP": (4, 20),
        "BP": (2, 12),
        "GH": (5, 25),
        "VT": (4, 20),
        "SF": (2, 10),
        "RE": (3, 15),
        "MH": (5, 25),
    },
}

# --- norms and summary coefficients ------------------------------------------------------------------

# (mean, SD) of each 0-100 scale in the US general population.
# v1: 1990, factor-analytic sample N = 2393 (Ware 1994; SAS/lbscorer). v2: 1998 (Stata sf36v2, standard form).
NORMS: dict[str, dict[str, tuple[float, float]]] = {
    "v1": {
        "PF": (84.52404, 22.89490),
        "RP": (81.19907, 33.79729),
        "BP": (75.49196, 23.55879),
        "GH": (72.21316, 20.16964),
        "VT": (61.05453, 20.86942),
        "SF": (83.59753, 22.37642),
        "RE": (81.29467, 33.02717),
        "MH": (74.84212, 18.01189),
    },
    "v2": {
        "PF": (83.29094, 23.75883),
        "RP": (82.50964, 25.52028),
        "BP": (71.32527, 23.66224),
        "GH": (70.84570, 20.97821),
        "VT": (58.31411, 20.01923),
        "SF": (84.30250, 22.91921),
        "RE": (87.39733, 21.43778),
        "MH": (74.98685, 17.75604),
    },
}
NORMS_LABEL = {"v1": "1990 US norms", "v2": "1998 US norms"}

# Factor-score coefficients, US 1990 general population; used for v1 and, as FSC(1990), for v2.
PCS_COEFFICIENTS = {
    "PF": 0.42402,
    "RP": 0.35119,
    "BP": 0.31754,
    "GH": 0.24954,
    "VT": 0.02877,
    "SF": -0.00753,
    "RE": -0.19206,
    "MH": -0.22069,
}
MCS_COEFFICIENTS = {
    "PF": -0.22999,
    "RP": -0.12329,
    "BP": -0.09731,
    "GH": -0.01571,
    "VT": 0.23534,
    "SF": 0.26876,
    "RE": 0.43407,
    "MH": 0.48581,
}
T_MEAN = 50.0  # norm-based scores: 50 + 10 z
T_SD = 10.0

# --- RAND-36 (RAND scoring instructions, Table 1 and Table 2) ----------------------------------------

# RAND numbers the items 1-36 in questionnaire order.
RAND36_ITEM_NUMBERS: dict[str, int] = {code: number for number, code in enumerate(ITEM_CODES, start=1)}

_RAND_DOWN_5 = (100.0, 75.0, 50.0, 25.0, 0.0)
_RAND_UP_3 = (0.0, 50.0, 100.0)
_RAND_UP_2 = (0.0, 100.0)
_RAND_DOWN_6 = (100.0, 80.0, 60.0, 40.0, 20.0, 0.0)
_RAND_UP_6 = (0.0, 20.0, 40.0, 60.0, 80.0, 100.0)
_RAND_UP_5 = (0.0, 25.0, 50.0, 75.0, 100.0)

# RAND Table 1: item number -> recoded value of responses 1, 2, ...
RAND36_RECODE: dict[int, tuple[float, ...]] = {
    **dict.fromkeys((1, 2, 20, 22, 34, 36), _RAND_DOWN_5),
    **dict.fromkeys(range(3, 13), _RAND_UP_3),
    **dict.fromkeys(range(13, 20), _RAND_UP_2),
    **dict.fromkeys((21, 23, 26, 27, 30), _RAND_DOWN_6),
    **dict.fromkeys((24, 25, 28, 29, 31), _RAND_UP_6),
    **dict.fromkeys((32, 33, 35), _RAND_UP_5),
}

# RAND Table 2: the items averaged in each scale (RAND names: physical functioning; role limitations due
# to physical health; pain; general health; energy/fatigue; social functioning; role limitations due
# to emotional problems; emotional well-being).
RAND36_SCALE_ITEMS: dict[str, tuple[int, ...]] = {
    "PF": tuple(range(3, 13)),
    "RP": (13, 14, 15, 16),
    "BP": (21, 22),
    "GH": (1, 33, 34, 35, 36),
    "VT": (23, 27, 29, 31),
    "SF": (20, 32),
    "RE": (17, 18, 19),
    "MH": (24, 25, 26, 28, 30),
}


# --- results -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sf36Result:
    """SF-36 scores of one questionnaire.

    Attributes:
        form: ``v1`` or ``v2`` (standard 4-week recall).
        norms: the norms the T-scores, PCS and MCS use (``1990 US norms`` or ``1998 US norms``).
        scales: PF RP BP GH VT SF RE MH on 0-100, None when not computable.
        t_scores: the norm-based scores (50 + 10 z) of the same scales.
        pcs: physical component summary, None unless all 8 scales are computable.
        mcs: mental component summary, likewise.
        ht: the health-transition answer (Q2, 1-5) as given, not scored.
        missing_items: the unanswered items, in questionnaire order.
        not_computable: each scale not scored, with the rule that stopped it.
    """

    form: str
    norms: str
    scales: dict[str, float | None]
    t_scores: dict[str, float | None]
    pcs: float | None
    mcs: float | None
    ht: int | None
    missing_items: tuple[str, ...]
    not_computable: dict[str, str]

    @property
    def has_summaries(self) -> bool:
        """True when PCS and MCS were computed (all 8 scales present)."""
        return self.pcs is not None


@dataclass(frozen=True)
class Rand36Result:
    """RAND-36 (RAND 36-Item Health Survey 1.0) scale scores of one questionnaire.

    Attributes:
        scales: PF RP BP GH VT SF RE MH on 0-100 (RAND names: physical functioning, role limitations
            due to physical health, pain, general health, energy/fatigue, social functioning, role
            limitations due to emotional problems, emotional well-being); None when no item answered.
        ht: the health-change answer (Q2, 1-5) as given.
        missing_items: the unanswered items, in questionnaire order.
        not_computable: each scale not scored, with the reason.
    """

    scales: dict[str, float | None]
    ht: int | None
    missing_items: tuple[str, ...]
    not_computable: dict[str, str]


# --- scoring -----------------------------------------------------------------------------------------


def _read_answers(answers: Mapping[str, object], ranges: Mapping[str, tuple[int, int]], label: str) -> dict[str, int | None]:
    """Every item as a whole number within its range, or None when missing.

    Raises:
        InputError: an unknown item, or an answer that is not a whole number within the item's range.
    """
    for code in answers:
        if code not in ranges:
            raise InputError(code, f"is not an item of the {label} (items: {', '.join(ITEM_CODES)})")
    items: dict[str, int | None] = {}
    for code, (low, high) in ranges.items():
        rule = f"must be a whole number from {low} to {high} on the {label}"
        try:
            number = number_input(answers, code)
        except InputError:
            raise InputError(code, rule, answers.get(code)) from None
        if number is not None and (not number.is_integer() or not low <= number <= high):
            raise InputError(code, rule, answers.get(code))
        items[code] = None if number is None else int(number)
    return items


def _recode_sf36(items: Mapping[str, int | None], form: Sf36Form) -> dict[str, float | None]:
    """Final item values (higher is better) of the 35 scored items."""
    recoded: dict[str, float | None] = {}
    for scale_items in SCALE_ITEMS.values():
        for code in scale_items:
            answer = items[code]
            if answer is None:
                recoded[code] = None
            elif code == "q1":
                recoded[code] = GH1_RECODE[answer]
            elif code in ("q7", "q8"):
                continue  # below: the pain items depend on each other
            elif code in REVERSED_ITEMS:
                recoded[code] = float(RESPONSE_RANGES[form][code][1] + 1 - answer)
            else:
                recoded[code] = float(answer)
    bp1, bp2 = items["q7"], items["q8"]
    recoded["q7"] = None if bp1 is None else BP1_RECODE[bp1]
    if bp2 is None:
        recoded["q8"] = None
    elif bp1 is None:
        recoded["q8"] = BP2_RECODE_ALONE[bp2]
    else:
        recoded["q8"] = 6.0 if (bp1 == 1 and bp2 == 1) else BP2_RECODE_WITH_BP1[bp2]
    # With one pain item missing, the half-scale mean imputation below sets it equal to the other,
    # which is the SAS rule "RBP2 = RBP1" (or "RBP1 = RBP2").
    return recoded


def _half_scale(values: list[float | None], minimum: int) -> tuple[float | None, str | None]:
    """The raw sum with missing items replaced by the mean of the answered ones, or None and the reason."""
    answered = [v for v in values if v is not None]
    if len(answered) < minimum:
        return None, f"{len(answered)} of {len(values)} items answered, at least {minimum} needed (half-scale rule)"
    mean = sum(answered) / len(answered)
    return sum(mean if v is None else v for v in values), None


def score_sf36(answers: Mapping[str, int | None], form: Sf36Form) -> Sf36Result:
    """Score one SF-36 questionnaire: 8 scales, their T-scores, PCS and MCS.

    Args:
        answers: the answers keyed by questionnaire number (``q1``, ``q2``, ``q3a`` .. ``q3j``, ``q4a`` ..
            ``q4d``, ``q5a`` .. ``q5c``, ``q6``, ``q7``, ``q8``, ``q9a`` .. ``q9i``, ``q10``, ``q11a`` ..
            ``q11d``), as the precoded response numbers; None or absent when unanswered.
        form: ``v1`` (RP/RE yes/no, VT/MH 6 levels; 1990 US norms) or ``v2`` (all 5 levels; 1998 US
            norms). Both are the standard 4-week recall forms.

    Returns:
        The scales on 0-100 (half-scale rule for missing items), the norm-based T-scores, PCS and MCS
        (only with all 8 scales), the raw health-transition answer and what was missing.

    Raises:
        InputError: an unknown form or item, or an answer that is not a whole number within the
            item's range for this form (named, with the range); out-of-range answers are never set to
            missing.
    """
    if form not in FORMS:
        raise InputError("form", f"must be one of {', '.join(FORMS)}", form)
    items = _read_answers(answers, RESPONSE_RANGES[form], f"SF-36 {form} form")
    recoded = _recode_sf36(items, form)
    scales: dict[str, float | None] = {}
    t_scores: dict[str, float | None] = {}
    not_computable: dict[str, str] = {}
    for scale, codes in SCALE_ITEMS.items():
        raw, reason = _half_scale([recoded[code] for code in codes], MIN_ANSWERED[scale])
        if raw is None:
            scales[scale] = t_scores[scale] = None
            not_computable[scale] = reason or ""
            continue
        low, high = RAW_RANGES[form][scale]
        scales[scale] = value = (raw - low) / (high - low) * 100
        mean, sd = NORMS[form][scale]
        t_scores[scale] = T_MEAN + T_SD * (value - mean) / sd
    pcs = mcs = None
    if not not_computable:
        z = {
            scale: (value - NORMS[form][scale][0]) / NORMS[form][scale][1] for scale, value in scales.items() if value is not None
        }
        pcs = T_MEAN + T_SD * sum(z[s] * PCS_COEFFICIENTS[s] for s in SCALES)
        mcs = T_MEAN + T_SD * sum(z[s] * MCS_COEFFICIENTS[s] for s in SCALES)
    return Sf36Result(
        form=form,
        norms=NORMS_LABEL[form],
        scales=scales,
        t_scores=t_scores,
        pcs=pcs,
        mcs=mcs,
        ht=items[HT_ITEM],
        missing_items=tuple(code for code, value in items.items() if value is None),
        not_computable=not_computable,
    )


def score_rand36(answers: Mapping[str, int | None]) -> Rand36Result:
    """Score one questionnaire with the RAND 36-Item Health Survey 1.0 simple scoring.

    Each item is recoded to 0-100 (RAND Table 1) and each scale is the mean of its answered items
    (RAND Table 2); unanswered items are left out. There are no norms and no PCS/MCS. The items and
    response ranges are those of SF-36 v1 (RP/RE yes/no, VT/MH 6 levels). GH and BP differ from
    SF-36 scoring, so RAND-36 and SF-36 scale scores are not interchangeable.

    Args:
        answers: the answers keyed by questionnaire number, as for :func:`score_sf36`; None or absent
            when unanswered.

    Returns:
        The 8 scales on 0-100 (None for a scale with no item answered) and the raw health-change answer.

    Raises:
        InputError: an unknown item, or an answer that is not a whole number within the item's range
            (named, with the range).
    """
    items = _read_answers(answers, RESPONSE_RANGES["v1"], "RAND-36")
    by_number = {RAND36_ITEM_NUMBERS[code]: value for code, value in items.items()}
    scales: dict[str, float | None] = {}
    not_computable: dict[str, str] = {}
    for scale, numbers in RAND36_SCALE_ITEMS.items():
        values = [RAND36_RECODE[n][answer - 1] for n in numbers if (answer := by_number[n]) is not None]
        if values:
            scales[scale] = sum(values) / len(values)
        else:
            scales[scale] = None
            not_computable[scale] = f"none of its {len(numbers)} items answered"
    return Rand36Result(
        scales=scales,
        ht=items[HT_ITEM],
        missing_items=tuple(code for code, value in items.items() if value is None),
        not_computable=not_computable,
    )


# --- adapter -----------------------------------------------------------------------------------------


def _score(answers: Mapping[str, object], options: Mapping[str, str]) -> Score:
    form = options.get("form", DEFAULT_FORM)
    if form == "rand36":
        rand = score_rand36(_read_answers(answers, RESPONSE_RANGES["v1"], "RAND-36"))
        return Score(
            instrument="sf36",
            value=None,
            subscores=dict(rand.scales),
            version="RAND 36-Item Health Survey 1.0 scoring (items recoded to 0-100 and averaged; no norms, no PCS/MCS)",
            missing=rand.missing_items,
            notes=(
                "RAND-36 scoring: GH and BP are scored differently from SF-36, so these scales are not SF-36 scores",
                *(f"{scale} not computable: {reason}" for scale, reason in rand.not_computable.items()),
            ),
            source=RAND36_SOURCE,
        )
    if form not in FORMS:
        raise InputError("form", f"must be one of {', '.join((*FORMS, 'rand36'))}", form)
    sf_form: Sf36Form = "v1" if form == "v1" else "v2"
    result = score_sf36(_read_answers(answers, RESPONSE_RANGES[sf_form], f"SF-36 {sf_form} form"), sf_form)
    notes = [f"{scale} not computable: {reason}" for scale, reason in result.not_computable.items()]
    if not result.has_summaries:
        notes.append(f"PCS and MCS not computable: they need all 8 scales (missing: {', '.join(result.not_computable)})")
    subscores: dict[str, float | str | None] = {
        **result.scales,
        "PCS": result.pcs,
        "MCS": result.mcs,
        **{f"{scale}_T": value for scale, value in result.t_scores.items()},
        "HT": result.ht,
    }
    return Score(
        instrument="sf36",
        value=result.pcs,
        subscores=subscores,
        version=f"SF-36 {sf_form} (standard 4-week recall), {result.norms}",
        missing=result.missing_items,
        notes=tuple(notes),
        source=SOURCE,
    )


def _input_doc(code: str, wording: str) -> InputDoc:
    if code.startswith("q3"):
        legend = " (limited: 1 a lot, 2 a little, 3 not at all)"
    elif code.startswith(("q4", "q5")):
        legend = " (v1: 1 yes, 2 no; v2: 1 all of the time ... 5 none of the time)"
    elif code.startswith("q9"):
        legend = " (1 all of the time ... v1: 6, v2: 5 none of the time)"
    else:
        legend = ""
    return InputDoc(code, f"{code.upper()}. {wording}{legend}", kind="integer")


INSTRUMENT = InstrumentDef(
    code="sf36",
    title="SF-36 Health Survey (v1/v2) and RAND-36 scoring",
    source=SOURCE,
    inputs=tuple(_input_doc(code, wording) for code, wording in ITEMS),
    score=_score,
    options={"form": ("v1", "v2", "rand36")},
    default_options={"form": DEFAULT_FORM},
)
