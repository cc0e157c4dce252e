"""Load a protocol file (YAML) into a validated :class:`~rodnan.core.protocol.model.Study`.

Problems are collected, not stopped at: one :class:`~rodnan.errors.ProtocolError` lists every
problem with its YAML path, its line and the rule broken. Checks run in three passes: YAML syntax,
the models' field rules (pydantic), then rules across the document (references between items,
forms, visits and criteria; UCUM units; expressions).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from rodnan.core import instruments, textfile, units
from rodnan.core.expr import CompiledExpression, compile_expression
from rodnan.core.instruments.acr_criss import STEP1_EVENTS
from rodnan.core.protocol import bounds, cache
from rodnan.core.protocol.checks import check_requirements, check_roles, check_timepoints
from rodnan.core.protocol.model import CONTEXT_DATES, ENDPOINT_SUFFIXES, GENERAL_CHECK_CODES, ItemDef, Study
from rodnan.errors import ExpressionError, InputError, ProtocolError, ProtocolProblem, UnitError

BUNDLED = "nct00962923.v1"
"""The protocol rodnan ships: NCT00962923, version 1."""

Loc = tuple[str | int, ...]


def bundled_protocol_path(name: str = BUNDLED) -> Path:
    """Path of a protocol file shipped in the ``rodnan.protocols`` package."""
    return Path(str(resources.files("rodnan.protocols").joinpath(f"{name}.yaml")))


def load_protocol(path: str | Path | None = None) -> Study:
    """Load and validate a protocol file; with no path, the bundled NCT00962923 protocol.

    Raises:
        ProtocolError: listing every problem, each with YAML path, line and rule; a file that cannot be
            read, is larger than :data:`~rodnan.core.protocol.bounds.MAX_PROTOCOL_BYTES` or is not UTF-8
            (with the line and column of the first bad byte) gives one problem.
    """
    file = bundled_protocol_path() if path is None else Path(path)
    try:
        text = textfile.read_utf8(file, bounds.MAX_PROTOCOL_BYTES, "a protocol file")
    except InputError as exc:
        line = exc.line if isinstance(exc, textfile.NotUtf8Error) else None
        raise ProtocolError(str(file), [ProtocolProblem((), exc.rule, line)]) from None
    return load_protocol_text(text, str(file))


def load_protocol_text(text: str, source: str = "<string>") -> Study:
    """Validate protocol YAML text (see :func:`load_protocol`).

    The text is refused, before anything else, when it is larger than
    :data:`~rodnan.core.protocol.bounds.MAX_PROTOCOL_BYTES`; its YAML graph is measured
    (:func:`~rodnan.core.protocol.bounds.check_graph`) before a tree is built from it. The YAML of a text
    validated before is read from :mod:`~rodnan.core.protocol.cache` instead of parsed again, and measured
    the same way (:func:`~rodnan.core.protocol.bounds.check_tree`); the models and the rules across the
    document run either way.

    Raises:
        ProtocolError: listing every problem, each with YAML path, line and rule.
    """
    if len(text) > bounds.MAX_PROTOCOL_BYTES:
        rule = f"the text is larger than {bounds.MAX_PROTOCOL_BYTES:,} characters, the most a protocol file may have"
        raise ProtocolError(source, [ProtocolProblem((), rule)])
    cached = cache.read_tree(text)
    if cached is not None:
        try:
            bounds.check_tree(cached)
            study = Study.model_validate(cached)
        except (bounds.BoundExceededError, ValidationError):
            pass  # e.g. rules tightened since it was cached: the full load below gives the problems their lines
        else:
            if next(_check_references(study), None) is None:
                return study
    tree = _parse(text, source)
    if not isinstance(tree, CommentedMap):
        raise ProtocolError(source, [ProtocolProblem((), "the document must be a mapping of sections")])
    try:
        plain = _plain(tree)
        study = Study.model_validate(plain)
    except ValidationError as exc:
        problems = [ProtocolProblem(tuple(err["loc"]), err["msg"], _line(tree, tuple(err["loc"]))) for err in exc.errors()]
        raise ProtocolError(source, problems) from None
    problems = [ProtocolProblem(loc, rule, _line(tree, loc)) for loc, rule in _check_references(study)]
    if problems:
        raise ProtocolError(source, problems)
    cache.write_tree(text, plain)
    return study


def _parse(text: str, source: str) -> Any:
    """The YAML round-trip tree of ``text``, built only after its graph is measured within the bounds.

    Raises:
        ProtocolError: not valid YAML, nested more than :data:`~rodnan.core.protocol.bounds.MAX_DEPTH`
            levels, or aliases expanding beyond :data:`~rodnan.core.protocol.bounds.MAX_NODES` nodes.
    """
    yaml = YAML(typ="rt", pure=True)
    yaml.max_depth = bounds.MAX_DEPTH
    parser = None
    try:
        constructor, parser = yaml.get_constructor_parser(text)  # the reader checks the characters here
        node = constructor.composer.get_single_node()
        if node is None:
            return None
        bounds.check_graph(node)
        return constructor.construct_document(node)
    except bounds.BoundExceededError as exc:
        raise ProtocolError(source, [ProtocolProblem((), exc.rule, exc.line)]) from None
    except MaxDepthExceededError as exc:
        rule = f"the document nests more than {bounds.MAX_DEPTH} levels deep"
        raise ProtocolError(source, [ProtocolProblem((), rule, _mark_line(exc))]) from None
    except MarkedYAMLError as exc:
        raise ProtocolError(source, [ProtocolProblem((), f"not valid YAML: {exc.problem}", _mark_line(exc))]) from None
    except YAMLError as exc:  # e.g. a control character the reader refuses (a position, not a mark)
        position = getattr(exc, "position", None)
        line, column = (None, None) if not isinstance(position, int) else _line_column(text, position)
        reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
        where = "" if column is None else f" (column {column})"
        raise ProtocolError(source, [ProtocolProblem((), f"not valid YAML: {reason}{where}", line)]) from None
    except RecursionError:
        rule = f"the document nests more than {bounds.MAX_DEPTH} levels deep"
        raise ProtocolError(source, [ProtocolProblem((), rule)]) from None
    finally:
        if parser is not None:
            parser.dispose()
        for part in ("reader", "scanner"):
            reset = getattr(getattr(yaml, f"_{part}", None), f"reset_{part}", None)
            if reset is not None:
                reset()


def _mark_line(exc: MarkedYAMLError) -> int | None:
    mark = exc.problem_mark
    return None if mark is None else int(mark.line) + 1


def _line_column(text: str, position: int) -> tuple[int, int]:
    """The 1-based line and column of character ``position`` of ``text``."""
    return text.count("\n", 0, position) + 1, position - text.rfind("\n", 0, position)


def _plain(node: Any) -> Any:
    """ruamel round-trip nodes to plain dicts, lists and scalars."""
    if isinstance(node, CommentedMap):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def _line(tree: Any, loc: Loc) -> int | None:
    """1-based line of the deepest part of ``loc`` that exists in the YAML tree."""
    line: int | None = None
    node = tree
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line


def _duplicates(codes: list[str]) -> set[str]:
    return {code for code, n in Counter(codes).items() if n > 1}


def _check_references(study: Study) -> Iterator[tuple[Loc, str]]:
    """Rules across the document, each yielded as (YAML path, rule broken)."""
    items = study.item_by_code
    for dup in _duplicates([item.code for item in study.items]):
        yield ("items",), f"item code {dup!r} is defined more than once"
    for i, item in enumerate(study.items):
        yield from _check_units(("items", i), item.unit, item.accepted_units, item.molar_mass_g_per_mol)

    for dup in _duplicates([form.code for form in study.forms]):
        yield ("forms",), f"form code {dup!r} is defined more than once"
    for i, form in enumerate(study.forms):
        for j, code in enumerate(form.timepoint_items or form.items):  # the items as the file lists them
            if code not in items:
                yield ("forms", i, "items", j), f"form {form.code!r} lists item {code!r}, which is not in items"

    forms = study.form_by_code
    for i, visit in enumerate(study.schedule.visits):
        for j, code in enumerate(visit.forms):
            if code not in forms:
                yield ("schedule", "visits", i, "forms", j), f"visit {visit.code} collects form {code!r}, which is not in forms"
    for i, series in enumerate(study.schedule.series):
        for j, code in enumerate(series.forms):
            if code not in forms:
                yield ("schedule", "series", i, "forms", j), f"the series collects form {code!r}, which is not in forms"
    for dup in _duplicates([visit.code for visit in study.schedule.all_visits]):
        yield ("schedule",), f"visit code {dup!r} occurs more than once once the series are expanded"

    dose = study.intervention.dose
    try:
        units.conversion_factor(dose.unit, "{cells}/kg")
    except UnitError:
        yield ("intervention", "dose", "unit"), f"the dose unit {dose.unit!r} must be a number of cells per kg body weight"

    yield from _check_completion(study)
    yield from _check_derived_items(study)
    yield from _check_derivation_cycles(study)
    yield from _check_expressions(study)
    yield from _check_endpoints(study)
    yield from _check_checks(study)
    yield from check_roles(study)
    yield from check_timepoints(study)
    yield from check_requirements(study)


def _check_completion(study: Study) -> Iterator[tuple[Loc, str]]:
    """Missing-data codes named by forms and items exist; a form's required list and an item's versions fit."""
    codes = study.missing_code_by_code
    for dup in _duplicates([code.code for code in study.missing_codes]):
        yield ("missing_codes",), f"missing-data code {dup!r} is defined more than once"
    for i, form in enumerate(study.forms):
        for j, code in enumerate(form.missing_codes or ()):
            if code not in codes:
                yield (
                    ("forms", i, "missing_codes", j),
                    f"form {form.code!r} allows missing-data code {code!r}, which is not in missing_codes",
                )
        if isinstance(form.required, list):
            for j, code in enumerate(form.required):
                if code not in form.items:
                    yield ("forms", i, "required", j), f"form {form.code!r} requires item {code!r}, which it does not list"
    items = study.item_by_code
    for i, item in enumerate(study.items):
        for j, code in enumerate(item.missing_codes or ()):
            if code not in codes:
                yield (
                    ("items", i, "missing_codes", j),
                    f"item {item.code!r} allows missing-data code {code!r}, which is not in missing_codes",
                )
        if item.versions is None:
            continue
        chooser = items.get(item.versions.item)
        if chooser is None or chooser.type != "choice":
            yield (
                ("items", i, "versions", "item"),
                f"item {item.code!r}: versions.item {item.versions.item!r} must be a choice item",
            )
            continue
        choices = {c.code for c in chooser.choices}
        if set(item.versions.answers) != choices:
            yield (
                ("items", i, "versions", "answers"),
                f"item {item.code!r}: versions.answers must give the answers of each of {', '.join(sorted(choices))}",
            )
        if item.type != "integer":
            yield ("items", i, "versions"), f"item {item.code!r}: versions belong to integer items"
        bounds = item.range
        for version, answers in item.versions.answers.items():
            outside = [n for n in answers if bounds is None or (bounds.min is not None and n < bounds.min)
                       or (bounds.max is not None and n > bounds.max)]  # fmt: skip
            if outside:
                yield ("items", i, "versions", "answers", version), f"item {item.code!r}: answers {outside} lie outside its range"


def _check_checks(study: Study) -> Iterator[tuple[Loc, str]]:
    """``checks:``: unique codes apart from the general rules, known forms and visits, expressions that compile
    over the forms' own items and the context dates."""
    for dup in _duplicates([c.code for c in study.checks]):
        yield ("checks",), f"check code {dup!r} is used more than once"
    for code in sorted(set(CONTEXT_DATES) & set(study.item_by_code)):
        yield ("items",), f"item code {code!r} is a name the checks reserve for a date of the subject or the visit"
    specs = study.check_item_specs
    for i, check in enumerate(study.checks):
        loc: Loc = ("checks", i)
        if check.code in GENERAL_CHECK_CODES:
            yield (*loc, "code"), f"check code {check.code!r} is the name of a general rule"
        known: set[str] = set(CONTEXT_DATES)
        for j, form in enumerate(check.forms):
            if form not in study.form_by_code:
                yield (*loc, "forms", j), f"check {check.code!r} applies to form {form!r}, which is not in forms"
            else:
                known.update(study.form_by_code[form].items)
        for j, visit in enumerate(check.visits):
            if visit not in study.visit_by_code:
                yield (*loc, "visits", j), f"check {check.code!r} applies at visit {visit!r}, which is not in the schedule"
        try:
            compiled = compile_expression(check.expression, specs)
        except ExpressionError as exc:
            where = f" at column {exc.column}" if exc.column else ""
            yield (*loc, "expression"), f"check {check.code!r}: {exc.message}{where}"
            continue
        for code in sorted(compiled.item_codes - known):
            yield (
                (*loc, "expression"),
                f"check {check.code!r} reads item {code!r}, which is not on its form(s) {', '.join(check.forms)}",
            )


def _check_derived_items(study: Study) -> Iterator[tuple[Loc, str]]:
    """Each derivation names existing items, a known instrument, valid inputs, outputs, options and units."""
    items = study.item_by_code
    derived: set[str] = set()
    for i, definition in enumerate(study.derived_items):
        loc: Loc = ("derived_items", i)
        for output, code in definition.outputs.items():
            target = items.get(code)
            if target is None:
                yield (*loc, "outputs", output), f"item {code!r} is not in items"
            elif not (target.is_numeric or target.type == "boolean"):
                yield (
                    (*loc, "outputs", output),
                    f"item {code!r} is a {target.type} item; only number and yes/no items can be derived",
                )
            elif code in derived:
                yield (*loc, "outputs", output), f"item {code!r} is derived more than once"
            derived.add(code)
        instrument = instruments.REGISTRY.get(definition.instrument)
        if instrument is None:
            known = ", ".join(sorted(instruments.REGISTRY))
            yield (*loc, "instrument"), f"unknown instrument {definition.instrument!r} (known: {known})"
            continue
        docs = {doc.code: doc for doc in instrument.inputs}
        for name, code in definition.inputs.items():
            doc, source = docs.get(name), items.get(code)
            if doc is None:
                yield (*loc, "inputs", name), f"{name!r} is not an input of {instrument.code} (inputs: {', '.join(docs)})"
            elif source is None:
                yield (*loc, "inputs", name), f"item {code!r} is not in items"
            else:
                yield from (((*loc, "inputs", name), rule) for rule in _input_fits(doc, source))
        for name in definition.constants:
            if name not in docs or name in definition.inputs:
                yield (*loc, "constants", name), f"{name!r} must be an input of {instrument.code} that no item feeds"
        choices = ", ".join(f"{k}: {'/'.join(v)}" for k, v in instrument.options.items()) or "none"
        for name, value in definition.options.items():
            allowed = instrument.options.get(name)
            if allowed is None or value not in allowed:
                yield (*loc, "options", name), f"{name}={value!r} is not an option of {instrument.code} (options: {choices})"
        for name, code in definition.option_items.items():
            allowed, source = instrument.options.get(name), items.get(code)
            answers = {c.code for c in source.choices} if source is not None else set()
            if allowed is None or source is None or source.type != "choice" or not answers <= set(allowed):
                yield (
                    (*loc, "option_items", name),
                    f"item {code!r} must be a choice item whose choices are values of option {name!r} ({choices})",
                )


def _check_derivation_cycles(study: Study) -> Iterator[tuple[Loc, str]]:
    """Each cycle of derived items (an item derived, directly or through others, from itself), named whole.

    A derivation's outputs depend on its inputs and option items; a cycle is reported once, at the first
    derivation in it, as ``a -> b -> a`` starting from its first item in the file's order.
    """
    producer: dict[str, int] = {}
    for i, definition in enumerate(study.derived_items):
        for code in definition.outputs.values():
            producer.setdefault(code, i)
    needs: dict[str, list[str]] = {}
    for code, i in producer.items():
        definition = study.derived_items[i]
        sources = [*definition.inputs.values(), *definition.option_items.values()]
        needs[code] = [source for source in sources if source in producer]
    order = {code: n for n, code in enumerate(producer)}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    seen: set[tuple[str, ...]] = set()
    for start in producer:
        if state.get(start):
            continue
        path: list[str] = [start]
        state[start] = 1
        pending: list[Iterator[str]] = [iter(needs[start])]
        while pending:
            following = next(pending[-1], None)
            if following is None:
                state[path.pop()] = 2
                pending.pop()
            elif state.get(following) == 1:
                cycle = path[path.index(following) :]
                first = min(range(len(cycle)), key=lambda k: order[cycle[k]])
                cycle = cycle[first:] + cycle[:first]
                if tuple(cycle) not in seen:
                    seen.add(tuple(cycle))
                    shown = " -> ".join([*cycle, cycle[0]])
                    yield ("derived_items", producer[cycle[0]]), f"derived items form a cycle: {shown}"
            elif not state.get(following):
                state[following] = 1
                path.append(following)
                pending.append(iter(needs[following]))


def _input_fits(doc: instruments.InputDoc, item: ItemDef) -> Iterator[str]:
    """Why an item cannot feed an instrument input (nothing when it can)."""
    if doc.kind in ("number", "integer"):
        if not item.is_numeric:
            yield f"input {doc.code!r} needs a number; item {item.code!r} is a {item.type} item"
        elif doc.unit and item.unit and not units.is_compatible(item.unit, doc.unit, item.molar_mass_g_per_mol):
            yield f"item {item.code!r} is in {item.unit}, which does not convert to {doc.unit} as input {doc.code!r} needs"
    elif doc.kind == "boolean" and item.type != "boolean":
        yield f"input {doc.code!r} needs a yes/no item; item {item.code!r} is a {item.type} item"
    elif doc.kind == "choice":
        codes = {c.code for c in item.choices}
        if item.type != "choice" or not codes <= set(doc.choices):
            yield f"input {doc.code!r} needs a choice item with choices among {', '.join(doc.choices)}"


def _check_units(loc: Loc, unit: str | None, accepted: list[str], molar_mass: float | None) -> Iterator[tuple[Loc, str]]:
    if unit is None:
        return
    try:
        units.parse_unit(unit)
    except UnitError:
        yield (*loc, "unit"), f"{unit!r} is not a valid UCUM unit"
        return
    for k, other in enumerate(accepted):
        try:
            units.conversion_factor(other, unit, molar_mass)
        except UnitError as exc:
            yield (*loc, "accepted_units", k), exc.rule


def _check_expressions(study: Study) -> Iterator[tuple[Loc, str]]:
    eligibility = study.eligibility
    sections = [("pathways", eligibility.pathways), ("inclusion", eligibility.inclusion), ("exclusion", eligibility.exclusion)]
    codes = [c.code for _, section in sections for c in section]
    for dup in _duplicates(codes):
        yield ("eligibility",), f"criterion code {dup!r} is used more than once"
    for code in sorted(set(codes) & set(study.item_by_code)):
        yield ("eligibility",), f"criterion code {code!r} is also an item code; names in expressions must be unambiguous"
    specs = study.item_specs
    named: dict[str, CompiledExpression] = {}
    for section, criteria in sections:
        for i, criterion in enumerate(criteria):
            try:
                compiled = compile_expression(criterion.expression, specs, named)
            except ExpressionError as exc:
                where = f" at column {exc.column}" if exc.column else ""
                yield ("eligibility", section, i, "expression"), f"criterion {criterion.code!r}: {exc.message}{where}"
                compiled = compile_expression("false", {})  # stand-in, so references to it do not fail too
            if section == "pathways":
                named[criterion.code] = compiled


def _check_endpoints(study: Study) -> Iterator[tuple[Loc, str]]:
    """Endpoint rules: unique codes, known pathways and visits, expressions that compile (docs/endpoints.md)."""
    endpoints = study.endpoints
    if endpoints is None:
        return
    codes = set(study.item_by_code)
    for i, item in enumerate(study.items):
        for suffix in ENDPOINT_SUFFIXES:
            if f"{item.code}_{suffix}" in codes:
                yield (
                    ("items", i, "code"),
                    f"item code {item.code}_{suffix!s} is also the name endpoint expressions use for the "
                    f"{suffix} of item {item.code!r}; rename the item",
                )
    pathways: dict[str, CompiledExpression] = {}
    for criterion in study.eligibility.pathways:  # as _check_expressions does: a broken pathway is reported there
        try:
            pathways[criterion.code] = compile_expression(criterion.expression, study.item_specs, pathways)
        except ExpressionError:
            pathways[criterion.code] = compile_expression("false", {})

    def compiled(loc: Loc, what: str, text: str) -> Iterator[tuple[Loc, str]]:
        try:
            compile_expression(text, study.endpoint_item_specs, pathways)
        except ExpressionError as exc:
            where = f" at column {exc.column}" if exc.column else ""
            yield loc, f"{what}: {exc.message}{where}"

    dfs: Loc = ("endpoints", "dfs")
    rules = endpoints.dfs.events
    for dup in _duplicates([rule.code for rule in rules]):
        yield (*dfs, "events"), f"event rule code {dup!r} is used more than once"
    if sum(rule.death for rule in rules) > 1:
        yield (*dfs, "events"), "only one rule can be the death rule"
    for i, rule in enumerate(rules):
        loc: Loc = (*dfs, "events", i)
        if rule.expression is not None:
            yield from compiled((*loc, "expression"), f"event rule {rule.code!r}", rule.expression)
        for j, pathway in enumerate(rule.new_involvement):
            if pathway not in pathways:
                yield (
                    (*loc, "new_involvement", j),
                    f"{pathway!r} is not a pathway of the eligibility section ({', '.join(pathways)})",
                )

    visits = study.visit_by_code
    responses = endpoints.responses
    for dup in _duplicates([response.code for response in responses]):
        yield ("endpoints", "responses"), f"response code {dup!r} is used more than once"
    step1 = [code for code, _ in STEP1_EVENTS]
    for i, response in enumerate(responses):
        loc = ("endpoints", "responses", i)
        if response.visit not in visits:
            yield (*loc, "visit"), f"visit {response.visit} is not in the schedule"
        if response.expression is not None:
            yield from compiled((*loc, "expression"), f"response {response.code!r}", response.expression)
        for name, trigger in response.step1_events.items():
            if name not in step1:
                yield (*loc, "step1_events", name), f"{name!r} is not a CRISS step-1 input ({', '.join(step1)})"
            if trigger.expression is not None:
                yield from compiled((*loc, "step1_events", name, "expression"), f"response {response.code!r}", trigger.expression)

    remission = endpoints.remission
    if remission is None:
        return
    for dup in _duplicates([organ.code for organ in remission.organs]):
        yield ("endpoints", "remission", "organs"), f"organ code {dup!r} is used more than once"
    for i, organ in enumerate(remission.organs):
        loc = ("endpoints", "remission", "organs", i)
        if organ.pathway not in pathways:
            yield (*loc, "pathway"), f"{organ.pathway!r} is not a pathway of the eligibility section ({', '.join(pathways)})"
        yield from compiled((*loc, "expression"), f"remission of {organ.code!r}", organ.expression)
    every = remission.sustained.every_months
    months = range(every, study.schedule.follow_up_months + 1, every)
    if len(months) < remission.sustained.visits:
        yield (
            ("endpoints", "remission", "sustained"),
            f"the follow-up has {len(months)} visit(s) {every} months apart, fewer than the {remission.sustained.visits} needed",
        )
