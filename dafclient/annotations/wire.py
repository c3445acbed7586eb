"""Validated columns → the nested JSON records the AnnotationEngine takes, and row fingerprints
that compare staged rows with rows read back from a table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from dafclient.annotations.columnar import Column, ColumnTable
from dafclient.annotations.layout import SEGMENT_ID_FIELDS, FieldSpec


def _python_values(
    spec: FieldSpec, column: Column, rows: slice | npt.NDArray[np.intp]
) -> list[Any]:
    """One column's values for ``rows`` as JSON-ready Python values (None where null)."""
    values = column.values[rows]
    null = column.null[rows]
    if spec.kind == "position":
        integral = np.all(values[~null] == np.trunc(values[~null]))
        out: list[Any] = (
            values.astype(np.int64).tolist() if integral and not null.all() else values.tolist()
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
