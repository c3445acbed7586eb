"""Graph algorithms over a lineage graph (roots linked to the roots edits made of them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import numpy as np

from dafclient.ids import IdArray


def adjacency(
    links: Iterable[Mapping[str, Any]], direction: Literal["forward", "backward"]
) -> dict[int, list[int]]:
    """Each root's neighbours along the links: what it became (``forward``) or what it was
    made from (``backward``)."""
    near, far = ("source", "target") if direction == "forward" else ("target", "source")
    neighbours: dict[int, list[int]] = {}
    for link in links:
        neighbours.setdefault(int(link[near]), []).append(int(link[far]))
    return neighbours


def walk_ends(start: int, neighbours: Mapping[int, list[int]]) -> IdArray:
    """The roots reachable from ``start`` that have no neighbour themselves (``start`` when it
    has none), sorted: the latest descendants forward, the original ancestors backward."""
    ends: list[int] = []
    stack, seen = [start], set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        following = neighbours.get(node, [])
        if following:
            stack.extend(following)
        else:
            ends.append(node)
    return np.array(sorted(ends), dtype=np.uint64)


def links_within(
    nodes: Iterable[Mapping[str, Any]],
    links: Iterable[Mapping[str, Any]],
    *,
    past: float | None,
    future: float | None,
    exclude_links_to_future: bool,
    exclude_links_to_past: bool,
) -> list[Any]:
    """The links kept when those to roots made after ``future`` and from roots made before
    ``past`` are excluded (as asked)."""
    times = {int(n["id"]): float(n["timestamp"]) for n in nodes}
    kept = []
    for link in links:
        target_time = times.get(int(link["target"]))
        source_time = times.get(int(link["source"]))
        to_future = future is not None and target_time is not None and target_time > future
        from_past = past is not None and source_time is not None and source_time < past
        if (exclude_links_to_future and to_future) or (exclude_links_to_past and from_past):
            continue
        kept.append(link)
    return kept
