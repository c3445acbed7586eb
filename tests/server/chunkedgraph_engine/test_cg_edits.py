from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from dafserver.chunkedgraph import (
    OperationNotFound,
    PostconditionError,
    PreconditionError,
)

from .conftest import BUILD_TS, Fixture

T1 = BUILD_TS + 10
T2 = BUILD_TS + 20
T3 = BUILD_TS + 30
T4 = BUILD_TS + 40
T5 = BUILD_TS + 50


def weakest_edge_on_path(fx: Fixture, source: int, sink: int) -> frozenset[int]:
    """The lowest-affinity edge of the (unique) active path between two supervoxels."""
    g = nx.Graph()
    g.add_edges_from(tuple(e) for e in fx.active)
    path = nx.shortest_path(g, source, sink)
    steps = [frozenset(p) for p in itertools.pairwise(path)]
    return min(steps, key=lambda e: fx.affinity(*tuple(e)))


def root_map(fx: Fixture, timestamp: float | None = None) -> dict[int, int]:
    svs = fx.all_svs()
    return dict(zip(svs, fx.graph.get_roots(svs, timestamp=timestamp).tolist(), strict=True))


def test_merge_versions_roots(fx: Fixture) -> None:
    graph = fx.graph
    a0, b0 = fx.ids("a0", "b0")
    before = root_map(fx)
    before_active = set(fx.active)
    result = graph.merge(a0, b0, user_id="7", timestamp=T1)
    fx.active.add(frozenset((a0, b0)))
    assert result.operation_id == 1
    assert sorted(result.old_root_ids.tolist()) == sorted({before[a0], before[b0]})
    assert len(result.new_root_ids) == 1
    new_root = int(result.new_root_ids[0])
    merged = next(o for o in fx.objects() if a0 in o)
    assert graph.get_leaves(new_root).tolist() == sorted(merged)
    # before T1 the old roots, from T1 on the new one; other objects keep their roots
    assert root_map(fx, T1 - 0.001) == before
    after = root_map(fx, T1)
    for s in fx.all_svs():
        assert after[s] == (new_root if s in merged else before[s])
    fx.check_hierarchy(T1)
    fx.check_hierarchy(T1 - 0.001, before_active)
    # the L2 node of a0 now also holds b0 (same atomic chunk)
    l2 = int(graph.get_roots([a0], timestamp=T1, stop_layer=2)[0])
    assert l2 in result.new_lvl2_ids.tolist()
    group = next(g for g in fx.expected_groups(2) if a0 in g)
    assert graph.get_children(l2).tolist() == sorted(group)
    old = result.old_root_ids
    assert graph.is_latest_roots(old, timestamp=T1).tolist() == [False, False]
    assert graph.is_latest_roots(old, timestamp=T1 - 0.001).tolist() == [True, True]
    assert graph.is_latest_roots([new_root], timestamp=T1 - 0.001).tolist() == [False]
    assert graph.get_root_timestamps([new_root]).tolist() == [T1]
    latest = graph.get_root_timestamps([*old.tolist(), new_root], latest=True, timestamp=T2)
    assert latest.tolist() == [T1, T1, T2]
    assert graph.get_oldest_timestamp() == pytest.approx(T1 - 0.5)


def test_merge_preconditions(fx: Fixture) -> None:
    graph = fx.graph
    with pytest.raises(PreconditionError, match="different objects"):
        graph.merge(fx.sv["a0"], fx.sv["a4"], user_id="1", timestamp=T1)
    with pytest.raises(PreconditionError, match="Chebyshev distance"):
        graph.merge(fx.sv["a0"], fx.sv["e0"], user_id="1", timestamp=T1)
    with pytest.raises(PreconditionError, match="self-loop"):
        graph.merge(fx.sv["a0"], fx.sv["a0"], user_id="1", timestamp=T1)
    assert graph.max_operation_id == 0


def test_merge_without_existing_edge_adds_one(fx: Fixture) -> None:
    graph = fx.graph
    c0, e0 = fx.ids("c0", "e0")
    result = graph.merge(c0, e0, user_id="1", timestamp=T1)
    fx.active.add(frozenset((c0, e0)))
    assert graph.get_root(c0) == graph.get_root(e0) == int(result.new_root_ids[0])
    fx.check_hierarchy()
    edges, _, _ = graph.get_subgraph(int(result.new_root_ids[0]))
    assert {frozenset(e) for e in edges.tolist()} >= {frozenset((c0, e0))}


def test_mincut_split_cuts_weakest_edge(fx: Fixture) -> None:
    graph = fx.graph
    a1, a3 = fx.ids("a1", "a3")
    expected_cut = weakest_edge_on_path(fx, a1, a3)
    before = root_map(fx)
    result = graph.split([a1], [a3], user_id="9", timestamp=T1)
    fx.active.discard(expected_cut)
    assert len(result.new_root_ids) == 2
    assert result.old_root_ids.tolist() == [before[a1]]
    details = graph.get_operation_details([result.operation_id])[result.operation_id]
    assert {frozenset(e) for e in details["removed_edges"]} == {expected_cut}
    assert details["source_ids"] == [a1] and details["sink_ids"] == [a3]
    assert details["bb_offset"] == [240, 240, 24]
    fx.check_hierarchy(T1)
    assert root_map(fx, T1 - 0.001) == before
    assert graph.get_root(a1) != graph.get_root(a3)


def test_mincut_inside_an_untouched_l2_node(fx: Fixture) -> None:
    graph = fx.graph
    f0, f1, f2, f3 = fx.ids("f0", "f1", "f2", "f3")
    expected_cut = weakest_edge_on_path(fx, f0, f3)
    assert expected_cut == frozenset((f1, f2))  # both in one atomic chunk, neither labelled
    old_l2 = int(graph.get_roots([f1], stop_layer=2)[0])
    assert graph.get_children(old_l2).tolist() == sorted([f1, f2])
    result = graph.split([f0], [f3], user_id="9", timestamp=T1)
    fx.active.discard(expected_cut)
    assert len(result.new_root_ids) == 2
    assert graph.get_root(f0) == graph.get_root(f1) != graph.get_root(f2) == graph.get_root(f3)
    new_l2 = graph.get_roots([f1, f2], stop_layer=2).tolist()
    assert set(new_l2) <= set(result.new_lvl2_ids.tolist())
    fx.check_hierarchy(T1)


def test_split_preview_matches_cut(fx: Fixture) -> None:
    graph = fx.graph
    a1, a3 = fx.ids("a1", "a3")
    cut = weakest_edge_on_path(fx, a1, a3)
    preview = graph.split_preview([a1], [a3])
    remaining = fx.objects(fx.active - {cut})
    assert not preview.illegal_split
    assert preview.components[0].tolist() == sorted(next(o for o in remaining if a1 in o))
    assert preview.components[1].tolist() == sorted(next(o for o in remaining if a3 in o))
    assert graph.max_operation_id == 0
    direct = graph.split_preview([fx.sv["a0"]], [fx.sv["a1"]], mincut=False)
    assert direct.illegal_split is False
    assert direct.components[0].tolist() == [fx.sv["a0"]]


def test_direct_split_removes_given_edges(fx: Fixture) -> None:
    graph = fx.graph
    a1, a2 = fx.ids("a1", "a2")
    result = graph.split([a1], [a2], user_id="9", mincut=False, timestamp=T1)
    fx.active.discard(frozenset((a1, a2)))
    assert len(result.new_root_ids) == 2
    fx.check_hierarchy()
    details = graph.get_operation_details([1])[1]
    assert details["removed_edges"] == [[a1, a2]]
    assert "source_ids" not in details and "bb_offset" not in details


def test_split_preconditions(fx: Fixture) -> None:
    graph = fx.graph
    with pytest.raises(PreconditionError, match="same object"):
        graph.split([fx.sv["a0"]], [fx.sv["b0"]], user_id="1", timestamp=T1)
    with pytest.raises(PreconditionError, match="both sink and source"):
        graph.split([fx.sv["a0"]], [fx.sv["a0"]], user_id="1", timestamp=T1)
    with pytest.raises(PreconditionError, match="same number"):
        graph.split(fx.ids("a0", "a1"), [fx.sv["a3"]], user_id="1", mincut=False)
    with pytest.raises(PreconditionError, match="same object"):
        graph.split([fx.sv["a0"]], [fx.sv["b0"]], user_id="1", mincut=False, timestamp=T1)
    with pytest.raises(PreconditionError):
        graph.split([fx.sv["d0"]], [fx.sv["c0"]], user_id="1", timestamp=T1)
    assert graph.max_operation_id == 0


def test_sources_not_connected_locally(fx: Fixture) -> None:
    graph = fx.graph
    graph.split([fx.sv["a1"]], [fx.sv["a2"]], user_id="1", mincut=False, timestamp=T1)
    with pytest.raises(PreconditionError):
        graph.split(fx.ids("a0", "a3"), [fx.sv["a4"]], user_id="1", timestamp=T2)
    with pytest.raises((PreconditionError, PostconditionError)):
        graph.split([fx.sv["a0"]], [fx.sv["a3"]], user_id="1", timestamp=T2)


def test_undo_redo_chain(fx: Fixture) -> None:
    graph = fx.graph
    a0, b0 = fx.ids("a0", "b0")
    build_roots = root_map(fx)
    merge = graph.merge(a0, b0, user_id="1", timestamp=T1)
    merged_root = int(merge.new_root_ids[0])
    undo = graph.undo(merge.operation_id, user_id="2", timestamp=T2)
    assert undo.operation_id == 2
    assert undo.old_root_ids.tolist() == [merged_root]
    assert len(undo.new_root_ids) == 2
    roots_t2 = root_map(fx, T2)
    assert roots_t2[a0] != roots_t2[b0]
    assert roots_t2[a0] != build_roots[a0]  # an undo writes new roots
    fx.check_hierarchy(T2)
    # undoing again has nothing to change
    assert graph.undo(1, user_id="2", timestamp=T2).operation_id == 0
    redo = graph.redo(1, user_id="3", timestamp=T3)
    assert graph.get_root(a0) == graph.get_root(b0) == int(redo.new_root_ids[0])
    # undo of the undo resolves to a redo of 1, which is already in effect
    with pytest.raises(PreconditionError, match="different objects"):
        graph.undo(2, user_id="3", timestamp=T4)
    # undo of the redo resolves to an undo of 1
    again = graph.undo(redo.operation_id, user_id="4", timestamp=T4)
    assert graph.get_root(a0) != graph.get_root(b0)
    details = graph.get_operation_details([2, 3, again.operation_id])
    assert details[2]["undo_operation_id"] == 1
    assert details[2]["removed_edges"] == [[a0, b0]]
    assert details[3]["redo_operation_id"] == 1
    assert details[3]["added_edges"] == [[a0, b0]]
    assert details[again.operation_id]["undo_operation_id"] == 1
    # history is kept: each interval answers with the roots of its time
    assert root_map(fx, T1 - 0.001) == build_roots
    assert root_map(fx, T1)[a0] == merged_root
    assert root_map(fx, T3)[a0] == int(redo.new_root_ids[0])
    with pytest.raises(OperationNotFound):
        graph.undo(99, user_id="1", timestamp=T5)


def test_undo_split_restores_connectivity(fx: Fixture) -> None:
    graph = fx.graph
    a1, a3 = fx.ids("a1", "a3")
    split = graph.split([a1], [a3], user_id="1", timestamp=T1)
    assert graph.get_root(a1) != graph.get_root(a3)
    undo = graph.undo(split.operation_id, user_id="1", timestamp=T2)
    assert len(undo.new_root_ids) == 1
    assert graph.get_root(a1) == graph.get_root(a3)
    fx.check_hierarchy()
    details = graph.get_operation_details([undo.operation_id])[undo.operation_id]
    assert "added_edges" in details and details["undo_operation_id"] == 1


def test_edits_must_be_in_time_order(fx: Fixture) -> None:
    graph = fx.graph
    graph.merge(fx.sv["a0"], fx.sv["b0"], user_id="1", timestamp=T2)
    with pytest.raises(ValueError):
        graph.merge(fx.sv["a4"], fx.sv["c0"], user_id="1", timestamp=T1)
    with pytest.raises(ValueError):
        graph.merge(fx.sv["a4"], fx.sv["c0"], user_id="1", timestamp=BUILD_TS - 5)


def test_many_edits_keep_hierarchy_consistent(fx: Fixture) -> None:
    graph = fx.graph
    rng = np.random.default_rng(5)
    names = sorted(fx.sv)
    ts = T1
    snapshots: list[tuple[float, set[frozenset[int]]]] = [(BUILD_TS, set(fx.active))]
    for _ in range(25):
        x, y = rng.choice(len(names), 2, replace=False)
        a, b = fx.sv[names[x]], fx.sv[names[y]]
        try:
            if graph.get_root(a) != graph.get_root(b):
                graph.merge(a, b, user_id="r", timestamp=ts, chebyshev_distance=10)
                fx.active.add(frozenset((a, b)))
            elif frozenset((a, b)) in fx.active:
                graph.split([a], [b], user_id="r", mincut=False, timestamp=ts)
                fx.active.discard(frozenset((a, b)))
            else:
                continue
        except PreconditionError:
            continue
        snapshots.append((ts, set(fx.active)))
        ts += 1
    assert len(snapshots) > 5
    for when, active in snapshots:
        fx.check_hierarchy(when, active)
