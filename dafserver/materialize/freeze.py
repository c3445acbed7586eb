"""Making a version: freeze every annotation table of a datastack at a timestamp into Parquet.

A version of datastack ``ds`` at ``T`` holds, for every annotation table of its aligned volume that
existed at ``T`` (and was not deleted by then), the rows alive at ``T`` with supervoxels under their
bound points and roots at ``T`` (production: ingest, root update, then ``CREATE TABLE … AS SELECT``
of the valid rows). Merged versions hold the flat columns; split versions (``is_merged=false``) also
keep the ``created`` and ``superceded_id`` columns production's split queries return. Files are
written once and never changed: ``materialize/{ds}/v{N}/{table}.parquet`` under the data folder.
Expiring a version deletes its files and keeps its record (``EXPIRED``, not valid).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq

from dafserver.chunkedgraph.graph import ChunkedGraph
from dafserver.materialize.catalog import Catalog, Version
from dafserver.materialize.layout import Layout
from dafserver.materialize.snapshot import SupervoxelReader, build_table, rows_alive_at
from dafserver.services.annotation_store import AnnotationStore, TableInfo

VERSIONS_DIR = "materialize"


@dataclass(frozen=True)
class FreezeSource:
    """What freezing a datastack reads."""

    data_dir: Path
    aligned_volume: str
    datastack: str
    annotation: AnnotationStore
    graph: ChunkedGraph
    supervoxels: SupervoxelReader
    layouts: dict[str, Layout]
    """Layout by schema type."""


def version_dir(data_dir: Path, datastack: str, number: int) -> Path:
    return data_dir / VERSIONS_DIR / datastack / f"v{number}"


def table_file(data_dir: Path, datastack: str, number: int, table_name: str) -> Path:
    return version_dir(data_dir, datastack, number) / f"{table_name}.parquet"


def tables_at(source: FreezeSource, when: datetime) -> list[TableInfo]:
    """The aligned volume's tables that exist at ``when``."""
    found = []
    for name in source.annotation.table_names(source.aligned_volume, filter_valid=True):
        info = source.annotation.table(source.aligned_volume, name)
        if info is None or info.created > when:
            continue
        if info.deleted is not None and info.deleted <= when:
            continue
        if info.schema_type in source.layouts:
            found.append(info)
    return found


def freeze(
    catalog: Catalog,
    source: FreezeSource,
    when: datetime,
    *,
    expires_on: datetime | None,
    is_merged: bool = True,
) -> Version:
    """Make a new version of ``source.datastack`` at ``when``; it is ``AVAILABLE`` on return."""
    version = catalog.start_version(
        source.aligned_volume, source.datastack, when, expires_on, is_merged
    )
    try:
        folder = version_dir(source.data_dir, source.datastack, version.version)
        folder.mkdir(parents=True, exist_ok=True)
        for info in tables_at(source, when):
            live = rows_alive_at(source.annotation.engine, info, when)
            resolution = (
                info.voxel_resolution_x,
                info.voxel_resolution_y,
                info.voxel_resolution_z,
            )
            table = build_table(
                source.layouts[info.schema_type],
                live,
                when,
                resolution,
                source.supervoxels,
                source.graph,
                crud=not is_merged,
            )
            path = table_file(source.data_dir, source.datastack, version.version, info.table_name)
            tmp = path.with_suffix(".tmp")
            pq.write_table(table, tmp, compression="zstd")
            tmp.replace(path)
            catalog.add_table(version, info.table_name, info.schema_type, info.created, len(live))
    except Exception:
        catalog.set_status(version, "FAILED", valid=False)
        raise
    catalog.set_status(version, "AVAILABLE", valid=True)
    return catalog.version(source.datastack, version.version) or version


def expire(catalog: Catalog, data_dir: Path, version: Version) -> None:
    """Drop a version's data and mark it ``EXPIRED`` (production's periodic removal)."""
    shutil.rmtree(version_dir(data_dir, version.datastack, version.version), ignore_errors=True)
    catalog.set_status(version, "EXPIRED", valid=False)
