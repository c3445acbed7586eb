"""The MaterializationEngine of a deployment: what the routes ask for, over the catalog, the
frozen Parquet files (DuckDB), the live annotation rows and the chunkedgraph."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np

from dafserver.materialize.bodies import QueryBody
from dafserver.materialize.catalog import Catalog, Version, VersionTable, View, iso
from dafserver.materialize.freeze import FreezeSource, expire, freeze, table_file
from dafserver.materialize.layout import Layout, layout_for
from dafserver.materialize.live import LiveInputs, choose_version, table_at
from dafserver.materialize.lookup import supervoxels_at
from dafserver.materialize.query import (
    QUERY_LIMIT,
    QueryError,
    QueryPlan,
    QueryResult,
    Source,
    columns_of,
    run_query,
)
from dafserver.materialize.snapshot import CRUD_COLUMNS, Int64Array, UInt64Array, rows_alive_at
from dafserver.services.annotation_store import TableInfo
from dafserver.services.supervoxel_lookup import open_watershed

if TYPE_CHECKING:
    from dafserver.chunkedgraph.graph import ChunkedGraph
    from dafserver.deployment import Deployment

SERVER_VERSION = "5.26.4"
API_VERSIONS = [2, 3]
DUCKDB_THREADS = 2


QUERY_LIMIT_VARIABLE = "DAFSERVER_QUERY_LIMIT"


def query_limit_from_environment() -> int:
    """The row cap of queries: ``$DAFSERVER_QUERY_LIMIT`` if set, else production's default."""
    text = os.environ.get(QUERY_LIMIT_VARIABLE)
    if not text:
        return QUERY_LIMIT
    try:
        limit = int(text)
    except ValueError:
        raise ValueError(
            f"{QUERY_LIMIT_VARIABLE} must be a positive integer, not {text!r}"
        ) from None
    if limit <= 0:
        raise ValueError(f"{QUERY_LIMIT_VARIABLE} must be a positive integer, not {text!r}")
    return limit


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Datastack:
    name: str
    aligned_volume: str
    pcg_table: str


class MaterializeEngine:
    """Versions, metadata and queries for every datastack of a deployment."""

    def __init__(self, deployment: Deployment, *, query_limit: int | None = None) -> None:
        self.deployment = deployment
        self.query_limit = query_limit or query_limit_from_environment()
        self.catalog = Catalog(deployment.engine)
        self._duckdb = duckdb.connect(config={"threads": DUCKDB_THREADS})

    @contextlib.contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection of its own (a cursor of the shared in-memory database: opening a
        database costs tens of milliseconds, a cursor almost nothing)."""
        cursor = self._duckdb.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    # -- datastacks and layouts --------------------------------------------------------------------
    def _graph(self, ds: Datastack) -> ChunkedGraph | None:
        """The datastack's chunkedgraph with every committed edit applied (other processes
        serving the same database may have made some)."""
        from dafserver.services.chunkedgraph_access import up_to_date

        graph = self.deployment.graphs.get(ds.pcg_table)
        return None if graph is None else up_to_date(graph)

    def datastack(self, name: str) -> Datastack | None:
        record = self.deployment.info.datastack(name)
        if record is None:
            return None
        volume = self.deployment.info.aligned_volume_by_id(int(record["aligned_volume_id"]))
        source = str(record.get("segmentation_source") or "")
        return Datastack(name, str(volume["name"]) if volume else "", source.rsplit("/", 1)[-1])

    @functools.cache  # noqa: B019 - one engine per deployment, schemas never change
    def layout(self, schema_type: str) -> Layout | None:
        document = self.deployment.schemas.get(schema_type)
        return None if document is None else layout_for(schema_type, document)

    def supervoxels(
        self, positions: Int64Array, resolution: tuple[float, float, float]
    ) -> UInt64Array:
        manifest = self.deployment.manifest
        if manifest is None:
            return np.zeros(positions.shape[0], dtype=np.uint64)
        volume = open_watershed(manifest.segmentation_cloudpath)
        return supervoxels_at(volume, manifest.graph, positions, resolution)

    def annotation_table(self, ds: Datastack, table_name: str) -> TableInfo | None:
        return self.deployment.annotation.table(ds.aligned_volume, table_name)

    # -- versions ----------------------------------------------------------------------------------
    def versions(self, ds: Datastack, *, include_invalid: bool) -> list[Version]:
        return self.catalog.versions(ds.name, include_invalid=include_invalid)

    def version(self, ds: Datastack, number: int) -> Version | None:
        if not -(2**31) <= number < 2**31:
            return None  # beyond the version column's range: no such version
        return self.catalog.version(ds.name, number)

    def new_version(
        self, ds: Datastack, when: datetime, *, days_to_expire: int | None, merged: bool
    ) -> Version:
        graph = self._graph(ds)
        if graph is None:
            raise QueryError(400, f"datastack {ds.name} not configured for materialization")
        source = FreezeSource(
            data_dir=self.deployment.data_dir,
            aligned_volume=ds.aligned_volume,
            datastack=ds.name,
            annotation=self.deployment.annotation,
            graph=graph,
            supervoxels=self.supervoxels,
            layouts=self._table_layouts(ds),
        )
        try:
            expires = None if days_to_expire is None else when + timedelta(days=days_to_expire)
        except OverflowError:
            raise QueryError(400, f"days_to_expire={days_to_expire} is out of range") from None
        return freeze(self.catalog, source, when, expires_on=expires, is_merged=merged)

    def expire(self, version: Version) -> None:
        expire(self.catalog, self.deployment.data_dir, version)

    def _table_layouts(self, ds: Datastack) -> dict[str, Layout]:
        out = {}
        for name in self.deployment.annotation.table_names(ds.aligned_volume, filter_valid=False):
            info = self.annotation_table(ds, name)
            if info is not None and (layout := self.layout(info.schema_type)) is not None:
                out[info.schema_type] = layout
        return out

    # -- metadata ----------------------------------------------------------------------------------
    def table_metadata(
        self, ds: Datastack, version: Version, entry: VersionTable
    ) -> dict[str, Any]:
        """The merged metadata object of v3 (``AnalysisTable`` + the live metadata)."""
        out: dict[str, Any] = {
            "id": entry.id,
            "aligned_volume": entry.aligned_volume,
            "schema": entry.schema,
            "table_name": entry.table_name,
            "valid": entry.valid,
            "created": iso(entry.created),
        }
        info = self.annotation_table(ds, entry.table_name)
        if info is None:
            return out
        live = info.metadata_json()
        for key in ("id", "deleted"):
            live.pop(key, None)
        for key in ("created", "last_modified"):
            live[key] = iso(getattr(info, key))
        out.update(live)
        if info.reference_table is None:
            out["segmentation_source"] = None
            out["pcg_table_name"] = ds.pcg_table
            out["last_updated"] = iso(version.time_stamp)
        return out

    # -- sources -----------------------------------------------------------------------------------
    def frozen_source(self, ds: Datastack, version: Version, table_name: str) -> Source:
        entry = self.catalog.table(version, table_name)
        if entry is None:
            raise QueryError(
                404,
                f"Analysis table '{table_name}' not found for version {version.version} "
                f"in datastack {ds.name}",
            )
        path = self._file(version, table_name)
        info = self.annotation_table(ds, table_name)
        layout = self.layout(entry.schema)
        assert layout is not None
        columns = layout.columns + (() if version.is_merged else CRUD_COLUMNS)
        resolution = (
            (info.voxel_resolution_x, info.voxel_resolution_y, info.voxel_resolution_z)
            if info is not None
            else (1.0, 1.0, 1.0)
        )
        return Source(
            table_name,
            f"read_parquet({_sql_string(str(path))})",
            columns,
            resolution,
            entry.row_count,
        )

    def _file(self, version: Version, table_name: str) -> Path:
        path = table_file(self.deployment.data_dir, version.datastack, version.version, table_name)
        if not path.is_file():
            raise QueryError(410, "This materialization version is not available")
        return path

    def view_source(
        self, ds: Datastack, version: Version, view: View, connection: duckdb.DuckDBPyConnection
    ) -> Source:
        """Make the version's tables known to ``connection`` by name and return the view."""
        for entry in self.catalog.tables(version):
            path = self._file(version, entry.table_name)
            connection.sql(
                f'CREATE OR REPLACE TEMP VIEW "{entry.table_name}" AS '
                f"SELECT * FROM read_parquet({_sql_string(str(path))})"
            )
        relation = f"({view.sql})"
        schema = connection.sql(f"SELECT * FROM {relation} LIMIT 0").to_arrow_table().schema
        count = connection.sql(f"SELECT count(*) FROM {relation}").fetchall()
        return Source(
            view.view_name,
            relation,
            columns_of(schema),
            view.voxel_resolution,
            int(count[0][0]) if count else 0,
        )

    def view_schema(self, ds: Datastack, version: Version, view: View) -> dict[str, Any]:
        with self.connection() as connection:
            source = self.view_source(ds, version, view, connection)
        kinds = {
            "id": "integer",
            "supervoxel": "integer",
            "root": "integer",
            "int": "integer",
            "float": "float",
            "bool": "boolean",
            "string": "string",
            "json": "string",
            "position": "SpatialPoint",
        }
        out: dict[str, Any] = {}
        for column in source.columns:
            if column.kind == "datetime":
                out[column.name] = {"type": "string", "format": "date-time"}
            else:
                out[column.name] = {"type": kinds[column.kind]}
        return out

    # -- queries -----------------------------------------------------------------------------------
    def run(
        self, plan: QueryPlan, connection: duckdb.DuckDBPyConnection | None = None
    ) -> QueryResult:
        if connection is not None:
            return run_query(connection, plan, query_limit=self.query_limit)
        with self.connection() as own:
            return run_query(own, plan, query_limit=self.query_limit)

    def live_sources(
        self, ds: Datastack, body: QueryBody, connection: duckdb.DuckDBPyConnection
    ) -> tuple[list[Source], Version]:
        """Every table of a live query at ``body.timestamp``, registered with ``connection``."""
        assert body.table is not None and body.timestamp is not None
        when = body.timestamp
        valid = self.versions(ds, include_invalid=False)
        version = choose_version(valid, when)
        if version is None:
            raise QueryError(400, f"there is no future or past version for timestamp {when}")
        graph = self._graph(ds)
        if graph is None:
            raise QueryError(400, f"datastack {ds.name} has no chunkedgraph")
        names = [body.table]
        for join in body.join_tables or []:
            for name in (join[0], join[2]):
                if name not in names:
                    names.append(name)
        inputs = LiveInputs(self.deployment.annotation.engine, graph, self.supervoxels)
        sources = []
        for i, name in enumerate(names):
            info = self.annotation_table(ds, name)
            if info is None or info.created > when:
                raise QueryError(404, f"table {name} not found in {ds.name} at {when}")
            layout = self.layout(info.schema_type)
            assert layout is not None
            if i == 0 and version.time_stamp == when and info.last_modified > when:
                raise QueryError(
                    400, "do not use live live query to query a materialized timestamp"
                )
            entry = self.catalog.table(version, name)
            frozen = None if entry is None else self._file(version, name)
            table = table_at(info, layout, version, frozen, when, inputs)
            alias = f"live_{i}"
            connection.register(alias, table)
            sources.append(
                Source(
                    name,
                    alias,
                    layout.columns,
                    (info.voxel_resolution_x, info.voxel_resolution_y, info.voxel_resolution_z),
                    table.num_rows,
                )
            )
        return sources, version

    def check_live_roots(self, ds: Datastack, body: QueryBody, allow_invalid: bool) -> list[str]:
        """Root-id filter values must be roots at the query time (production's remapping check);
        with ``allow_invalid`` they are dropped with a warning instead."""
        assert body.timestamp is not None
        graph = self._graph(ds)
        if graph is None:
            return []
        seconds = body.timestamp.replace(tzinfo=UTC).timestamp()
        kinds = (
            "filter_in_dict",
            "filter_equal_dict",
            "filter_greater_dict",
            "filter_less_dict",
            "filter_greater_equal_dict",
            "filter_less_equal_dict",
        )
        found: list[int] = []
        for kind in kinds:
            for columns in body.filters.get(kind, {}).values():
                if not isinstance(columns, dict):
                    continue
                for column, value in columns.items():
                    if str(column).endswith("root_id"):
                        values = value if isinstance(value, list) else [value]
                        found.extend(
                            v for v in values if isinstance(v, int) and not isinstance(v, bool)
                        )
        if not found:
            return []
        ids = np.asarray([v % 2**64 for v in found], dtype=np.uint64)
        latest = graph.is_latest_roots(ids, timestamp=seconds)
        bad = sorted({int(i) for i in ids[~latest]})
        if not bad:
            return []
        message = f"Some root_ids passed are not valid at the query timestamp: {bad}"
        if not allow_invalid:
            raise QueryError(400, message)
        bad_set = set(bad)
        for kind in kinds:
            for columns in body.filters.get(kind, {}).values():
                if not isinstance(columns, dict):
                    continue
                for column, value in list(columns.items()):
                    if str(column).endswith("root_id"):
                        if isinstance(value, list):
                            kept = [v for v in value if v not in bad_set]
                            if not kept:
                                raise QueryError(400, "all root_ids passed are invalid")
                            columns[column] = kept
                        elif value in bad_set:
                            raise QueryError(400, "all root_ids passed are invalid")
        return [message]

    # -- unique string values ----------------------------------------------------------------------
    def unique_string_values(self, ds: Datastack, info: TableInfo) -> dict[str, list[str | None]]:
        layout = self.layout(info.schema_type)
        assert layout is not None
        strings = [c.name for c in layout.columns if c.kind == "string"]
        live = rows_alive_at(self.deployment.annotation.engine, info, datetime.max)
        out: dict[str, list[str | None]] = {}
        for name in strings:
            seen: dict[str | None, None] = {}
            for row in live:
                value = row.data.get(name)
                seen.setdefault(None if value is None else str(value), None)
            out[name] = list(seen)
        return out


def freeze_now(deployment: Deployment, days_to_expire: int) -> list[Version]:
    """A new version of the current state of every datastack whose chunkedgraph is served."""
    engine = MaterializeEngine(deployment)
    now = datetime.now(UTC).replace(tzinfo=None)
    made = []
    for name in deployment.info.datastack_names():
        ds = engine.datastack(name)
        if ds is not None and ds.pcg_table in deployment.graphs:
            made.append(engine.new_version(ds, now, days_to_expire=days_to_expire, merged=True))
    return made
