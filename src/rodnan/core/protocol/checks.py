"""Rules across the document about roles: form kinds and layouts, the intervention's items, the analysis plan.

Each check yields (YAML path, rule broken); :func:`rodnan.core.protocol.load.load_protocol_text` turns
them into problems with their lines. The other cross-document rules (references, units, expressions,
endpoints) are in :mod:`rodnan.core.protocol.load`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from rodnan.core import units
from rodnan.core.expr import compile_expression
from rodnan.core.protocol.model import GENERAL_CHECK_CODES, FormDef, ItemDef, Study
from rodnan.errors import ExpressionError, UnitError

Loc = tuple[str | int, ...]

DATE_TYPES = ("date", "partial_date")
"""Item types that may hold a log record's start or end date."""


def check_roles(study: Study) -> Iterator[tuple[Loc, str]]:
    """Every role rule of the protocol (see the module docstring)."""
    yield from _check_forms(study)
    yield from _check_intervention(study)
    yield from _check_analysis(study)


def _check_forms(study: Study) -> Iterator[tuple[Loc, str]]:
    """Log forms are not collected at visits and name date items of their own; body grids list the form's items."""
    forms = study.form_by_code
    screening = next((v for v in study.schedule.visits if v.code == study.schedule.screening_visit), None)
    if screening is None or screening.day >= 0:
        yield (
            ("schedule", "screening_visit"),
            f"the screening visit {study.schedule.screening_visit} must be a fixed visit before day 0",
        )
    for i, visit in enumerate(study.schedule.visits):
        for j, code in enumerate(visit.forms):
            if code in forms and forms[code].is_log:
                yield (
                    ("schedule", "visits", i, "forms", j),
                    f"form {code!r} is a log form (repeating per subject); visits list scheduled forms only",
                )
    for i, series in enumerate(study.schedule.series):
        for j, code in enumerate(series.forms):
            if code in forms and forms[code].is_log:
                yield (
                    ("schedule", "series", i, "forms", j),
                    f"form {code!r} is a log form (repeating per subject); series list scheduled forms only",
                )
    for i, form in enumerate(study.forms):
        if form.log is not None:
            for role, date_item in (("start", form.log.start), ("end", form.log.end)):
                if date_item is not None:
                    yield from ((("forms", i, "log", role), rule) for rule in _on_form(study, form, date_item, DATE_TYPES))
        for j, area in enumerate(form.body_areas):
            for side, area_item in (("item", area.item), ("right", area.right), ("left", area.left)):
                if area_item is None:
                    continue
                yield from (
                    (("forms", i, "body_areas", j, side), f"body area: {rule}")
                    for rule in _on_form(study, form, area_item, ("number", "integer"))
                )


def _on_form(study: Study, form: FormDef, code: str, types: tuple[str, ...]) -> Iterator[str]:
    """Why item ``code`` cannot fill a role on ``form`` (nothing when it can)."""
    item = study.item_by_code.get(code)
    if item is None:
        yield f"item {code!r} is not in items"
    elif code not in form.items:
        yield f"item {code!r} is not an item of form {form.code!r}"
    elif item.type not in types:
        yield f"item {code!r} is a {item.type} item; this role needs a {' or '.join(types)} item"


def _unit_fits(item: ItemDef, unit: str, what: str) -> Iterator[str]:
    if item.unit is None:
        return
    try:
        units.conversion_factor(item.unit, unit, item.molar_mass_g_per_mol)
    except UnitError:
        yield f"item {item.code!r} is in {item.unit}, which does not convert to {unit} ({what})"


def _check_intervention(study: Study) -> Iterator[tuple[Loc, str]]:
    """The intervention form is a scheduled form collected at a visit; each role's item is on it with the right type."""
    intervention = study.intervention
    form = study.form_by_code.get(intervention.form)
    if form is None:
        yield ("intervention", "form"), f"the intervention form {intervention.form!r} is not a form of the protocol"
        return
    if form.is_log:
        yield ("intervention", "form"), f"the intervention form {form.code!r} must be a scheduled form, not a log form"
    if not any(form.code in visit.forms for visit in study.schedule.visits):
        yield ("intervention", "form"), f"no fixed visit of the schedule collects the intervention form {form.code!r}"
    roles = intervention.roles
    numeric = ("number", "integer")
    wanted: list[tuple[str, str | None, tuple[str, ...], str | None]] = [
        ("date", roles.date, ("date",), None),
        ("cells", roles.cells, numeric, "{cells}"),
        ("weight", roles.weight, numeric, "kg"),
        ("lot", roles.lot, ("text",), None),
        ("donor", roles.donor, ("text",), None),
    ]
    for role, code, types, unit in wanted:
        if code is None:
            continue
        loc: Loc = ("intervention", "roles", role)
        problems = list(_on_form(study, form, code, types))
        yield from ((loc, rule) for rule in problems)
        if not problems and unit is not None:
            yield from ((loc, rule) for rule in _unit_fits(study.item_by_code[code], unit, f"the {role} role"))


def _check_analysis(study: Study) -> Iterator[tuple[Loc, str]]:
    """Parameters read existing number or choice items; every list names known parameters, covariates and visits."""
    plan = study.analysis
    if plan is None:
        return
    items = study.item_by_code
    for variable, code in plan.adsl_items.items():
        if code not in items:
            yield ("analysis", "adsl_items", variable), f"item {code!r} is not in items"
    for names in ([p.code for p in plan.parameters], [p.baseline for p in plan.parameters]):
        for dup in sorted(n for n, k in Counter(names).items() if k > 1):
            yield ("analysis", "parameters"), f"{dup!r} is used more than once"
    numeric: set[str] = set()
    choice: dict[str, set[str]] = {}
    for i, parameter in enumerate(plan.parameters):
        item = items.get(parameter.item)
        if item is None:
            yield ("analysis", "parameters", i, "item"), f"item {parameter.item!r} is not in items"
        elif item.is_numeric:
            numeric.add(parameter.code)
        elif item.type == "choice":
            choice[parameter.code] = {c.code for c in item.choices}
        else:
            yield (
                ("analysis", "parameters", i, "item"),
                f"item {parameter.item!r} is a {item.type} item; a parameter reads a number, integer or choice item",
            )
    for field, codes in (("longitudinal", plan.longitudinal), ("organ_parameters", plan.organ_parameters)):
        for j, code in enumerate(codes):
            if code not in numeric:
                yield ("analysis", field, j), f"{code!r} is not a parameter of a number item in analysis.parameters"
    if plan.comparison_visit not in study.visit_by_code:
        yield ("analysis", "comparison_visit"), f"visit {plan.comparison_visit} is not in the schedule"
    by_baseline = {p.baseline: p.code for p in plan.parameters}
    columns: list[str] = []
    for k, covariate in enumerate(plan.cox.covariates):
        loc: Loc = ("analysis", "cox", "covariates", k)
        columns.append(covariate.column)
        paramcd = by_baseline.get(covariate.column)
        if paramcd is None:
            yield (*loc, "column"), f"{covariate.column!r} is not the baseline variable of a parameter in analysis.parameters"
        elif paramcd in choice:
            if covariate.positive is None:
                yield (*loc, "positive"), f"{covariate.column!r} is a choice covariate: it needs the positive choice code"
            elif covariate.positive not in choice[paramcd]:
                known = ", ".join(sorted(choice[paramcd]))
                yield (*loc, "positive"), f"{covariate.positive!r} is not a choice of {paramcd} ({known})"
        elif covariate.positive is not None:
            yield (*loc, "positive"), f"{covariate.column!r} is a number covariate: positive applies to choice covariates"
    for dup in sorted(n for n, k in Counter(columns).items() if k > 1):
        yield ("analysis", "cox", "covariates"), f"covariate {dup!r} is listed more than once"
    for j, column in enumerate(plan.cox.multivariable):
        if column not in columns:
            yield ("analysis", "cox", "multivariable", j), f"{column!r} is not a covariate of analysis.cox.covariates"


def check_timepoints(study: Study) -> Iterator[tuple[Loc, str]]:
    """Forms with timepoints: unique timepoint codes, items listed once that are not derived, no item code taken."""
    derived = {code for definition in study.derived_items for code in definition.outputs.values()}
    for i, form in enumerate(study.forms):
        if not form.timepoints:
            continue
        if form.code == study.intervention.form:
            yield (
                ("forms", i, "timepoints"),
                f"the intervention form {form.code!r} is recorded in one step: it takes no timepoints",
            )
        twice = {code for code, n in Counter(tp.code for tp in form.timepoints).items() if n > 1}
        for dup in sorted(twice):
            yield ("forms", i, "timepoints"), f"form {form.code!r}: timepoint {dup!r} is listed more than once"
        for dup in sorted(code for code, n in Counter(form.timepoint_items).items() if n > 1):
            yield ("forms", i, "items"), f"form {form.code!r}: item {dup!r} is listed more than once"
        for j, code in enumerate(form.timepoint_items):
            if code in derived:
                yield ("forms", i, "items", j), f"form {form.code!r}: item {code!r} is derived; timepoints repeat entered items"
        for tp, codes in form.at_timepoints():
            for code, base_code in zip(codes, form.timepoint_items, strict=True):
                item, base = study.item_by_code.get(code), study.item_by_code.get(base_code)
                label = f"{base.label}, {tp.label[:1].lower()}{tp.label[1:]}" if base is not None else ""
                if len(code) > 40:
                    yield ("forms", i, "timepoints"), f"form {form.code!r}: the item code {code!r} is longer than 40 characters"
                elif item is not None and base is not None and item.label != label and tp.code not in twice:
                    rule = f"{code!r} names {base_code!r} at {tp.code!r}, but another item already has that code"
                    yield ("forms", i, "timepoints"), f"form {form.code!r}: {rule}"


def check_requirements(study: Study) -> Iterator[tuple[Loc, str]]:
    """``intervention.requires``: unique codes, known forms, a date item on each form, expressions that compile."""
    codes = [r.code for r in study.intervention.requires]
    for dup in sorted(code for code, n in Counter(codes).items() if n > 1):
        yield ("intervention", "requires"), f"requirement code {dup!r} is used more than once"
    taken = set(GENERAL_CHECK_CODES) | {check.code for check in study.checks}
    for i, requirement in enumerate(study.intervention.requires):
        loc: Loc = ("intervention", "requires", i)
        if requirement.code in taken:
            yield (*loc, "code"), f"requirement code {requirement.code!r} is already the code of a check or a general rule"
        known: set[str] = set()
        for j, code in enumerate(requirement.forms):
            form = study.form_by_code.get(code)
            if form is None:
                yield (*loc, "forms", j), f"requirement {requirement.code!r} reads form {code!r}, which is not in forms"
                continue
            known.update(form.items)
            for rule in _on_form(study, form, requirement.date, ("date",)):
                yield (*loc, "date"), f"requirement {requirement.code!r}: {rule}"
        for field, text, specs in (("applies", requirement.applies, study.item_specs),
                                   ("record", requirement.record, study.check_item_specs)):  # fmt: skip
            try:
                compiled = compile_expression(text, specs)
            except ExpressionError as exc:
                where = f" at column {exc.column}" if exc.column else ""
                yield (*loc, field), f"requirement {requirement.code!r}: {exc.message}{where}"
                continue
            if field == "record":
                for code in sorted(compiled.item_codes - known):
                    yield (
                        (*loc, "record"),
                        f"requirement {requirement.code!r} reads item {code!r}, which is not on its form(s) "
                        f"{', '.join(requirement.forms)}",
                    )
