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
    rows: list[dict[str, Any]] = []
    problems: list[RowError] = []
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            record = model_record(record)
        flat: dict[str, Any] = {}
        for key, value in record.items():
            key = str(key)
            if (
                key in points
                and not isinstance(value, Mapping)
                and dataclasses.is_dataclass(value)
                and not isinstance(value, type)
            ):
                value = model_record(value)  # a point given as its model (``SpatialPoint``)
            if key in points and isinstance(value, Mapping):
                for sub, sub_value in value.items():
                    if sub not in points[key]:
                        problems.append(
                            RowError(index, index, f"{key}.{sub}", "unknown field", sub_value)
                        )
                    flat[f"{key}_{sub}"] = sub_value
            elif key in points and value is not None:
                problems.append(RowError(index, index, key, "not a point object", value))
            elif key in points:
                continue  # a null point: absent
            else:
                flat[key] = value
        rows.append(flat)
    if problems:
        bad = sorted({p.row for p in problems})
        raise AnnotationValidationError(layout.schema_type, problems[:20], len(problems), bad)
    # Every layout column is present, so a missing required value is reported for its row.
    names = list(dict.fromkeys([*layout.columns, *(key for row in rows for key in row)]))
    # Object columns keep every value exactly as given (pandas would turn ids above 2**53 with
    # a missing value into floats); the validator converts them value by value.
    frame = pd.DataFrame(
        {name: pd.Series([row.get(name) for row in rows], dtype=object) for name in names},
        index=range(len(rows)),
    )
    if id_column is not None and id_column not in frame.columns and rows:
        raise InputError(f"records have no {id_column!r}: updates need each annotation's id")
    return frame
