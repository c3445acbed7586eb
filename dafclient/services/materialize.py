"""The MaterializationEngine: versions of the datastack's annotation tables and queries on them.

A *version* is a frozen copy of every annotation table at a timestamp, with each bound point's
supervoxel and its root at that time (``pre_pt_root_id``…). :meth:`~MaterializeClient.query_table`
reads one table of a version (default: the most recent one), :meth:`~MaterializeClient.join_query`
joins two, and :meth:`~MaterializeClient.live_live_query` reads a table as it is at any timestamp
(rows created or deleted since the closest version included, roots at that timestamp).

Filters of :meth:`query_table` are keyed by column (``{"pre_pt_root_id": [...]}``), those of the
join and live queries by table then column, as in CAVEclient. Results are DataFrames; positions come
split into ``_x/_y/_z`` columns from the server and are merged back into one column of numpy arrays
unless ``split_positions=True``. ``df.attrs`` holds the server's ``dataframe_resolution``, its
``column_names`` header and its warnings.

Differences from CAVEclient: ``filter_out_dict`` is sent (as ``filter_notin_dict``) *and* applied to
the returned rows, because production ignores it (so with a ``limit`` fewer rows can come back);
responses are read as Arrow when pyarrow is installed, else as JSON records. This module is the
start of the client half: ``synapse_query``, client-side timestamp queries (``query_table(timestamp=)``)
and reference merging are still to come.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
from dafgen.materialize_v2.api.materialize import get_table_count, get_tables
from dafgen.materialize_v3.api.materialize import (
    get_table_metadata,
    get_unique_string_values,
    get_version_metadata,
    get_versions,
    get_versions_metadata,
    get_view_metadata,
    get_view_schema,
    get_view_schemas,
    get_views,
    join_query,
    live_query,
    query_table,
    query_view,
)

from dafclient import _generated as gen
from dafclient._context import ApiVersions
from dafclient._plan import Call, Plan, async_op, read_json, sync_op
from dafclient._service import AsyncBinding, ServiceClient, SyncBinding
from dafclient.errors import InputError, ResponseFormatError
from dafclient.timestamps import TimestampLike, from_epoch_seconds, to_epoch_seconds

if TYPE_CHECKING:
    import pandas as pd

MATERIALIZE_API = ApiVersions("materialize", known=(3,), versions_path="/materialize/api/versions")
"""dafclient speaks v3 (and, like CAVEclient, the v2 ``tables`` and ``count`` routes)."""
ARROW_MEDIA_TYPE = "data.arrow"
FILTER_KINDS = (
    "filter_in_dict",
    "filter_out_dict",
    "filter_equal_dict",
    "filter_greater_dict",
    "filter_less_dict",
    "filter_greater_equal_dict",
    "filter_less_equal_dict",
    "filter_spatial_dict",
    "filter_regex_dict",
)
_AXES = ("x", "y", "z")


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _server_time(text: Any) -> datetime | None:
    """A version timestamp (naive ISO, UTC) as an aware datetime."""
    if text is None:
        return None
    return datetime.fromisoformat(str(text)).replace(tzinfo=UTC)


def _version_record(data: Any, request: Call) -> dict[str, Any]:
    if not isinstance(data, dict) or "version" not in data:
        raise ResponseFormatError("expected a version record", method="GET", url=request.url)
    record = dict(data)
    record["time_stamp"] = _server_time(record.get("time_stamp"))
    record["expires_on"] = _server_time(record.get("expires_on"))
    return record


def _iso(timestamp: TimestampLike) -> str:
    return from_epoch_seconds(to_epoch_seconds(timestamp)).isoformat()


def _jsonable(value: Any) -> Any:
    """Filter values as JSON: numpy arrays and scalars become lists and numbers."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def merge_positions(frame: pd.DataFrame) -> pd.DataFrame:
    """``X_position_x/_y/_z`` triples → one ``X_position`` column of int64 arrays, in place of x."""
    columns = list(frame.columns)
    out = frame
    for name in columns:
        if not (isinstance(name, str) and name.endswith("_position_x")):
            continue
        base = name[:-2]
        triple = [f"{base}_{a}" for a in _AXES]
        if not all(t in out.columns for t in triple):
            continue
        values = out[triple].to_numpy(dtype=np.int64, na_value=0)
        at = list(out.columns).index(name)
        out = out.drop(columns=triple)
        out.insert(at, base, list(values))
    return out


def apply_not_in(frame: pd.DataFrame, filters: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Drop the rows whose columns hold a not-in value (production ignores the filter)."""
    keep = np.ones(len(frame), dtype=np.bool_)
    for columns in filters.values():
        for column, values in columns.items():
            if column in frame.columns:
                listed = values if isinstance(values, list | tuple | set | np.ndarray) else [values]
                keep &= ~frame[column].isin(list(listed)).to_numpy()
    return frame[keep].reset_index(drop=True)


def decode_query(request: Call, response: httpx.Response, split_positions: bool) -> pd.DataFrame:
    """A query response (Arrow IPC stream or JSON records) as a DataFrame with its headers in
    ``attrs``."""
    import pandas as pd

    kind = response.headers.get("content-type", "")
    if kind == ARROW_MEDIA_TYPE:
        import pyarrow as pa

        try:
            frame: pd.DataFrame = pa.ipc.open_stream(response.content).read_all().to_pandas()
        except (pa.ArrowInvalid, OSError) as exc:
            raise ResponseFormatError(
                f"unreadable Arrow stream: {exc}", method=request.method, url=request.url
            ) from exc
    else:
        data = read_json(request, response)
        if not isinstance(data, list):
            raise ResponseFormatError(
                "expected a list of records", method=request.method, url=request.url
            )
        frame = pd.DataFrame(data)
    if not split_positions:
        frame = merge_positions(frame)
    resolution = response.headers.get_list("dataframe_resolution")
    if len(resolution) == 1 and "," in resolution[0]:
        resolution = resolution[0].split(",")
    frame.attrs["dataframe_resolution"] = [float(r) for r in resolution]
    frame.attrs["column_names"] = response.headers.get("column_names")
    frame.attrs["warnings"] = response.headers.get_list("Warning")
    return frame


class MaterializeBase(ServiceClient):
    """Plans of the materialization client; see :class:`MaterializeClient`."""

    API = MATERIALIZE_API
    LOCAL = True

    def __init__(self, *args: Any, version: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._version = version

    def _datastack(self) -> str:
        return self._ctx.require_datastack(None)

    def _resolve_version(self, version: int | None) -> Plan[int]:
        if version is not None:
            return version
        if self._version is not None:
            return self._version
        return (yield from self._most_recent_version())

    # -- versions ----------------------------------------------------------------------------------
    def _get_versions(self, expired: bool = False) -> Plan[list[int]]:
        """Version numbers of the datastack (valid ones; all with ``expired=True``)."""
        request = gen.call(
            get_versions, (yield from self._server()), self._datastack(), expired=expired
        )
        data = read_json(request, (yield request))
        if not isinstance(data, list) or not all(isinstance(v, int) for v in data):
            raise ResponseFormatError("expected a list of versions", method="GET", url=request.url)
        return list(data)

    def _most_recent_version(self) -> Plan[int]:
        """The largest valid version number."""
        versions = yield from self._get_versions()
        if not versions:
            raise InputError(f"datastack {self._datastack()!r} has no valid version")
        return max(versions)

    def _get_version_metadata(self, version: int | None = None) -> Plan[dict[str, Any]]:
        """A version's record; ``time_stamp`` and ``expires_on`` as UTC datetimes."""
        number = yield from self._resolve_version(version)
        request = gen.call(
            get_version_metadata, (yield from self._server()), self._datastack(), number
        )
        return _version_record(read_json(request, (yield request)), request)

    def _get_timestamp(self, version: int | None = None) -> Plan[datetime]:
        """The instant a version represents (UTC)."""
        record = yield from self._get_version_metadata(version)
        stamp = record["time_stamp"]
        assert isinstance(stamp, datetime)
        return stamp

    def _get_versions_metadata(self, expired: bool = False) -> Plan[list[dict[str, Any]]]:
        """Records of the datastack's versions (see :meth:`get_version_metadata`)."""
        request = gen.call(
            get_versions_metadata,
            (yield from self._server()),
            self._datastack(),
            expired=expired,
            accept=frozenset({404}),
        )
        response = yield request
        if response.status_code == 404:
            return []
        data = read_json(request, response)
        if not isinstance(data, list):
            raise ResponseFormatError("expected a list", method="GET", url=request.url)
        return [_version_record(item, request) for item in data]

    # -- tables ------------------------------------------------------------------------------------
    def _get_tables(self, version: int | None = None) -> Plan[list[str]]:
        """Names of a version's tables."""
        number = yield from self._resolve_version(version)
        request = gen.call(get_tables, (yield from self._server()), self._datastack(), number)
        data = read_json(request, (yield request))
        if not isinstance(data, list):
            raise ResponseFormatError("expected a list", method="GET", url=request.url)
        return [str(name) for name in data]

    def _get_table_metadata(
        self, table_name: str, version: int | None = None
    ) -> Plan[dict[str, Any]]:
        """A table's metadata at a version, with ``voxel_resolution`` ``[x, y, z]`` added."""
        number = yield from self._resolve_version(version)
        request = gen.call(
            get_table_metadata, (yield from self._server()), self._datastack(), number, table_name
        )
        data = read_json(request, (yield request))
        if not isinstance(data, dict):
            raise ResponseFormatError("expected an object", method="GET", url=request.url)
        record = dict(data)
        record["voxel_resolution"] = [
            record.get("voxel_resolution_x"),
            record.get("voxel_resolution_y"),
            record.get("voxel_resolution_z"),
        ]
        return record

    def _get_annotation_count(
        self, table_name: str, version: int | None = None
    ) -> Plan[int | None]:
        """Valid rows of a table at a version (None if the version lacks it)."""
        number = yield from self._resolve_version(version)
        request = gen.call(
            get_table_count, (yield from self._server()), self._datastack(), number, table_name
        )
        data = read_json(request, (yield request))
        if data is not None and not isinstance(data, int):
            raise ResponseFormatError("expected a count", method="GET", url=request.url)
        return data

    # -- queries -----------------------------------------------------------------------------------
    def _query_call(self, request: Call) -> Call:
        arrow = _has_pyarrow()
        params = dict(request.params or {})
        params.update(return_pyarrow=arrow, arrow_format=True, direct_sql_pandas=True)
        headers = {**(request.headers or {}), "Accept-Encoding": "zstd" if arrow else "gzip"}
        return dataclasses.replace(request, params=params, headers=headers, idempotent=True)

    def _query_table(
        self,
        table: str,
        *,
        filter_in_dict: Mapping[str, Iterable[Any]] | None = None,
        filter_out_dict: Mapping[str, Iterable[Any]] | None = None,
        filter_equal_dict: Mapping[str, Any] | None = None,
        filter_greater_dict: Mapping[str, Any] | None = None,
        filter_less_dict: Mapping[str, Any] | None = None,
        filter_greater_equal_dict: Mapping[str, Any] | None = None,
        filter_less_equal_dict: Mapping[str, Any] | None = None,
        filter_spatial_dict: Mapping[str, Sequence[Sequence[float]]] | None = None,
        filter_regex_dict: Mapping[str, str] | None = None,
        select_columns: Sequence[str] | None = None,
        offset: int | None = None,
        limit: int | None = None,
        desired_resolution: Sequence[float] | None = None,
        split_positions: bool = False,
        materialization_version: int | None = None,
        random_sample: int | None = None,
        get_counts: bool = False,
    ) -> Plan[pd.DataFrame]:
        """Rows of ``table`` at a version (default: the most recent) matching every filter."""
        if limit is not None and limit <= 0:
            raise InputError("limit must be positive")
        number = yield from self._resolve_version(materialization_version)
        given = {
            "filter_in_dict": filter_in_dict,
            "filter_out_dict": filter_out_dict,
            "filter_equal_dict": filter_equal_dict,
            "filter_greater_dict": filter_greater_dict,
            "filter_less_dict": filter_less_dict,
            "filter_greater_equal_dict": filter_greater_equal_dict,
            "filter_less_equal_dict": filter_less_equal_dict,
            "filter_spatial_dict": filter_spatial_dict,
            "filter_regex_dict": filter_regex_dict,
        }
        filters = {k: {table: dict(v)} for k, v in given.items() if v is not None}
        body = self._body(filters, offset, limit, desired_resolution)
        if select_columns is not None:
            body["select_columns"] = list(select_columns)
        request = self._query_call(
            gen.call(
                query_table,
                (yield from self._server()),
                self._datastack(),
                number,
                table,
                body=gen.RawBody(body),
                count=get_counts,
                random_sample=random_sample,
            )
        )
        frame = decode_query(request, (yield request), split_positions)
        return self._post_filter(frame, filters)

    def _join_query(
        self,
        tables: Sequence[Sequence[str]],
        *,
        filter_in_dict: Mapping[str, Mapping[str, Any]] | None = None,
        filter_out_dict: Mapping[str, Mapping[str, Any]] | None = None,
        filter_equal_dict: Mapping[str, Mapping[str, Any]] | None = None,
        filter_greater_dict: Mapping[str, Mapping[str, Any]] | None = None,
        filter_less_dict: Mapping[str, Mapping[str, Any]] | None = None,
        filter_greater_equal_dict: Mapping[str, Mapping[str, Any]] | None = None,
        filter_less_equal_dict: Mapping[str, Mapping[str, Any]] | None = None,
        filter_spatial_dict: Mapping[str, Mapping[str, Any]] | None = None,
        filter_regex_dict: Mapping[str, Mapping[str, str]] | None = None,
        select_columns: Mapping[str, Sequence[str]] | None = None,
        suffixes: Mapping[str, str] | None = None,
        offset: int | None = None,
        limit: int | None = None,
        desired_resolution: Sequence[float] | None = None,
        split_positions: bool = False,
        materialization_version: int | None = None,
    ) -> Plan[pd.DataFrame]:
        """``t1 JOIN t2 ON t1.c1 = t2.c2`` for ``tables=[[t1, c1], [t2, c2]]`` at a version;
        filters, ``select_columns`` and ``suffixes`` are keyed by table."""
        number = yield from self._resolve_version(materialization_version)
        filters = self._table_filters(locals())
        body = self._body(filters, offset, limit, desired_resolution)
        body["tables"] = [list(t) for t in tables]
        if select_columns is not None:
            body["select_column_map"] = {t: list(c) for t, c in select_columns.items()}
        if suffixes is not None:
            body["suffix_map"] = dict(suffixes)
        request = self._query_call(
            gen.call(
                join_query,
                (yield from self._server()),
                self._datastack(),
                number,
                body=gen.RawBody(body),
            )
        )
        frame = decode_query(request, (yield request), split_positions)
        return self._post_filter(frame, filters)

    def _live_live_query(
        self,
        table: str,
        timestamp: TimestampLike,
        *,
        joins: Sequence[Sequence[str]] | None = None,
        filter_in_dict: Mapping[str, Mapping[str, Any]] | None = None,
        filter_out_dict: Mapping[str, Mapping[str, Any]] | None = None,
        filter_equal_dict: Mapping[str, Mapping[str, Any]] | None = None,
        filter_greater_dict: Mapping[str, Mapping[str, Any]] | None = None,
        filter_less_dict: Mapping[str, Mapping[str, Any]] | None = None,
        filter_greater_equal_dict: Mapping[str, Mapping[str, Any]] | None = None,
        filter_less_equal_dict: Mapping[str, Mapping[str, Any]] | None = None,
        filter_spatial_dict: Mapping[str, Mapping[str, Any]] | None = None,
        filter_regex_dict: Mapping[str, Mapping[str, str]] | None = None,
        select_columns: Mapping[str, Sequence[str]] | None = None,
        suffixes: Mapping[str, str] | None = None,
        offset: int | None = None,
        limit: int | None = None,
        desired_resolution: Sequence[float] | None = None,
        split_positions: bool = False,
        allow_invalid_root_ids: bool = False,
    ) -> Plan[pd.DataFrame]:
        """``table`` as it is at ``timestamp``: rows alive then, roots at that time. Filters,
        ``select_columns`` (must include the main table's ``id``) and ``suffixes`` are keyed by
        table; ``joins`` is ``[[t1, c1, t2, c2], ...]``."""
        filters = self._table_filters(locals())
        body = self._body(filters, offset, limit, desired_resolution)
        body["table"] = table
        body["timestamp"] = _iso(timestamp)
        if joins is not None:
            body["join_tables"] = [list(j) for j in joins]
        if select_columns is not None:
            body["select_columns"] = {t: list(c) for t, c in select_columns.items()}
        if suffixes is not None:
            body["suffixes"] = dict(suffixes)
        request = self._query_call(
            gen.call(
                live_query,
                (yield from self._server()),
                self._datastack(),
                body=gen.RawBody(body),
                allow_invalid_root_ids=allow_invalid_root_ids,
            )
        )
        frame = decode_query(request, (yield request), split_positions)
        return self._post_filter(frame, filters)

    # -- views and string values -------------------------------------------------------------------
    def _json_get(
        self, endpoint: Any, *args: Any, accept: frozenset[int] = frozenset()
    ) -> Plan[Any]:
        request = gen.call(
            endpoint, (yield from self._server()), self._datastack(), *args, accept=accept
        )
        response = yield request
        return None if response.status_code in accept else read_json(request, response)

    def _get_views(self, version: int | None = None) -> Plan[dict[str, dict[str, Any]]]:
        """The views of a version: ``{name: {"id", "description"}}``."""
        number = yield from self._resolve_version(version)
        data = yield from self._json_get(get_views, number)
        if not isinstance(data, dict):
            raise ResponseFormatError("expected an object of views", method="GET", url="")
        return data

    def _get_view_metadata(
        self, view_name: str, materialization_version: int | None = None
    ) -> Plan[dict[str, Any]]:
        """A view's metadata (``voxel_resolution`` ``[x, y, z]`` added)."""
        number = yield from self._resolve_version(materialization_version)
        data = yield from self._json_get(get_view_metadata, number, view_name)
        if not isinstance(data, dict):
            raise ResponseFormatError("expected an object", method="GET", url="")
        record = dict(data)
        record["voxel_resolution"] = [record.get(f"voxel_resolution_{a}") for a in _AXES]
        return record

    def _get_view_schema(
        self, view_name: str, materialization_version: int | None = None
    ) -> Plan[dict[str, Any]]:
        """A view's columns: ``{column: {"type": …, "format"?: …}}``."""
        number = yield from self._resolve_version(materialization_version)
        data = yield from self._json_get(get_view_schema, number, view_name)
        if not isinstance(data, dict):
            raise ResponseFormatError("expected an object", method="GET", url="")
        return data

    def _get_view_schemas(
        self, materialization_version: int | None = None
    ) -> Plan[dict[str, dict[str, Any]]]:
        """Every view's columns (``{}`` when the version has no view)."""
        number = yield from self._resolve_version(materialization_version)
        data = yield from self._json_get(get_view_schemas, number, accept=frozenset({404}))
        return {} if data is None else dict(data)

    def _query_view(
        self,
        view_name: str,
        *,
        filter_in_dict: Mapping[str, Iterable[Any]] | None = None,
        filter_out_dict: Mapping[str, Iterable[Any]] | None = None,
        filter_equal_dict: Mapping[str, Any] | None = None,
        filter_greater_dict: Mapping[str, Any] | None = None,
        filter_less_dict: Mapping[str, Any] | None = None,
        filter_greater_equal_dict: Mapping[str, Any] | None = None,
        filter_less_equal_dict: Mapping[str, Any] | None = None,
        filter_spatial_dict: Mapping[str, Sequence[Sequence[float]]] | None = None,
        filter_regex_dict: Mapping[str, str] | None = None,
        select_columns: Sequence[str] | None = None,
        offset: int | None = None,
        limit: int | None = None,
        desired_resolution: Sequence[float] | None = None,
        split_positions: bool = False,
        materialization_version: int | None = None,
        random_sample: int | None = None,
        get_counts: bool = False,
    ) -> Plan[pd.DataFrame]:
        """Rows of a view at a version; filters keyed by column, as in :meth:`query_table`."""
        number = yield from self._resolve_version(materialization_version)
        filters = {
            kind: {view_name: dict(value)} for kind, value in self._table_filters(locals()).items()
        }
        body = self._body(filters, offset, limit, desired_resolution)
        if select_columns is not None:
            body["select_columns"] = list(select_columns)
        request = self._query_call(
            gen.call(
                query_view,
                (yield from self._server()),
                self._datastack(),
                number,
                view_name,
                body=gen.RawBody(body),
                count=get_counts,
                random_sample=random_sample,
            )
        )
        frame = decode_query(request, (yield request), split_positions)
        return self._post_filter(frame, filters)

    def _get_unique_string_values(self, table: str) -> Plan[dict[str, list[str | None]]]:
        """Distinct values of each string column of a live table."""
        data = yield from self._json_get(get_unique_string_values, table)
        if not isinstance(data, dict):
            raise ResponseFormatError("expected an object", method="GET", url="")
        return {str(k): list(v) for k, v in data.items()}

    # -- helpers -----------------------------------------------------------------------------------
    @staticmethod
    def _table_filters(arguments: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """The filter arguments given (by name, from the calling method's arguments)."""
        out: dict[str, dict[str, Any]] = {}
        for kind in FILTER_KINDS:
            value = arguments.get(kind)
            if value is not None:
                out[kind] = {str(k): v for k, v in value.items()}
        return out

    @staticmethod
    def _body(
        filters: Mapping[str, Any],
        offset: int | None,
        limit: int | None,
        desired_resolution: Sequence[float] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for kind, value in filters.items():
            body["filter_notin_dict" if kind == "filter_out_dict" else kind] = _jsonable(value)
        if offset is not None:
            body["offset"] = int(offset)
        if limit is not None:
            body["limit"] = int(limit)
        if desired_resolution is not None:
            body["desired_resolution"] = [float(r) for r in desired_resolution]
        return body

    @staticmethod
    def _post_filter(frame: pd.DataFrame, filters: Mapping[str, Any]) -> pd.DataFrame:
        not_in = filters.get("filter_out_dict")
        if not not_in:
            return frame
        attrs = dict(frame.attrs)
        filtered = apply_not_in(frame, not_in)
        filtered.attrs.update(attrs)
        return filtered


class MaterializeClient(SyncBinding, MaterializeBase):
    """The datastack's MaterializationEngine, on its local server."""

    get_versions = sync_op(MaterializeBase._get_versions)
    most_recent_version = sync_op(MaterializeBase._most_recent_version)
    get_version_metadata = sync_op(MaterializeBase._get_version_metadata)
    get_timestamp = sync_op(MaterializeBase._get_timestamp)
    get_versions_metadata = sync_op(MaterializeBase._get_versions_metadata)
    get_tables = sync_op(MaterializeBase._get_tables)
    get_table_metadata = sync_op(MaterializeBase._get_table_metadata)
    get_annotation_count = sync_op(MaterializeBase._get_annotation_count)
    query_table = sync_op(MaterializeBase._query_table)
    join_query = sync_op(MaterializeBase._join_query)
    live_live_query = sync_op(MaterializeBase._live_live_query)
    get_views = sync_op(MaterializeBase._get_views)
    get_view_metadata = sync_op(MaterializeBase._get_view_metadata)
    get_view_schema = sync_op(MaterializeBase._get_view_schema)
    get_view_schemas = sync_op(MaterializeBase._get_view_schemas)
    query_view = sync_op(MaterializeBase._query_view)
    get_unique_string_values = sync_op(MaterializeBase._get_unique_string_values)


class AsyncMaterializeClient(AsyncBinding, MaterializeBase):
    """:class:`MaterializeClient` with coroutine methods."""

    get_versions = async_op(MaterializeBase._get_versions)
    most_recent_version = async_op(MaterializeBase._most_recent_version)
    get_version_metadata = async_op(MaterializeBase._get_version_metadata)
    get_timestamp = async_op(MaterializeBase._get_timestamp)
    get_versions_metadata = async_op(MaterializeBase._get_versions_metadata)
    get_tables = async_op(MaterializeBase._get_tables)
    get_table_metadata = async_op(MaterializeBase._get_table_metadata)
    get_annotation_count = async_op(MaterializeBase._get_annotation_count)
    query_table = async_op(MaterializeBase._query_table)
    join_query = async_op(MaterializeBase._join_query)
    live_live_query = async_op(MaterializeBase._live_live_query)
    get_views = async_op(MaterializeBase._get_views)
    get_view_metadata = async_op(MaterializeBase._get_view_metadata)
    get_view_schema = async_op(MaterializeBase._get_view_schema)
    get_view_schemas = async_op(MaterializeBase._get_view_schemas)
    query_view = async_op(MaterializeBase._query_view)
    get_unique_string_values = async_op(MaterializeBase._get_unique_string_values)


__all__ = [
    "AsyncMaterializeClient",
    "MaterializeClient",
    "decode_query",
    "merge_positions",
]
