"""Validated columns → the nested JSON records the AnnotationEngine takes, and row fingerprints
that compare staged rows with rows read back from a table."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from dafclient.annotations.columnar import Column, ColumnTable
from dafclient.annotations.layout import SEGMENT_ID_FIELDS, FieldSpec

EXACT_INTEGER = 2**53
"""Integral positions up to this magnitude are sent as integers (beyond it, as floats: int64
would overflow)."""


def _integral(values: npt.NDArray[np.float64]) -> bool:
    """Whether every coordinate is a whole number that converts to int64 exactly."""
    return bool(
        values.size
        and np.all(values == np.trunc(values))
        and np.all(np.abs(values) <= EXACT_INTEGER)
    )


def _python_values(
    spec: FieldSpec, column: Column, rows: slice | npt.NDArray[np.intp]
) -> list[Any]:
    """One column's values for ``rows`` as JSON-ready Python values (None where null)."""
    values = column.values[rows]
    null = column.null[rows]
    if spec.kind == "position":
        out: list[Any] = (
            np.where(null[:, None], 0, values).astype(np.int64).tolist()
            if _integral(values[~null])
            else values.tolist()
        )
    else:
        out = values.tolist()
    if null.any():
        for i in np.flatnonzero(null).tolist():
            out[i] = None
    return out


def encode_records(
    table: ColumnTable, rows: slice | npt.NDArray[np.intp], *, with_ids: bool = False
) -> list[dict[str, Any]]:
    """Rows ``rows`` of ``table`` as nested annotations (``{"pre_pt": {"position": [...]}}``).

    Null values and absent points are left out; with ``with_ids`` each record gets its ``id``.
    """
    top: list[tuple[str, list[Any]]] = []
    points: dict[str, list[tuple[str, list[Any]]]] = {}
    for spec in table.layout.fields:
        column = table.columns.get(spec.column)
        if column is None:
            continue
        values = _python_values(spec, column, rows)
        if spec.point is None:
            top.append((spec.column, values))
        else:
            points.setdefault(spec.point, []).append((spec.path[1], values))
    count = len(np.arange(table.length)[rows])
    records: list[dict[str, Any]] = [{} for _ in range(count)]
    for name, values in top:
        for record, value in zip(records, values, strict=True):
            if value is not None:
                record[name] = value
    for point, parts in points.items():
        for i, record in enumerate(records):
            nested = {key: values[i] for key, values in parts if values[i] is not None}
            if nested:
                record[point] = nested
    if with_ids:
        if table.ids is None:
            raise ValueError("the table has no ids")
        for record, annotation_id in zip(records, table.ids[rows].tolist(), strict=True):
            record["id"] = annotation_id
    return records


def _json_texts(spec: FieldSpec, values: list[Any]) -> list[str]:
    """Each value as JSON text (``null`` for None)."""
    if spec.kind == "boolean":
        return ["null" if v is None else ("true" if v else "false") for v in values]
    if spec.kind in ("integer", "number"):
        return ["null" if v is None else repr(v) for v in values]
    dumps = json.dumps
    return [dumps(v) for v in values]


def _field_part(
    spec: FieldSpec, column: Column, rows: slice | npt.NDArray[np.intp]
) -> tuple[str, list[list[Any]]] | None:
    """A row-template fragment for one field and the argument columns it consumes; None when
    the field is null in every row (it is left out)."""
    null = column.null[rows]
    if null.all():
        return None
    key = json.dumps(spec.path[-1]).replace("%", "%%")
    if spec.kind == "position" and not null.any():
        values = column.values[rows]
        integral = _integral(values)
        coordinates = (values.astype(np.int64) if integral else values).T.tolist()
        slot = "%d" if integral else "%r"
        return f"{key}:[{slot},{slot},{slot}]", coordinates
    python = _python_values(spec, column, rows)
    if not null.any():
        if spec.kind == "integer":
            return f"{key}:%d", [python]
        if spec.kind == "number":
            return f"{key}:%r", [python]
    return f"{key}:%s", [_json_texts(spec, python)]


def encode_body(
    table: ColumnTable, rows: slice | npt.NDArray[np.intp], *, with_ids: bool = False
) -> bytes:
    """``{"annotations": [...]}`` for rows ``rows``, as JSON bytes equal in meaning to
    :func:`encode_records` (built with one string template per batch, not one dict per row)."""
    fragments: list[str] = []
    arguments: list[list[Any]] = []
    if with_ids:
        if table.ids is None:
            raise ValueError("the table has no ids")
        fragments.append('"id":%d')
        arguments.append(table.ids[rows].tolist())
    point_parts: dict[str, list[tuple[str, list[list[Any]]]]] = {}
    for spec in table.layout.fields:
        column = table.columns.get(spec.column)
        if column is None:
            continue
        part = _field_part(spec, column, rows)
        if part is None:
            continue
        if spec.point is None:
            fragments.append(part[0])
            arguments.extend(part[1])
        else:
            point_parts.setdefault(spec.point, []).append(part)
    for point, parts in point_parts.items():
        absent = np.logical_and.reduce(
            [table.columns[c].null[rows] for c in _point_columns(table, point)]
        )
        if absent.any():  # some rows lack this optional point: encode it row by row
            texts = [
                "null" if gone else json.dumps(record.get(point))
                for gone, record in zip(absent.tolist(), encode_records(table, rows), strict=True)
            ]
            fragments.append(json.dumps(point).replace("%", "%%") + ":%s")
            arguments.append(texts)
            continue
        name = json.dumps(point).replace("%", "%%")
        fragments.append(name + ":{" + ",".join(p[0] for p in parts) + "}")
        for _, columns in parts:
            arguments.extend(columns)
    template = "{" + ",".join(fragments) + "}"
    count = len(np.arange(table.length)[rows])
    if not arguments:
        items = ",".join([template] * count)
    else:
        items = ",".join([template % values for values in zip(*arguments, strict=True)])
    return ('{"annotations":[' + items + "]}").encode()


def _point_columns(table: ColumnTable, point: str) -> list[str]:
    for spec in table.layout.points:
        if spec.name == point:
            return [c for c in spec.columns if c in table.columns]
    return []


Fingerprint = tuple[Any, ...]


def _stored_columns(table: ColumnTable) -> list[FieldSpec]:
    """The fields the AnnotationEngine stores and returns (no segment ids, no ``valid``)."""
    return [
        spec
        for spec in table.layout.fields
        if not (spec.point is not None and spec.path[1] in SEGMENT_ID_FIELDS)
        and spec.column != "valid"
    ]


def _fingerprint_value(spec: FieldSpec, value: Any) -> Any:
    if value is None:
        return None
    if spec.kind == "position":
        return tuple(int(v) for v in value)  # stored as integers, truncated toward zero
    if spec.kind == "number":
        return float(value)
    if spec.kind == "integer":
        return int(value)
    return value


def staged_fingerprints(table: ColumnTable, rows: npt.NDArray[np.intp]) -> list[Fingerprint]:
    """What each staged row will look like when read back from the table."""
    specs = _stored_columns(table)
    columns: list[list[Any]] = []
    for spec in specs:
        column = table.columns.get(spec.column)
        if column is None:
            columns.append([None] * len(rows))
            continue
        values = _python_values(spec, column, rows)
        columns.append([_fingerprint_value(spec, v) for v in values])
    return list(zip(*columns, strict=True)) if columns else [() for _ in rows]


def stored_fingerprint(table: ColumnTable, row: Mapping[str, Any]) -> Fingerprint:
    """The fingerprint of one row as read back (flat names, ``GET .../annotations``)."""
    return tuple(_fingerprint_value(spec, row.get(spec.column)) for spec in _stored_columns(table))


def batches(count: int, size: int) -> Sequence[npt.NDArray[np.intp]]:
    """Row positions ``0..count`` split into consecutive batches of at most ``size``."""
    return [np.arange(start, min(start + size, count)) for start in range(0, count, size)]
