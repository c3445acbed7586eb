"""The synthetic dataset's materialization: a nucleus table and a cell-type table referencing it,
scripted annotation changes, a view, and versions around the scripted edits.

The annotation rows seeded for the dataset are dated at the graph's creation (they exist from the
start of its history), so versions can be taken at the edit script's times:

- version 1, 20 minutes after the build, expired (its data removed);
- version 2, 40 minutes after the build, before the first edit;
- version 3, 30 minutes after the last edit.

The last ``DELETED_SYNAPSES`` synapses are deleted 2.5 hours after the build, so version 2 holds them and
version 3 does not. The view ``synapse_graph`` lists the synapses between two different roots.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sqlalchemy import update

from dafserver.dataset.builder import load_supervoxels
from dafserver.dataset.manifest import DatasetManifest
from dafserver.materialize.engine import MaterializeEngine
from dafserver.services.annotation_store import NewAnnotation, rows, tables
from dafserver.services.annotation_validation import compile_annotation_schema

if TYPE_CHECKING:
    from dafserver.deployment import Deployment

NUCLEUS_TABLE = "nuclei"
REFERENCE_TABLE = "nucleus_cell_types"
VIEW_NAME = "synapse_graph"
DELETED_SYNAPSES = 5
DELETE_AFTER = timedelta(hours=2, minutes=30)
VERSION_OFFSETS = (timedelta(minutes=20), timedelta(minutes=40))
AFTER_LAST_EDIT = timedelta(minutes=30)
EXPIRED_AFTER_DAYS = 1
KEPT_DAYS = 36_500
NUCLEUS_HALF_BOX = (12, 12, 2)
VIEW_SQL = (
    "SELECT id, pre_pt_root_id, post_pt_root_id, size, "
    "ctr_pt_position_x, ctr_pt_position_y, ctr_pt_position_z "
    "FROM synapses WHERE pre_pt_root_id <> post_pt_root_id"
)


def naive_utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def version_times(manifest: DatasetManifest) -> list[datetime]:
    """The seeded versions' timestamps, in version order."""
    build = naive_utc(manifest.build_timestamp)
    last_edit = naive_utc(
        max((e.timestamp for e in manifest.edits), default=manifest.build_timestamp)
    )
    return [build + VERSION_OFFSETS[0], build + VERSION_OFFSETS[1], last_edit + AFTER_LAST_EDIT]


def seed_materialization(
    deployment: Deployment,
    manifest: DatasetManifest,
    *,
    aligned_volume: str,
    datastack: str,
    synapse_table: str,
    cell_type_table: str,
) -> None:
    """Add the reference tables, date the seeded rows, script the changes and freeze versions."""
    build = naive_utc(manifest.build_timestamp)
    _reference_tables(deployment, manifest, aligned_volume, cell_type_table)
    _date_rows(deployment, aligned_volume, build)
    synapses = deployment.annotation.table(aligned_volume, synapse_table)
    assert synapses is not None
    last = deployment.annotation.count(synapses)
    deployment.annotation.delete(synapses, list(range(last - DELETED_SYNAPSES + 1, last + 1)))
    with deployment.engine.begin() as conn:
        conn.execute(
            update(rows)
            .where((rows.c.table_id == synapses.id) & rows.c.deleted.is_not(None))
            .values(deleted=build + DELETE_AFTER)
        )
        conn.execute(
            update(tables)
            .where(tables.c.id == synapses.id)
            .values(last_modified=build + DELETE_AFTER)
        )
    engine = MaterializeEngine(deployment)
    ds = engine.datastack(datastack)
    assert ds is not None
    engine.catalog.add_view(
        datastack,
        VIEW_NAME,
        VIEW_SQL,
        description="Synapses between two different cells, with their roots and size.",
        voxel_resolution=manifest.graph.resolution,
    )
    for number, when in enumerate(version_times(manifest)):
        expires = EXPIRED_AFTER_DAYS if number == 0 else KEPT_DAYS
        made = engine.new_version(ds, when, days_to_expire=expires, merged=True)
        if number == 0:
            engine.expire(made)


def _date_rows(deployment: Deployment, aligned_volume: str, when: datetime) -> None:
    """Date every seeded table and row at ``when`` (the graph's creation)."""
    with deployment.engine.begin() as conn:
        ids = [
            int(i)
            for i in conn.execute(
                tables.select()
                .with_only_columns(tables.c.id)
                .where(tables.c.aligned_volume == aligned_volume)
            ).scalars()
        ]
        conn.execute(
            update(tables).where(tables.c.id.in_(ids)).values(created=when, last_modified=when)
        )
        conn.execute(update(rows).where(rows.c.table_id.in_(ids)).values(created=when))


def _reference_tables(
    deployment: Deployment, manifest: DatasetManifest, aligned_volume: str, cell_type_table: str
) -> None:
    """``nuclei`` (one nucleus per cell, at its cell-type point) and ``nucleus_cell_types``
    (the cell types again, as a reference table pointing at the nuclei)."""
    store = deployment.annotation
    admin = str(deployment.auth.user_id_by_email("admin@dafserver.local"))
    cells = store.table(aligned_volume, cell_type_table)
    assert cells is not None
    live = store.get(cells, range(1, store.count(cells) + 1))
    volume_um3 = _neuron_volumes(manifest)
    resolution = manifest.graph.resolution
    nuclei = store.create_table(
        aligned_volume,
        NUCLEUS_TABLE,
        "nucleus_detection",
        description="Synthetic nuclei: one per cell, at its cell-type point.",
        user_id=admin,
        voxel_resolution=resolution,
    )
    plan = compile_annotation_schema("nucleus_detection", _schema(deployment, "nucleus_detection"))
    half = np.asarray(NUCLEUS_HALF_BOX)
    items = []
    for index, row in enumerate(live):
        point = np.asarray(row.data["pt_position"], dtype=np.int64)
        items.append(
            NewAnnotation(
                explicit_id=None,
                target_id=None,
                data=plan.load(
                    {
                        "pt": {"position": point.tolist()},
                        "bb_start": {"position": (point - half).tolist()},
                        "bb_end": {"position": (point + half).tolist()},
                        "volume": float(volume_um3[index % len(volume_um3)]),
                    }
                ),
            )
        )
    nucleus_ids = store.insert(nuclei, items)
    reference = store.create_table(
        aligned_volume,
        REFERENCE_TABLE,
        "cell_type_reference",
        description="Cell types of the synthetic nuclei (references nuclei by target_id).",
        user_id=admin,
        voxel_resolution=resolution,
        reference_table=NUCLEUS_TABLE,
    )
    store.insert(
        reference,
        [
            NewAnnotation(
                explicit_id=None,
                target_id=nucleus_id,
                data={
                    "classification_system": row.data["classification_system"],
                    "cell_type": row.data["cell_type"],
                },
            )
            for nucleus_id, row in zip(nucleus_ids, live, strict=True)
        ],
    )


def _neuron_volumes(manifest: DatasetManifest) -> list[float]:
    """Each neuron's labelled volume in µm³, by neuron label order."""
    _, neurons, counts = load_supervoxels(manifest)
    totals = pd.Series(counts).groupby(neurons).sum()
    voxel = float(np.prod(manifest.graph.resolution)) / 1e9
    return [round(float(v) * voxel, 3) for v in totals.to_numpy()] or [1.0]


def _schema(deployment: Deployment, schema_type: str) -> dict[str, object]:
    document = deployment.schemas.get(schema_type)
    assert document is not None
    return document
