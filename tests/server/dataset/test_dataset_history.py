"""The scripted edits did what the manifest says, also after reloading the graph from its store."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from dataset_stages import Stages

from dafserver.chunkedgraph.graph import ChunkedGraph
from dafserver.chunkedgraph.store import GraphStore
from dafserver.dataset.builder import BUILD_TIMESTAMP, stage_rng
from dafserver.dataset.history import (
    BEFORE_S,
    EDIT_INTERVAL_S,
    SCRIPT,
    UNDO_TARGET,
    run_history,
)
from dafserver.dataset.manifest import DatasetManifest, EditRecord
from dafserver.db import make_engine


@pytest.fixture(scope="module")
def replayed(stages: Stages) -> tuple[ChunkedGraph, tuple[EditRecord, ...]]:
    """A fresh in-memory graph from the same arrays, with the script run on it again."""
    gi = stages.graph_input
    graph = ChunkedGraph.build(
        stages.meta,
        gi.supervoxel_ids,
        gi.edges,
        gi.affinities,
        gi.areas,
        gi.active,
        timestamp=BUILD_TIMESTAMP,
    )
    records = run_history(
        graph,
        stages.meta,
        stages.partition,
        stages.segmentation,
        gi,
        BUILD_TIMESTAMP,
        stage_rng(0, "history"),
    )
    return graph, records


@pytest.fixture(scope="module")
def graph(built: DatasetManifest) -> ChunkedGraph:
    """The graph reloaded from the build's SQLite file, as a server would after a restart."""
    assert built.database_path is not None
    engine = make_engine(f"sqlite:///{built.data_dir / built.database_path}")
    return ChunkedGraph.load(GraphStore(engine), built.graph.table_id)


def test_script_shape(built: DatasetManifest) -> None:
    assert tuple(edit.kind for edit in built.edits) == SCRIPT
    assert [edit.operation_id for edit in built.edits] == list(range(1, len(SCRIPT) + 1))
    for k, edit in enumerate(built.edits, start=1):
        assert edit.timestamp == BUILD_TIMESTAMP + k * EDIT_INTERVAL_S
    undo = built.edits[SCRIPT.index("undo")]
    target = built.edits[UNDO_TARGET - 1]
    assert target.kind == "merge"
    assert undo.undone_operation_id == target.operation_id
    assert undo.supervoxel_ids == target.supervoxel_ids
    touched = [set(edit.neurons) for edit in built.edits if edit.kind != "undo"]
    assert sum(len(n) for n in touched) == len(set().union(*touched))


def test_history_replays_identically(
    built: DatasetManifest, replayed: tuple[ChunkedGraph, tuple[EditRecord, ...]]
) -> None:
    assert replayed[1] == built.edits


@pytest.mark.parametrize("position", range(len(SCRIPT)))
def test_roots_before_and_after_each_edit(
    graph: ChunkedGraph, built: DatasetManifest, position: int
) -> None:
    edit: EditRecord = built.edits[position]
    svs = np.asarray(edit.supervoxel_ids, dtype=np.uint64)
    before = graph.get_roots(svs, timestamp=edit.timestamp - BEFORE_S).tolist()
    after = graph.get_roots(svs, timestamp=edit.timestamp).tolist()
    assert tuple(before) == edit.roots_before
    assert tuple(after) == edit.roots_after
    assert set(before) == set(edit.old_root_ids)
    assert set(after) <= set(edit.new_root_ids)
    assert not set(before) & set(after)
    if edit.kind == "merge":
        assert before[0] != before[1] and after[0] == after[1]
        assert len(edit.old_root_ids) == 2 and len(edit.new_root_ids) == 1
    elif edit.kind == "split":
        assert before[0] == before[1] and after[0] != after[1]
        assert len(edit.old_root_ids) == 1 and len(edit.new_root_ids) >= 2
    else:  # undo of a merge
        assert before[0] == before[1] and after[0] != after[1]


@pytest.mark.parametrize("position", range(len(SCRIPT)))
def test_only_the_edited_objects_change(
    graph: ChunkedGraph, built: DatasetManifest, stages: Stages, position: int
) -> None:
    edit = built.edits[position]
    ids = stages.partition.ids
    before = graph.get_roots(ids, timestamp=edit.timestamp - BEFORE_S)
    after = graph.get_roots(ids, timestamp=edit.timestamp)
    changed = before != after
    assert changed.any()
    assert set(before[changed].tolist()) == set(edit.old_root_ids)
    assert set(after[changed].tolist()) == set(edit.new_root_ids)
    assert not np.isin(before[~changed], edit.old_root_ids).any()


def test_roots_at_build_are_the_neuron_pieces(
    graph: ChunkedGraph, built: DatasetManifest, stages: Stages
) -> None:
    """At build time every root is a connected piece of one neuron (active edges only)."""
    gi = stages.graph_input
    pieces = nx.Graph()
    pieces.add_nodes_from(gi.supervoxel_ids.tolist())
    pieces.add_edges_from(gi.edges[gi.active].tolist())
    roots = graph.get_roots(gi.supervoxel_ids, timestamp=BUILD_TIMESTAMP)
    assert np.unique(roots).size == nx.number_connected_components(pieces)
    assert built.counts["roots_at_build"] == np.unique(roots).size
    root_of = dict(zip(gi.supervoxel_ids.tolist(), roots.tolist(), strict=True))
    for component in nx.connected_components(pieces):
        assert len({root_of[sv] for sv in component}) == 1
