"""Operation log records: what every edit wrote, in PyChunkedGraph's terms."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

UInt64Array = npt.NDArray[np.uint64]
Int64Array = npt.NDArray[np.int64]
Float32Array = npt.NDArray[np.float32]

#: PyChunkedGraph's ``OperationLogs.StatusCodes.SUCCESS``; only successful edits are logged.
STATUS_SUCCESS = 0
#: Default padding (voxels) of the min-cut bounding box.
DEFAULT_BB_OFFSET = (240, 240, 24)


class OperationKind(StrEnum):
    """Log record types (PyChunkedGraph's operation classes)."""

    MERGE = "merge"
    SPLIT = "split"
    MULTICUT = "multicut"
    UNDO = "undo"
    REDO = "redo"


def _ids(values: Any) -> UInt64Array | None:
    return None if values is None else np.asarray(values, dtype=np.uint64)


def _edge_array(values: Any) -> UInt64Array | None:
    return None if values is None else np.asarray(values, dtype=np.uint64).reshape(-1, 2)


def _coords(values: Any) -> Int64Array | None:
    return None if values is None else np.asarray(values, dtype=np.int64).reshape(-1, 3)


def _listed(values: npt.NDArray[Any] | None) -> Any:
    return None if values is None else values.tolist()


@dataclass(frozen=True)
class OperationRecord:
    """One operation log row."""

    operation_id: int
    kind: OperationKind
    timestamp_ms: int
    user_id: str
    old_root_ids: UInt64Array
    new_root_ids: UInt64Array
    new_lvl2_ids: UInt64Array
    added_edges: UInt64Array | None = None
    removed_edges: UInt64Array | None = None
    source_ids: UInt64Array | None = None
    sink_ids: UInt64Array | None = None
    source_coords: Int64Array | None = None
    sink_coords: Int64Array | None = None
    bb_offset: Int64Array | None = None
    affinities: Float32Array | None = None
    undo_operation_id: int | None = None
    redo_operation_id: int | None = None
    status: int = STATUS_SUCCESS

    @property
    def is_merge(self) -> bool:
        """PyChunkedGraph's test: the record has added edges (undoing a split counts)."""
        return self.added_edges is not None

    @property
    def edges_failsafe(self) -> UInt64Array:
        """Sink and source ids if logged, else the supervoxels of the added/removed edges."""
        if self.sink_ids is not None and self.source_ids is not None:
            return np.concatenate([self.sink_ids, self.source_ids])
        edges = self.added_edges if self.added_edges is not None else self.removed_edges
        return np.zeros(0, np.uint64) if edges is None else edges.reshape(-1)

    def payload(self) -> dict[str, Any]:
        """JSON-serialisable fields (everything but id, kind, time and user)."""
        return {
            "old_root_ids": self.old_root_ids.tolist(),
            "new_root_ids": self.new_root_ids.tolist(),
            "new_lvl2_ids": self.new_lvl2_ids.tolist(),
            "added_edges": _listed(self.added_edges),
            "removed_edges": _listed(self.removed_edges),
            "source_ids": _listed(self.source_ids),
            "sink_ids": _listed(self.sink_ids),
            "source_coords": _listed(self.source_coords),
            "sink_coords": _listed(self.sink_coords),
            "bb_offset": _listed(self.bb_offset),
            "affinities": _listed(self.affinities),
            "undo_operation_id": self.undo_operation_id,
            "redo_operation_id": self.redo_operation_id,
            "status": self.status,
        }

    @classmethod
    def from_payload(
        cls,
        operation_id: int,
        kind: str,
        timestamp_ms: int,
        user_id: str,
        payload: dict[str, Any],
    ) -> OperationRecord:
        """Rebuild a record from ``payload`` output."""
        affinities = payload.get("affinities")
        undo = payload.get("undo_operation_id")
        redo = payload.get("redo_operation_id")
        return cls(
            operation_id=operation_id,
            kind=OperationKind(kind),
            timestamp_ms=timestamp_ms,
            user_id=user_id,
            old_root_ids=np.asarray(payload["old_root_ids"], dtype=np.uint64),
            new_root_ids=np.asarray(payload["new_root_ids"], dtype=np.uint64),
            new_lvl2_ids=np.asarray(payload["new_lvl2_ids"], dtype=np.uint64),
            added_edges=_edge_array(payload.get("added_edges")),
            removed_edges=_edge_array(payload.get("removed_edges")),
            source_ids=_ids(payload.get("source_ids")),
            sink_ids=_ids(payload.get("sink_ids")),
            source_coords=_coords(payload.get("source_coords")),
            sink_coords=_coords(payload.get("sink_coords")),
            bb_offset=None
            if payload.get("bb_offset") is None
            else np.asarray(payload["bb_offset"], dtype=np.int64),
            affinities=None if affinities is None else np.asarray(affinities, dtype=np.float32),
            undo_operation_id=None if undo is None else int(undo),
            redo_operation_id=None if redo is None else int(redo),
            status=int(payload.get("status", STATUS_SUCCESS)),
        )
