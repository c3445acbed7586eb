"""The DataFrame side of lookups: point columns read columnar or cell by cell, rows named lazily."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from dafclient.errors import InputError
from dafclient.lookup_frames import PointColumns, RowLabels, column_points


def _arrow(cells: list[list[int] | list[str] | None], kind: pa.DataType) -> pd.Series:
    return pd.Series(pa.array(cells, type=kind), dtype=pd.ArrowDtype(kind))


@pytest.mark.parametrize(
    "kind",
    [pa.list_(pa.int64(), 3), pa.list_(pa.int32()), pa.list_(pa.float64(), 3)],
    ids=["fixed-int64", "list-int32", "fixed-float"],
)
def test_arrow_lists_of_three_are_read_columnar(kind: pa.DataType) -> None:
    cells = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    series = _arrow(cells, kind)
    found = column_points(series)
    assert found is not None and found.dtype == np.float64
    np.testing.assert_array_equal(found, np.array(cells, dtype=np.float64))
    # a slice of a column (as a partition is) starts at its own first row
    sliced = column_points(series.iloc[1:])
    assert sliced is not None
    np.testing.assert_array_equal(sliced, np.array(cells[1:], dtype=np.float64))


@pytest.mark.parametrize(
    "series",
    [
        _arrow([[1, 2, 3], None], pa.list_(pa.int64(), 3)),
        _arrow([[1, 2, 3], [1, 2]], pa.list_(pa.int64())),
        pd.Series(pa.array([[1, None, 3]], type=pa.list_(pa.int64(), 3)), dtype="object"),
        pd.Series([[1, 2, 3]], dtype="object"),
        _arrow([["1", "2", "3"]], pa.list_(pa.string(), 3)),
    ],
    ids=["null row", "short list", "object arrow", "object lists", "strings"],
)
def test_other_columns_are_left_to_the_row_reader(series: pd.Series) -> None:
    assert column_points(series) is None


def test_rows_are_named_by_index_label_and_column() -> None:
    frame = pd.DataFrame(
        {
            "a": _arrow([[1, 2, 3], [4, 5, 6]], pa.list_(pa.int64(), 3)),
            "b_position": _arrow([[1, 2, 3], [4, 5]], pa.list_(pa.int64())),
        }
    ).set_axis(pd.Index(["x", "y"]))
    columns = PointColumns.find(frame.columns, ["a", "b"], "_position", "_sv", "_root")
    assert columns.sources == (("a", "a"), ("b_position", "b"))
    with pytest.raises(InputError) as info:
        columns.points(frame)
    assert list(info.value.problems) == ["row 'y' (b_position): not a point of 3 numbers: [4, 5]"]
    labels = RowLabels(pd.Index([7, 9]), ("a", "b"))
    assert list(labels) == ["7 (a)", "9 (a)", "7 (b)", "9 (b)"]
    assert labels[-1] == "9 (b)" and labels[1:3] == ["9 (a)", "7 (b)"]
    with pytest.raises(IndexError):
        labels[4]


def test_the_answer_keeps_every_column_dtype() -> None:
    kind = pa.list_(pa.int64(), 3)
    frame = pd.DataFrame(
        {
            "pt": _arrow([[1, 2, 3], [4, 5, 6]], kind),
            "n": pd.array([1, None], dtype="Int64"),
            "kind": pd.Categorical(["e", "i"]),
        }
    ).set_axis(pd.Index([10, 20], name="row"))
    columns = PointColumns.find(frame.columns, "pt", "_position", "_sv", "_root")
    points, _ = columns.points(frame)
    np.testing.assert_array_equal(points, [[1, 2, 3], [4, 5, 6]])
    ids = np.array([5, 6], dtype=np.uint64)
    out = columns.answer(frame, ids, ids + 1, flat=False)
    assert list(out.columns) == ["pt_position", "pt_sv", "pt_root", "n", "kind"]
    assert out.dtypes.tolist() == [pd.ArrowDtype(kind), np.uint64, np.uint64, "Int64", "category"]
    pd.testing.assert_index_equal(out.index, frame.index)
    assert out["pt_root"].tolist() == [6, 7]
    flat = columns.answer(frame, ids, ids, flat=True)
    assert list(flat.columns) == ["pt_position", "pt_root", "n", "kind"]
