from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import pytest

from dafserver.chunkedgraph import EditResult, NodeNotFound, PreconditionError

from .conftest import BUILD_TS, Fixture

T1 = BUILD_TS + 10
T2 = BUILD_TS + 20


@dataclass
class Story:
    """Merge a0+b0 (op 1, user 1), then min-cut a1 | a3 (op 2, user 2)."""

    root_a: int
    root_b: int
    merge: EditResult
    split: EditResult
    source_side: int
    sink_side: int

    @property
    def merged(self) -> int:
        return int(self.merge.new_root_ids[0])


@pytest.fixture
def story(fx: Fixture) -> Story:
    graph = fx.graph
    a0, a1, a3, b0 = fx.ids("a0", "a1", "a3", "b0")
    root_a, root_b = (int(r) for r in graph.get_roots([a0, b0]))
    merge = graph.merge(
        a0, b0, user_id="1", timestamp=T1, source_coords=[[1, 2, 3]], sink_coords=[[4, 5, 6]]
    )
    split = graph.split(
        [a1], [a3], user_id="2", timestamp=T2, source_coords=[[2, 2, 2]], sink_coords=[[25, 2, 2]]
    )
    return Story(root_a, root_b, merge, split, graph.get_root(a1), graph.get_root(a3))


def test_lineage_graph_backwards(fx: Fixture, story: Story) -> None:
    graph = fx.graph.get_lineage_graph([story.source_side])
    assert set(graph.edges) == {
        (story.root_a, story.merged),
        (story.root_b, story.merged),
        (story.merged, story.source_side),
    }
    nodes = dict(graph.nodes(data=True))
    assert nodes[story.root_a] == {"timestamp": BUILD_TS, "operation_id": 1}
    assert nodes[story.root_b] == {"timestamp": BUILD_TS, "operation_id": 1}
    assert nodes[story.merged] == {"timestamp": T1, "operation_id": 2}
    assert nodes[story.source_side] == {"timestamp": T2}
    data = nx.node_link_data(graph, edges="links")
    assert {"directed", "graph", "links", "multigraph", "nodes"} <= set(data)


def test_lineage_graph_forwards_and_future_bound(fx: Fixture, story: Story) -> None:
    graph = fx.graph.get_lineage_graph([story.root_a])
    assert set(graph.edges) == {
        (story.root_a, story.merged),
        (story.merged, story.source_side),
        (story.merged, story.sink_side),
    }
    bounded = fx.graph.get_lineage_graph([story.root_a], timestamp_future=T1 - 0.001)
    assert set(bounded.edges) == {(story.root_a, story.merged)}
    assert "operation_id" in bounded.nodes[story.merged]
    with pytest.raises(NodeNotFound):
        fx.graph.get_lineage_graph([story.root_a + 999])


def test_past_id_mapping(fx: Fixture, story: Story) -> None:
    past, future = fx.graph.get_past_id_mapping([story.merged])
    assert past[story.merged].tolist() == sorted([story.root_a, story.root_b])
    assert future == {}  # the merged root was split later: the originals' future is ambiguous
    # with the split excluded (the future stops at nodes created after the bound), the merged
    # root is the unambiguous future of both originals
    bound = T1 - 0.001
    past_t1, future_t1 = fx.graph.get_past_id_mapping([story.merged], timestamp_future=bound)
    assert future_t1 == {story.root_a: story.merged, story.root_b: story.merged}
    assert set(past_t1) == {story.merged}
    # going forward from a root that was split, the future is ambiguous
    _, future_a = fx.graph.get_past_id_mapping([story.root_a])
    assert story.root_a not in future_a
    unchanged = fx.graph.get_root(fx.sv["d0"])
    past_d, future_d = fx.graph.get_past_id_mapping([unchanged])
    assert past_d[unchanged].tolist() == [unchanged]
    assert future_d == {unchanged: unchanged}
    with pytest.raises(PreconditionError):
        fx.graph.get_past_id_mapping([fx.sv["d0"]])


def test_change_log_counts_and_spellings(fx: Fixture, story: Story) -> None:
    log = fx.graph.get_change_log(story.source_side)
    assert set(log) == {"n_mergers", "n_splits", "operations_ids", "past_ids", "user_info"}
    assert log["n_mergers"] == 1 and log["n_splits"] == 1
    assert log["operations_ids"].tolist() == [1, 2]
    assert sorted(log["past_ids"].tolist()) == sorted([story.root_a, story.root_b, story.merged])
    assert log["user_info"] == {
        "1": {"n_mergers": 1, "n_splits": 0},
        "2": {"n_mergers": 0, "n_splits": 1},
    }
    # the merged supervoxels a0/b0 are not in the sink side: the merge is filtered out there
    filtered = fx.graph.get_change_log(story.sink_side, filtered=True)
    assert (filtered["n_mergers"], filtered["n_splits"]) == (0, 1)
    unfiltered = fx.graph.get_change_log(story.sink_side, filtered=False)
    assert (unfiltered["n_mergers"], unfiltered["n_splits"]) == (1, 1)
    with pytest.raises(PreconditionError):
        fx.graph.get_change_log(fx.sv["a0"])


def test_tabular_change_log(fx: Fixture, story: Story) -> None:
    table = fx.graph.get_tabular_change_log(story.source_side, filtered=False)
    assert list(table.columns) == [
        "operation_id",
        "timestamp",
        "user_id",
        "before_root_ids",
        "after_root_ids",
        "is_merge",
        "in_neuron",
        "is_relevant",
    ]
    assert table["operation_id"].tolist() == [1, 2]
    assert table["timestamp"].tolist() == [int(T1 * 1000), int(T2 * 1000)]
    assert table["user_id"].tolist() == ["1", "2"]
    assert table["is_merge"].tolist() == [True, False]
    assert sorted(table["before_root_ids"][0]) == sorted([story.root_a, story.root_b])
    assert table["after_root_ids"][0] == [story.merged]
    # the lineage of a root only goes backwards from it, so its sibling is not listed
    assert table["after_root_ids"][1] == [story.source_side]
    filtered = fx.graph.get_tabular_change_log(story.sink_side, filtered=True)
    assert "in_neuron" not in filtered.columns
    assert filtered["operation_id"].tolist() == [2]
    assert filtered.index.tolist() == [1]  # row labels survive the filter, as in PCG


def test_merge_log(fx: Fixture, story: Story) -> None:
    log = fx.graph.get_merge_log(story.source_side)
    assert [e.tolist() for e in log["merge_edges"]] == [[fx.ids("a0", "b0")]]
    assert log["merge_edge_coords"] == [[[[1, 2, 3]], [[4, 5, 6]]]]


def test_delta_roots(fx: Fixture, story: Story) -> None:
    new, old = fx.graph.get_delta_roots(T1 - 1, T1)
    assert new.tolist() == [story.merged]
    assert sorted(old.tolist()) == sorted([story.root_a, story.root_b])
    new, old = fx.graph.get_delta_roots(T1, T2)
    assert sorted(new.tolist()) == sorted([story.merged, story.source_side, story.sink_side])
    assert sorted(old.tolist()) == sorted([story.root_a, story.root_b] + [story.merged] * 2)
    new, old = fx.graph.get_delta_roots(T2 + 1)
    assert new.size == 0 and old.size == 0


def test_operation_details_keys(fx: Fixture, story: Story) -> None:
    details = fx.graph.get_operation_details([1, 2, 77])
    assert set(details) == {1, 2}
    common = {"user", "roots", "operation_status", "operation_exception", "operation_ts"}
    common |= {"timestamp"}
    assert set(details[1]) == common | {"added_edges", "source_coords", "sink_coords"}
    assert set(details[2]) == common | {
        "removed_edges",
        "source_ids",
        "sink_ids",
        "source_coords",
        "sink_coords",
        "bb_offset",
    }
    assert details[1]["roots"] == [story.merged]
    assert details[1]["user"] == "1"
    assert details[1]["operation_status"] == 0
    assert details[1]["operation_ts"].timestamp() == T1
    assert details[2]["source_coords"] == [[2, 2, 2]]


def test_user_and_recent_operations(fx: Fixture, story: Story) -> None:
    ops = fx.graph.get_user_operations("2")
    assert ops["operation_id"].tolist() == [2]
    undo = fx.graph.undo(2, user_id="1", timestamp=T2 + 5)
    assert fx.graph.get_user_operations("2")["operation_id"].tolist() == []
    undone = fx.graph.get_user_operations("2", include_undone=True)
    assert undone["operation_id"].tolist() == [2]
    recent = fx.graph.get_recent_operations(T2)
    assert recent["operation_id"].tolist() == [2, undo.operation_id]
    assert recent["is_merge"].tolist() == [False, True]


def test_valid_nodes_in_time_ranges(fx: Fixture, story: Story) -> None:
    ids = np.array([story.root_a, story.merged, story.source_side], dtype=np.uint64)
    assert fx.graph.get_valid_nodes(ids).tolist() == sorted(ids.tolist())
    # between the two edits only the merged root gets a cell (created at T1, retired at T2)
    window = fx.graph.get_valid_nodes(ids, start_timestamp=T1 - 1, end_timestamp=T1 + 1)
    assert window.tolist() == sorted([story.root_a, story.merged])
    assert fx.graph.get_valid_nodes(ids, start_timestamp=T2 + 1).size == 0
