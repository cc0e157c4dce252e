"""Hostile protocol files (issue #16, hostile input): refused with one problem naming the rule and the line,
before they can use much memory or time; circular derived items named whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from rodnan.core.protocol import bounds, cache, load_protocol, load_protocol_text
from rodnan.errors import ProtocolError
from tests.protocol_edits import broken, bundled_text, problems


def laughs(levels: int, width: int = 9) -> str:
    """A "billion laughs" document: ``levels`` anchors, each a list of ``width`` aliases of the one before,
    which expands to about ``width ** levels`` nodes."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def only_problem(text: str) -> tuple[int | None, str]:
    with pytest.raises(ProtocolError) as caught:
        load_protocol_text(text, "hostile.yaml")
    assert len(caught.value.problems) == 1, caught.value.problems
    problem = caught.value.problems[0]
    return problem.line, problem.rule


@pytest.fixture(autouse=True)
def no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, "off")


def test_billion_laughs_is_refused_before_it_expands() -> None:
    """9^6 = 531,441 strings once expanded (main built them all, then failed the models). Nodes by hand: a0 is
    a list and 9 strings (10); a(i) = 1 + 9 a(i-1): 91, 820, 7,381, 66,430 (a4 fits the 150,000), 597,871:
    refused at a5, line 6."""
    line, rule = only_problem(laughs(6))
    assert "aliases expand the document to more than 150,000 nodes" in rule
    assert line == 6


def test_the_full_billion_laughs_is_refused_at_the_same_bound() -> None:
    """Ten anchors (10^9 strings once expanded; the issue's case took 3.8 GB and 116 s): refused at a5 too."""
    line, rule = only_problem(laughs(9))
    assert "more than 150,000 nodes" in rule
    assert line == 6


def test_aliases_within_the_bound_still_load() -> None:
    """The bundled protocol shares answer lists by alias (&sf36_role_answers): aliases as such are allowed."""
    assert "*sf36_role_answers" in bundled_text()
    assert load_protocol_text(bundled_text()).identity.registry_number == "NCT00962923"


def test_a_large_document_without_aliases_is_not_blamed_on_aliases() -> None:
    """16,000 lines ``- [1,2,3,4,5,6,7,8,9]``: 1 + 16,000 x 10 = 160,001 nodes by hand, no alias (352 kB)."""
    text = "- [1,2,3,4,5,6,7,8,9]\n" * 16_000
    assert len(text) == 352_000
    _, rule = only_problem(text)
    assert rule == "the document has more than 150,000 nodes (mappings, lists and values)"


def test_a_recursive_alias_is_refused() -> None:
    line, rule = only_problem("a: 1\nb: &b [1, [2, *b]]\n")
    assert (line, rule) == (2, "a YAML alias refers to a node that contains it (a recursive document)")


def test_deep_nesting_is_refused_with_its_line() -> None:
    """51 nested lists (the bound is 50; main raised RecursionError from 1,000 on)."""
    line, rule = only_problem("a: 1\nb: " + "[" * 51 + "]" * 51 + "\n")
    assert rule == "the document nests more than 50 levels deep"
    assert line == 2
    line, rule = only_problem("b: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert rule == "the document nests more than 50 levels deep"


def test_a_text_larger_than_the_cap_is_refused_before_parsing() -> None:
    text = bundled_text() + "#" * (bounds.MAX_PROTOCOL_BYTES - len(bundled_text()) + 1)
    _, rule = only_problem(text)
    assert rule == "the text is larger than 500,000 characters, the most a protocol file may have"


def test_a_file_larger_than_the_cap_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (bounds.MAX_PROTOCOL_BYTES + 1))
    with pytest.raises(ProtocolError) as caught:
        load_protocol(path)
    assert [p.rule for p in caught.value.problems] == ["is larger than 500,000 bytes, the most a protocol file may have"]


def test_a_binary_file_names_the_line_and_column_of_its_first_bad_byte(tmp_path: Path) -> None:
    """main: UnicodeDecodeError (a traceback). Line 3, column 10: 'é' (two bytes) is column 9, 0xff follows."""
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"protocol:\n  code: x\n  name: " + "é".encode() + b"\xff rest\n")
    with pytest.raises(ProtocolError) as caught:
        load_protocol(path)
    (problem,) = caught.value.problems
    assert problem.rule == "is not UTF-8 text: byte 0xff at line 3, column 10 cannot be read (save the file as UTF-8)"
    assert problem.line == 3


def test_a_control_character_is_a_yaml_problem_with_its_line_and_column() -> None:
    line, rule = only_problem("a: 1\nb: 'x\x01'\n")
    assert (line, rule) == (2, "not valid YAML: special characters are not allowed (column 6)")


def test_a_cached_tree_beyond_the_bound_does_not_bypass_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tree in the cache under the text's name is measured like a parsed one: with the bound lowered below
    the bundled protocol's size (5,695 nodes), its cached (valid) tree is refused and the text too."""
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    text = bundled_text()
    load_protocol_text(text)  # caches the tree
    assert len(list(tmp_path.glob("*.json"))) == 1
    monkeypatch.setattr(bounds, "MAX_NODES", 5_000)
    _, rule = only_problem(text)
    assert "more than 5,000 nodes" in rule


def test_the_bundled_protocol_has_the_size_the_bounds_are_set_against() -> None:
    """The bounds' documented headroom: about 6,000 nodes (MAX_NODES 150,000), about 75 kB (MAX_PROTOCOL_BYTES 500 kB):
    the bundled protocol may grow twentyfold before it meets them."""
    from ruamel.yaml import YAML

    assert 5_000 < bounds.check_graph(YAML(typ="rt", pure=True).compose(bundled_text())) < bounds.MAX_NODES // 20
    assert 60_000 < len(bundled_text().encode()) < bounds.MAX_PROTOCOL_BYTES // 5


def test_a_circular_derivation_is_named_whole() -> None:
    """weight_loss_12m_pct from creatinine_clearance, itself from weight_loss_12m_pct: main passed it."""
    text = broken("weight_now: body_weight}", "weight_now: creatinine_clearance}")
    text = text.replace("{age: age, weight: body_weight, creatinine", "{age: age, weight: weight_loss_12m_pct, creatinine")
    found = [(path, rule) for _, path, rule in problems(text) if "cycle" in rule]
    cycle = "weight_loss_12m_pct -> creatinine_clearance -> weight_loss_12m_pct"
    assert found == [("derived_items[2]", f"derived items form a cycle: {cycle}")]


def test_an_item_derived_from_itself_is_a_cycle() -> None:
    text = broken("inputs: {weight_before: body_weight_12m_before, weight_now: body_weight}",
                  "inputs: {weight_before: weight_loss_12m_pct, weight_now: body_weight}")  # fmt: skip
    found = [(line, path, rule) for line, path, rule in problems(text) if "cycle" in rule]
    start = next(n for n, line in enumerate(text.splitlines(), 1) if line.strip() == "- instrument: weight_loss")
    assert found == [(start, "derived_items[2]", "derived items form a cycle: weight_loss_12m_pct -> weight_loss_12m_pct")]
