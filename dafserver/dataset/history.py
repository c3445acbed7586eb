"""The scripted edit history: merges, min-cut splits and an undo at fixed hourly timestamps.

The script (``SCRIPT``) is fixed; the seed only chooses which neurons it touches:

- a *merge* joins two neurons that touch, through the supervoxel pair with the largest contact
  area between them;
- a *split* runs a min-cut between two supervoxels of one neuron that lie ``SPLIT_DISTANCE``
  atomic chunks apart (or as far apart as the neuron allows). The min-cut only sees a bounding
  box around the two points (as in PyChunkedGraph), so a pair is used only if the preview's
  cut also disconnects the whole object; otherwise the next candidate is tried;
- the *undo* reverts the merge at position ``UNDO_TARGET`` of the script.

Every edit touches neurons no earlier edit touched, so the records are easy to reason about.
Edit ``k`` (from 1) happens at ``build_timestamp + k * EDIT_INTERVAL_S``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.components import connected_components
from dafserver.chunkedgraph.errors import ChunkedGraphError
from dafserver.chunkedgraph.graph import ChunkedGraph, EditResult
from dafserver.chunkedgraph.meta import GraphMeta
from dafserver.dataset.graph_input import GraphInput
from dafserver.dataset.manifest import EditRecord
from dafserver.dataset.supervoxels import SupervoxelPartition, central_voxel

EDIT_INTERVAL_S = 3600.0
EDIT_USER_ID = "1"
"""PyChunkedGraph logs user ids as strings; "1" is the first user of a deployment."""
SCRIPT = ("merge", "split", "merge", "split", "merge", "undo", "split", "merge")
UNDO_TARGET = 3
"""1-based position in ``SCRIPT`` of the merge that the undo reverts."""
SPLIT_DISTANCE = 2
CANDIDATES = 64
BEFORE_S = 1.0
"""Roots "before" an edit are read this many seconds before its timestamp."""

UInt64Array = npt.NDArray[np.uint64]
Point = tuple[int, int, int]


@dataclass
class _Script:
    graph: ChunkedGraph
    meta: GraphMeta
    partition: SupervoxelPartition
    segmentation: npt.NDArray[np.uint64]
    graph_input: GraphInput
    rng: np.random.Generator
    used: set[int] = field(default_factory=set)
    records: list[EditRecord] = field(default_factory=list)
    active_edges: UInt64Array = field(init=False)
    """uint64[A, 2]: the build-time active edges, ..."""
    active_owner: npt.NDArray[np.uint32] = field(init=False)
    """... and the neuron each of them lies in."""

    def __post_init__(self) -> None:
        self.active_edges = self.graph_input.edges[self.graph_input.active]
        first = np.searchsorted(self.partition.ids, self.active_edges[:, 0])
        self.active_owner = self.partition.neurons[first]

    def neuron_of(self, supervoxels: UInt64Array) -> tuple[int, ...]:
        index = np.searchsorted(self.partition.ids, supervoxels)
        return tuple(int(n) for n in self.partition.neurons[index])

    def voxel(self, supervoxel: int) -> Point:
        local = central_voxel(self.segmentation, self.meta, supervoxel)
        x, y, z = (int(v) for v in local + np.asarray(self.meta.voxel_offset))
        return (x, y, z)

    def roots(self, supervoxels: UInt64Array, timestamp: float) -> tuple[int, ...]:
        return tuple(int(r) for r in self.graph.get_roots(supervoxels, timestamp=timestamp))

    def record(
        self,
        kind: str,
        timestamp: float,
        result: EditResult,
        sources: tuple[int, ...],
        sinks: tuple[int, ...],
        supervoxels: tuple[int, ...],
        undone: int | None = None,
        description: str = "",
    ) -> EditRecord:
        ids = np.asarray(supervoxels, dtype=np.uint64)
        record = EditRecord(
            index=len(self.records) + 1,
            kind=kind,
            operation_id=int(result.operation_id),
            timestamp=timestamp,
            user_id=EDIT_USER_ID,
            source_ids=sources,
            sink_ids=sinks,
            source_coords=tuple(self.voxel(s) for s in sources),
            sink_coords=tuple(self.voxel(s) for s in sinks),
            undone_operation_id=undone,
            old_root_ids=tuple(sorted(int(r) for r in result.old_root_ids)),
            new_root_ids=tuple(sorted(int(r) for r in result.new_root_ids)),
            supervoxel_ids=supervoxels,
            roots_before=self.roots(ids, timestamp - BEFORE_S),
            roots_after=self.roots(ids, timestamp),
            neurons=self.neuron_of(ids),
            description=description,
        )
        self.records.append(record)
        return record


def _merge_candidates(
    partition: SupervoxelPartition, graph_input: GraphInput
) -> list[tuple[int, int, int, int]]:
    """Touching neuron pairs by decreasing contact area: (neuron a, neuron b, sv a, sv b)."""
    across = np.flatnonzero(~graph_input.active)
    edges = graph_input.edges[across]
    areas = graph_input.areas[across].astype(np.int64)
    neurons = partition.neurons[np.searchsorted(partition.ids, edges)].astype(np.int64)
    low = neurons.min(axis=1)
    high = neurons.max(axis=1)
    # group by neuron pair; inside a group the largest contact comes first
    order = np.lexsort((-areas, high, low))
    low, high, areas, edges = low[order], high[order], areas[order], edges[order]
    starts = np.flatnonzero(np.r_[True, (low[1:] != low[:-1]) | (high[1:] != high[:-1])])
    totals = np.add.reduceat(areas, starts) if starts.size else np.zeros(0, np.int64)
    ranked = starts[np.argsort(-totals, kind="stable")]
    candidates = []
    for s in ranked[:CANDIDATES].tolist():
        a, b = (int(v) for v in edges[s])
        neuron_a, neuron_b = (
            (int(low[s]), int(high[s]))
            if partition.neurons[np.searchsorted(partition.ids, a)] == low[s]
            else (int(high[s]), int(low[s]))
        )
        candidates.append((neuron_a, neuron_b, a, b))
    return candidates


def _merge(
    script: _Script, candidates: list[tuple[int, int, int, int]], timestamp: float
) -> EditRecord:
    for k in script.rng.permutation(len(candidates)).tolist():
        neuron_a, neuron_b, sv_a, sv_b = candidates[k]
        if neuron_a in script.used or neuron_b in script.used:
            continue
        pair = np.array([sv_a, sv_b], dtype=np.uint64)
        before = script.roots(pair, timestamp)
        if before[0] == before[1]:
            continue
        result = script.graph.merge(
            sv_a,
            sv_b,
            user_id=EDIT_USER_ID,
            timestamp=timestamp,
            source_coords=[script.voxel(sv_a)],
            sink_coords=[script.voxel(sv_b)],
        )
        script.used.update((neuron_a, neuron_b))
        return script.record(
            "merge",
            timestamp,
            result,
            (sv_a,),
            (sv_b,),
            (sv_a, sv_b),
            description=f"merge neurons {neuron_a} and {neuron_b}",
        )
    raise RuntimeError("no pair of touching neurons left to merge")


def _split_pair(
    script: _Script, neuron: int, timestamp: float
) -> tuple[int, int, UInt64Array] | None:
    """Source, sink and all supervoxels of the object to split, or None if it is too small."""
    ids = script.partition.ids
    members = np.flatnonzero(script.partition.neurons == neuron)
    largest = ids[members[np.argmax(script.partition.voxel_counts[members])]]
    root = script.graph.get_root(int(largest), timestamp=timestamp)
    leaves = np.sort(np.asarray(script.graph.get_leaves(root), dtype=np.uint64))
    counts = script.partition.voxel_counts[np.searchsorted(ids, leaves)]
    coords = script.meta.layout.get_chunk_coords(leaves)
    source = int(leaves[np.argmax(counts)])
    distance = np.abs(coords - script.meta.layout.get_chunk_coords(source)[0]).max(axis=1)
    reach = min(SPLIT_DISTANCE, int(distance.max(initial=0)))
    if reach == 0:
        return None
    far = np.flatnonzero(distance == reach)
    sink = int(leaves[far[np.argmax(counts[far])]])
    return source, sink, leaves


def _separates(
    script: _Script,
    neuron: int,
    leaves: UInt64Array,
    source: int,
    sink: int,
    sides: list[UInt64Array],
) -> bool:
    """Whether cutting between the preview's ``sides`` disconnects ``source`` from ``sink``.

    The min-cut only sees the bounding box around the points, so the two sides may still be
    joined outside it; this checks the whole object, using the build-time edges (the object
    has not been edited yet).
    """
    own = script.active_edges[script.active_owner == neuron]
    edges = np.searchsorted(leaves, own[np.isin(own, leaves).all(axis=1)])
    side = np.full(leaves.size, -1, dtype=np.int64)
    for k, members in enumerate(sides):
        side[np.searchsorted(leaves, members)] = k
    a, b = side[edges[:, 0]], side[edges[:, 1]]
    kept = (a == b) | (a < 0) | (b < 0)
    labels = connected_components(leaves.size, edges[kept, 0], edges[kept, 1])
    ends = np.searchsorted(leaves, np.array([source, sink], dtype=np.uint64))
    return bool(labels[ends[0]] != labels[ends[1]])


def _split(script: _Script, timestamp: float) -> EditRecord:
    sizes = np.bincount(script.partition.neurons.astype(np.int64))
    sizes[0] = 0
    biggest = np.argsort(-sizes, kind="stable")[:CANDIDATES]
    for k in script.rng.permutation(biggest.size).tolist():
        neuron = int(biggest[k])
        if neuron in script.used or sizes[neuron] == 0:
            continue
        pair = _split_pair(script, neuron, timestamp)
        if pair is None:
            continue
        source, sink, leaves = pair
        source_coords = [script.voxel(source)]
        sink_coords = [script.voxel(sink)]
        try:
            preview = script.graph.split_preview(
                [source],
                [sink],
                mincut=True,
                timestamp=timestamp,
                source_coords=source_coords,
                sink_coords=sink_coords,
            )
            if preview.illegal_split or not _separates(
                script, neuron, leaves, source, sink, list(preview.components)
            ):
                continue
            result = script.graph.split(
                [source],
                [sink],
                user_id=EDIT_USER_ID,
                mincut=True,
                timestamp=timestamp,
                source_coords=source_coords,
                sink_coords=sink_coords,
            )
        except ChunkedGraphError:
            continue
        script.used.add(neuron)
        return script.record(
            "split",
            timestamp,
            result,
            (source,),
            (sink,),
            (source, sink),
            description=f"min-cut split of neuron {neuron}",
        )
    raise RuntimeError("no neuron left to split")


def _undo(script: _Script, target: EditRecord, timestamp: float) -> EditRecord:
    result = script.graph.undo(target.operation_id, user_id=EDIT_USER_ID, timestamp=timestamp)
    return script.record(
        "undo",
        timestamp,
        result,
        (),
        (),
        target.supervoxel_ids,
        undone=target.operation_id,
        description=f"undo operation {target.operation_id} ({target.description})",
    )


def run_history(
    graph: ChunkedGraph,
    meta: GraphMeta,
    partition: SupervoxelPartition,
    segmentation: npt.NDArray[np.uint64],
    graph_input: GraphInput,
    build_timestamp: float,
    rng: np.random.Generator,
) -> tuple[EditRecord, ...]:
    """Apply ``SCRIPT`` to a freshly built graph and describe every edit."""
    script = _Script(graph, meta, partition, segmentation, graph_input, rng)
    candidates = _merge_candidates(partition, graph_input)
    for position, kind in enumerate(SCRIPT, start=1):
        timestamp = build_timestamp + position * EDIT_INTERVAL_S
        if kind == "merge":
            _merge(script, candidates, timestamp)
        elif kind == "split":
            _split(script, timestamp)
        else:
            _undo(script, script.records[UNDO_TARGET - 1], timestamp)
    return tuple(script.records)
