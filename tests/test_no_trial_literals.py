"""No trial literal in Python: the protocol says everything trial-specific (issue 13, point 5).

Every form code and item code of the bundled protocol is looked for among the string constants of
``src/rodnan`` (parsed with ``ast``, so comments and docstrings of prose do not count, but any string
constant does). The code reaches forms and items through the protocol's roles instead
(``Study.intervention_form``, ``Study.intervention_items``, ``FormDef.layout``, ``FormDef.patient``,
``Study.log_forms``, ``Study.analysis``, ``schedule.screening_visit``).
"""

from __future__ import annotations

import ast
from pathlib import Path

from rodnan.core.protocol import Study

SRC = Path(__file__).resolve().parents[1] / "src" / "rodnan"

EXEMPT_DIRECTORIES = {
    "core/simulate/": "the simulator's parameters describe this trial's patients by the protocol's item codes",
    "core/instruments/": "published instruments name their own inputs; the protocol maps its items to them",
    "core/analysis/insilico/": "the in-silico trial studies the simulator's own mRSS and DFS model (the simulator's parameters)",
}

WRITE_PATH = "the lead's write-path rewrite (issue 13, point 3) replaces these by the protocol's roles; then remove the entry"
SUBJECTS_TABLE = "a column of the subjects table (the analysis data contract), not the item of the same name"
EXEMPT: dict[str, tuple[frozenset[str], str]] = {
    # platform vocabulary that coincides with a code of this protocol
    "core/trialdata.py": (frozenset({"infusion_date", "age", "sex", "cells_administered"}), SUBJECTS_TABLE),
    "core/analysis/datasets.py": (frozenset({"infusion_date", "age", "sex", "cells_administered"}), SUBJECTS_TABLE),
    "core/endpoints/assessments.py": (frozenset({"infusion_date"}), SUBJECTS_TABLE),
    "core/endpoints/evaluate.py": (frozenset({"infusion_date"}), SUBJECTS_TABLE),
    "core/endpoints/responses.py": (frozenset({"infusion_date"}), SUBJECTS_TABLE),
    "web/subjects/views.py": (frozenset({"infusion_date"}), "the Subject model's field (the lifecycle's day 0)"),
    "web/subjects/store.py": (frozenset({"infusion_date"}), "the Subject model's field (the lifecycle's day 0)"),
    "core/audit_replay.py": (frozenset({"infusion_date"}), "the Subject model's field the trail's subject entries name"),
    "web/subjects/migrations/0001_initial.py": (
        frozenset({"infusion_date", "screening"}),
        "a generated migration: the Subject model's field and the 'screening' subject status",
    ),
    "core/lifecycle.py": (frozenset({"screening"}), "SubjectStatus.SCREENING, the subject status"),
    "core/protocol/design.py": (frozenset({"infusion"}), "the format's keyword `schedule.anchor: infusion`"),
    "core/protocol/endpoint_defs.py": (frozenset({"infusion"}), "the format's keyword `origin: infusion`"),
}


def _codes(study: Study) -> set[str]:
    return {form.code for form in study.forms} | {item.code for item in study.items}


def _literals(codes: set[str]) -> dict[str, list[tuple[int, str]]]:
    """Per file (relative to src/rodnan), the (line, code) of each string constant equal to a code."""
    found: dict[str, list[tuple[int, str]]] = {}
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith(tuple(EXEMPT_DIRECTORIES)):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in codes:
                found.setdefault(relative, []).append((node.lineno, node.value))
    return found


def test_no_form_or_item_code_is_named_in_python(study: Study) -> None:
    codes = _codes(study)
    found = _literals(codes)
    offending = [
        f"src/rodnan/{relative}:{line}: {code!r}"
        for relative, hits in found.items()
        for line, code in sorted(hits)
        if not ({"*", code} & EXEMPT.get(relative, (frozenset(), ""))[0])
    ]
    assert not offending, "trial literals in Python (use the protocol's roles):\n" + "\n".join(offending)


def test_every_exemption_is_still_needed(study: Study) -> None:
    """An exemption whose file or word is gone must be removed, so that the list only shrinks."""
    found = _literals(_codes(study))
    stale = []
    for relative, (words, _reason) in EXEMPT.items():
        present = {code for _, code in found.get(relative, [])}
        if not (SRC / relative).exists() or not present or ("*" not in words and words - present):
            stale.append(f"{relative}: {sorted(words - present) if '*' not in words else 'no literal left'}")
    assert not stale, "exemptions no longer needed (remove them from EXEMPT):\n" + "\n".join(stale)


def test_the_scan_finds_a_literal(study: Study) -> None:
    """The scan is not vacuous: the bundled protocol's codes are found where the simulator names them."""
    names = ("cohort/subjects.py", "cohort/visits.py")
    source = "\n".join((SRC / "core" / "simulate" / name).read_text(encoding="utf-8") for name in names)
    strings = {n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert {"mrss", "infusion_date"} <= strings & _codes(study)
