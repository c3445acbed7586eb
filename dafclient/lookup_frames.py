"""The DataFrame side of a lookup: which columns hold points, their points, and the answer frame.

Shared by the in-memory :meth:`LookupClient.lookup_dataframe` and the Dask lookup
(:mod:`dafclient.dask_lookup`), so both read points and build answers the same way. Columns of
Arrow lists of 3 numbers (what ``query_table`` returns) are read without a Python object per row;
other columns cell by cell. Rows are named by their index label in messages (the labels are made
only for the rows a message names).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

from dafclient.chunked_reads import as_points
from dafclient.errors import InputError
from dafclient.ids import IdArray


@dataclass(frozen=True)
class PointColumns:
    """The point columns of one lookup: for each name asked for, the column that holds it."""

    names: tuple[str, ...]
    sources: tuple[tuple[str, str], ...]
    """``(column in the data, name)`` in the order of ``names``."""
    position_suffix: str
    supervoxel_suffix: str
    root_id_suffix: str

    @classmethod
    def find(
        cls,
        columns: pd.Index,
        point_column: str | Sequence[str],
        position_suffix: str,
        supervoxel_suffix: str,
        root_id_suffix: str,
    ) -> PointColumns:
        """The columns of ``columns`` named ``c`` or ``c{position_suffix}`` for each point
        column ``c``; :class:`InputError` if one is missing."""
        names = [point_column] if isinstance(point_column, str) else list(point_column)
        if not names:
            raise InputError("point_column names no column")
        sources: dict[str, str] = {}
        for name in names:
            if name in columns:
                sources[name] = name
            elif f"{name}{position_suffix}" in columns:
                sources[f"{name}{position_suffix}"] = name
            else:
                raise InputError(
                    f"point column {name!r} is not in the data (nor {name}{position_suffix!r})"
                )
        return cls(
            tuple(names),
            tuple(sources.items()),
            position_suffix,
            supervoxel_suffix,
            root_id_suffix,
        )

    def points(self, data: pd.DataFrame) -> tuple[npt.NDArray[np.float64], RowLabels]:
        """All points of all point columns, column after column, as an ``(N * columns, 3)``
        array, and the labels naming them (``InputError`` names malformed rows)."""
        labels = RowLabels(data.index, tuple(column for column, _ in self.sources))
        if len(labels) == 0:
            return np.zeros((0, 3)), labels
        parts = [column_points(data[column]) for column, _ in self.sources]
        if all(part is not None for part in parts):
            return np.concatenate([p for p in parts if p is not None]), labels
        rows = [cell for column, _ in self.sources for cell in data[column].tolist()]
        return as_points(rows, labels), labels

    def answer(
        self, data: pd.DataFrame, supervoxels: IdArray, roots: IdArray, flat: bool
    ) -> pd.DataFrame:
        """A copy of ``data`` with each point column renamed ``c{position_suffix}`` and followed
        by its supervoxel (unless ``flat``) and root ids (``supervoxels`` and ``roots`` hold
        all columns' ids, column after column)."""
        n = len(data)
        produced = {
            name + suffix
            for name in self.names
            for suffix in (self.supervoxel_suffix, self.root_id_suffix)
        }
        where = {column: k for k, (column, _) in enumerate(self.sources)}
        out: dict[str, Any] = {}
        for column in data.columns:
            if column in produced:
                continue
            values = data[column].array.copy()
            if column not in where:
                out[column] = values
                continue
            k = where[column]
            name = self.sources[k][1]
            out[f"{name}{self.position_suffix}"] = values
            if not flat:
                out[f"{name}{self.supervoxel_suffix}"] = supervoxels[k * n : (k + 1) * n]
            out[f"{name}{self.root_id_suffix}"] = roots[k * n : (k + 1) * n]
        return pd.DataFrame(out, index=data.index.copy())


class RowLabels(Sequence[str]):
    """``"{index label!r} ({column})"`` for each row of each point column, made when asked."""

    def __init__(self, rows: pd.Index, columns: tuple[str, ...]) -> None:
        self.rows = rows
        self.columns = columns

    def __len__(self) -> int:
        return len(self.rows) * len(self.columns)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        column, row = divmod(i % len(self), len(self.rows))
        (label,) = self.rows[row : row + 1]  # iterated: Python scalars, as in a loop over it
        return f"{label!r} ({self.columns[column]})"


def column_points(values: pd.Series) -> npt.NDArray[np.float64] | None:
    """The ``(N, 3)`` points of a column of Arrow lists of exactly 3 non-null numbers, read
    without a Python object per row; ``None`` for any other column (read cell by cell)."""
    if not isinstance(values.dtype, pd.ArrowDtype):
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = values.dtype.pyarrow_dtype
    if not (pa.types.is_fixed_size_list(kind) or pa.types.is_list(kind)):
        return None
    if not (pa.types.is_integer(kind.value_type) or pa.types.is_floating(kind.value_type)):
        return None
    cells: Any = pa.array(values.array)  # one Array (pyarrow combines the chunks)
    if isinstance(cells, pa.ChunkedArray):
        cells = cells.combine_chunks()
    if cells.null_count:
        return None
    if pa.types.is_list(kind) and not pc.all(pc.equal(pc.list_value_length(cells), 3)).as_py():
        return None
    flat = cells.flatten()
    if flat.null_count or len(flat) != 3 * len(values):
        return None
    return np.asarray(flat.to_numpy(zero_copy_only=False), dtype=np.float64).reshape(-1, 3)
