"""The simulated pool: :func:`simulate_candidates` builds it, :func:`candidates_csv_text` writes it as a wide
screening CSV.
"""

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from rodnan.core.protocol.model import Study
from rodnan.core.simulate.candidates.draw import (
    Draw,
    blank_cells,
    draw_digestive,
    draw_kidney,
    draw_lung,
    draw_rapidly_progressive,
    plan_candidates,
    truncated_normal,
)
from rodnan.core.simulate.candidates.params import CandidateParams
from rodnan.core.simulate.candidates.recipes import (
    AGE_YEARS,
    CG_CONSTANT,
    CG_FEMALE,
    CHILD_BEARING_AGE,
    DECIMALS,
    DEMOGRAPHIC_ITEMS,
    DIGESTIVE,
    EXCLUSION_STATE,
    FEMALE_FRACTION,
    KIDNEY,
    LUNG,
    PATHWAYS,
    RP,
    SUBJECT_DIGITS,
    SUBJECT_PREFIX,
    WEIGHT_KG,
)
from rodnan.core.simulate.candidates.scenarios import ACR_NOT_MET, VERDICT_OF_KIND, list_scenarios, read_model
from rodnan.core.values import unit_factor
from rodnan.errors import InputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]


@dataclass(frozen=True)
class CandidatePool:
    """A simulated screening pool.

    Attributes:
        frame: one row per candidate, ready to be written as a wide screening CSV: ``subject_id``
            (``SIM-0000001``), then one column per item headed ``item [unit]`` (numbers) or ``item``
            (yes/no and choices). Every value is a string ('' when missing, 'yes'/'no'); each item
            column is a pandas Categorical of strings, so a million candidates take about 60 MB.
        intended_verdict: 'eligible', 'ineligible' or 'incomplete' for each row.
        intended_reason: the scenario of each row: 'pathway:lung', 'exclusion:platelets_low',
            'no_pathway', 'acr_not_met' or 'missing:hiv_positive'.
    """

    frame: pd.DataFrame
    intended_verdict: ObjectArray
    intended_reason: ObjectArray


def simulate_candidates(study: Study, n: int, seed: int, params: CandidateParams | None = None) -> CandidatePool:
    """Simulate a screening pool of ``n`` made-up candidates, each built for one scenario.

    Args:
        study: the protocol (its criteria give the thresholds, its items the units and ranges).
        n: number of candidates.
        seed: seed of ``numpy.random.default_rng``; the same seed and params give the same pool.
        params: the mix and the rates (defaults: :class:`CandidateParams`).

    Returns:
        The pool: a wide screening frame, the intended verdict and the scenario of each row.

    Raises:
        InputError: ``n`` or ``seed`` is not a whole number >= 0, or the protocol lacks a criterion,
            threshold or item the simulator needs.
    """
    for name, value in (("n", n), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise InputError(name, "must be a whole number >= 0", value)
    params = CandidateParams() if params is None else params
    model = read_model(study)
    if [c.code for c in model.items["sex"].choices] != ["female", "male"]:
        raise InputError("study", "the candidate simulator expects the sex choices female, male", "sex")
    scenarios = list_scenarios(model, params)
    rng = np.random.default_rng(seed)
    plan = plan_candidates(model, scenarios, params, rng, n)

    # demographics; pregnancy (and a pending pregnancy test) only in women of child-bearing age
    child_bearing = plan.excluded("pregnancy") | plan.missing_is("pregnant")
    female = (rng.random(n) < FEMALE_FRACTION) | child_bearing
    age_mean, age_sd, age_min, age_max = AGE_YEARS
    ones = np.ones(n)
    low_age, high_age = (
        np.where(child_bearing, CHILD_BEARING_AGE[0], age_min),
        np.where(child_bearing, CHILD_BEARING_AGE[1], age_max),
    )
    age = np.round(truncated_normal(rng, age_mean * ones, age_sd * ones, low_age, high_age))
    (weight_f, weight_m), weight_sd, weight_min, weight_max = WEIGHT_KG
    weight = truncated_normal(rng, np.where(female, weight_f, weight_m), weight_sd * ones, weight_min * ones, weight_max * ones)
    weight = np.round(weight * 10) / 10
    cg_k = (140 - age) * weight * CG_CONSTANT * np.where(female, CG_FEMALE, 1.0)  # clearance = cg_k / creatinine

    draw = Draw(model, rng, female)
    met = {code: plan.pathway == j for j, code in enumerate(PATHWAYS)}
    draw_rapidly_progressive(draw, plan, met[RP], plan.hinge == PATHWAYS.index(RP))
    draw_lung(draw, plan, met[LUNG])
    draw_digestive(draw, met[DIGESTIVE])
    draw_kidney(draw, plan, met[KIDNEY], cg_k)
    for code in ("lvef_low", "platelets_low"):
        item_code, state = EXCLUSION_STATE[code]
        draw.set(item_code, state, plan.excluded(code))
        draw.draw(item_code)
    values = {**draw.values, "age": age, "body_weight": weight}
    answers: dict[str, FloatArray] = {
        model.acr_item: np.where(plan.kind == ACR_NOT_MET, 0.0, 1.0),
        "sex": np.where(female, 0.0, 1.0),
    }
    for code, (item_code, meets) in model.boolean_exclusions.items():
        answers[item_code] = np.where(plan.excluded(code), float(meets), float(not meets))

    columns = [*DEMOGRAPHIC_ITEMS, *model.screening_items]
    blank = blank_cells(model, plan, columns, params.missing_rate, rng)
    convertible = [code for code in columns if model.items[code].accepted_units]
    count = int(np.floor(params.alternative_unit_rate * len(convertible) + 0.5))
    alternative = {convertible[i] for i in rng.permutation(len(convertible))[:count]}
    frame_columns: dict[str, object] = {"subject_id": _subject_ids(n)}
    for code in columns:
        item = model.items[code]
        if not item.is_numeric:
            words = ("female", "male") if item.type == "choice" else ("no", "yes")
            frame_columns[code] = _words(answers[code], blank[code], words)
            continue
        unit = item.accepted_units[0] if code in alternative else item.unit
        assert unit is not None  # numeric items have one
        factor = unit_factor(item, unit)
        decimals = max(0, DECIMALS[code] + math.ceil(math.log10(factor) - 1e-9))  # the same precision in any unit
        frame_columns[f"{code} [{unit}]"] = _numbers(values[code] / factor, blank[code], decimals)
    reasons = np.array([s.reason for s in scenarios], dtype=object)
    verdicts = np.array([VERDICT_OF_KIND[s.kind] for s in scenarios], dtype=object)
    return CandidatePool(pd.DataFrame(frame_columns), verdicts[plan.scenario], reasons[plan.scenario])


def _subject_ids(n: int) -> ObjectArray:
    """``SIM-0000001`` ... (more digits once n passes 9,999,999)."""
    if n == 0:
        return np.array([], dtype=object)
    numbers = np.arange(1, n + 1).astype(str)
    ids: ObjectArray = np.char.add(SUBJECT_PREFIX, np.char.zfill(numbers, SUBJECT_DIGITS)).astype(object)
    return ids


def _categorical(codes: IntArray, categories: list[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype=object))  # type: ignore[arg-type]  # stubs: Sequence[int]


def _words(values: FloatArray, blank: BoolArray, words: tuple[str, str]) -> pd.Categorical:
    """A yes/no or two-choice column: 0.0 -> words[0], 1.0 -> words[1], blank -> ''."""
    codes = np.where(blank, 2, values.astype(np.int64))
    return _categorical(codes, [*words, ""])


def _numbers(values: FloatArray, blank: BoolArray, decimals: int) -> pd.Categorical:
    """A number column with a fixed number of decimals; each distinct value is formatted once."""
    scaled = np.round(values * 10.0**decimals).astype(np.int64)
    scaled = np.where(blank, np.iinfo(np.int64).min, scaled)
    codes, uniques = pd.factorize(scaled, sort=True)
    labels = []
    for value in uniques.tolist():
        if value == np.iinfo(np.int64).min:
            labels.append("")
            continue
        sign, magnitude = ("-" if value < 0 else ""), abs(value)
        whole, fraction = divmod(magnitude, 10**decimals)
        labels.append(f"{sign}{whole}.{fraction:0{decimals}d}" if decimals else f"{sign}{whole}")
    return _categorical(codes.astype(np.int64), labels)


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',"\r\n') else text


def candidates_csv_text(pool: CandidatePool) -> str:
    """The pool as a wide screening CSV: a header line and one line per candidate, '\\n' line ends.

    Each column is turned into a list of strings at once (a categorical column by indexing its
    categories), and the lines are joined by C-level ``str.join``: no Python code runs per
    candidate, so a million candidates take about a second.

    Args:
        pool: a simulated pool (or any frame of string columns with a ``subject_id`` column).

    Returns:
        The CSV text, ending with a newline.
    """
    frame = pool.frame
    columns: list[list[str]] = []
    for name in frame.columns:
        series = frame[name]
        if isinstance(series.dtype, pd.CategoricalDtype):
            labels = np.array([_quote(str(c)) for c in series.cat.categories] + [""], dtype=object)
            columns.append(labels[series.cat.codes.to_numpy()].tolist())  # code -1 (NaN) picks the trailing ''
        else:
            cells = series.fillna("").astype(str).to_numpy(dtype=object)
            if any(ch in "".join(cells.tolist()) for ch in ',"\r\n'):
                cells = np.array([_quote(c) for c in cells.tolist()], dtype=object)
            columns.append(cells.tolist())
    header = ",".join(_quote(str(name)) for name in frame.columns)
    if len(frame) == 0:
        return header + "\n"
    return header + "\n" + "\n".join(map(",".join, zip(*columns, strict=True))) + "\n"
