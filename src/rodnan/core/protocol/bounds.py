"""Bounds on a protocol file, so that a hostile or broken file is refused before it can use much memory or time.

A YAML "billion laughs" file (ten anchors, each a list of ten aliases of the one before) is a few hundred
bytes that expand to 10^9 nodes once every alias is copied out; rodnan used 3.8 GB and 116 s before a
``MemoryError``. The bundled protocol uses a few aliases (the SF-36 items share their answer lists), so
aliases are allowed, but the document they expand to is bounded (decision 0022):

- the file: at most :data:`MAX_PROTOCOL_BYTES`;
- the composed YAML graph, with every alias counted as a full copy of what it names: at most
  :data:`MAX_NODES` nodes, and no alias inside what it names (a recursive document);
- nesting: at most :data:`MAX_DEPTH` levels.

The graph is measured before anything is built from it (shared nodes are counted once per use, with a
memo, so the measure costs time in proportion to the file, not to the expansion). A tree read back from
the cache (:mod:`~rodnan.core.protocol.cache`) is measured the same way, so the cache cannot bypass
the bounds.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

MAX_PROTOCOL_BYTES = 500_000
"""The largest protocol file (text) accepted: 7 times the bundled protocol (71 kB). The YAML parser is pure
Python: 484 kB of dense YAML took 38 s and 201 MB before :data:`MAX_NODES` refused it (bench/hostile.py,
2-core machine), which bounds what a hostile file can cost."""

MAX_NODES = 150_000
"""The most YAML nodes (mappings, sequences, scalars, keys included) a protocol may expand to: 26 times the
bundled protocol (5,695 nodes in 71 kB). A file under :data:`MAX_PROTOCOL_BYTES` can hold more even without
aliases (``[1,2,...]`` is a node per 2 bytes), so the bound is on the document, however it is written."""

MAX_DEPTH = 50
"""The deepest nesting of mappings and sequences accepted (the bundled protocol nests 7 deep)."""


class BoundExceededError(Exception):
    """A bound is exceeded: ``rule`` says which, ``line`` (1-based) where, when known."""

    def __init__(self, rule: str, line: int | None = None) -> None:
        super().__init__(rule)
        self.rule = rule
        self.line = line


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def check_graph(root: Node) -> int:
    """Measure a composed YAML document with every alias expanded; returns its node count.

    Raises:
        BoundExceededError: more than :data:`MAX_NODES` nodes once expanded, or an alias inside the node it
            names (with the line of the node concerned).
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    shared = False  # a node met a second time: an alias
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            on_path.discard(key)
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            if size > MAX_NODES:
                rule = (
                    f"the YAML aliases expand the document to more than {MAX_NODES:,} nodes "
                    "(an alias may repeat a part of the file, not multiply it)"
                    if shared
                    else f"the document has more than {MAX_NODES:,} nodes (mappings, lists and values)"
                )
                raise BoundExceededError(rule, node.start_mark.line + 1)
            sizes[key] = size
            continue
        if key in sizes:
            shared = True
            continue
        if key in on_path:
            rule = "a YAML alias refers to a node that contains it (a recursive document)"
            raise BoundExceededError(rule, node.start_mark.line + 1)
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in sizes:
                shared = True
            else:
                stack.append((child, False))
    return sizes[id(root)]


def check_tree(tree: Any) -> None:
    """The same bounds on a plain tree (dicts, lists, scalars), such as one read back from the cache.

    Raises:
        BoundExceededError: more than :data:`MAX_NODES` nodes or :data:`MAX_DEPTH` levels.
    """
    count = 0
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise BoundExceededError(f"the document has more than {MAX_NODES:,} nodes")
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise BoundExceededError(f"the document nests more than {MAX_DEPTH} levels deep")
            if isinstance(value, dict):
                count += len(value)  # the keys
                stack.extend((child, depth + 1) for child in value.values())
            else:
                stack.extend((child, depth + 1) for child in value)
