"""Validating merges, splits, min-cuts, undos and redos and turning them into edge changes.

Every ``plan_*`` function checks the request against the graph as of the edit time, with
PyChunkedGraph's precondition messages, and returns an ``EditPlan``: the supervoxels whose
objects change, the edges that become active or inactive, and the operation log fields.
Nothing is modified here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.arrays import unique
from dafserver.chunkedgraph.errors import NodeNotFound, OperationNotFound, PreconditionError
from dafserver.chunkedgraph.ids import as_ids
from dafserver.chunkedgraph.mincut import CutResult, local_mincut
from dafserver.chunkedgraph.oplog import DEFAULT_BB_OFFSET, OperationKind, OperationRecord
from dafserver.chunkedgraph.state import GraphState
from dafserver.chunkedgraph.subgraph import descend

UInt64Array = npt.NDArray[np.uint64]
Int64Array = npt.NDArray[np.int64]
Float32Array = npt.NDArray[np.float32]

#: Affinity given to an edge created by merging two supervoxels that had none.
DEFAULT_MERGE_AFFINITY = 1.0
SAME_OBJECT = "Supervoxels must belong to the same object."
DIFFERENT_OBJECTS = "Supervoxels must belong to different objects."
_NO_EDGES = np.zeros(0, dtype=np.int64)
_NO_PAIRS = np.zeros((0, 2), dtype=np.int64)


@dataclass(frozen=True)
class EditPlan:
    """What an edit changes and what its log record says (roots are filled in later)."""

    kind: OperationKind
    touched: UInt64Array
    activate: Int64Array = field(default_factory=lambda: _NO_EDGES)
    deactivate: Int64Array = field(default_factory=lambda: _NO_EDGES)
    new_pairs: Int64Array = field(default_factory=lambda: _NO_PAIRS)
    new_affinity: float = DEFAULT_MERGE_AFFINITY
    log: dict[str, Any] = field(default_factory=dict)

    def record(
        self,
        operation_id: int,
        ms: int,
        user_id: str,
        old_roots: UInt64Array,
        new_roots: UInt64Array,
        new_lvl2: UInt64Array,
    ) -> OperationRecord:
        """The operation log record of this plan once applied."""
        return OperationRecord(
            operation_id=operation_id,
            kind=self.kind,
            timestamp_ms=ms,
            user_id=user_id,
            old_root_ids=old_roots,
            new_root_ids=new_roots,
            new_lvl2_ids=new_lvl2,
            **self.log,
        )


def voxel_coords(coords: npt.ArrayLike | None) -> Int64Array | None:
    """Coordinates as ``int64[k, 3]`` voxels (truncated like PyChunkedGraph), or None."""
    if coords is None:
        return None
    array = np.asarray(coords, dtype=np.float64).reshape(-1, 3)
    return None if array.size == 0 else array.astype(np.int64)


def supervoxel_indices(state: GraphState, ids: UInt64Array, message: str) -> Int64Array:
    """Indices of supervoxel ids; ``message`` if one is not a supervoxel, NodeNotFound if unknown."""
    if ids.size and bool(np.any(state.layout.get_layer(ids) != 1)):
        raise PreconditionError(message)
    index, found = state.edges.sv_index(ids)
    if not found.all():
        raise NodeNotFound(f"Unknown supervoxel {int(ids[~found][0])}")
    return index


def _roots(state: GraphState, ids: UInt64Array, ms: int) -> UInt64Array:
    roots = state.timeline.roots_at(ids, ms)
    if bool(np.any(roots == 0)):
        raise NodeNotFound(f"Supervoxel {int(ids[roots == 0][0])} does not exist at {ms} ms")
    return roots


def _find_edges(state: GraphState, pairs: Int64Array) -> Int64Array:
    return np.array([state.edges.find(int(a), int(b)) for a, b in pairs], dtype=np.int64)


def plan_merge(
    state: GraphState,
    supervoxel_a: int,
    supervoxel_b: int,
    ms: int,
    *,
    source_coords: npt.ArrayLike | None = None,
    sink_coords: npt.ArrayLike | None = None,
    chebyshev_distance: int = 3,
    allow_same_segment_merge: bool = False,
    affinity: float | None = None,
) -> EditPlan:
    """Add (activate) the edge between two supervoxels of different objects."""
    ids = as_ids([supervoxel_a, supervoxel_b])
    index = supervoxel_indices(state, ids, "Supervoxels expected.")
    if ids[0] == ids[1]:
        raise PreconditionError("Requested merge contains at least 1 self-loop.")
    coords = state.layout.get_chunk_coords(ids).reshape(2, 3)
    if bool(np.any(np.abs(coords[0] - coords[1]) > chebyshev_distance)):
        raise PreconditionError(
            "Chebyshev distance between merge points exceeded allowed maximum "
            f"({chebyshev_distance} chunks)."
        )
    roots = _roots(state, ids, ms)
    if roots[0] == roots[1] and not allow_same_segment_merge:
        raise PreconditionError(DIFFERENT_OBJECTS)
    edge = state.edges.find(int(index[0]), int(index[1]))
    log: dict[str, Any] = {
        "added_edges": ids.reshape(1, 2),
        "source_coords": voxel_coords(source_coords),
        "sink_coords": voxel_coords(sink_coords),
    }
    if affinity is not None:
        log["affinities"] = np.array([affinity], dtype=np.float32)
    if edge >= 0:
        return EditPlan(
            OperationKind.MERGE, ids, activate=np.array([edge], dtype=np.int64), log=log
        )
    return EditPlan(
        OperationKind.MERGE,
        ids,
        new_pairs=index.reshape(1, 2),
        new_affinity=DEFAULT_MERGE_AFFINITY if affinity is None else float(affinity),
        log=log,
    )


def plan_split(
    state: GraphState,
    source_ids: npt.ArrayLike,
    sink_ids: npt.ArrayLike,
    ms: int,
    *,
    source_coords: npt.ArrayLike | None = None,
    sink_coords: npt.ArrayLike | None = None,
) -> EditPlan:
    """Remove the edges source[i]-sink[i] directly (PyChunkedGraph's ``SplitOperation``)."""
    sources, sinks = as_ids(source_ids), as_ids(sink_ids)
    if len(sources) != len(sinks):
        raise PreconditionError("Split operation require the same number of source and sink IDs")
    pairs = np.stack([sources, sinks], axis=1)
    if bool(np.any(sources == sinks)):
        raise PreconditionError("Requested split contains at least 1 self-loop.")
    index = supervoxel_indices(state, pairs.reshape(-1), "IDs must be supervoxels.")
    if len(unique(_roots(state, pairs.reshape(-1), ms))) > 1:
        raise PreconditionError(SAME_OBJECT)
    edges = _find_edges(state, index.reshape(-1, 2))
    return EditPlan(
        OperationKind.SPLIT,
        pairs.reshape(-1),
        deactivate=unique(edges[edges >= 0]),
        log={
            "removed_edges": pairs,
            "source_coords": voxel_coords(source_coords),
            "sink_coords": voxel_coords(sink_coords),
        },
    )


def _local_cut(
    state: GraphState,
    sources: UInt64Array,
    sinks: UInt64Array,
    ms: int,
    source_coords: Int64Array | None,
    sink_coords: Int64Array | None,
    bb_offset: Int64Array,
    preview: bool,
) -> tuple[UInt64Array, Int64Array, CutResult]:
    """Local supervoxels, local edge indices and the min-cut between sources and sinks."""
    if bool(np.any(np.isin(sinks, sources))):
        raise PreconditionError(
            "Supervoxels exist in both sink and source, try placing the points further apart."
        )
    labels = np.concatenate([sources, sinks])
    supervoxel_indices(state, labels, "IDs must be supervoxels.")
    roots = unique(_roots(state, labels, ms))
    if len(roots) > 1:
        raise PreconditionError(SAME_OBJECT)
    box = None
    if source_coords is not None and sink_coords is not None:
        points = np.concatenate([source_coords, sink_coords])
        bounds = np.stack([points.min(axis=0) - bb_offset, points.max(axis=0) + bb_offset])
        box = state.meta.bounds_to_chunks(bounds)
    local, _ = descend(state, roots, 1, box)
    local = np.union1d(local, labels)
    edges = state.edges
    index, _ = edges.sv_index(local)
    incident = edges.incident(index)
    incident = incident[edges.active_now(incident)]
    u, v = edges.endpoints(incident)
    inside = np.isin(u, index) & np.isin(v, index)
    incident, u, v = incident[inside], u[inside], v[inside]
    if incident.size == 0:
        raise PreconditionError("No local edges found.")
    lu = np.searchsorted(index, u).astype(np.int64)
    lv = np.searchsorted(index, v).astype(np.int64)
    cut = local_mincut(
        len(local),
        lu,
        lv,
        edges.affinities(incident),
        np.searchsorted(local, sources).astype(np.int64),
        np.searchsorted(local, sinks).astype(np.int64),
        preview=preview,
    )
    return local, incident, cut


def plan_multicut(
    state: GraphState,
    source_ids: npt.ArrayLike,
    sink_ids: npt.ArrayLike,
    ms: int,
    *,
    source_coords: npt.ArrayLike | None = None,
    sink_coords: npt.ArrayLike | None = None,
    bb_offset: npt.ArrayLike = DEFAULT_BB_OFFSET,
) -> EditPlan:
    """Remove the min-cut edges between sources and sinks (``MulticutOperation``)."""
    sources, sinks = unique(as_ids(source_ids)), unique(as_ids(sink_ids))
    source_voxels, sink_voxels = voxel_coords(source_coords), voxel_coords(sink_coords)
    offset = np.asarray(bb_offset, dtype=np.int64).reshape(3)
    _, incident, cut = _local_cut(
        state, sources, sinks, ms, source_voxels, sink_voxels, offset, False
    )
    removed = incident[cut.cut_edges]
    return EditPlan(
        OperationKind.MULTICUT,
        np.concatenate([sources, sinks]),
        deactivate=unique(removed),
        log={
            "removed_edges": state.edges.endpoint_ids(removed),
            "source_ids": as_ids(source_ids),
            "sink_ids": as_ids(sink_ids),
            "source_coords": source_voxels,
            "sink_coords": sink_voxels,
            "bb_offset": offset,
        },
    )


def split_components(
    state: GraphState,
    source_ids: npt.ArrayLike,
    sink_ids: npt.ArrayLike,
    ms: int,
    *,
    source_coords: npt.ArrayLike | None = None,
    sink_coords: npt.ArrayLike | None = None,
    bb_offset: npt.ArrayLike = DEFAULT_BB_OFFSET,
) -> tuple[bool, list[UInt64Array]]:
    """Split preview: ``(illegal_split, supervoxel components after the cut)``."""
    sources, sinks = unique(as_ids(source_ids)), unique(as_ids(sink_ids))
    offset = np.asarray(bb_offset, dtype=np.int64).reshape(3)
    local, _, cut = _local_cut(
        state,
        sources,
        sinks,
        ms,
        voxel_coords(source_coords),
        voxel_coords(sink_coords),
        offset,
        True,
    )
    return cut.illegal, [local[c] for c in cut.components]


def resolve_undo_chain(state: GraphState, operation_id: int, is_undo: bool) -> tuple[int, bool]:
    """Follow undo/redo records to the original operation; returns (operation id, is_undo)."""
    record = state.operations.get(int(operation_id))
    if record is None:
        raise OperationNotFound(f"Operation {operation_id} does not exist")
    while record.kind in (OperationKind.UNDO, OperationKind.REDO):
        if record.kind is OperationKind.REDO:
            target = record.redo_operation_id
        else:
            is_undo = not is_undo
            target = record.undo_operation_id
        record = state.operations[int(target or 0)]
    return record.operation_id, is_undo


def _edge_indices(state: GraphState, pairs: UInt64Array) -> Int64Array:
    index = supervoxel_indices(state, pairs.reshape(-1), "IDs must be supervoxels.")
    return _find_edges(state, index.reshape(-1, 2))


def plan_undo_redo(state: GraphState, operation_id: int, ms: int, *, undo: bool) -> EditPlan | None:
    """Invert (undo) or re-apply (redo) an operation; None when there is nothing to change."""
    target_id, is_undo = resolve_undo_chain(state, operation_id, undo)
    target = state.operations[target_id]
    kind = OperationKind.UNDO if is_undo else OperationKind.REDO
    link = {"undo_operation_id" if is_undo else "redo_operation_id": target_id}
    if target.is_merge:
        pairs = np.asarray(target.added_edges, dtype=np.uint64).reshape(-1, 2)
        remove = is_undo
    else:
        pairs = np.asarray(target.removed_edges, dtype=np.uint64).reshape(-1, 2)
        remove = not is_undo
    touched = pairs.reshape(-1)
    if remove:
        edges = _edge_indices(state, pairs)
        if is_undo:
            if bool(np.any(edges < 0)):
                raise PreconditionError("All edges must exist.")
            if not state.edges.active_now(edges).any():
                return None
        if len(unique(_roots(state, touched, ms))) > 1:
            raise PreconditionError(SAME_OBJECT)
        return EditPlan(
            kind,
            touched,
            deactivate=unique(edges[edges >= 0]),
            log={"removed_edges": pairs, **link},
        )
    edges = _edge_indices(state, pairs)
    if is_undo:
        if bool(np.any(edges < 0)):
            raise PreconditionError("All edges must exist.")
        if state.edges.active_now(edges).all():
            return None
    elif len(unique(_roots(state, touched, ms))) < 2:
        raise PreconditionError(DIFFERENT_OBJECTS)
    index, _ = state.edges.sv_index(touched)
    missing = edges < 0
    return EditPlan(
        kind,
        touched,
        activate=unique(edges[~missing]),
        new_pairs=index.reshape(-1, 2)[missing],
        log={"added_edges": pairs, **link},
    )
