"""Bulk eligibility screening: many candidates from a CSV file, whole columns at a time.

The same criteria and rules as :mod:`rodnan.core.eligibility`, applied with numpy to whole columns
(no Python loop per candidate): values are parsed, converted and range-checked per column, every
criterion is evaluated as an int8 array of Kleene truth codes, and the verdict is their min/max.
Files are read in chunks, so memory stays bounded however many candidates there are.

Two layouts are accepted (see ``docs/screening.md``):

* wide: one row per candidate, a ``subject_id`` column and one column per item, headed
  ``item [unit]`` (``albumin [g/dL]``); a header without a bracket means the item's own unit;
* long: columns ``subject_id,item,value,unit``, one row per value (read whole, not in chunks).

Bad cells never stop the screening: each becomes an :class:`InputIssue` naming the line, the column
and the rule, and the value is treated as missing. Only an unusable file raises.

The package, by responsibility:

* :mod:`~rodnan.core.screening.read`: cells of a wide or long file into a :class:`CandidateBatch` (values
  in each item's unit, :class:`InputIssue` for bad cells);
* :mod:`~rodnan.core.screening.evaluate`: :func:`screen_batch`, every criterion over a whole batch;
* :mod:`~rodnan.core.screening.output`: a screened batch as a table, CSV lines or results with reasons;
* :mod:`~rodnan.core.screening.files`: :func:`screen_csv` (chunks) and :func:`screen_csv_rendered`
  (forked workers) over a file.

The column rules (parse a cell, check the plausible range) are :mod:`rodnan.core.columns`.
"""

from rodnan.core.screening.evaluate import VERDICT_NAMES, ScreenedBatch, screen_batch
from rodnan.core.screening.files import BLOCK_BYTES, CHUNK_ROWS, Render, RenderedChunk, screen_csv, screen_csv_rendered
from rodnan.core.screening.output import csv_header, csv_rows, frame_of, output_columns, results_of
from rodnan.core.screening.read import (
    DUPLICATE_RULE,
    ID_COLUMN,
    ISSUE_KINDS,
    LONG_COLUMNS,
    CandidateBatch,
    ColumnPlan,
    InputIssue,
    SeenIds,
    WidePlan,
    detect_layout,
    plan_wide_columns,
    read_long,
    read_wide_chunk,
)

__all__ = [
    "BLOCK_BYTES",
    "CHUNK_ROWS",
    "DUPLICATE_RULE",
    "ID_COLUMN",
    "ISSUE_KINDS",
    "LONG_COLUMNS",
    "VERDICT_NAMES",
    "CandidateBatch",
    "ColumnPlan",
    "InputIssue",
    "Render",
    "RenderedChunk",
    "ScreenedBatch",
    "SeenIds",
    "WidePlan",
    "csv_header",
    "csv_rows",
    "detect_layout",
    "frame_of",
    "output_columns",
    "plan_wide_columns",
    "read_long",
    "read_wide_chunk",
    "results_of",
    "screen_batch",
    "screen_csv",
    "screen_csv_rendered",
]
