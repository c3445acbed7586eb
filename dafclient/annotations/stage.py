"""AnnotationStage: annotations collected for one table, validated as they are added."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from dafclient.annotations.columnar import ColumnTable, validate_frame
from dafclient.annotations.frames import records_frame
from dafclient.annotations.layout import AnnotationLayout
from dafclient.annotations.wire import encode_records
from dafclient.errors import InputError

M = TypeVar("M")


def _resolution(value: Sequence[float] | None, name: str) -> np.ndarray[Any, Any] | None:
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float64)
    if array.shape != (3,) or not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise InputError(f"{name}: expected 3 positive numbers (nm per voxel), got {value!r}")
    return array


class AnnotationStage(Generic[M]):
    """Annotations for one table, checked against its annotation type as they are added.

    Make one with ``client.annotation.stage(table_name)`` (or :meth:`for_type` offline). Rows
    come as models (``stage.model(...)``), dicts (nested ``{"pt": {"position": [...]}}`` or
    flat ``pt_position``), or DataFrames (``pt_position`` or ``pt_position_x/_y/_z`` columns).
    Invalid input raises :class:`~dafclient.annotations.AnnotationValidationError` naming rows
    and fields, and nothing of that call is added. Positions given at another ``resolution``
    (nm per voxel) are converted to the table's.

    Args:
        layout: the annotation type's columns.
        model: its model class (construct rows with it; IDE completion works on its fields).
        table_name: the table the rows are for (None for a stage that is only validated).
        table_resolution: the table's voxel resolution, nm.
        update: stage replacements of existing annotations (every row needs an ``id``).
    """

    def __init__(
        self,
        layout: AnnotationLayout,
        model: type[M],
        *,
        table_name: str | None = None,
        table_resolution: Sequence[float] | None = None,
        update: bool = False,
    ) -> None:
        self.layout = layout
        self.model = model
        self.table_name = table_name
        self.table_resolution = _resolution(table_resolution, "table_resolution")
        self.update = update
        self.annotation_resolution: np.ndarray[Any, Any] | None = None
        """Resolution (nm per voxel) of positions added without ``resolution=`` (None: the
        table's); CAVEclient's ``stage_annotations(annotation_resolution=...)``."""
        self._parts: list[ColumnTable] = []
        self._length = 0

    @classmethod
    def for_type(
        cls,
        schema_type: str,
        *,
        table_resolution: Sequence[float] | None = None,
        update: bool = False,
    ) -> AnnotationStage[Any]:
        """A stage for a snapshot annotation type, with no server (validation and encoding)."""
        from dafclient.annotations.catalog import snapshot_type

        layout, model = snapshot_type(schema_type)
        return AnnotationStage(layout, model, table_resolution=table_resolution, update=update)

    @property
    def schema_type(self) -> str:
        """The annotation type name."""
        return self.layout.schema_type

    def __len__(self) -> int:
        return self._length

    def __repr__(self) -> str:
        where = f"table={self.table_name!r}, " if self.table_name else ""
        return f"AnnotationStage({where}type={self.schema_type!r}, rows={self._length})"

    # -- adding rows ---------------------------------------------------------------------------

    def add(self, *rows: M | Mapping[str, Any], **fields: Any) -> None:
        """Add one row given as keyword fields, or any number of models or dicts."""
        if fields and rows:
            raise InputError("give rows or keyword fields, not both")
        records: list[Any] = [fields] if fields else list(rows)
        self.add_records(records)

    def add_records(
        self,
        records: Iterable[M | Mapping[str, Any]],
        *,
        resolution: Sequence[float] | None = None,
        ignore_columns: Iterable[str] = (),
    ) -> None:
        """Add rows given as models or dicts (nested or flat).

        Unknown keys are refused, as unknown columns are by :meth:`add_dataframe`; list the
        top-level keys you mean to leave out in ``ignore_columns``.
        """
        layout = self.layout
        frame = records_frame(layout, records, id_column="id" if self.update else None)
        self._append(frame, resolution, ignore_columns)

    def add_dataframe(
        self,
        frame: pd.DataFrame,
        *,
        resolution: Sequence[float] | None = None,
        ignore_columns: Iterable[str] = (),
    ) -> None:
        """Add every row of ``frame`` (flat columns; see the class docstring).

        Unknown columns are refused, so a misspelled column is never silently dropped; list
        columns you mean to leave out in ``ignore_columns``.
        """
        if not isinstance(frame, pd.DataFrame):
            raise InputError(f"expected a DataFrame, got {type(frame).__name__}")
        self._append(frame, resolution, ignore_columns)

    def _append(
        self,
        frame: pd.DataFrame,
        resolution: Sequence[float] | None,
        ignore_columns: Iterable[str],
    ) -> None:
        scale = self._scale(resolution)
        table = validate_frame(
            self.layout,
            frame,
            id_column="id" if self.update else None,
            ignore_columns=ignore_columns,
        )
        if scale is not None:
            for spec in self.layout.fields:
                column = table.columns.get(spec.column)
                if spec.kind == "position" and column is not None:
                    column.values = column.values * scale
        self._parts.append(table)
        self._length += table.length

    def _scale(self, resolution: Sequence[float] | None) -> np.ndarray[Any, Any] | None:
        given = _resolution(resolution, "resolution")
        if given is None:
            given = self.annotation_resolution
        if given is None:
            return None
        if self.table_resolution is None:
            raise InputError("this stage has no table resolution to convert positions to")
        if np.array_equal(given, self.table_resolution):
            return None
        scale: np.ndarray[Any, Any] = given / self.table_resolution
        return scale

    def clear(self) -> None:
        """Remove every row."""
        self._parts.clear()
        self._length = 0

    # -- reading -------------------------------------------------------------------------------

    def table(self) -> ColumnTable:
        """Every staged row, as validated columns."""
        if len(self._parts) != 1:
            self._parts = [ColumnTable.concat(self._parts, self.layout)]
        return self._parts[0]

    def records(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        """Rows ``start:stop`` as the nested JSON records that will be posted."""
        return encode_records(self.table(), slice(start, stop), with_ids=self.update)

    def to_dataframe(self) -> pd.DataFrame:
        """The staged rows as a flat DataFrame (``pt_position`` columns hold ``[x, y, z]``)."""
        table = self.table()
        data: dict[str, Any] = {}
        if table.ids is not None:
            data["id"] = table.ids
        for spec in self.layout.fields:
            column = table.columns.get(spec.column)
            if column is None:
                continue
            if spec.kind == "position":
                values: list[Any] = column.values.tolist()
            else:
                values = column.values.astype(object).tolist()
            for i in np.flatnonzero(column.null).tolist():
                values[i] = None
            data[spec.column] = pd.Series(values, dtype=object)
        return pd.DataFrame(data, index=range(table.length))
