"""Refuse YAML whose aliases repeat far more than the file holds (a "billion laughs" bomb).

An alias (`*a`) stands for the whole node its anchor (`&a`) names. Loaders keep one copy, but
whatever walks the result (a comparison, a dump, `str()`) visits every repetition: ten
aliases of ten aliases, seven levels deep, is ten million nodes from a file of eight lines.

The check runs over the parser's events, before any node is built: each anchored node's
expanded size is known at its end event, and each alias adds that size. A document is refused
when its aliases add more than `LIMIT` nodes to what is written out, or when an alias sits
inside the node it names (a loop, which no walk ends). A document without aliases is never
refused. PyYAML and ruamel.yaml name their event classes alike, so both parsers' events work.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

LIMIT = 10_000  # nodes that aliases may add; a hand-written configuration adds a few dozen


def problem(events: Iterable[object], limit: int = LIMIT) -> Optional[str]:
    """Why the document these events describe is refused, as a phrase, or None."""
    sizes: dict[object, int] = {}  # anchor -> nodes in its node, aliases expanded
    open_nodes: list[tuple[int, object]] = []  # (expanded count at its start, its anchor)
    expanded = written = 0
    for event in events:
        kind = type(event).__name__
        anchor = getattr(event, "anchor", None)
        if kind == "AliasEvent":
            if any(anchor == name for _, name in open_nodes):
                return f"has an alias (*{anchor}) inside the node it repeats, a loop"
            expanded += sizes.get(anchor, 1)
            written += 1
            if expanded - written > limit:
                return f"has aliases that repeat more than {limit} nodes"
        elif kind == "ScalarEvent":
            expanded += 1
            written += 1
            if anchor is not None:
                sizes[anchor] = 1
        elif kind in ("SequenceStartEvent", "MappingStartEvent"):
            open_nodes.append((expanded, anchor))
            expanded += 1
            written += 1
        elif kind in ("SequenceEndEvent", "MappingEndEvent") and open_nodes:
            start, name = open_nodes.pop()
            if name is not None:
                sizes[name] = expanded - start
    return None
