from __future__ import annotations

import numpy as np
import pytest

from dafserver.chunkedgraph import NodeNotFound, PreconditionError

from .conftest import BUILD_TS, Fixture


def test_build_partitions_every_layer(fx: Fixture) -> None:
    assert fx.graph.n_layers == 5
    fx.check_hierarchy()


def test_roots_follow_objects(fx: Fixture) -> None:
    svs = fx.all_svs()
    roots = dict(zip(svs, fx.graph.get_roots(svs).tolist(), strict=True))
    objects = fx.objects()
    assert len({roots[next(iter(o))] for o in objects}) == len(objects)
    for obj in objects:
        assert len({roots[s] for s in obj}) == 1
        root = roots[next(iter(obj))]
        assert fx.graph.get_leaves(root).tolist() == sorted(obj)
        assert fx.graph.get_root(next(iter(obj))) == root
    assert all(fx.graph.layout.get_layer(r)[0] == fx.graph.n_layers for r in roots.values())


def test_roots_before_build_and_unknown_ids(fx: Fixture) -> None:
    svs = fx.all_svs()
    assert fx.graph.get_roots(svs, timestamp=BUILD_TS - 1).tolist() == [0] * len(svs)
    unknown = fx.sv["a0"] + 1000
    assert fx.graph.get_roots([unknown, 0]).tolist() == [0, 0]
    with pytest.raises(NodeNotFound):
        fx.graph.get_roots([unknown], fail_to_zero=False)
    with pytest.raises(NodeNotFound):
        fx.graph.get_root(fx.sv["a0"], timestamp=BUILD_TS - 1)


def test_stop_layer_and_higher_inputs(fx: Fixture) -> None:
    a0 = fx.sv["a0"]
    l2 = int(fx.graph.get_roots([a0], stop_layer=2)[0])
    assert fx.graph.layout.get_layer(l2).tolist() == [2]
    assert set(fx.graph.get_children(l2).tolist()) == {a0, fx.sv["a1"]}
    root = fx.graph.get_root(a0)
    assert fx.graph.get_roots([root, l2], stop_layer=2).tolist() == [root, l2]
    with pytest.raises(PreconditionError):
        fx.graph.get_roots([a0], stop_layer=fx.graph.n_layers + 1)


def test_children_chain_down_one_layer(fx: Fixture) -> None:
    graph = fx.graph
    root = graph.get_root(fx.sv["a0"])
    frontier = [root]
    for layer in range(graph.n_layers - 1, 0, -1):
        children = np.concatenate([graph.get_children(n) for n in frontier])
        assert np.all(graph.layout.get_layer(children) == layer)
        for child in children.tolist():
            assert int(graph.get_roots([child], stop_layer=layer + 1)[0]) in frontier
        frontier = children.tolist()
    assert sorted(frontier) == graph.get_leaves(root).tolist()
    assert graph.get_children(fx.sv["a0"]).size == 0


def test_leaves_with_stop_layer_and_bounds(fx: Fixture) -> None:
    graph = fx.graph
    a = fx.ids("a0", "a1", "a2", "a3", "a4")
    root = graph.get_root(a[0])
    l2 = sorted(set(graph.get_roots(a, stop_layer=2).tolist()))
    assert graph.get_leaves(root, stop_layer=2).tolist() == l2
    l3 = sorted(set(graph.get_roots(a, stop_layer=3).tolist()))
    assert graph.get_leaves(root, stop_layer=3).tolist() == l3
    # a voxel box covering atomic chunks x in [0, 2): supervoxels a0, a1 (x=0) and a2 (x=1)
    box = [[0, 0, 0], [20, 10, 10]]
    inside = [s for s in a if graph.layout.get_chunk_coords(s)[0][0] < 2]
    assert graph.get_leaves(root, bounds=box).tolist() == sorted(inside)
    many = graph.get_leaves_many([root, fx.sv["b0"]], stop_layer=1, bounds=box)
    assert many[root].tolist() == sorted(inside)
    assert many[fx.sv["b0"]].tolist() == [fx.sv["b0"]]


def test_subgraph_edges(fx: Fixture) -> None:
    graph = fx.graph
    a = set(fx.ids("a0", "a1", "a2", "a3", "a4"))
    root = graph.get_root(fx.sv["a0"])
    edges, affinities, areas = graph.get_subgraph(root)
    internal = {frozenset(e) for e in edges.tolist()}
    expected = {frozenset((fx.sv[x], fx.sv[y])) for x, y, _, _ in fx.edges}
    assert internal == {e for e in expected if e <= a}
    for (x, y), aff in zip(edges.tolist(), affinities.tolist(), strict=True):
        assert aff == pytest.approx(fx.affinity(x, y))
    assert areas.dtype == np.uint64
    edges_out, _, _ = graph.get_subgraph(root, only_internal_edges=False)
    touching = {frozenset(e) for e in edges_out.tolist()}
    assert touching == {e for e in expected if e & a}


def test_lvl2_graph(fx: Fixture) -> None:
    graph = fx.graph
    a = fx.ids("a0", "a1", "a2", "a3", "a4")
    root = graph.get_root(a[0])
    l2_of = dict(zip(a, graph.get_roots(a, stop_layer=2).tolist(), strict=True))
    expected = {
        tuple(sorted((l2_of[x], l2_of[y])))
        for e in fx.active
        if e <= set(a)
        for x, y in [tuple(e)]
        if l2_of[x] != l2_of[y]
    }
    result = graph.get_lvl2_graph(root)
    assert {tuple(p) for p in result.tolist()} == expected
    assert all(p[0] < p[1] for p in result.tolist())


def test_l2_chunk_children(fx: Fixture) -> None:
    graph = fx.graph
    layout = graph.layout
    chunk = int(layout.chunk_id(2, 0, 0, 0)[0])
    flat = graph.get_l2_chunk_children(chunk)
    pairs = flat.reshape(-1, 2)
    in_chunk = fx.ids("a0", "a1", "b0")
    assert sorted(pairs[:, 1].tolist()) == sorted(in_chunk)
    parents = graph.get_roots(pairs[:, 1], stop_layer=2)
    assert pairs[:, 0].tolist() == parents.tolist()
    with pytest.raises(PreconditionError):
        graph.get_l2_chunk_children(int(layout.chunk_id(3, 0, 0, 0)[0]))
    assert graph.get_l2_chunk_children(chunk, timestamp=BUILD_TS - 1).size == 0


def test_minimal_covering_nodes(fx: Fixture) -> None:
    graph = fx.graph
    a = fx.ids("a0", "a1", "a2", "a3", "a4")
    l2 = np.unique(graph.get_roots(a, stop_layer=2))
    root = graph.get_root(a[0])
    assert graph.get_minimal_covering_nodes(l2).tolist() == [root]
    partial = l2[l2 != graph.get_roots([fx.sv["a4"]], stop_layer=2)[0]]
    covering = graph.get_minimal_covering_nodes(partial)
    leaves = np.concatenate([graph.get_leaves(n, stop_layer=2) for n in covering])
    assert sorted(leaves.tolist()) == sorted(partial.tolist())
    assert len(covering) < len(partial)


def test_valid_nodes_and_timestamps(fx: Fixture) -> None:
    graph = fx.graph
    root = graph.get_root(fx.sv["a0"])
    l2 = int(graph.get_roots([fx.sv["a0"]], stop_layer=2)[0])
    unknown = root + 12345
    ids = [root, l2, fx.sv["a0"], unknown]
    assert graph.get_valid_nodes(ids).tolist() == sorted([root, l2, fx.sv["a0"]])
    assert graph.get_valid_nodes(ids, start_timestamp=BUILD_TS + 5).size == 0
    assert graph.get_root_timestamps([root, l2]).tolist() == [BUILD_TS, BUILD_TS]
    assert graph.is_latest_roots([root, fx.sv["a0"], unknown]).tolist() == [True, False, False]
    assert graph.is_latest_roots([root], timestamp=BUILD_TS - 1).tolist() == [False]
    assert graph.get_oldest_timestamp() == BUILD_TS
    with pytest.raises(NodeNotFound):
        graph.get_root_timestamps([unknown])


def test_find_path_along_chain(fx: Fixture) -> None:
    graph = fx.graph
    a = fx.ids("a0", "a1", "a2", "a3", "a4")
    l2 = graph.get_roots(a, stop_layer=2).tolist()
    expected = list(dict.fromkeys(l2))  # the chain visits the L2 nodes in order
    path, centroids, failed = graph.find_path(a[0], a[4])
    assert path.tolist() == expected
    assert failed.size == 0
    coords = graph.layout.get_chunk_coords(path)
    size = np.asarray(fx.meta.chunk_size)
    expected_nm = ((coords + 0.5) * size) * np.asarray(fx.meta.resolution)
    assert np.allclose(centroids, expected_nm)
    with pytest.raises(PreconditionError):
        graph.find_path(a[0], fx.sv["b0"])
