"""The live query's data: every table of the query as it is at the query time ``T``.

Production (``assemble_live_query_dataframe``) queries the closest version, remaps root-id filters
to that version's time, adds the rows created or deleted between the version and ``T`` from the live
database, updates roots to ``T`` and post-filters. dafserver builds the same rows directly: the
version's Parquet rows, minus the rows whose life changed between the version and ``T``, plus those
of them alive at ``T`` (supervoxels read for rows the version does not hold), with every root
recomputed at ``T``; the query then runs on these tables with the filters as sent. The result is the
one production intends; its quirks are not copied: ``limit``/``offset`` apply once to the whole
result (production applies them to each part, so up to ~2x ``limit`` rows), and joined tables are
taken at ``T`` too (production tracks only the main table's changes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Engine

from dafserver.chunkedgraph.graph import ChunkedGraph
from dafserver.materialize.catalog import Version
from dafserver.materialize.layout import Layout
from dafserver.materialize.snapshot import (
    SupervoxelReader,
    build_table,
    roots_at,
    rows_changed_between,
)
from dafserver.services.annotation_store import TableInfo


@dataclass(frozen=True)
class LiveInputs:
    engine: Engine
    """The database holding the live annotation rows."""
    graph: ChunkedGraph
    supervoxels: SupervoxelReader


def choose_version(valid: list[Version], when: datetime) -> Version | None:
    """The newest valid version at or before ``when``, else the oldest after it."""
    past = [v for v in valid if v.time_stamp <= when]
    if past:
        return max(past, key=lambda v: v.time_stamp)
    future = [v for v in valid if v.time_stamp >= when]
    return min(future, key=lambda v: v.time_stamp) if future else None


def table_at(
    info: TableInfo,
    layout: Layout,
    version: Version,
    frozen: Path | None,
    when: datetime,
    inputs: LiveInputs,
) -> pa.Table:
    """``info``'s rows alive at ``when`` with roots at ``when`` (merged layout)."""
    resolution = (info.voxel_resolution_x, info.voxel_resolution_y, info.voxel_resolution_z)
    start, end = sorted((version.time_stamp, when))
    changed = rows_changed_between(inputs.engine, info, start, end)
    schema = layout.arrow_schema()
    if frozen is not None and frozen.is_file():
        base = pq.read_table(frozen, columns=schema.names).cast(schema)
    else:
        base = schema.empty_table()
    changed_ids = pa.array([r.id for r in changed], pa.int64())
    if len(changed):
        base = base.filter(pc.invert(pc.is_in(base["id"], value_set=changed_ids)))
    alive = [r for r in changed if r.alive_at(when)]
    added = build_table(layout, alive, when, resolution, inputs.supervoxels, inputs.graph)
    combined = pa.concat_tables([base, added]) if added.num_rows else base
    return _update_roots(combined, layout, when, inputs.graph)


def _update_roots(table: pa.Table, layout: Layout, when: datetime, graph: ChunkedGraph) -> pa.Table:
    for point in layout.bound_points:
        sv_name, root_name = f"{point}_supervoxel_id", f"{point}_root_id"
        supervoxels = table[sv_name].to_numpy(zero_copy_only=False).astype(np.uint64)
        roots = roots_at(graph, supervoxels, when).astype(np.int64)
        index = table.schema.get_field_index(root_name)
        table = table.set_column(index, root_name, pa.array(roots, pa.int64()))
    return table
