from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from dafserver.chunkedgraph import PreconditionError
from dafserver.chunkedgraph.components import connected_components
from dafserver.chunkedgraph.mincut import NOT_CONNECTED, NOT_ONE_COMPONENT, local_mincut


def arrays(pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    edges = np.array(pairs, dtype=np.int64)
    return edges[:, 0], edges[:, 1]


def test_connected_components_match_networkx() -> None:
    rng = np.random.default_rng(11)
    n = 300
    u, v = rng.integers(0, n, 250), rng.integers(0, n, 250)
    labels = connected_components(n, u, v)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(u.tolist(), v.tolist(), strict=True))
    for component in nx.connected_components(g):
        members = sorted(component)
        assert set(labels[members].tolist()) == {members[0]}


def test_cut_takes_the_cheapest_edges() -> None:
    # two triangles {0,1,2} and {3,4,5} joined by 2-3 (0.2) and 1-4 (0.25)
    u, v = arrays([(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3), (1, 4)])
    affinities = np.array([0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.2, 0.25], dtype=np.float32)
    result = local_mincut(6, u, v, affinities, np.array([0]), np.array([5]))
    assert sorted(result.cut_edges.tolist()) == [6, 7]
    assert [c.tolist() for c in result.components] == [[0, 1, 2], [3, 4, 5]]
    assert not result.illegal


def test_labels_in_different_components() -> None:
    u, v = arrays([(0, 1), (2, 3)])
    affinities = np.ones(2, dtype=np.float32)
    with pytest.raises(PreconditionError, match="not connected through the local graph"):
        local_mincut(4, u, v, affinities, np.array([0]), np.array([3]))
    assert NOT_CONNECTED.startswith("Sinks and sources")
    with pytest.raises(PreconditionError) as err:
        local_mincut(4, u, v, affinities, np.array([0, 2]), np.array([1, 3]))
    assert str(err.value) == NOT_ONE_COMPONENT


def test_unclean_cut_is_illegal() -> None:
    # source 0 and 2 are only connected through the sink 1
    u, v = arrays([(0, 1), (1, 2)])
    affinities = np.ones(2, dtype=np.float32)
    with pytest.raises(PreconditionError, match="Failed to find a cut"):
        local_mincut(3, u, v, affinities, np.array([0, 2]), np.array([1]))
    preview = local_mincut(3, u, v, affinities, np.array([0, 2]), np.array([1]), preview=True)
    assert preview.illegal
    assert sorted(np.concatenate(preview.components).tolist()) == [0, 1, 2]
