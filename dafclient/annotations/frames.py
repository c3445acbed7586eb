"""Turning annotations given as models or dicts into the flat DataFrame the validator reads."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any

import pandas as pd

from dafclient.annotations.columnar import AnnotationValidationError, RowError
from dafclient.annotations.layout import AnnotationLayout
from dafclient.errors import InputError


def model_record(model: Any) -> dict[str, Any]:
    """A generated (or run-time) model instance as a nested dict of plain values."""
    if not dataclasses.is_dataclass(model) or isinstance(model, type):
        raise InputError(f"expected an annotation model instance, got {type(model).__name__}")
    record: dict[str, Any] = _plain(dataclasses.asdict(model))
    # Fields a model keeps beyond its declared ones (``extra="allow"``) are not in asdict();
    # pass them on so the validator refuses them instead of dropping them silently.
    declared = {f.name for f in dataclasses.fields(model)}
    for name, value in getattr(model, "__dict__", {}).items():
        if name not in declared and not name.startswith("_"):
            record[name] = _plain(value)
    return record


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def records_frame(
    layout: AnnotationLayout, records: Iterable[Any], *, id_column: str | None = None
) -> pd.DataFrame:
    """Flatten nested records (``{"pre_pt": {"position": [...]}, ...}``, flat ones, or models)
    into one row per record; unknown keys inside a point are errors naming the row."""
    points = {p.name: {c.removeprefix(p.name + "_") for c in p.columns} for p in layout.points}
    # Column by column, row index -> value. Every layout column is present, so a missing
    # required value is reported for its row.
    columns: dict[str, dict[int, Any]] = {name: {} for name in layout.columns}
    problems: list[RowError] = []
    count = 0
    for index, record in enumerate(records):
        count += 1
        if type(record) is not dict and not isinstance(record, Mapping):
            record = model_record(record)
        for key, value in record.items():
            if type(key) is not str:
                key = str(key)
            fields = points.get(key)
            if fields is None:
                _column(columns, key)[index] = value
                continue
            if type(value) is not dict and not isinstance(value, Mapping):
                if dataclasses.is_dataclass(value) and not isinstance(value, type):
                    value = model_record(value)  # a point given as its model (``SpatialPoint``)
                elif value is None:
                    continue  # a null point: absent
                else:
                    problems.append(RowError(index, index, key, "not a point object", value))
                    continue
            for sub, sub_value in value.items():
                if sub not in fields:
                    problems.append(
                        RowError(index, index, f"{key}.{sub}", "unknown field", sub_value)
                    )
                _column(columns, f"{key}_{sub}")[index] = sub_value
    if problems:
        bad = sorted({p.row for p in problems})
        raise AnnotationValidationError(layout.schema_type, problems[:20], len(problems), bad)
    # Object columns keep every value exactly as given (pandas would turn ids above 2**53 with
    # a missing value into floats); the validator converts them value by value.
    frame = pd.DataFrame(
        {
            name: pd.Series(
                # Rows were added in order, so a column every row gave is already in row order.
                list(values.values())
                if len(values) == count
                else [values.get(i) for i in range(count)]
                if values
                else [None] * count,
                dtype=object,
            )
            for name, values in columns.items()
        },
        index=range(count),
    )
    if id_column is not None and id_column not in frame.columns and count:
        raise InputError(f"records have no {id_column!r}: updates need each annotation's id")
    return frame


def _column(columns: dict[str, dict[int, Any]], name: str) -> dict[int, Any]:
    found = columns.get(name)
    if found is None:
        found = columns[name] = {}
    return found
