"""Scleroderma Health Assessment Questionnaire (SSc-HAQ): the Stanford HAQ disability index, the
scleroderma visual analogue scales and the two CRISS global assessments.

Sources:

* HAQ-DI: Fries JF et al., Arthritis Rheum 1980;23:137-45; Bruce B, Fries JF, J Rheumatol
  2003;30:167-78; "The Health Assessment Questionnaire (HAQ)", Stanford University, Division of
  Immunology & Rheumatology (ARAMIS instructions, revised June 2009): the 20 items, the 8
  categories, the aids/devices of each category, the standard and the alternative index.
* SSc-HAQ VAS: Steen VD, Medsger TA Jr, Arthritis Rheum 1997;40:1984-91 (Raynaud's, digital ulcers,
  gastrointestinal, breathing and overall severity, each on a 15 cm line scored 0-3), next to the
  HAQ pain and patient global VAS.
* CRISS globals (patient and physician, 0-10): Khanna D et al., Arthritis Rheumatol 2016;68:299-311.

Formula:

1. Each item is scored 0 (without any difficulty), 1 (with some difficulty), 2 (with much
   difficulty) or 3 (unable to do). A category score is the highest item score of the category.
2. Standard index: when an aid or device of that category is used, or help from another person is
   needed for it, a category score of 0 or 1 is raised to 2 (2 and 3 stay). The alternative
   ("unadjusted") index skips this step.
3. HAQ-DI = sum of the category scores / number of categories answered, 0-3 (no unit).
4. VAS: score (0-3) = 3 x distance / line length; score (0-100) = 100 x distance / line length;
   distance and length in mm, the line 150 mm unless stated.

Missing data: a category is answered when at least one of its items is; the index needs at least 6
of the 8 categories answered (Stanford convention), otherwise it is "not computable" and the
unanswered categories are named. An aid, device or help checked for a category with no answered
item does not answer it. An unchecked aid or help box means "not used". A missing VAS or global is
missing; nothing is imputed.

Worked example (shared/domain.md §3.1, case A): categories 1, 0, 2, 1, 0, 1, 3, 0 (Dressing ...
Activities) with a cane for Walking: Walking is raised to 2, HAQ-DI = 9/8 = 1.125; the unadjusted
index is 8/8 = 1.000. A mark at 72 mm on a 150 mm line scores 1.44 (0-3) and 48.0 (0-100).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from rodnan.core.instruments.base import InputDoc, InstrumentDef, Score, boolean_input, integer_answer, number_input
from rodnan.errors import InputError

SOURCE = (
    "HAQ-DI: Fries JF et al., Arthritis Rheum 1980;23:137-45; Stanford HAQ instructions (ARAMIS, 2009). "
    "SSc VAS: Steen VD, Medsger TA, Arthritis Rheum 1997;40:1984-91. "
    "CRISS globals: Khanna D et al., Arthritis Rheumatol 2016;68:299-311"
)

CATEGORIES: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    (
        "dressing",
        "Dressing & grooming",
        ("haq_dress", "haq_shampoo"),
        "devices used for dressing (button hook, zipper pull, long-handled shoe horn)",
    ),
    ("arising", "Arising", ("haq_stand_chair", "haq_bed"), "special or built-up chair"),
    ("eating", "Eating", ("haq_cut_meat", "haq_lift_cup", "haq_open_carton"), "built-up or special utensils"),
    ("walking", "Walking", ("haq_walk_outdoors", "haq_climb_steps"), "cane, walker, crutches, wheelchair"),
    (
        "hygiene",
        "Hygiene",
        ("haq_wash_body", "haq_tub_bath", "haq_toilet"),
        "raised toilet seat, bathtub seat or bar, long-handled bathroom appliances",
    ),
    ("reach", "Reach", ("haq_reach_object", "haq_pick_clothing"), "long-handled appliances for reach"),
    ("grip", "Grip", ("haq_car_doors", "haq_open_jars", "haq_faucets"), "jar opener (for jars previously opened)"),
    ("activities", "Activities (errands and chores)", ("haq_errands", "haq_car_in_out", "haq_chores"), ""),
)
"""The 8 categories in questionnaire order: code, label, item codes, the aids/devices that count for it
(none for Activities). Stanford HAQ instructions (ARAMIS 2009)."""

ITEM_LABELS: dict[str, str] = {
    "haq_dress": "dress yourself, including tying shoelaces and doing buttons",
    "haq_shampoo": "shampoo your hair",
    "haq_stand_chair": "stand up from a straight chair",
    "haq_bed": "get in and out of bed",
    "haq_cut_meat": "cut your meat",
    "haq_lift_cup": "lift a full cup or glass to your mouth",
    "haq_open_carton": "open a new milk carton",
    "haq_walk_outdoors": "walk outdoors on flat ground",
    "haq_climb_steps": "climb up five steps",
    "haq_wash_body": "wash and dry your body",
    "haq_tub_bath": "take a tub bath",
    "haq_toilet": "get on and off the toilet",
    "haq_reach_object": "reach and get down a 5-pound object from just above your head",
    "haq_pick_clothing": "bend down to pick up clothing from the floor",
    "haq_car_doors": "open car doors",
    "haq_open_jars": "open jars which have been previously opened",
    "haq_faucets": "turn faucets on and off",
    "haq_errands": "run errands and shop",
    "haq_car_in_out": "get in and out of a car",
    "haq_chores": "do chores such as vacuuming or yard work",
}

ITEM_MIN, ITEM_MAX = 0, 3  # 0 without any difficulty ... 3 unable to do (Fries 1980)
ADJUSTED_MINIMUM = 2  # aids/devices or help raise a category score of 0 or 1 to 2 (Stanford instructions)
MIN_CATEGORIES = 6  # at least 6 of 8 categories answered (Stanford convention)
N_CATEGORIES = len(CATEGORIES)

VARIANTS = ("standard", "unadjusted")
"""``standard``: aids/devices and help adjusted; ``unadjusted``: the alternative index without them."""

VAS_SCALES: tuple[tuple[str, str], ...] = (
    ("vas_pain", "Pain in the past week (HAQ pain VAS)"),
    ("vas_patient_global_haq", "Patient global assessment (HAQ VAS)"),
    ("vas_raynaud", "Raynaud's: interference with activities in the past week"),
    ("vas_digital_ulcers", "Digital ulcers: interference with activities in the past week"),
    ("vas_gastrointestinal", "Gastrointestinal: interference with activities in the past week"),
    ("vas_breathing", "Breathing: interference with activities in the past week"),
    ("vas_overall_severity", "Overall disease severity in the past week"),
)
"""The 7 SSc-HAQ visual analogue scales; inputs are the distance in mm from the left anchor."""

DEFAULT_LINE_LENGTH_MM = 150.0  # the SHAQ line is 15 cm (Steen & Medsger 1997)
VAS_MAX_SCORE = 3.0  # SHAQ VAS scored 0-3 (Steen & Medsger 1997)

GLOBALS: tuple[tuple[str, str], ...] = (
    ("patient_global", "Patient global assessment, 0-10 (CRISS core item)"),
    ("physician_global", "Physician global assessment, 0-10 (CRISS core item)"),
)
GLOBAL_MIN, GLOBAL_MAX = 0.0, 10.0  # CRISS globals on a 0-10 scale (Khanna 2016)


@dataclass(frozen=True)
class HaqDiResult:
    """HAQ-DI, standard and unadjusted, or why it is not computable.

    Attributes:
        standard: the index with the aids/devices and help adjustment, None when not computable.
        unadjusted: the alternative index without the adjustment, None when not computable.
        categories: category scores after the adjustment (None: category unanswered).
        categories_unadjusted: category scores before the adjustment.
        answered: the number of categories answered.
        missing_categories: the unanswered categories.
    """

    standard: float | None
    unadjusted: float | None
    categories: dict[str, int | None]
    categories_unadjusted: dict[str, int | None]
    answered: int
    missing_categories: tuple[str, ...]

    @property
    def is_computable(self) -> bool:
        """True when at least 6 of the 8 categories were answered."""
        return self.standard is not None

    def index(self, variant: str = "standard") -> float | None:
        """The index of one variant (``standard`` or ``unadjusted``).

        Raises:
            InputError: an unknown variant.
        """
        if variant not in VARIANTS:
            raise InputError("variant", f"must be one of {', '.join(VARIANTS)}", variant)
        return self.standard if variant == "standard" else self.unadjusted


def score_haq_di(items: Mapping[str, int | None], aids: Collection[str] = (), helped: Collection[str] = ()) -> HaqDiResult:
    """HAQ disability index from the 20 item answers.

    Args:
        items: item code (``haq_dress`` ... ``haq_chores``) to answer 0-3, or None when unanswered;
            absent codes count as unanswered.
        aids: the categories (``dressing`` ... ``grip``) for which an aid or device is used.
        helped: the categories (``dressing`` ... ``activities``) for which help from another person is needed.

    Returns:
        Both indices (standard and unadjusted), the category scores and the unanswered categories.

    Raises:
        InputError: an unknown item or category, an aid for Activities (no device counts for it), or an
            answer that is not a whole number from 0 to 3 (naming the item).
    """
    for code in items:
        if code not in ITEM_LABELS:
            raise InputError(code, f"is not a HAQ-DI item (items: {', '.join(ITEM_LABELS)})")
    category_codes = [code for code, *_ in CATEGORIES]
    for code in aids:
        if code not in category_codes or code == "activities":
            raise InputError(f"haq_aid_{code}", f"is not a category with aids or devices ({', '.join(category_codes[:-1])})")
    for code in helped:
        if code not in category_codes:
            raise InputError(f"haq_help_{code}", f"is not a HAQ-DI category ({', '.join(category_codes)})")

    raw: dict[str, int | None] = {}
    adjusted: dict[str, int | None] = {}
    for code, _, item_codes, _ in CATEGORIES:
        answers = [integer_answer(items, item, ITEM_MIN, ITEM_MAX) for item in item_codes]
        given = [a for a in answers if a is not None]
        score = max(given) if given else None
        raw[code] = score
        if score is not None and (code in aids or code in helped):
            score = max(score, ADJUSTED_MINIMUM)
        adjusted[code] = score

    missing = tuple(code for code, score in raw.items() if score is None)
    answered = N_CATEGORIES - len(missing)
    if answered < MIN_CATEGORIES:
        return HaqDiResult(None, None, adjusted, raw, answered, missing)
    standard = sum(s for s in adjusted.values() if s is not None) / answered
    unadjusted = sum(s for s in raw.values() if s is not None) / answered
    return HaqDiResult(standard, unadjusted, adjusted, raw, answered, missing)


def _check_vas(distance_mm: float, line_length_mm: float, field: str) -> None:
    if not line_length_mm > 0:
        raise InputError("vas_line_length", "must be a length in mm greater than 0", line_length_mm)
    if not 0 <= distance_mm <= line_length_mm:
        raise InputError(field, f"must be a distance from 0 to {line_length_mm:g} mm (the line length)", distance_mm)


def compute_vas_0_3(distance_mm: float, line_length_mm: float = DEFAULT_LINE_LENGTH_MM, field: str = "distance_mm") -> float:
    """A VAS mark scored 0-3: 3 x distance / line length (Steen & Medsger 1997).

    Args:
        distance_mm: distance of the mark from the left anchor, mm.
        line_length_mm: length of the printed line, mm (150 for the SHAQ).
        field: the item code named in errors.

    Returns:
        The score, 0-3.

    Raises:
        InputError: a line length not above 0, or a distance outside 0 to the line length.
    """
    _check_vas(distance_mm, line_length_mm, field)
    return VAS_MAX_SCORE * distance_mm / line_length_mm


def compute_vas_0_100(distance_mm: float, line_length_mm: float = DEFAULT_LINE_LENGTH_MM, field: str = "distance_mm") -> float:
    """A VAS mark scored 0-100: 100 x distance / line length.

    Args:
        distance_mm: distance of the mark from the left anchor, mm.
        line_length_mm: length of the printed line, mm.
        field: the item code named in errors.

    Returns:
        The score, 0-100.

    Raises:
        InputError: a line length not above 0, or a distance outside 0 to the line length.
    """
    _check_vas(distance_mm, line_length_mm, field)
    return 100.0 * distance_mm / line_length_mm


def _ranged_number(answers: Mapping[str, object], code: str, low: float, high: float) -> float | None:
    value = number_input(answers, code)
    if value is not None and not low <= value <= high:
        raise InputError(code, f"must be from {low:g} to {high:g}", answers.get(code))
    return value


def _score(answers: Mapping[str, object], options: Mapping[str, str]) -> Score:
    variant = options.get("variant", "standard")
    items = {item: integer_answer(answers, item, ITEM_MIN, ITEM_MAX) for item in ITEM_LABELS}
    aids = [code for code, _, _, devices in CATEGORIES if devices and boolean_input(answers, f"haq_aid_{code}")]
    helped = [code for code, *_ in CATEGORIES if boolean_input(answers, f"haq_help_{code}")]
    result = score_haq_di(items, aids, helped)

    line_length = number_input(answers, "vas_line_length")
    if line_length is None:
        line_length = DEFAULT_LINE_LENGTH_MM
    elif not line_length > 0:
        raise InputError("vas_line_length", "must be a length in mm greater than 0", answers.get("vas_line_length"))

    subscores: dict[str, float | str | None] = {
        f"haq_{code}": (None if s is None else float(s)) for code, s in result.categories.items()
    }
    subscores["haq_di_standard"] = result.standard
    subscores["haq_di_unadjusted"] = result.unadjusted
    subscores["categories_answered"] = float(result.answered)
    missing: list[str] = []
    missing.extend(item for item in ITEM_LABELS if items[item] is None)
    for code, _ in VAS_SCALES:
        distance = number_input(answers, code)
        if distance is None:
            missing.append(code)
            subscores[code] = subscores[f"{code}_100"] = None
        else:
            subscores[code] = compute_vas_0_3(distance, line_length, code)
            subscores[f"{code}_100"] = compute_vas_0_100(distance, line_length, code)
    for code, _ in GLOBALS:
        value = _ranged_number(answers, code, GLOBAL_MIN, GLOBAL_MAX)
        if value is None:
            missing.append(code)
        subscores[code] = value

    notes: list[str] = []
    if not result.is_computable:
        notes.append(
            f"HAQ-DI not computable: {result.answered} of {N_CATEGORIES} categories answered, at least {MIN_CATEGORIES} needed "
            f"(unanswered: {', '.join(result.missing_categories)})"
        )
    label = (
        "standard (aids/devices and help adjusted)"
        if variant == "standard"
        else "alternative, without the aids/devices and help adjustment"
    )
    return Score(
        instrument="ssc_haq",
        value=result.index(variant),
        subscores=subscores,
        version=f"Stanford legacy HAQ-DI, {label}; SSc-HAQ VAS on a {line_length:g} mm line (0-3 and 0-100); CRISS globals 0-10",
        missing=tuple(missing),
        notes=tuple(notes),
        source=SOURCE,
    )


INSTRUMENT = InstrumentDef(
    code="ssc_haq",
    title="Scleroderma Health Assessment Questionnaire (HAQ-DI, SSc VAS, CRISS globals)",
    source=SOURCE,
    inputs=(
        *(
            InputDoc(
                item, f"{label}: {ITEM_LABELS[item]}; 0 without any difficulty, 1 some, 2 much, 3 unable to do", kind="integer"
            )
            for _, label, item_codes, _ in CATEGORIES
            for item in item_codes
        ),
        *(
            InputDoc(
                f"haq_aid_{code}",
                f"{label}: uses aids or devices ({devices}); raises a category score of 0 or 1 to 2",
                kind="boolean",
            )
            for code, label, _, devices in CATEGORIES
            if devices
        ),
        *(
            InputDoc(
                f"haq_help_{code}",
                f"{label}: needs help from another person; raises a category score of 0 or 1 to 2",
                kind="boolean",
            )
            for code, label, _, _ in CATEGORIES
        ),
        *(InputDoc(code, f"{label}: distance of the mark from the left anchor", unit="mm") for code, label in VAS_SCALES),
        InputDoc("vas_line_length", "length of the printed VAS line (default 150 mm)", unit="mm"),
        *(InputDoc(code, label, unit="{score}") for code, label in GLOBALS),
    ),
    score=_score,
    options={"variant": VARIANTS},
    default_options={"variant": "standard"},
)
