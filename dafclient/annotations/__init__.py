"""Annotation construction, validation and bulk writes.

- :class:`AnnotationStage`: rows for one table (models, dicts, DataFrames), validated as they
  are added; made by ``client.annotation.stage(table_name)`` or :meth:`AnnotationStage.for_type`.
- :func:`validate_dataframe`: the columnar validator on its own.
- :class:`BulkResult`: the row-by-row outcome of ``bulk_post`` / ``bulk_update`` /
  ``bulk_delete``, which ``resume`` finishes safely.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from dafclient.annotations.bulk import BulkIncompleteError, BulkResult, RowState
from dafclient.annotations.catalog import live_type, snapshot_type
from dafclient.annotations.columnar import AnnotationValidationError, ColumnTable, RowError
from dafclient.annotations.columnar import validate_frame as _validate_frame
from dafclient.annotations.layout import AnnotationLayout, FieldSpec, PointSpec
from dafclient.annotations.stage import AnnotationStage


def validate_dataframe(
    schema_type: str,
    frame: pd.DataFrame,
    *,
    ignore_columns: Iterable[str] = (),
    max_errors: int = 20,
) -> ColumnTable:
    """Validate a DataFrame of flat annotations of a snapshot type; raise
    :class:`AnnotationValidationError` naming the first ``max_errors`` bad rows and fields."""
    layout, _ = snapshot_type(schema_type)
    return _validate_frame(layout, frame, ignore_columns=ignore_columns, max_errors=max_errors)


__all__ = [
    "AnnotationLayout",
    "AnnotationStage",
    "AnnotationValidationError",
    "BulkIncompleteError",
    "BulkResult",
    "ColumnTable",
    "FieldSpec",
    "PointSpec",
    "RowError",
    "RowState",
    "live_type",
    "snapshot_type",
    "validate_dataframe",
]
