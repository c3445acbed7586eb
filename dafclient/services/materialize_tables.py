"""Typed queries: ``client.materialize.tables.<table>(column=value, ...)``.

The keyword filters of a table query are the table's own columns, known from its annotation type
(the table's metadata names it; the installed schema snapshot or the schema service gives its
columns). A value of the column's kind filters by equality, a list or array of them by
membership, ``<point>_bbox=[[x0, y0, z0], [x1, y1, z1]]`` (or ``<point>_position_bbox``) by a box
in the table's voxels. A wrong column or a value of the wrong kind is an :class:`InputError`
before the query is sent::

    syn = client.materialize.tables.synapses(pre_pt_root_id=[...], size=12.5)
    frame = syn.query(limit=100)                # at the client's version
    later = syn.live_query(timestamp)           # as query_table(timestamp=...)

With the async client, ``query`` and ``live_query`` are coroutines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from dafclient._plan import Plan, adrive, drive
from dafclient.errors import InputError
from dafclient.services.materialize_frames import is_id_column
from dafclient.timestamps import TimestampLike

if TYPE_CHECKING:
    import pandas as pd

    from dafclient.services.materialize import (
        AsyncMaterializeClient,
        MaterializeBase,
        MaterializeClient,
    )

_KIND_CHECKS: dict[str, tuple[str, Any]] = {
    "integer": (
        "an integer",
        lambda v: isinstance(v, int | np.integer) and not isinstance(v, bool),
    ),
    "number": (
        "a number",
        lambda v: isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool),
    ),
    "string": ("a string", lambda v: isinstance(v, str)),
    "boolean": ("a boolean", lambda v: isinstance(v, bool | np.bool_)),
}


@dataclass(frozen=True)
class TableColumns:
    """The filterable columns of a table: name → kind (``integer``, ``number``, ``string``,
    ``boolean``, ``position``), from its annotation type."""

    table: str
    schema_type: str
    kinds: Mapping[str, str]
    reference_table: str | None = None


def _columns_of(table: str, metadata: Mapping[str, Any]) -> TableColumns:
    from dafclient.annotations.catalog import snapshot_type

    schema_type = str(metadata.get("schema_type") or metadata.get("schema") or "")
    layout, _ = snapshot_type(schema_type)
    kinds = {"id": "integer"}
    kinds.update({f.column: str(f.kind) for f in layout.fields})
    return TableColumns(
        table=table,
        schema_type=schema_type,
        kinds=kinds,
        reference_table=metadata.get("reference_table") or None,
    )


def _check_value(columns: TableColumns, column: str, value: Any) -> None:
    kind = columns.kinds[column]
    described, ok = _KIND_CHECKS.get(kind, ("a value", lambda v: True))
    values = (
        value.ravel().tolist()
        if isinstance(value, np.ndarray)
        else list(value)
        if isinstance(value, list | tuple | set)
        else [value]
    )
    for item in values:
        if not ok(item):
            raise InputError(
                f"{columns.table}.{column} is {kind}: filter values must be {described}, "
                f"not {item!r} ({type(item).__name__})"
            )
        if kind == "integer" and is_id_column(column) and int(item) < 0:
            raise InputError(f"{columns.table}.{column} holds uint64 ids, not {item!r}")


_CRUD = {"created": "time", "deleted": "time", "superceded_id": "integer"}
_COMPARED = {"integer", "number", "time"}


def check_query(
    table: str,
    metadata: Mapping[str, Any],
    filters: Mapping[str, Mapping[str, Any]],
    select_columns: Sequence[str] | Mapping[str, Sequence[str]] | None,
) -> None:
    """:class:`InputError` for a filter or selected column the table does not have, or a filter
    value of the wrong kind, when the table's annotation type is known here (else the server
    judges)."""
    try:
        columns = _columns_of(table, metadata)
    except InputError:
        return
    kinds = {**_CRUD, **columns.kinds}

    def known(column: str) -> str:
        if column not in kinds:
            raise InputError(
                f"{table} ({columns.schema_type}) has no column {column!r}; columns: "
                f"{sorted(columns.kinds)}"
            )
        return kinds[column]

    for kind, per_column in filters.items():
        for column, value in per_column.items():
            found = known(column)
            if kind == "filter_spatial_dict":
                if found != "position":
                    raise InputError(f"{table}.{column} is not a position: no spatial filter")
            elif kind == "filter_regex_dict":
                if found != "string":
                    raise InputError(f"{table}.{column} is {found}: regex filters need a string")
            elif found == "position":
                raise InputError(f"filter the position {table}.{column} with filter_spatial_dict")
            elif kind in ("filter_in_dict", "filter_out_dict", "filter_equal_dict"):
                if found in _KIND_CHECKS and column in columns.kinds:
                    _check_value(columns, column, value)
            elif found not in _COMPARED:
                raise InputError(f"{table}.{column} is {found}: it cannot be compared with <, >")
    if select_columns is not None and not isinstance(select_columns, Mapping):
        for column in select_columns:
            known(column)


def build_filters(columns: TableColumns, given: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Keyword filters → ``filter_*_dict`` arguments; :class:`InputError` on a wrong column or
    value."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in given.items():
        if name.endswith("_bbox"):
            base = name[: -len("_bbox")]
            column = base if base in columns.kinds else f"{base}_position"
            if columns.kinds.get(column) != "position":
                raise InputError(
                    f"{columns.table} has no position {base!r}; positions: "
                    f"{sorted(c for c, k in columns.kinds.items() if k == 'position')}"
                )
            box = np.asarray(value, dtype=np.float64)
            if box.shape != (2, 3):
                raise InputError(f"{name} must be [[x0, y0, z0], [x1, y1, z1]]")
            out.setdefault("filter_spatial_dict", {})[column] = box.tolist()
            continue
        if name not in columns.kinds:
            raise InputError(
                f"{columns.table} ({columns.schema_type}) has no column {name!r}; columns: "
                f"{sorted(columns.kinds)}"
            )
        if columns.kinds[name] == "position":
            raise InputError(f"filter the position {name!r} with a box: {name}_bbox=[[...], [...]]")
        _check_value(columns, name, value)
        many = isinstance(value, list | tuple | set | np.ndarray)
        kind = "filter_in_dict" if many else "filter_equal_dict"
        out.setdefault(kind, {})[name] = list(value) if isinstance(value, set) else value
    return out


@dataclass(frozen=True)
class _Query:
    client: MaterializeBase
    table: str
    given: Mapping[str, Any] = field(default_factory=dict)

    def _plan(self, timestamp: TimestampLike | None, options: dict[str, Any]) -> Plan[pd.DataFrame]:
        client = self.client
        version = options.get("materialization_version")
        number = yield from client._resolve_version(version)
        columns = _columns_of(
            self.table, (yield from client._get_table_metadata(self.table, number))
        )
        filters: dict[str, Any] = dict(build_filters(columns, self.given))
        if timestamp is not None:
            options.pop("materialization_version", None)
        return (
            yield from client._query_table(self.table, timestamp=timestamp, **filters, **options)
        )

    def __repr__(self) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self.given.items())
        return f"{self.table}({given})"


def _options(**options: Any) -> dict[str, Any]:
    return {k: v for k, v in options.items() if v is not None}


class TableQuery(_Query):
    """A query of one table with keyword filters (see the module docstring)."""

    def query(
        self,
        select_columns: Sequence[str] | None = None,
        offset: int | None = None,
        limit: int | None = None,
        split_positions: bool = False,
        materialization_version: int | None = None,
        timestamp: TimestampLike | None = None,
        desired_resolution: Sequence[float] | None = None,
        merge_reference: bool = True,
        get_counts: bool = False,
        random_sample: int | None = None,
    ) -> pd.DataFrame:
        """The rows matching the filters, as :meth:`MaterializeClient.query_table`."""
        options = _options(
            select_columns=select_columns,
            offset=offset,
            limit=limit,
            materialization_version=materialization_version,
            desired_resolution=desired_resolution,
            random_sample=random_sample,
        )
        options.update(
            split_positions=split_positions, merge_reference=merge_reference, get_counts=get_counts
        )
        client: MaterializeClient = self.client  # type: ignore[assignment]
        return drive(self._plan(timestamp, options), client._http, f"tables.{self.table}.query")

    def live_query(
        self,
        timestamp: TimestampLike,
        select_columns: Sequence[str] | None = None,
        limit: int | None = None,
        split_positions: bool = False,
        desired_resolution: Sequence[float] | None = None,
    ) -> pd.DataFrame:
        """The rows matching the filters with root ids at ``timestamp``
        (:meth:`MaterializeClient.live_query`)."""
        return self.query(
            select_columns=select_columns,
            limit=limit,
            split_positions=split_positions,
            timestamp=timestamp,
            desired_resolution=desired_resolution,
        )


class AsyncTableQuery(_Query):
    """:class:`TableQuery` with coroutine methods."""

    async def query(
        self,
        select_columns: Sequence[str] | None = None,
        offset: int | None = None,
        limit: int | None = None,
        split_positions: bool = False,
        materialization_version: int | None = None,
        timestamp: TimestampLike | None = None,
        desired_resolution: Sequence[float] | None = None,
        merge_reference: bool = True,
        get_counts: bool = False,
        random_sample: int | None = None,
    ) -> pd.DataFrame:
        """The rows matching the filters, as :meth:`AsyncMaterializeClient.query_table`."""
        options = _options(
            select_columns=select_columns,
            offset=offset,
            limit=limit,
            materialization_version=materialization_version,
            desired_resolution=desired_resolution,
            random_sample=random_sample,
        )
        options.update(
            split_positions=split_positions, merge_reference=merge_reference, get_counts=get_counts
        )
        client: AsyncMaterializeClient = self.client  # type: ignore[assignment]
        return await adrive(
            self._plan(timestamp, options), client._http, f"tables.{self.table}.query"
        )

    async def live_query(
        self,
        timestamp: TimestampLike,
        select_columns: Sequence[str] | None = None,
        limit: int | None = None,
        split_positions: bool = False,
        desired_resolution: Sequence[float] | None = None,
    ) -> pd.DataFrame:
        """The rows matching the filters with root ids at ``timestamp``."""
        return await self.query(
            select_columns=select_columns,
            limit=limit,
            split_positions=split_positions,
            timestamp=timestamp,
            desired_resolution=desired_resolution,
        )


class _Table:
    """``tables.<name>``: call it with keyword filters to make a query."""

    def __init__(self, client: MaterializeBase, name: str, query_class: type[_Query]) -> None:
        self._client = client
        self._name = name
        self._query_class = query_class

    def __call__(self, **filters: Any) -> Any:
        return self._query_class(self._client, self._name, dict(filters))

    def __repr__(self) -> str:
        return f"<table {self._name}>"


class _Manager:
    _query_class: type[_Query]

    def __init__(self, client: MaterializeBase) -> None:
        self._client = client

    def __getattr__(self, name: str) -> _Table:
        if name.startswith("_"):
            raise AttributeError(name)
        return _Table(self._client, name, self._query_class)

    def __getitem__(self, name: str) -> _Table:
        return _Table(self._client, name, self._query_class)

    def __dir__(self) -> list[str]:
        known = {t for t, _ in self._client._metadata}
        return sorted(set(super().__dir__()) | known)


class TableManager(_Manager):
    """``client.materialize.tables``: one attribute per table, each making a
    :class:`TableQuery` from keyword filters."""

    _query_class = TableQuery


class AsyncTableManager(_Manager):
    """The async client's :class:`TableManager` (queries are :class:`AsyncTableQuery`)."""

    _query_class = AsyncTableQuery


class TypedTables:
    """Base of the ``Tables`` classes ``dafclient codegen --datastack`` writes: one method per
    table whose keyword parameters are its columns, so an IDE completes them and mypy checks
    their types."""

    def __init__(self, client: MaterializeBase) -> None:
        self._client = client

    @staticmethod
    def _given(values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in values.items() if k != "self" and v is not None}

    def _sync(self, table: str, values: Mapping[str, Any]) -> TableQuery:
        return TableQuery(self._client, table, self._given(values))

    def _async(self, table: str, values: Mapping[str, Any]) -> AsyncTableQuery:
        return AsyncTableQuery(self._client, table, self._given(values))


__all__ = [
    "AsyncTableManager",
    "AsyncTableQuery",
    "TableColumns",
    "TableManager",
    "TableQuery",
    "TypedTables",
    "build_filters",
    "check_query",
]
