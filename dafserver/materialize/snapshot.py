"""Annotation rows of the live database as Arrow tables in a materialized layout.

The live rows live in the AnnotationEngine's storage (``annotation_rows``). A row is alive at ``T``
when it was created at or before ``T`` and not deleted (or superseded) by ``T``. Building a table
adds the supervoxel under every bound point (:mod:`dafserver.materialize.lookup`) and its root at
the requested time (the chunkedgraph).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from sqlalchemy import Engine, and_, or_, select

from dafserver.chunkedgraph.graph import ChunkedGraph
from dafserver.materialize.layout import Column, Layout
from dafserver.services.annotation_store import TableInfo, rows

Int64Array = npt.NDArray[np.int64]
UInt64Array = npt.NDArray[np.uint64]
SupervoxelReader = Callable[[Int64Array, tuple[float, float, float]], UInt64Array]
"""(positions int64[N, 3] in voxels of a resolution, that resolution) → supervoxel ids."""

CRUD_COLUMNS = (Column("created", "datetime"), Column("superceded_id", "id"))
"""Split-mode columns kept in query output (production drops ``deleted`` and ``superceded``)."""


@dataclass(frozen=True)
class LiveRow:
    id: int
    created: datetime
    deleted: datetime | None
    superceded_id: int | None
    target_id: int | None
    data: dict[str, Any]

    def alive_at(self, when: datetime) -> bool:
        return self.created <= when and (self.deleted is None or self.deleted > when)


def seconds(when: datetime) -> float:
    """A naive UTC datetime as POSIX seconds (the chunkedgraph's time)."""
    return when.replace(tzinfo=UTC).timestamp()


def _live_rows(engine: Engine, table: TableInfo, where: Any) -> list[LiveRow]:
    query = (
        select(
            rows.c.id,
            rows.c.created,
            rows.c.deleted,
            rows.c.superceded_id,
            rows.c.target_id,
            rows.c.data,
        )
        .where((rows.c.table_id == table.id) & where)
        .order_by(rows.c.id)
    )
    with engine.connect() as conn:
        return [
            LiveRow(
                int(r.id),
                r.created,
                r.deleted,
                None if r.superceded_id is None else int(r.superceded_id),
                None if r.target_id is None else int(r.target_id),
                r.data if isinstance(r.data, dict) else json.loads(r.data),
            )
            for r in conn.execute(query)
        ]


def rows_alive_at(engine: Engine, table: TableInfo, when: datetime) -> list[LiveRow]:
    """The rows of ``table`` alive at ``when``, in id order."""
    alive = and_(rows.c.created <= when, or_(rows.c.deleted.is_(None), rows.c.deleted > when))
    return _live_rows(engine, table, alive)


def rows_changed_between(
    engine: Engine, table: TableInfo, start: datetime, end: datetime
) -> list[LiveRow]:
    """Rows created or deleted in ``(start, end]``: those whose life differs between the two."""
    changed = or_(
        and_(rows.c.created > start, rows.c.created <= end),
        and_(rows.c.deleted > start, rows.c.deleted <= end),
    )
    return _live_rows(engine, table, changed)


def _positions(values: Sequence[Any]) -> Int64Array:
    out = np.zeros((len(values), 3), dtype=np.int64)
    for i, value in enumerate(values):
        if isinstance(value, list | tuple) and len(value) == 3:
            out[i] = [int(v) for v in value]
    return out


def build_table(
    layout: Layout,
    live: Sequence[LiveRow],
    when: datetime,
    resolution: tuple[float, float, float],
    supervoxels: SupervoxelReader,
    graph: ChunkedGraph,
    *,
    crud: bool = False,
) -> pa.Table:
    """The rows ``live`` as of ``when`` in ``layout``'s columns (plus the split-mode CRUD columns
    with ``crud``): positions split into int32 ``_x/_y/_z``, supervoxels, roots at ``when``."""
    arrays: dict[str, Any] = {}
    points: dict[str, Int64Array] = {}
    for column in layout.columns:
        if column.kind == "id" and column.name == "id":
            arrays["id"] = np.asarray([r.id for r in live], dtype=np.int64)
        elif column.name == "target_id":
            arrays["target_id"] = pa.array([r.target_id for r in live], pa.int64())
        elif column.name == "valid":
            arrays["valid"] = np.ones(len(live), dtype=np.bool_)
        elif column.kind == "position":
            xyz = _positions([r.data.get(column.name) for r in live])
            if column.point is not None:
                points[column.point] = xyz
            for axis, name in enumerate(column.physical):
                arrays[name] = xyz[:, axis].astype(np.int32)
        elif column.kind == "supervoxel":
            assert column.point is not None
            arrays[column.name] = supervoxels(points[column.point], resolution).astype(np.int64)
        elif column.kind == "root":
            sv = np.asarray(arrays[f"{column.point}_supervoxel_id"]).astype(np.uint64)
            arrays[column.name] = roots_at(graph, sv, when).astype(np.int64)
        elif column.kind == "json":
            arrays[column.name] = pa.array(
                [
                    None if r.data.get(column.name) is None else json.dumps(r.data[column.name])
                    for r in live
                ],
                pa.string(),
            )
        else:
            arrays[column.name] = [r.data.get(column.name) for r in live]
    extra: tuple[Column, ...] = ()
    if crud:
        extra = CRUD_COLUMNS
        arrays["created"] = pa.array(
            [r.created.replace(tzinfo=UTC) for r in live], pa.timestamp("ns", tz="UTC")
        )
        arrays["superceded_id"] = pa.array([r.superceded_id for r in live], pa.int64())
    schema = layout.arrow_schema(extra)
    return pa.Table.from_arrays(
        [pa.array(arrays[field.name], field.type) for field in schema], schema=schema
    )


def roots_at(graph: ChunkedGraph, supervoxels: UInt64Array, when: datetime) -> UInt64Array:
    """Root of each supervoxel at ``when`` (0 stays 0; unknown ids give 0)."""
    out = np.zeros(supervoxels.shape[0], dtype=np.uint64)
    known = supervoxels != 0
    if known.any():
        out[known] = graph.get_roots(supervoxels[known], timestamp=seconds(when))
    return out
