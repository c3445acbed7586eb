"""The flat columns of a materialized table, derived from its EMAnnotationSchemas JSONSchema.

A ``BoundSpatialPoint`` field ``X`` becomes ``X_position`` (stored and served as three int32 columns
``X_position_x/_y/_z``), ``X_supervoxel_id`` and ``X_root_id`` (int64); a ``SpatialPoint`` becomes
``X_position`` only; nested objects are flattened with ``_``. Scalars keep production's
``direct_sql_pandas`` types: float32 for numbers, int64 for integers (production: int32 for
``Integer`` columns, int64 for ids; dafserver uses int64 for both), bool, string. Reference schemas
(``target_id``) get an int64 ``target_id``.

Column order: ``id``, ``valid``, ``target_id`` (reference schemas), then the schema's fields in
their ``order`` key where present, else by name (production follows the marshmallow declaration
order, which the JSONSchema does not carry).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

POSITION_AXES = ("x", "y", "z")
ID_TYPE = pa.int64()
POSITION_TYPE = pa.int32()


@dataclass(frozen=True)
class Column:
    """One logical column: ``kind`` is ``id``, ``bool``, ``int``, ``float``, ``string``, ``json``,
    ``position``, ``supervoxel`` or ``root``; ``point`` names the point a segmentation column
    belongs to."""

    name: str
    kind: str
    point: str | None = None

    @property
    def physical(self) -> tuple[str, ...]:
        """The stored (and served) column names."""
        if self.kind == "position":
            return tuple(f"{self.name}_{axis}" for axis in POSITION_AXES)
        return (self.name,)

    def arrow_fields(self) -> list[pa.Field]:
        if self.kind == "position":
            return [pa.field(name, POSITION_TYPE) for name in self.physical]
        arrow = {
            "id": ID_TYPE,
            "supervoxel": ID_TYPE,
            "root": ID_TYPE,
            "int": pa.int64(),
            "float": pa.float32(),
            "bool": pa.bool_(),
            "string": pa.string(),
            "json": pa.string(),
            "datetime": pa.timestamp("ns", tz="UTC"),
        }[self.kind]
        return [pa.field(self.name, arrow)]


@dataclass(frozen=True)
class Layout:
    """The materialized columns of one schema type."""

    schema_type: str
    columns: tuple[Column, ...]
    bound_points: tuple[str, ...]
    """Points that get a supervoxel and a root."""
    is_reference: bool

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def data_columns(self) -> tuple[Column, ...]:
        """Columns read from an annotation's stored data (not id/valid/target/segmentation)."""
        return tuple(
            c
            for c in self.columns
            if c.kind not in ("id", "supervoxel", "root") and c.name not in ("valid", "target_id")
        )

    def arrow_schema(self, extra: tuple[Column, ...] = ()) -> pa.Schema:
        return pa.schema([f for c in (*self.columns, *extra) for f in c.arrow_fields()])


def _resolve(ref: str, definitions: Mapping[str, Any]) -> Mapping[str, Any]:
    return dict(definitions.get(ref.rsplit("/", 1)[-1], {}))


def _types(spec: Mapping[str, Any]) -> set[str]:
    raw = spec.get("type", [])
    return {raw} if isinstance(raw, str) else {str(t) for t in raw}


def _scalar_kind(spec: Mapping[str, Any]) -> str:
    types = _types(spec) - {"null"}
    if types == {"integer"}:
        return "int"
    if types == {"number"}:
        return "float"
    if types == {"boolean"}:
        return "bool"
    if types == {"string"}:
        return "string"
    return "json"


def _sort_key(item: tuple[str, Any]) -> tuple[int, str]:
    name, spec = item
    order = spec.get("order") if isinstance(spec, Mapping) else None
    return (int(order) if isinstance(order, int) else 1_000_000, name)


def _walk(
    properties: Mapping[str, Any],
    definitions: Mapping[str, Any],
    prefix: str,
    columns: list[Column],
    bound: list[str],
) -> None:
    for name, spec in sorted(properties.items(), key=_sort_key):
        if not isinstance(spec, Mapping) or (not prefix and name in ("valid", "target_id")):
            continue
        full = prefix + name
        target = _resolve(str(spec["$ref"]), definitions) if "$ref" in spec else spec
        inner = target.get("properties") if isinstance(target.get("properties"), Mapping) else None
        if inner is not None and "position" in inner:
            columns.append(Column(f"{full}_position", "position", full))
            if "supervoxel_id" in inner:
                columns.append(Column(f"{full}_supervoxel_id", "supervoxel", full))
                columns.append(Column(f"{full}_root_id", "root", full))
                bound.append(full)
        elif inner is not None:
            _walk(inner, definitions, f"{full}_", columns, bound)
        else:
            columns.append(Column(full, _scalar_kind(target)))


def layout_for(schema_type: str, document: Mapping[str, Any]) -> Layout:
    """The layout of ``schema_type`` from its JSONSchema ``document``."""
    definitions = document.get("definitions", {})
    root = _resolve(str(document.get("$ref", "")), definitions)
    properties = root.get("properties", {})
    is_reference = "target_id" in properties
    columns = [Column("id", "id"), Column("valid", "bool")]
    if is_reference:
        columns.append(Column("target_id", "id"))
    bound: list[str] = []
    _walk(properties, definitions, "", columns, bound)
    return Layout(schema_type, tuple(columns), tuple(bound), is_reference)
