"""A small hand-built chunkedgraph (5 layers) and helpers that derive expectations from it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pytest

from dafserver.chunkedgraph import ChunkedGraph, GraphMeta

BUILD_TS = 1_700_000_000.0


def components(nodes: Iterable[int], edges: Iterable[frozenset[int]]) -> list[set[int]]:
    """Connected components (plain networkx, independent of the engine)."""
    g = nx.Graph()
    g.add_nodes_from(nodes)
    g.add_edges_from(tuple(e) for e in edges)
    return [set(c) for c in nx.connected_components(g)]


@dataclass
class Fixture:
    """The graph plus its input, with named supervoxels."""

    graph: ChunkedGraph
    meta: GraphMeta
    sv: dict[str, int]
    edges: list[tuple[str, str, float, bool]]
    active: set[frozenset[int]] = field(default_factory=set)

    def ids(self, *names: str) -> list[int]:
        return [self.sv[n] for n in names]

    def affinity(self, a: int, b: int) -> float:
        for x, y, aff, _ in self.edges:
            if {self.sv[x], self.sv[y]} == {a, b}:
                return aff
        raise KeyError((a, b))

    def all_svs(self) -> list[int]:
        return sorted(self.sv.values())

    def expected_groups(
        self, layer: int, active: set[frozenset[int]] | None = None
    ) -> list[set[int]]:
        """Supervoxel sets sharing an ancestor at ``layer``: components inside each layer chunk."""
        layout = self.meta.layout
        scale = 2 ** max(layer - 2, 0)

        def chunk(s: int) -> tuple[int, ...]:
            if layer == layout.n_layers:
                return (0, 0, 0)
            return tuple(int(c) // scale for c in layout.get_chunk_coords(s)[0])

        edges = self.active if active is None else active
        inside = [e for e in edges if len({chunk(s) for s in e}) == 1]
        return components(self.all_svs(), inside)

    def objects(self, active: set[frozenset[int]] | None = None) -> list[set[int]]:
        """Supervoxel sets of the objects (components of the active edges)."""
        return components(self.all_svs(), self.active if active is None else active)

    def check_hierarchy(
        self, timestamp: float | None = None, active: set[frozenset[int]] | None = None
    ) -> None:
        """Every layer partitions the supervoxels exactly as the active edges say."""
        layout = self.meta.layout
        svs = np.array(self.all_svs(), dtype=np.uint64)
        for layer in range(2, layout.n_layers + 1):
            ancestors = self.graph.get_roots(svs, timestamp=timestamp, stop_layer=layer)
            assert np.all(layout.get_layer(ancestors) == layer)
            by_ancestor: dict[int, set[int]] = {}
            for s, a in zip(svs.tolist(), ancestors.tolist(), strict=True):
                by_ancestor.setdefault(a, set()).add(s)
                coords = layout.get_chunk_coords(s)[0] // 2 ** max(layer - 2, 0)
                if layer == layout.n_layers:
                    coords = coords * 0
                assert list(layout.get_chunk_coords(a)[0]) == list(coords)
            expected = self.expected_groups(layer, active)
            assert sorted(map(sorted, by_ancestor.values())) == sorted(map(sorted, expected))


def sv_id(meta: GraphMeta, x: int, y: int, segment: int) -> int:
    layout = meta.layout
    return int(layout.node_id(layout.chunk_id(1, x, y, 0), segment)[0])


def make_fixture() -> Fixture:
    # 5 x 4 x 1 atomic chunks of 10 voxels -> ceil(log2(5)) + 2 = 5 layers
    meta = GraphMeta("test_graph", (10, 10, 10), (0, 0, 0), (50, 40, 10), (4.0, 4.0, 40.0))
    places = {
        "a0": (0, 0, 1),
        "a1": (0, 0, 2),
        "a2": (1, 0, 1),
        "a3": (2, 0, 1),
        "a4": (3, 0, 1),
        "b0": (0, 0, 3),
        "b1": (0, 1, 1),
        "c0": (3, 1, 1),
        "d0": (1, 1, 1),
        "d1": (1, 1, 2),
        "e0": (4, 0, 1),
        "f0": (2, 2, 1),
        "f1": (3, 2, 1),
        "f2": (3, 2, 2),
        "f3": (4, 2, 1),
    }
    sv = {name: sv_id(meta, *place) for name, place in places.items()}
    edges = [
        ("a0", "a1", 0.9, True),
        ("a1", "a2", 0.8, True),
        ("a2", "a3", 0.3, True),
        ("a3", "a4", 0.9, True),
        ("b0", "b1", 0.9, True),
        ("d0", "d1", 0.7, True),
        ("a0", "b0", 0.1, False),
        ("a4", "c0", 0.2, False),
        ("a2", "d0", 0.15, False),
        ("f0", "f1", 0.9, True),
        ("f1", "f2", 0.1, True),
        ("f2", "f3", 0.9, True),
    ]
    pairs = [(sv[a], sv[b]) for a, b, _, _ in edges]
    graph = ChunkedGraph.build(
        meta,
        list(sv.values()),
        pairs,
        [e[2] for e in edges],
        [i + 1 for i in range(len(edges))],
        [e[3] for e in edges],
        BUILD_TS,
    )
    active = {frozenset((sv[a], sv[b])) for a, b, _, act in edges if act}
    return Fixture(graph, meta, sv, edges, active)


@pytest.fixture
def fx() -> Fixture:
    return make_fixture()
