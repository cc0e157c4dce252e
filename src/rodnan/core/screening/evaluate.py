"""Every criterion evaluated over a whole batch of candidates at once, and the verdicts combined."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from rodnan.core.derivation import derive_columns
from rodnan.core.eligibility import ScreeningVerdict
from rodnan.core.protocol.model import Study
from rodnan.core.screening.read import CandidateBatch
from rodnan.core.verdict import Truth

VERDICT_NAMES = np.array([v.value for v in ScreeningVerdict], dtype=object)
_ELIGIBLE, _INELIGIBLE, _INCOMPLETE = 0, 1, 2


@dataclass
class ScreenedBatch:
    """Truth codes of every criterion, and the verdicts, for a batch of candidates."""

    batch: CandidateBatch
    truths: dict[str, npt.NDArray[np.int8]]
    verdicts: npt.NDArray[np.int8]
    pathways: npt.NDArray[np.object_]
    missing: npt.NDArray[np.object_]


def screen_batch(study: Study, batch: CandidateBatch) -> ScreenedBatch:
    """Derive missing derivable items, evaluate every criterion over the whole batch at once and
    combine the verdicts."""
    n = len(batch)
    batch.derived = derive_columns(study, batch.values, n)
    truths = {c.code: c.expression.truth_array(batch.values, n) for c in study.criteria}
    inclusion = [truths[c.code] for c in study.criteria if c.kind == "inclusion"]
    exclusion = [truths[c.code] for c in study.criteria if c.kind == "exclusion"]
    included = np.minimum.reduce(inclusion) if inclusion else np.full(n, Truth.TRUE, np.int8)
    excluded = np.maximum.reduce(exclusion) if exclusion else np.full(n, Truth.FALSE, np.int8)
    verdicts = np.full(n, _INCOMPLETE, dtype=np.int8)
    verdicts[(included == Truth.TRUE) & (excluded == Truth.FALSE)] = _ELIGIBLE
    verdicts[(included == Truth.FALSE) | (excluded == Truth.TRUE)] = _INELIGIBLE

    pathways = [c for c in study.criteria if c.kind == "pathway"]
    pathway_bits = np.zeros(n, dtype=np.int64)
    for bit, criterion in enumerate(pathways):
        pathway_bits |= (truths[criterion.code] == Truth.TRUE).astype(np.int64) << bit
    pathway_text = _label_bits(pathway_bits, [c.code for c in pathways])

    # Missing items that could change an incomplete verdict: missing, and read by an unknown criterion.
    deciding = [c for c in study.criteria if c.kind != "pathway"]
    item_codes = list(study.in_item_order({code for c in deciding for code in c.expression.item_codes}))
    missing_bits = np.zeros(n, dtype=np.int64)
    incomplete = verdicts == _INCOMPLETE
    if incomplete.any():
        unknown = {c.code: (truths[c.code] == Truth.UNKNOWN) & incomplete for c in deciding}
        for bit, code in enumerate(item_codes):
            column = batch.values.get(code)
            relevant = np.logical_or.reduce([unknown[c.code] for c in deciding if code in c.expression.item_codes])
            if column is not None:
                relevant &= np.isnan(column)
            missing_bits |= relevant.astype(np.int64) << bit
    return ScreenedBatch(batch, truths, verdicts, pathway_text, _label_bits(missing_bits, item_codes))


def _label_bits(bits: npt.NDArray[np.int64], names: list[str]) -> npt.NDArray[np.object_]:
    """Turn bit sets into ';'-joined names, building each distinct string once."""
    codes, unique = pd.factorize(bits)
    labels = np.array([";".join(name for b, name in enumerate(names) if int(u) >> b & 1) for u in unique], dtype=object)
    return labels[codes]
