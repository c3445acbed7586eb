"""Simple and join queries compiled to DuckDB SQL over Parquet files, Arrow tables or views.

What a query does (production ``QueryManager`` semantics):

- ``valid = true`` on every source that has a ``valid`` column; filters in, equal, greater, less,
  greater-or-equal, less-or-equal, spatial (inclusive box in the table's voxels, ``min < max`` on
  every axis) and regex; ``filter_notin_dict`` is accepted and **not applied** (production reads
  another key, see the spec);
- joins ``t0 JOIN t1 ON t0.c0 = t1.c1`` (chained for live queries);
- column selection (``X_root_id`` brings ``X_supervoxel_id``), suffixes for names present in more
  than one selected table, positions split into int32 ``_x/_y/_z`` and scaled by
  ``table_resolution / desired_resolution`` with truncation toward zero;
- ``limit`` capped at :data:`QUERY_LIMIT`, ``offset``, ``count``, ``random_sample``.

Deliberate differences: rows are ordered by the first table's ``id`` (production has no ORDER BY,
so its order and offset paging are arbitrary); ``random_sample`` draws exactly N rows per table
with a reservoir sample (production: Postgres block sampling, approximately N); regexes are RE2
(production: POSIX); bad filters and selections (unknown table or column, a value of the wrong type,
``equal`` with a list) are 400s with a message naming them (production: 500 with the database's
error text).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from dafserver.materialize.bodies import QueryBody
from dafserver.materialize.layout import POSITION_AXES, Column

QUERY_LIMIT = 200_000
"""Production's default row cap (its ``QUERY_LIMIT_SIZE`` setting); a deployment may set another
(``dafclient serve --query-limit``, or ``$DAFSERVER_QUERY_LIMIT``)."""
DEFAULT_SUFFIXES = ("x", "y", "z", "xx", "yy", "zz", "xxx", "yyy", "zzz")
_COMPARISONS = {
    "filter_equal_dict": "=",
    "filter_greater_dict": ">",
    "filter_less_dict": "<",
    "filter_greater_equal_dict": ">=",
    "filter_less_equal_dict": "<=",
}
_SQL_TYPES = {
    "id": "BIGINT",
    "supervoxel": "BIGINT",
    "root": "BIGINT",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "string": "VARCHAR",
    "json": "VARCHAR",
    "datetime": "TIMESTAMPTZ",
}


class QueryError(Exception):
    """A query the request cannot run: ``status`` and production's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Source:
    """A table (or view) a query reads: its name in the request, a DuckDB relation, columns."""

    name: str
    relation: str
    """SQL of the relation, e.g. ``read_parquet('…')`` or a registered Arrow table's name."""
    columns: tuple[Column, ...]
    resolution: tuple[float, float, float]
    row_count: int

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class Join:
    left: str
    left_column: str
    right: str
    right_column: str


@dataclass
class QueryPlan:
    """Everything a query needs once the sources are known."""

    sources: list[Source]
    joins: list[Join]
    body: QueryBody
    count: bool = False
    random_sample: int | None = None
    default_resolution: tuple[float, float, float] | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class QueryResult:
    table: pa.Table
    column_names: dict[str, dict[str, str]]
    resolution: tuple[float, float, float]
    warnings: list[str]
    limit: int | None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_value(source: Source, column: Column, value: Any) -> Any:
    """``value`` as a parameter for ``column``; 400 if its type does not fit."""
    kind = column.kind
    bad = QueryError(
        400,
        f"Invalid value {value!r} for column {column.name} of {source.name} "
        f"(type {_SQL_TYPES.get(kind, kind)})",
    )
    if kind in ("id", "supervoxel", "root", "int"):
        if not _is_int(value) or not -(2**63) <= value < 2**64:
            raise bad
        return value if value < 2**63 else value - 2**64
    if kind == "float":
        if not (_is_int(value) or isinstance(value, float)) or not math.isfinite(value):
            raise bad
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad
        return value
    if kind in ("string", "json"):
        if not isinstance(value, str):
            raise bad
        return value
    if kind == "datetime":
        if not isinstance(value, str):
            raise bad
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise bad from None
    raise QueryError(400, f"column {column.name} of {source.name} cannot be filtered this way")


class _Compiler:
    def __init__(self, plan: QueryPlan) -> None:
        self.plan = plan
        self.aliases = {s.name: f"t{i}" for i, s in enumerate(plan.sources)}
        self.by_name = {s.name: s for s in plan.sources}
        self.params: list[Any] = []

    def source(self, table: str) -> Source:
        found = self.by_name.get(table)
        if found is None:
            raise QueryError(400, f"table {table} is not part of this query")
        return found

    def column(self, source: Source, name: str) -> Column:
        found = source.column(name)
        if found is None:
            raise QueryError(400, f"column {name} not found in {source.name}")
        return found

    def ref(self, source: Source, physical: str) -> str:
        return f"{self.aliases[source.name]}.{_quote(physical)}"

    # -- filters -------------------------------------------------------------------------------
    def where(self) -> list[str]:
        clauses: list[str] = []
        for source in self.plan.sources:
            if (valid := source.column("valid")) is not None and valid.kind == "bool":
                clauses.append(f"{self.ref(source, 'valid')} = true")
        filters = self.plan.body.filters
        for kind in ("filter_in_dict", *_COMPARISONS, "filter_spatial_dict", "filter_regex_dict"):
            for table, columns in filters.get(kind, {}).items():
                source = self.source(str(table))
                if not isinstance(columns, dict):
                    raise QueryError(400, f"{kind} for {table} must map columns to values")
                for name, value in columns.items():
                    column = self.column(source, str(name))
                    clauses.append(self.filter(kind, source, column, value))
        for table, columns in filters.get("filter_notin_dict", {}).items():
            # Accepted and ignored, as in production; the names must still exist.
            source = self.source(str(table))
            if isinstance(columns, dict):
                for name in columns:
                    self.column(source, str(name))
        return clauses

    def filter(self, kind: str, source: Source, column: Column, value: Any) -> str:
        if kind == "filter_spatial_dict":
            return self.spatial(source, column, value)
        if column.kind == "position":
            raise QueryError(
                400, f"column {column.name} of {source.name} is a position: use filter_spatial_dict"
            )
        ref = self.ref(source, column.name)
        if kind == "filter_regex_dict":
            if column.kind not in ("string", "json"):
                raise QueryError(400, "Regex filter is only supported on string columns")
            if not isinstance(value, str):
                raise QueryError(400, f"regex for {column.name} must be a string")
            try:
                re.compile(value)
            except re.error as error:
                raise QueryError(400, f"invalid regex {value!r}: {error}") from None
            self.params.append(value)
            return f"regexp_matches({ref}, ?)"
        if kind == "filter_in_dict":
            if not isinstance(value, list):
                raise QueryError(400, f"filter_in_dict value for {column.name} must be a list")
            if not value:
                return "false"
            values = [_check_value(source, column, v) for v in value]
            self.params.append(values)
            return f"{ref} IN (SELECT unnest(?::{_SQL_TYPES[column.kind]}[]))"
        if isinstance(value, list):
            raise QueryError(
                400,
                f"{kind} value for {column.name} is a list; use filter_in_dict "
                "(production: the database refuses `= ARRAY[...]`)",
            )
        self.params.append(_check_value(source, column, value))
        return f"{ref} {_COMPARISONS[kind]} ?"

    def spatial(self, source: Source, column: Column, value: Any) -> str:
        if column.kind != "position":
            raise QueryError(400, f"column {column.name} of {source.name} is not a position")
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(c, list) and len(c) == 3 for c in value)
            and all(
                (_is_int(v) or isinstance(v, float)) and math.isfinite(v) for c in value for v in c
            )
        )
        if not ok:
            raise QueryError(
                400, f"spatial filter for {column.name} must be [[x0,y0,z0],[x1,y1,z1]]"
            )
        low, high = value
        if not all(a < b for a, b in zip(low, high, strict=True)):
            raise QueryError(400, f"min bounds: {low} must be less than max bounds: {high}")
        parts = []
        for axis, physical in enumerate(column.physical):
            self.params.extend([float(low[axis]), float(high[axis])])
            parts.append(f"{self.ref(source, physical)} BETWEEN ? AND ?")
        return "(" + " AND ".join(parts) + ")"

    # -- selection -----------------------------------------------------------------------------
    def selection(self) -> list[tuple[Source, list[Column]]]:
        body = self.plan.body
        chosen: list[tuple[Source, list[Column]]] = []
        per_table = body.select_column_map
        flat = body.select_columns
        for source in self.plan.sources:
            names: list[str] | None
            if per_table is not None:
                names = per_table.get(source.name, [] if per_table else None)
            elif flat is not None and len(self.plan.sources) == 1:
                names = flat
            elif flat is not None:
                taken = {n for _, cols in chosen for n in (c.name for c in cols)}
                names = [n for n in flat if source.column(n) is not None and n not in taken]
            else:
                names = None
            if names is None:
                chosen.append((source, list(source.columns)))
                continue
            columns: list[Column] = []
            for name in names:
                column = self.column(source, name)
                if column.kind == "root" and column.point is not None:
                    partner = source.column(f"{column.point}_supervoxel_id")
                    if partner is not None and partner not in columns:
                        columns.append(partner)
                if column not in columns:
                    columns.append(column)
            chosen.append((source, columns))
        if flat is not None and per_table is None and len(self.plan.sources) > 1:
            known = {c.name for _, cols in chosen for c in cols}
            for name in flat:
                if name not in known:
                    raise QueryError(400, f"column {name} not found in any table of the query")
        return chosen

    def suffixes(self) -> dict[str, str]:
        body = self.plan.body
        names = [s.name for s in self.plan.sources]
        if body.suffix_map is not None:
            suffixes = {n: body.suffix_map.get(n, DEFAULT_SUFFIXES[i]) for i, n in enumerate(names)}
        elif body.suffixes is not None:
            suffixes = {
                n: body.suffixes[i] if i < len(body.suffixes) else DEFAULT_SUFFIXES[i]
                for i, n in enumerate(names)
            }
        else:
            suffixes = {n: DEFAULT_SUFFIXES[i] for i, n in enumerate(names)}
        if len(set(suffixes.values())) != len(suffixes):
            raise QueryError(400, f"suffixes must be unique, got {list(suffixes.values())}")
        return suffixes


def _scaled(ref: str, ratio: float) -> str:
    if ratio == 1.0:
        return ref
    return f"CAST(trunc({ref} * CAST({ratio!r} AS DOUBLE)) AS INTEGER)"


def run_query(
    connection: duckdb.DuckDBPyConnection, plan: QueryPlan, *, query_limit: int = QUERY_LIMIT
) -> QueryResult:
    """Compile and run ``plan`` on ``connection`` (which knows the sources' relations), answering
    at most ``query_limit`` rows."""
    compiler = _Compiler(plan)
    body = plan.body
    for join in plan.joins:
        compiler.column(compiler.source(join.left), join.left_column)
        compiler.column(compiler.source(join.right), join.right_column)
    selection = compiler.selection()
    where = compiler.where()
    resolution = body.desired_resolution or plan.default_resolution or plan.sources[-1].resolution
    counts: dict[str, int] = {}
    for _, columns in selection:
        for column in columns:
            counts[column.name] = counts.get(column.name, 0) + 1
    suffixes = compiler.suffixes() if len(plan.sources) > 1 else {}
    outputs: list[str] = []
    names: dict[str, dict[str, str]] = {}
    for source, columns in selection:
        ratios = [r / d for r, d in zip(source.resolution, resolution, strict=True)]
        names[source.name] = {}
        for column in columns:
            base = column.name
            if counts[base] > 1:
                base = column.name + suffixes[source.name]
            names[source.name][column.name] = base
            if column.kind == "position":
                for axis, physical in enumerate(column.physical):
                    ref = compiler.ref(source, physical)
                    expr = _scaled(ref, ratios[axis])
                    outputs.append(f"{expr} AS {_quote(base + '_' + POSITION_AXES[axis])}")
            else:
                outputs.append(f"{compiler.ref(source, column.name)} AS {_quote(base)}")
    sample = plan.random_sample
    froms = []
    for source in plan.sources:
        relation = source.relation
        if sample is not None and sample < source.row_count:
            relation = f"(SELECT * FROM {relation} USING SAMPLE reservoir({int(sample)} ROWS))"
        froms.append(f"{relation} AS {compiler.aliases[source.name]}")
    sql_from = froms[0]
    for join, relation in zip(plan.joins, froms[1:], strict=False):
        sql_from += (
            f" JOIN {relation} ON {compiler.ref(compiler.source(join.left), join.left_column)}"
            f" = {compiler.ref(compiler.source(join.right), join.right_column)}"
        )
    first = plan.sources[0]
    order = f" ORDER BY {compiler.ref(first, 'id')}" if first.column("id") else ""
    sql = f"SELECT {', '.join(outputs)} FROM {sql_from}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    offset = body.offset or 0
    limit: int | None = min(body.limit or query_limit, query_limit)
    if plan.count:
        sql = f"SELECT count(*) AS count FROM ({sql} OFFSET {offset})"
        limit = None
    else:
        sql += f"{order} LIMIT {limit} OFFSET {offset}"
    try:
        table = connection.sql(sql, params=compiler.params).to_arrow_table()
    except duckdb.Error as error:
        raise QueryError(400, f"query failed: {error}") from None
    table = _normalize(table)
    warnings = list(plan.warnings)
    if limit is not None and table.num_rows == limit:
        warnings.append(f'201 - "Limited query to {limit} rows')
    return QueryResult(table, names, resolution, warnings, limit)


def _normalize(table: pa.Table) -> pa.Table:
    """Production's column types: plain strings, nanosecond UTC timestamps, float32 reals."""
    columns = []
    fields = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        target = kind
        if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
            target = pa.string()
        elif pa.types.is_timestamp(kind):
            target = pa.timestamp("ns", tz="UTC")
        if target != kind:
            column = pc.cast(column, target)
        columns.append(column)
        fields.append(pa.field(name, target))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def columns_of(schema: pa.Schema) -> tuple[Column, ...]:
    """Logical columns of an Arrow schema (a view's result): ``X_x/_y/_z`` int triples whose base
    ends in ``_position`` are one position; ``*_root_id``/``*_supervoxel_id`` are segmentation."""
    names = list(schema.names)
    out: list[Column] = []
    skip: set[str] = set()
    for name in names:
        if name in skip:
            continue
        base = name[:-2]
        if name.endswith("_x") and base.endswith("_position"):
            triple = [f"{base}_{a}" for a in POSITION_AXES]
            if all(t in names for t in triple):
                skip.update(triple)
                out.append(Column(base, "position", base.removesuffix("_position")))
                continue
        kind = schema.field(name).type
        if name.endswith("_root_id"):
            out.append(Column(name, "root", name.removesuffix("_root_id")))
        elif name.endswith("_supervoxel_id"):
            out.append(Column(name, "supervoxel", name.removesuffix("_supervoxel_id")))
        elif pa.types.is_integer(kind):
            out.append(Column(name, "id" if name == "id" or name.endswith("_id") else "int"))
        elif pa.types.is_floating(kind):
            out.append(Column(name, "float"))
        elif pa.types.is_boolean(kind):
            out.append(Column(name, "bool"))
        elif pa.types.is_timestamp(kind):
            out.append(Column(name, "datetime"))
        else:
            out.append(Column(name, "string"))
    return tuple(out)


def joins_from_pairs(tables: Sequence[Sequence[str]]) -> list[Join]:
    """The join query's ``[[t1, c1], [t2, c2], …]``: only the first two entries count."""
    return [Join(tables[0][0], tables[0][1], tables[1][0], tables[1][1])]


def joins_from_quads(join_tables: Iterable[Sequence[str]]) -> list[Join]:
    """The live query's ``[[t1, c1, t2, c2], …]``."""
    return [Join(j[0], j[1], j[2], j[3]) for j in join_tables]
