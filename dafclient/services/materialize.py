"""The MaterializationEngine: versions of the datastack's annotation tables and queries on them.

A *version* is a frozen copy of every annotation table at a timestamp, with each bound point's
supervoxel and its root at that time (``pre_pt_root_id``…). :meth:`~MaterializeClient.query_table`
reads one table of a version (default: the client's pinned version, else the most recent one;
a table referencing another is joined with it), :meth:`~MaterializeClient.join_query` joins two,
:meth:`~MaterializeClient.synapse_query` reads the synapse table by pre/post roots.
``query_table(timestamp=T)`` / :meth:`~MaterializeClient.live_query` compute a table's roots at T
on this side, as CAVEclient does; :meth:`~MaterializeClient.live_live_query` asks the server, which
also accounts for rows created or deleted since the closest version. ``tables.<name>(column=...)``
makes typed queries (:mod:`dafclient.services.materialize_tables`).

Filters of :meth:`query_table` are keyed by column (``{"pre_pt_root_id": [...]}``), those of the
join and live queries by table then column, as in CAVEclient. Results are DataFrames built from
Arrow column by column (:mod:`dafclient.services.materialize_frames`): positions merged into one
``[x, y, z]`` column each unless ``split_positions=True``, uint64 ids, UTC timestamps, the query
and the server's headers in ``df.attrs``, its warnings issued as :class:`MaterializeWarning`.

Differences from CAVEclient: ``filter_out_dict`` is sent (as ``filter_notin_dict``) *and* applied to
the returned rows, because production ignores it (so with a ``limit`` fewer rows can come back,
and ``synapse_query(include_zeros=False)`` works); merged positions are Arrow fixed-size lists
(``df.pt_position.to_numpy()`` gives numpy arrays, ``.iloc[i]`` a list); ids are uint64; where the
client knows a table's columns (its metadata was fetched) a wrong filter is an
:class:`~dafclient.errors.InputError` before anything is sent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from dafclient import _generated as gen
from dafclient._context import ApiVersions
from dafclient._plan import Call, Plan, async_op, sync_op
from dafclient._service import AsyncBinding, ServiceClient, SyncBinding, datastack_record
from dafclient._wire.materialize_v2.api.materialize import get_table_count, get_tables
from dafclient._wire.materialize_v3.api.materialize import (
    get_table_metadata,
    get_tables_metadata,
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
from dafclient._wire.materialize_v3.models import (
    AnalysisVersion,
    JoinQuery,
    LiveQuery,
    SimpleQuery,
)
from dafclient._wire.materialize_v3.models import TableMetadata as MaterializeTableMetadata
from dafclient.errors import InputError, ResponseFormatError
from dafclient.records import (
    MaterializedTableMetadata,
    VersionMetadata,
    ViewColumn,
    ViewListing,
    ViewMetadata,
)
from dafclient.resolutions import checked_resolution
from dafclient.services.materialize_frames import (
    MaterializeWarning,
    apply_filters,
    decode_query,
    merge_positions,
    scale_positions,
)
from dafclient.timestamps import TimestampLike, from_epoch_seconds, to_epoch_seconds

if TYPE_CHECKING:
    import pandas as pd

    from dafclient.services.chunkedgraph import ChunkedGraphBase
    from dafclient.services.materialize_tables import AsyncTableManager, TableManager

MATERIALIZE_API = ApiVersions("materialize", known=(3,), versions_path="/materialize/api/versions")
"""dafclient speaks v3 (and, like CAVEclient, the v2 ``tables`` and ``count`` routes)."""
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
POST_FILTER_KINDS = FILTER_KINDS[:7]
"""The filters a client-side live query applies again to the rows with their new roots."""
_AXES = ("x", "y", "z")


def _server_time(text: Any) -> datetime | None:
    """A version timestamp (naive ISO, UTC) as an aware datetime."""
    if text is None:
        return None
    return datetime.fromisoformat(str(text)).replace(tzinfo=UTC)


def _version_record(version: AnalysisVersion) -> VersionMetadata:
    """The record users get: the service's keys, timestamps as UTC datetimes."""
    record: dict[str, Any] = version.to_dict()
    record["time_stamp"] = _server_time(version.time_stamp)
    record["expires_on"] = _server_time(version.expires_on or None)
    return cast(VersionMetadata, record)


def _with_resolution(data: dict[str, Any]) -> dict[str, Any]:
    """A table or view record with CAVEclient's ``voxel_resolution`` ``[x, y, z]`` added."""
    data["voxel_resolution"] = [data[f"voxel_resolution_{a}"] for a in _AXES]
    return data


def _aware(timestamp: TimestampLike) -> datetime:
    return from_epoch_seconds(to_epoch_seconds(timestamp))


def _iso(timestamp: TimestampLike) -> str:
    return _aware(timestamp).isoformat()


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


def _with_metadata(frame: pd.DataFrame, metadata: bool) -> pd.DataFrame:
    """``frame`` without its ``attrs`` when the caller asked for no metadata."""
    if not metadata:
        frame.attrs.clear()
    return frame


def _listed(value: Any) -> list[Any]:
    if isinstance(value, np.ndarray):
        return list(value.ravel().tolist())
    if isinstance(value, list | tuple | set):
        return list(value)
    return [value]


class MaterializeBase(ServiceClient):
    """Plans of the materialization client; see :class:`MaterializeClient`."""

    API = MATERIALIZE_API
    LOCAL = True

    def __init__(
        self,
        *args: Any,
        version: int | None = None,
        desired_resolution: Sequence[float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._version = version
        self._desired_resolution = (
            None if desired_resolution is None else checked_resolution(desired_resolution)
        )
        self._metadata: dict[tuple[str, int], MaterializedTableMetadata] = {}
        self._chunkedgraph: ChunkedGraphBase | None = None

    @property
    def version(self) -> int | None:
        """The version queries use when none is given (``None``: the most recent one)."""
        return self._version

    @version.setter
    def version(self, value: int | None) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InputError(f"version must be an integer or None, not {value!r}")
        self._version = value

    @property
    def desired_resolution(self) -> tuple[float, float, float] | None:
        """The resolution (nm per voxel) positions come back in when a query names none
        (``None``: each table's own); set with ``FrameworkClient(desired_resolution=...)``."""
        return self._desired_resolution

    def _resolution(self, desired: Sequence[float] | None) -> Sequence[float] | None:
        return self._desired_resolution if desired is None else desired

    def _datastack(self) -> str:
        return self._ctx.require_datastack(None)

    def _resolve_version(self, version: int | None) -> Plan[int]:
        if version is not None:
            return version
        if self._version is not None:
            return self._version
        return (yield from self._most_recent_version())

    def _cg(self) -> ChunkedGraphBase:
        """A chunkedgraph client of the same datastack (its plans only) for live queries."""
        if self._chunkedgraph is None:
            from dafclient.services.chunkedgraph import ChunkedGraphBase

            self._chunkedgraph = ChunkedGraphBase(self._ctx)
        return self._chunkedgraph

    # -- versions ----------------------------------------------------------------------------------
    def _get_versions(self, expired: bool = False) -> Plan[list[int]]:
        """Version numbers of the datastack (valid ones; all with ``expired=True``)."""
        request = gen.call(
            (yield from self._server()),
            get_versions.build_request(self._datastack(), expired=expired),
        )
        return gen.read(get_versions.parse_success, request, (yield request))

    def _most_recent_version(self) -> Plan[int]:
        """The largest valid version number."""
        versions = yield from self._get_versions()
        if not versions:
            raise InputError(f"datastack {self._datastack()!r} has no valid version")
        return max(versions)

    def _get_version_metadata(self, version: int | None = None) -> Plan[VersionMetadata]:
        """A version's record; ``time_stamp`` and ``expires_on`` as UTC datetimes."""
        number = yield from self._resolve_version(version)
        request = gen.call(
            (yield from self._server()),
            get_version_metadata.build_request(self._datastack(), number),
        )
        return _version_record(
            gen.read(get_version_metadata.parse_success, request, (yield request))
        )

    def _get_timestamp(self, version: int | None = None) -> Plan[datetime]:
        """The instant a version represents (UTC)."""
        record = yield from self._get_version_metadata(version)
        stamp: datetime = record["time_stamp"]
        return stamp

    def _version_timestamp(self, version: int) -> Plan[datetime]:
        """The timestamp of ``version`` after checking it exists (expired ones included)."""
        if version not in (yield from self._get_versions(expired=True)):
            raise InputError(f"version {version} is not available for this datastack")
        return (yield from self._get_timestamp(version))

    def _get_versions_metadata(self, expired: bool = False) -> Plan[list[VersionMetadata]]:
        """Records of the datastack's versions (see :meth:`get_version_metadata`)."""
        request = gen.call(
            (yield from self._server()),
            get_versions_metadata.build_request(self._datastack(), expired=expired),
            accept=frozenset({404}),
        )
        response = yield request
        if response.status_code == 404:
            return []
        versions = gen.read(get_versions_metadata.parse_success, request, response)
        return [_version_record(version) for version in versions]

    # -- tables ------------------------------------------------------------------------------------
    def _get_tables(self, version: int | None = None) -> Plan[list[str]]:
        """Names of a version's tables."""
        number = yield from self._resolve_version(version)
        request = gen.call(
            (yield from self._server()), get_tables.build_request(self._datastack(), number)
        )
        return gen.read(get_tables.parse_success, request, (yield request))

    @staticmethod
    def _table_record(table: MaterializeTableMetadata) -> MaterializedTableMetadata:
        return cast(MaterializedTableMetadata, _with_resolution(table.to_dict()))

    def _get_table_metadata(
        self, table_name: str, version: int | None = None
    ) -> Plan[MaterializedTableMetadata]:
        """A table's metadata at a version, with ``voxel_resolution`` ``[x, y, z]`` added."""
        number = yield from self._resolve_version(version)
        cached = self._metadata.get((table_name, number))
        if cached is not None:
            return cast(MaterializedTableMetadata, dict(cached))
        request = gen.call(
            (yield from self._server()),
            get_table_metadata.build_request(self._datastack(), number, table_name),
        )
        record = self._table_record(
            gen.read(get_table_metadata.parse_success, request, (yield request))
        )
        self._metadata[(table_name, number)] = record
        return cast(MaterializedTableMetadata, dict(record))

    def _get_tables_metadata(
        self, version: int | None = None
    ) -> Plan[list[MaterializedTableMetadata]]:
        """The metadata of every table of a version (as :meth:`get_table_metadata`)."""
        number = yield from self._resolve_version(version)
        request = gen.call(
            (yield from self._server()),
            get_tables_metadata.build_request(self._datastack(), number),
        )
        tables = gen.read(get_tables_metadata.parse_success, request, (yield request))
        records = [self._table_record(table) for table in tables]
        for record in records:
            self._metadata[(record["table_name"], number)] = record
        return [cast(MaterializedTableMetadata, dict(record)) for record in records]

    def _get_annotation_count(
        self, table_name: str, version: int | None = None
    ) -> Plan[int | None]:
        """Valid rows of a table at a version (None if the version lacks it)."""
        number = yield from self._resolve_version(version)
        request = gen.call(
            (yield from self._server()),
            get_table_count.build_request(self._datastack(), number, table_name),
        )
        count = gen.read(get_table_count.parse_success, request, (yield request))
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise ResponseFormatError("expected a count", method="GET", url=request.url)
        return count

    # -- queries -----------------------------------------------------------------------------------
    @staticmethod
    def _query_call(request: Call) -> Call:
        params = dict(request.params or {})
        params.update(
            return_pyarrow=True, arrow_format=True, split_positions=True, direct_sql_pandas=True
        )
        headers = {**(request.headers or {}), "Accept-Encoding": "zstd"}
        return dataclasses.replace(request, params=params, headers=headers, idempotent=True)

    def _decode(
        self,
        request: Call,
        response: Any,
        *,
        split_positions: bool,
        desired_resolution: Sequence[float] | None,
        table: str,
        version: int | None,
        warn: bool = True,
    ) -> Plan[pd.DataFrame]:
        """The reply as a DataFrame; positions scaled here when the server did not (v2)."""
        frame = decode_query(request, response, split_positions, warn)
        desired_resolution = self._resolution(desired_resolution)
        if desired_resolution is not None and frame.attrs["dataframe_resolution"] is None:
            if len(desired_resolution) != 3:
                raise InputError("desired_resolution needs three values (x, y, z)")
            meta = yield from self._get_table_metadata(table, version)
            ratio = np.asarray(meta["voxel_resolution"], float) / np.asarray(
                desired_resolution, float
            )
            frame = scale_positions(frame, ratio.tolist(), split_positions)
            frame.attrs["dataframe_resolution"] = [float(r) for r in desired_resolution]
        return frame

    def _frozen(
        self,
        table: str,
        number: int,
        filters: Mapping[str, Mapping[str, Any]],
        *,
        select_columns: Sequence[str] | Mapping[str, Sequence[str]] | None,
        offset: int | None,
        limit: int | None,
        desired_resolution: Sequence[float] | None,
        split_positions: bool,
        merge_reference: bool,
        get_counts: bool = False,
        random_sample: int | None = None,
        log_warning: bool = True,
    ) -> Plan[pd.DataFrame]:
        """One table at a version (joined with its reference target when it has one)."""
        if limit is not None and limit <= 0:
            raise InputError("limit must be positive")
        reference = None
        if merge_reference and not get_counts:
            meta = yield from self._get_table_metadata(table, number)
            reference = meta.get("reference_table") or None
            from dafclient.services.materialize_tables import check_query

            check_query(table, meta, filters, select_columns)
        keyed = {kind: {table: dict(value)} for kind, value in filters.items()}
        body = self._body(keyed, offset, limit, desired_resolution)
        server = yield from self._server()
        if reference is not None:
            body["tables"] = [[table, "target_id"], [reference, "id"]]
            body["suffix_map"] = {table: "", reference: "_ref"}
            if select_columns is not None:
                body["select_column_map"] = (
                    {t: list(c) for t, c in select_columns.items()}
                    if isinstance(select_columns, Mapping)
                    else {table: list(select_columns)}
                )
            built = join_query.build_request(
                self._datastack(), number, body=gen.raw_body(JoinQuery, body)
            )
        else:
            if select_columns is not None:
                if isinstance(select_columns, Mapping):
                    raise InputError("select_columns of one table is a list of column names")
                body["select_columns"] = list(select_columns)
            built = query_table.build_request(
                self._datastack(),
                number,
                table,
                body=gen.raw_body(SimpleQuery, body),
                count=get_counts,
                random_sample=random_sample,
            )
        request = self._query_call(gen.call(server, built))
        response = yield request
        frame = yield from self._decode(
            request,
            response,
            split_positions=split_positions,
            desired_resolution=desired_resolution,
            table=table,
            version=number,
            warn=log_warning,
        )
        frame = apply_filters(frame, filters, ("filter_out_dict",))
        frame.attrs.update(
            datastack_name=self._datastack(),
            materialization_version=number,
            table_name=table,
            reference_table=reference,
            filters={k: dict(v) for k, v in filters.items()},
            select_columns=select_columns,
            offset=offset,
            limit=limit,
            live_query=False,
        )
        return frame

    def _query_table(
        self,
        table: str,
        filter_in_dict: Mapping[str, Iterable[Any]] | None = None,
        filter_out_dict: Mapping[str, Iterable[Any]] | None = None,
        filter_equal_dict: Mapping[str, Any] | None = None,
        filter_greater_dict: Mapping[str, Any] | None = None,
        filter_less_dict: Mapping[str, Any] | None = None,
        filter_greater_equal_dict: Mapping[str, Any] | None = None,
        filter_less_equal_dict: Mapping[str, Any] | None = None,
        filter_spatial_dict: Mapping[str, Sequence[Sequence[float]]] | None = None,
        filter_regex_dict: Mapping[str, str] | None = None,
        select_columns: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
        offset: int | None = None,
        limit: int | None = None,
        *,
        split_positions: bool = False,
        materialization_version: int | None = None,
        timestamp: TimestampLike | None = None,
        merge_reference: bool = True,
        desired_resolution: Sequence[float] | None = None,
        get_counts: bool = False,
        random_sample: int | None = None,
        metadata: bool = True,
        log_warning: bool = True,
    ) -> Plan[pd.DataFrame]:
        """Rows of ``table`` matching every filter (filters keyed by column), as a DataFrame.

        At ``materialization_version`` (default: the client's version, else the most recent), or
        with ``timestamp`` as the table is at that time (:meth:`live_query`). A table that
        references another (``target_id``) is joined with it (its columns suffixed ``_ref``)
        unless ``merge_reference=False``. ``filter_out_dict`` is applied to the returned rows
        here: production servers ignore it, so with ``limit`` fewer rows may come back.
        Positions come as one ``[x, y, z]`` column each (``split_positions=True``: ``_x/_y/_z``),
        in ``desired_resolution`` (nm per voxel) if given. ``df.attrs`` holds the query and the
        server's headers (none with ``metadata=False``); the server's warnings are issued as
        :class:`MaterializeWarning` (not with ``log_warning=False``).
        """
        filters = self._table_filters(locals())
        if timestamp is not None:
            if materialization_version is not None:
                raise InputError("pass materialization_version or timestamp, not both")
            if get_counts:
                raise InputError("get_counts needs a materialization version, not a timestamp")
            live = yield from self._live(
                table,
                timestamp,
                filters,
                select_columns=select_columns,
                offset=offset,
                limit=limit,
                split_positions=split_positions,
                post_filter=True,
                merge_reference=merge_reference,
                desired_resolution=desired_resolution,
                random_sample=random_sample,
                log_warning=log_warning,
            )
            return _with_metadata(live, metadata)
        number = yield from self._resolve_version(materialization_version)
        frame = yield from self._frozen(
            table,
            number,
            filters,
            select_columns=select_columns,
            offset=offset,
            limit=limit,
            desired_resolution=desired_resolution,
            split_positions=split_positions,
            merge_reference=merge_reference,
            get_counts=get_counts,
            random_sample=random_sample,
            log_warning=log_warning,
        )
        return _with_metadata(frame, metadata)

    def _live_query(
        self,
        table: str,
        timestamp: TimestampLike,
        filter_in_dict: Mapping[str, Iterable[Any]] | None = None,
        filter_out_dict: Mapping[str, Iterable[Any]] | None = None,
        filter_equal_dict: Mapping[str, Any] | None = None,
        filter_greater_dict: Mapping[str, Any] | None = None,
        filter_less_dict: Mapping[str, Any] | None = None,
        filter_greater_equal_dict: Mapping[str, Any] | None = None,
        filter_less_equal_dict: Mapping[str, Any] | None = None,
        filter_spatial_dict: Mapping[str, Sequence[Sequence[float]]] | None = None,
        filter_regex_dict: Mapping[str, str] | None = None,
        select_columns: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
        offset: int | None = None,
        limit: int | None = None,
        *,
        split_positions: bool = False,
        post_filter: bool = True,
        merge_reference: bool = True,
        desired_resolution: Sequence[float] | None = None,
        random_sample: int | None = None,
        metadata: bool = True,
        log_warning: bool = True,
    ) -> Plan[pd.DataFrame]:
        """``table`` with its root ids as they are at ``timestamp``, computed on this side as
        CAVEclient does: the newest valid version at or before ``timestamp`` is queried with
        root-id filters mapped to that version's ids, then every root id that is no longer
        current is looked up again from its supervoxel, and the filters are applied again
        (``post_filter``). Rows created or deleted after that version are not reflected; use
        :meth:`live_live_query` for those."""
        filters = self._table_filters(locals())
        frame = yield from self._live(
            table,
            timestamp,
            filters,
            select_columns=select_columns,
            offset=offset,
            limit=limit,
            split_positions=split_positions,
            post_filter=post_filter,
            merge_reference=merge_reference,
            desired_resolution=desired_resolution,
            random_sample=random_sample,
            log_warning=log_warning,
        )
        return _with_metadata(frame, metadata)

    def _live(
        self,
        table: str,
        timestamp: TimestampLike,
        filters: Mapping[str, Mapping[str, Any]],
        *,
        select_columns: Sequence[str] | Mapping[str, Sequence[str]] | None,
        offset: int | None,
        limit: int | None,
        split_positions: bool,
        post_filter: bool,
        merge_reference: bool,
        desired_resolution: Sequence[float] | None,
        random_sample: int | None,
        log_warning: bool = True,
    ) -> Plan[pd.DataFrame]:
        when = _aware(timestamp)
        records = yield from self._get_versions_metadata()
        valid = [r for r in records if r.get("valid", True) and r["time_stamp"] is not None]
        earlier = [r for r in valid if r["time_stamp"] <= when]
        if not valid:
            raise InputError(f"datastack {self._datastack()!r} has no valid version")
        if not earlier:
            raise InputError(
                f"timestamp {when.isoformat()} is before every valid version of "
                f"{self._datastack()!r}; query a later time or a version"
            )
        chosen = max(earlier, key=lambda r: r["time_stamp"])
        number, then = int(chosen["version"]), chosen["time_stamp"]
        options: dict[str, Any] = {
            "select_columns": select_columns,
            "offset": offset,
            "limit": limit,
            "desired_resolution": desired_resolution,
            "split_positions": split_positions,
            "merge_reference": merge_reference,
            "random_sample": random_sample,
            "log_warning": log_warning,
        }
        if then == when:
            return (yield from self._frozen(table, number, filters, **options))
        mapped = yield from self._map_root_filters(filters, then, when)
        frame = yield from self._frozen(table, number, mapped, **options)
        frame = yield from self._update_roots(frame, when)
        if post_filter:
            frame = apply_filters(frame, filters, POST_FILTER_KINDS)
        frame.attrs.update(
            live_query=True,
            timestamp=when,
            filters={k: dict(v) for k, v in filters.items()},
        )
        return frame

    def _map_root_filters(
        self, filters: Mapping[str, Mapping[str, Any]], then: datetime, when: datetime
    ) -> Plan[dict[str, dict[str, Any]]]:
        """Root-id filters valid at ``when`` rewritten with the ids of ``then`` (a version)."""
        kinds = ("filter_in_dict", "filter_out_dict", "filter_equal_dict")
        ids: list[int] = []
        for kind in kinds:
            for column, value in (filters.get(kind) or {}).items():
                if column.endswith("root_id"):
                    ids.extend(int(v) for v in _listed(value))
        mapped = {k: dict(v) for k, v in filters.items()}
        for kind in POST_FILTER_KINDS[3:]:
            for column in list(mapped.get(kind, {})):
                if column.endswith("root_id"):
                    del mapped[kind][column]
            if kind in mapped and not mapped[kind]:
                del mapped[kind]
        unique = np.unique(np.asarray([i for i in ids if i != 0], dtype=np.uint64))
        if unique.size == 0:
            return mapped
        cg = self._cg()
        latest = yield from cg._is_latest_roots(unique, timestamp=when)
        created = yield from cg._get_root_timestamps(unique)
        expired = unique[~np.asarray(latest, dtype=bool)]
        recent = unique[np.asarray([t > when for t in created], dtype=bool)]
        if expired.size or recent.size:
            raise InputError(
                f"timestamp incompatible with root ids: {expired.tolist()} are expired and "
                f"{recent.tolist()} are too recent at {when.isoformat()} (the chunkedgraph "
                "client finds the valid ids: get_latest_roots, get_past_ids)"
            )
        past = (yield from cg._get_past_ids(unique, timestamp_past=then, timestamp_future=when))[
            "past_id_map"
        ]

        def back(values: Any) -> list[int]:
            out: list[int] = []
            for v in _listed(values):
                out.extend([int(p) for p in past.get(int(v), [v])] if int(v) else [0])
            return out

        for kind in kinds:
            for column, value in list((mapped.get(kind) or {}).items()):
                if not column.endswith("root_id"):
                    continue
                if kind == "filter_equal_dict":
                    del mapped[kind][column]
                    mapped.setdefault("filter_in_dict", {})[column] = back(value)
                else:
                    mapped[kind][column] = back(value)
            if kind in mapped and not mapped[kind]:
                del mapped[kind]
        return mapped

    def _update_roots(self, frame: pd.DataFrame, when: datetime) -> Plan[pd.DataFrame]:
        """Every ``*_root_id`` no longer current at ``when`` looked up again from its supervoxel
        (one ``is_latest_roots`` and one ``get_roots`` request for all the root columns)."""
        pairs = [
            (c, c.replace("_root_id", "_supervoxel_id"))
            for c in frame.columns
            if isinstance(c, str) and "_root_id" in c
        ]
        pairs = [(r, s) for r, s in pairs if s in frame.columns]
        if not pairs or len(frame) == 0:
            return frame
        roots = {r: frame[r].to_numpy(dtype=np.uint64).copy() for r, _ in pairs}
        unique = np.unique(np.concatenate(list(roots.values())))
        unique = unique[unique != 0]
        if unique.size == 0:
            return frame
        cg = self._cg()
        latest = np.asarray((yield from cg._is_latest_roots(unique, timestamp=when)), bool)
        stale = unique[~latest]
        if stale.size == 0:
            return frame
        masks = {r: np.isin(roots[r], stale) for r, _ in pairs}
        svs = np.concatenate([frame[s].to_numpy(dtype=np.uint64)[masks[r]] for r, s in pairs])
        found = yield from cg._get_roots(svs, timestamp=when)
        start = 0
        for column, _ in pairs:
            count = int(masks[column].sum())
            if count:
                roots[column][masks[column]] = found[start : start + count]
                frame[column] = roots[column]
            start += count
        return frame

    def _synapse_query(
        self,
        pre_ids: int | Iterable[int] | None = None,
        post_ids: int | Iterable[int] | None = None,
        bounding_box: Sequence[Sequence[float]] | None = None,
        bounding_box_column: str = "post_pt_position",
        timestamp: TimestampLike | None = None,
        remove_autapses: bool = True,
        include_zeros: bool = True,
        limit: int | None = None,
        offset: int | None = None,
        split_positions: bool = False,
        desired_resolution: Sequence[float] | None = None,
        materialization_version: int | None = None,
        synapse_table: str | None = None,
        metadata: bool = True,
    ) -> Plan[pd.DataFrame]:
        """Synapses of the datastack's synapse table from ``pre_ids`` and/or onto ``post_ids``
        (one id or many), in ``bounding_box`` (voxels of the table) if given; autapses removed
        unless ``remove_autapses=False``; ``include_zeros=False`` drops synapses to or from
        root 0 (applied here, so it works although production servers ignore the filter)."""
        if synapse_table is None:
            synapse_table = (yield from datastack_record(self._ctx)).synapse_table
            if not synapse_table:
                raise InputError("the datastack names no synapse table; pass synapse_table=")
        filter_in: dict[str, Any] = {}
        filter_equal: dict[str, Any] = {}
        for column, ids in (("pre_pt_root_id", pre_ids), ("post_pt_root_id", post_ids)):
            if ids is None:
                continue
            if isinstance(ids, Iterable) and not isinstance(ids, str | bytes):
                filter_in[column] = ids
            else:
                filter_equal[column] = ids
        frame = yield from self._query_table(
            synapse_table,
            filter_in_dict=filter_in or None,
            filter_equal_dict=filter_equal or None,
            filter_out_dict=None
            if include_zeros
            else {"pre_pt_root_id": [0], "post_pt_root_id": [0]},
            filter_spatial_dict=None
            if bounding_box is None
            else {bounding_box_column: bounding_box},
            offset=offset,
            limit=limit,
            split_positions=split_positions,
            desired_resolution=desired_resolution,
            materialization_version=materialization_version,
            timestamp=timestamp,
            merge_reference=False,
            metadata=metadata,
        )
        if metadata:
            frame.attrs["remove_autapses"] = remove_autapses
        if remove_autapses and len(frame):
            keep = frame["pre_pt_root_id"].to_numpy() != frame["post_pt_root_id"].to_numpy()
            if not keep.all():
                attrs = dict(frame.attrs)
                frame = frame[keep].reset_index(drop=True)
                frame.attrs.update(attrs)
        return frame

    def _join_query(
        self,
        tables: Sequence[Sequence[str]],
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
        offset: int | None = None,
        limit: int | None = None,
        suffixes: Mapping[str, str] | None = None,
        *,
        split_positions: bool = False,
        materialization_version: int | None = None,
        metadata: bool = True,
        desired_resolution: Sequence[float] | None = None,
        log_warning: bool = True,
    ) -> Plan[pd.DataFrame]:
        """``t1 JOIN t2 ON t1.c1 = t2.c2`` for ``tables=[[t1, c1], [t2, c2]]`` at a version;
        filters, ``select_columns`` and ``suffixes`` are keyed by table (``filter_out_dict`` is
        applied to the returned rows, see :meth:`query_table`)."""
        if limit is not None and limit <= 0:
            raise InputError("limit must be positive")
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
                (yield from self._server()),
                join_query.build_request(
                    self._datastack(), number, body=gen.raw_body(JoinQuery, body)
                ),
            )
        )
        frame = yield from self._decode(
            request,
            (yield request),
            split_positions=split_positions,
            desired_resolution=desired_resolution,
            table=str(tables[-1][0]),
            version=number,
            warn=log_warning,
        )
        frame = self._post_filter(frame, filters)
        frame.attrs.update(
            datastack_name=self._datastack(),
            materialization_version=number,
            join_query=True,
            tables=[list(t) for t in tables],
        )
        return _with_metadata(frame, metadata)

    def _live_live_query(
        self,
        table: str,
        timestamp: TimestampLike,
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
        offset: int | None = None,
        limit: int | None = None,
        *,
        split_positions: bool = False,
        metadata: bool = True,
        suffixes: Mapping[str, str] | None = None,
        desired_resolution: Sequence[float] | None = None,
        allow_invalid_root_ids: bool = False,
        log_warning: bool = True,
    ) -> Plan[pd.DataFrame]:
        """``table`` as it is at ``timestamp``, computed by the server: rows alive then (created
        and deleted ones too), roots at that time. Filters, ``select_columns`` (must include the
        main table's ``id``) and ``suffixes`` are keyed by table; ``joins`` is
        ``[[t1, c1, t2, c2], ...]``."""
        if limit is not None and limit <= 0:
            raise InputError("limit must be positive")
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
                (yield from self._server()),
                live_query.build_request(
                    self._datastack(),
                    body=gen.raw_body(LiveQuery, body),
                    allow_invalid_root_ids=allow_invalid_root_ids,
                ),
            )
        )
        frame = yield from self._decode(
            request,
            (yield request),
            split_positions=split_positions,
            desired_resolution=desired_resolution,
            table=table,
            version=None,
            warn=log_warning,
        )
        frame = self._post_filter(frame, filters)
        frame.attrs.update(
            datastack_name=self._datastack(),
            table_name=table,
            live_query=True,
            timestamp=_aware(timestamp),
        )
        return _with_metadata(frame, metadata)

    # -- views and string values -------------------------------------------------------------------
    def _get_views(self, version: int | None = None) -> Plan[dict[str, ViewListing]]:
        """The views of a version: ``{name: {"id", "description"}}``."""
        number = yield from self._resolve_version(version)
        request = gen.call(
            (yield from self._server()), get_views.build_request(self._datastack(), number)
        )
        views = gen.read_dict(get_views.parse_success, request, (yield request))
        return cast(dict[str, ViewListing], views)

    def _get_view_metadata(
        self, view_name: str, materialization_version: int | None = None
    ) -> Plan[ViewMetadata]:
        """A view's metadata (``voxel_resolution`` ``[x, y, z]`` added)."""
        number = yield from self._resolve_version(materialization_version)
        request = gen.call(
            (yield from self._server()),
            get_view_metadata.build_request(self._datastack(), number, view_name),
        )
        view = gen.read_dict(get_view_metadata.parse_success, request, (yield request))
        return cast(ViewMetadata, _with_resolution(view))

    def _get_view_schema(
        self, view_name: str, materialization_version: int | None = None
    ) -> Plan[dict[str, ViewColumn]]:
        """A view's columns: ``{column: {"type": …, "format"?: …}}``."""
        number = yield from self._resolve_version(materialization_version)
        request = gen.call(
            (yield from self._server()),
            get_view_schema.build_request(self._datastack(), number, view_name),
        )
        columns = gen.read_dict(get_view_schema.parse_success, request, (yield request))
        return cast(dict[str, ViewColumn], columns)

    def _get_view_schemas(
        self, materialization_version: int | None = None
    ) -> Plan[dict[str, dict[str, ViewColumn]]]:
        """Every view's columns (``{}`` when the version has no view)."""
        number = yield from self._resolve_version(materialization_version)
        request = gen.call(
            (yield from self._server()),
            get_view_schemas.build_request(self._datastack(), number),
            accept=frozenset({404}),
        )
        response = yield request
        if response.status_code == 404:
            return {}
        schemas = gen.read_dict(get_view_schemas.parse_success, request, response)
        return cast(dict[str, dict[str, ViewColumn]], schemas)

    def _query_view(
        self,
        view_name: str,
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
        *,
        split_positions: bool = False,
        materialization_version: int | None = None,
        metadata: bool = True,
        desired_resolution: Sequence[float] | None = None,
        get_counts: bool = False,
        random_sample: int | None = None,
    ) -> Plan[pd.DataFrame]:
        """Rows of a view at a version; filters keyed by column, as in :meth:`query_table`."""
        if limit is not None and limit <= 0:
            raise InputError("limit must be positive")
        number = yield from self._resolve_version(materialization_version)
        filters = {
            kind: {view_name: dict(value)} for kind, value in self._table_filters(locals()).items()
        }
        body = self._body(filters, offset, limit, desired_resolution)
        if select_columns is not None:
            body["select_columns"] = list(select_columns)
        request = self._query_call(
            gen.call(
                (yield from self._server()),
                query_view.build_request(
                    self._datastack(),
                    number,
                    view_name,
                    body=gen.raw_body(SimpleQuery, body),
                    count=get_counts,
                    random_sample=random_sample,
                ),
            )
        )
        frame = decode_query(request, (yield request), split_positions)
        frame = self._post_filter(frame, filters)
        frame.attrs.update(
            datastack_name=self._datastack(), materialization_version=number, view_name=view_name
        )
        return _with_metadata(frame, metadata)

    def _get_unique_string_values(self, table: str) -> Plan[dict[str, list[str | None]]]:
        """Distinct values of each string column of a live table."""
        request = gen.call(
            (yield from self._server()),
            get_unique_string_values.build_request(self._datastack(), table),
        )
        values = gen.read(get_unique_string_values.parse_success, request, (yield request))
        return {str(k): list(v) for k, v in values.additional_properties.items()}

    # -- helpers -----------------------------------------------------------------------------------
    @staticmethod
    def _table_filters(arguments: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """The filter arguments given (by name, from the calling method's arguments)."""
        out: dict[str, dict[str, Any]] = {}
        for kind in FILTER_KINDS:
            value = arguments.get(kind)
            if value is not None:
                if not isinstance(value, Mapping):
                    raise InputError(f"{kind} must be a dict, not {type(value).__name__}")
                out[kind] = {str(k): v for k, v in value.items()}
        return out

    def _body(
        self,
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
        desired_resolution = self._resolution(desired_resolution)
        if desired_resolution is not None:
            body["desired_resolution"] = [float(r) for r in desired_resolution]
        return body

    @staticmethod
    def _post_filter(frame: pd.DataFrame, filters: Mapping[str, Any]) -> pd.DataFrame:
        """``filter_out_dict`` (keyed by table, then column) applied to the rows."""
        columns: dict[str, Any] = {}
        for per_table in (filters.get("filter_out_dict") or {}).values():
            columns.update(per_table)
        if not columns:
            return frame
        return apply_filters(frame, {"filter_out_dict": columns}, ("filter_out_dict",))


class MaterializeClient(SyncBinding, MaterializeBase):
    """The datastack's MaterializationEngine, on its local server."""

    get_versions = sync_op(MaterializeBase._get_versions)
    most_recent_version = sync_op(MaterializeBase._most_recent_version)
    get_version_metadata = sync_op(MaterializeBase._get_version_metadata)
    get_timestamp = sync_op(MaterializeBase._get_timestamp)
    get_versions_metadata = sync_op(MaterializeBase._get_versions_metadata)
    get_tables = sync_op(MaterializeBase._get_tables)
    get_table_metadata = sync_op(MaterializeBase._get_table_metadata)
    get_tables_metadata = sync_op(MaterializeBase._get_tables_metadata)
    get_annotation_count = sync_op(MaterializeBase._get_annotation_count)
    query_table = sync_op(MaterializeBase._query_table)
    live_query = sync_op(MaterializeBase._live_query)
    synapse_query = sync_op(MaterializeBase._synapse_query)
    join_query = sync_op(MaterializeBase._join_query)
    live_live_query = sync_op(MaterializeBase._live_live_query)
    get_views = sync_op(MaterializeBase._get_views)
    get_view_metadata = sync_op(MaterializeBase._get_view_metadata)
    get_view_schema = sync_op(MaterializeBase._get_view_schema)
    get_view_schemas = sync_op(MaterializeBase._get_view_schemas)
    query_view = sync_op(MaterializeBase._query_view)
    get_unique_string_values = sync_op(MaterializeBase._get_unique_string_values)

    @property
    def tables(self) -> TableManager:
        """Typed queries by table name: ``tables.synapses(pre_pt_root_id=[...]).query()``."""
        from dafclient.services.materialize_tables import TableManager

        return TableManager(self)


class AsyncMaterializeClient(AsyncBinding, MaterializeBase):
    """:class:`MaterializeClient` with coroutine methods."""

    get_versions = async_op(MaterializeBase._get_versions)
    most_recent_version = async_op(MaterializeBase._most_recent_version)
    get_version_metadata = async_op(MaterializeBase._get_version_metadata)
    get_timestamp = async_op(MaterializeBase._get_timestamp)
    get_versions_metadata = async_op(MaterializeBase._get_versions_metadata)
    get_tables = async_op(MaterializeBase._get_tables)
    get_table_metadata = async_op(MaterializeBase._get_table_metadata)
    get_tables_metadata = async_op(MaterializeBase._get_tables_metadata)
    get_annotation_count = async_op(MaterializeBase._get_annotation_count)
    query_table = async_op(MaterializeBase._query_table)
    live_query = async_op(MaterializeBase._live_query)
    synapse_query = async_op(MaterializeBase._synapse_query)
    join_query = async_op(MaterializeBase._join_query)
    live_live_query = async_op(MaterializeBase._live_live_query)
    get_views = async_op(MaterializeBase._get_views)
    get_view_metadata = async_op(MaterializeBase._get_view_metadata)
    get_view_schema = async_op(MaterializeBase._get_view_schema)
    get_view_schemas = async_op(MaterializeBase._get_view_schemas)
    query_view = async_op(MaterializeBase._query_view)
    get_unique_string_values = async_op(MaterializeBase._get_unique_string_values)

    @property
    def tables(self) -> AsyncTableManager:
        """Typed queries by table name: ``await tables.synapses(pre_pt_root_id=[...]).query()``."""
        from dafclient.services.materialize_tables import AsyncTableManager

        return AsyncTableManager(self)


__all__ = [
    "AsyncMaterializeClient",
    "MaterializeClient",
    "MaterializeWarning",
    "decode_query",
    "merge_positions",
]
