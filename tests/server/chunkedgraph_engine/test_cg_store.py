from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest

from dafserver.chunkedgraph import ChunkedGraph, GraphMeta, GraphStore
from dafserver.db import default_database_url

from .conftest import BUILD_TS, Fixture, make_fixture

TIMES = [BUILD_TS - 1, BUILD_TS, BUILD_TS + 10, BUILD_TS + 20, BUILD_TS + 30, BUILD_TS + 40]


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A fresh database: a SQLite file, or a PostgreSQL database when the tests run on one."""
    return default_database_url(tmp_path)


NewStore = Callable[[], GraphStore]


@pytest.fixture
def new_store(url: str) -> Iterator[NewStore]:
    """Makes a GraphStore on the test database with an engine of its own (as another process
    would have); each is closed after the test."""
    made: list[GraphStore] = []

    def make() -> GraphStore:
        made.append(GraphStore(url))
        return made[-1]

    yield make
    for store in made:
        store.close()


def rebuild_with_store(fx: Fixture, store: GraphStore) -> ChunkedGraph:
    """The fixture graph built again, persisted to ``store``."""
    sv = fx.sv
    return ChunkedGraph.build(
        fx.meta,
        list(sv.values()),
        [(sv[a], sv[b]) for a, b, _, _ in fx.edges],
        [e[2] for e in fx.edges],
        [i + 1 for i in range(len(fx.edges))],
        [e[3] for e in fx.edges],
        BUILD_TS,
        store=store,
    )


def edit(graph: ChunkedGraph, fx: Fixture) -> None:
    sv = fx.sv
    graph.merge(sv["a0"], sv["b0"], user_id="1", timestamp=TIMES[2], source_coords=[[1, 1, 1]])
    graph.merge(sv["c0"], sv["e0"], user_id="1", timestamp=TIMES[2] + 1)  # adds a new edge
    graph.split([sv["a1"]], [sv["a3"]], user_id="2", timestamp=TIMES[3])
    graph.undo(1, user_id="2", timestamp=TIMES[4])
    graph.redo(1, user_id="3", timestamp=TIMES[5])


def answers(graph: ChunkedGraph, fx: Fixture) -> dict[str, Any]:
    svs = np.array(fx.all_svs(), dtype=np.uint64)
    out: dict[str, Any] = {"max_op": graph.max_operation_id}
    roots_ever: set[int] = set()
    for t in [*TIMES, None]:
        for layer in range(2, graph.n_layers + 1):
            found = graph.get_roots(svs, timestamp=t, stop_layer=layer)
            out[f"roots {t} {layer}"] = found.tolist()
            if layer == graph.n_layers:
                roots_ever |= set(found.tolist()) - {0}
    for root in sorted(roots_ever):
        out[f"leaves {root}"] = graph.get_leaves(root).tolist()
        out[f"l2 {root}"] = graph.get_leaves(root, stop_layer=2).tolist()
        out[f"children {root}"] = graph.get_children(root).tolist()
        out[f"subgraph {root}"] = [a.tolist() for a in graph.get_subgraph(root)]
        out[f"lvl2 {root}"] = graph.get_lvl2_graph(root).tolist()
        lineage = graph.get_lineage_graph([root])
        out[f"lineage {root}"] = nx.node_link_data(lineage, edges="links")
        out[f"changelog {root}"] = {
            k: (v.tolist() if isinstance(v, np.ndarray) else v)
            for k, v in graph.get_change_log(root).items()
        }
    ordered = sorted(roots_ever)
    out["latest"] = graph.is_latest_roots(ordered).tolist()
    out["root ts"] = graph.get_root_timestamps(ordered, latest=True, timestamp=TIMES[4]).tolist()
    out["details"] = {k: str(v) for k, v in graph.get_operation_details(range(1, 10)).items()}
    out["delta"] = [a.tolist() for a in graph.get_delta_roots(TIMES[0])]
    out["valid"] = graph.get_valid_nodes(ordered, TIMES[3], TIMES[5]).tolist()
    out["oldest"] = graph.get_oldest_timestamp()
    chunk = int(graph.layout.chunk_id(2, 0, 0, 0)[0])
    out["l2 chunk"] = graph.get_l2_chunk_children(chunk, TIMES[3]).tolist()
    return out


def test_round_trip_reproduces_every_answer(new_store: NewStore) -> None:
    fx = make_fixture()
    store = new_store()
    graph = rebuild_with_store(fx, store)
    edit(graph, fx)
    fx.graph = graph
    before = answers(graph, fx)
    assert before["max_op"] == 5
    reloaded = ChunkedGraph.load(new_store())
    fx.graph = reloaded
    assert answers(reloaded, fx) == before
    # both continue identically (same id counters, same edge state); only one may write
    reloaded.store = None
    a = graph.split([fx.sv["a0"]], [fx.sv["b0"]], user_id="4", timestamp=BUILD_TS + 50)
    b = reloaded.split([fx.sv["a0"]], [fx.sv["b0"]], user_id="4", timestamp=BUILD_TS + 50)
    assert a.new_root_ids.tolist() == b.new_root_ids.tolist()
    assert a.new_lvl2_ids.tolist() == b.new_lvl2_ids.tolist()


def test_several_graphs_share_a_database(new_store: NewStore) -> None:
    store = new_store()
    fx = make_fixture()
    rebuild_with_store(fx, store)
    other = GraphMeta("other", (10, 10, 10), (0, 0, 0), (20, 20, 10), (1.0, 1.0, 1.0))
    layout = other.layout
    svs = [int(layout.node_id(layout.chunk_id(1, x, 0, 0), 1)[0]) for x in (0, 1)]
    ChunkedGraph.build(other, svs, [svs], [0.5], [3], [True], BUILD_TS, store=store)
    assert store.table_ids() == ["other", "test_graph"]
    with pytest.raises(ValueError):
        ChunkedGraph.load(store)
    loaded = ChunkedGraph.load(store, "other")
    assert loaded.n_layers == 3
    assert len(set(loaded.get_roots(svs).tolist())) == 1
    with pytest.raises(ValueError):
        rebuild_with_store(fx, store)
    store.delete_graph("other")
    assert store.table_ids() == ["test_graph"]


def test_a_second_process_catches_up_with_the_store(new_store: NewStore) -> None:
    """Two graphs over one database (two worker processes): each applies what the other wrote,
    step by step, and then answers exactly as a fresh load does; its edits continue from there."""
    fx = make_fixture()
    first = rebuild_with_store(fx, new_store())
    second = ChunkedGraph.load(new_store())
    sv = fx.sv
    assert not second.is_behind_store()
    with first.exclusive():
        first.merge(sv["a0"], sv["b0"], user_id="1", timestamp=TIMES[2])
    assert second.is_behind_store()
    assert second.catch_up() == 1
    assert not second.is_behind_store()
    with first.exclusive():
        first.merge(sv["c0"], sv["e0"], user_id="1", timestamp=TIMES[2] + 1)  # adds a new edge
        first.split([sv["a1"]], [sv["a3"]], user_id="2", timestamp=TIMES[3])
    # The second one edits next: the lock's catch-up gives it operations 2 and 3 first.
    with second.exclusive():
        undone = second.undo(1, user_id="2", timestamp=TIMES[4])
    assert undone.operation_id == 4
    with first.exclusive():
        redone = first.redo(1, user_id="3", timestamp=TIMES[5])
    assert redone.operation_id == 5
    assert second.catch_up() == 1
    fresh = ChunkedGraph.load(new_store())
    fx.graph = fresh
    expected = answers(fresh, fx)
    assert expected["max_op"] == 5
    for graph in (first, second):
        fx.graph = graph
        assert answers(graph, fx) == expected
    assert second.state.edges.n_edges == fresh.state.edges.n_edges == len(fx.edges) + 1


def test_listeners_run_after_the_edit_is_committed(new_store: NewStore) -> None:
    fx = make_fixture()
    graph = rebuild_with_store(fx, new_store())
    reader = new_store()
    seen: list[int] = []

    def listener(edited: ChunkedGraph, result: Any) -> None:
        seen.append(reader.max_operation_id(edited.table_id))

    graph.edit_listeners.append(listener)
    with graph.exclusive():
        graph.merge(fx.sv["a0"], fx.sv["b0"], user_id="1", timestamp=TIMES[2])
        assert seen == []
    assert seen == [1]


def test_a_failed_transaction_reloads_the_graph(new_store: NewStore) -> None:
    fx = make_fixture()
    graph = rebuild_with_store(fx, new_store())
    with pytest.raises(RuntimeError), graph.exclusive():
        graph.merge(fx.sv["a0"], fx.sv["b0"], user_id="1", timestamp=TIMES[2])
        raise RuntimeError("the request failed after its edit")
    store = graph.store
    assert store is not None
    # On a server the operation was rolled back with the transaction and the graph reloaded;
    # on SQLite it was committed by itself. Either way memory and database agree.
    assert graph.max_operation_id == store.max_operation_id(graph.table_id)
