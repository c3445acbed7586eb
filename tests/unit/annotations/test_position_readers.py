"""Position columns read whole (lists, tuples, numpy arrays, Arrow lists): the same canonical
points and the same row/field errors as the value-by-value reference reader, in every form."""

from __future__ import annotations

import decimal
import json
import math
import os
import subprocess
import sys
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dafclient.annotations import positions
from dafclient.annotations.columnar import AnnotationValidationError, validate_frame
from dafclient.annotations.layout import snapshot_layout
from dafclient.annotations.positions import Read, axis_positions, position_rows, read_positions
from tests.paths import REPO
from tests.unit.annotations import allocation_probe
from tests.unit.annotations.position_forms import arrow_series, coordinates, forms

SYNAPSE = snapshot_layout("synapse")
POINTS = ("pre_pt", "post_pt", "ctr_pt")
ROWS = 130_000
"""Two fallback blocks, so an odd row in the second is read as it would be in 1M."""
BAD_ROW = 123_456


def assert_same_read(got: Read, expected: Read) -> None:
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(got[2], expected[2])


def frame_with(series: pd.Series, column: str, xyz: np.ndarray) -> pd.DataFrame:
    """A valid synapse frame: ``series`` as ``column``, the other points as x/y/z columns."""
    data: dict[str, Any] = {column: series}
    for point in POINTS:
        if f"{point}_position" != column:
            for i, axis in enumerate("xyz"):
                data[f"{point}_position_{axis}"] = xyz[:, i]
    return pd.DataFrame(data)


# -- every form, the same answer -------------------------------------------------------------


@pytest.mark.parametrize("form", list(forms(coordinates(3))))
def test_every_form_reads_to_the_same_canonical_points(form: str) -> None:
    xyz = coordinates(20_000)
    series = forms(xyz)[form]
    points, null, invalid = read_positions(series)
    assert points.dtype == np.float64 and points.shape == (20_000, 3)
    np.testing.assert_array_equal(points, xyz.astype(np.float64))
    assert not null.any() and not invalid.any()
    assert points.flags.writeable
    table = validate_frame(SYNAPSE, frame_with(series, "post_pt_position", xyz))
    np.testing.assert_array_equal(table.columns["post_pt_position"].values, xyz.astype(float))


def test_arrow_nulls_and_null_children_read_as_the_reference_does() -> None:
    rows: list[Any] = [[1.5, 2, 3], None, [None, None, None], [4, None, 6], [7, 8, 9]]
    fixed = pa.array(rows, type=pa.list_(pa.float64(), 3))
    listed = pa.array([*rows, [1, 2]], type=pa.list_(pa.float64()))
    for array in (fixed, fixed.slice(1), listed, listed.slice(2)):
        series = arrow_series(array)
        assert_same_read(read_positions(series), position_rows(series.tolist()))
    _, null, invalid = read_positions(arrow_series(listed))
    assert null.tolist() == [False, True, True, False, False, False]
    assert invalid.tolist() == [False, False, False, True, False, True]


def test_arrow_columns_of_other_child_types_fall_back_to_the_reference() -> None:
    for array in (
        pa.array([[True, False, True], [True, True]], type=pa.list_(pa.bool_())),
        pa.array([["1", "2", "3"]], type=pa.list_(pa.string(), 3)),
        pa.array([[decimal.Decimal(1), 2, 3]]),
    ):
        series = arrow_series(array)
        assert_same_read(read_positions(series), position_rows(series.tolist()))


def test_fixed_size_lists_of_another_size_are_invalid_rows() -> None:
    array = pa.array([[1, 2], None, [3, 4]], type=pa.list_(pa.int64(), 2))
    points, null, invalid = read_positions(arrow_series(array))
    assert invalid.tolist() == [True, False, True] and null.tolist() == [False, True, False]
    assert np.isnan(points).all()


# -- every form, the same errors --------------------------------------------------------------

LIST_CORRUPTIONS: dict[str, Any] = {
    "bool in a list": [5, True, 7],
    "numpy bool in a list": [5, np.True_, 7],
    "bool in a tuple": (5.5, 6, False),
    "NaN": [5, math.nan, 7],
    "two items": [5, 6],
    "four items": [5, 6, 7, 8],
    "string": "abc",
    "string item": [5, "x", 7],
    "bytes": b"abc",
    "decimal": [decimal.Decimal(5), 6, 7],
    "infinity": [5, -math.inf, 7],
}
ARRAY_CORRUPTIONS: dict[str, Any] = {
    "bool array": np.array([True, False, True]),
    "bool in an object array": np.array([5, True, 7], dtype=object),
    "NaN": np.array([5, math.nan, 7]),
    "two items": np.array([5, 6]),
    "string array": np.array(["5", "x", "7"]),
    "2-D array": np.array([[5, 6, 7]]),
}


def expected_failure(values: list[Any], column: str) -> tuple[list[tuple[Any, str, str]], str]:
    """What validation reports for one bad row (the reference reads it)."""
    _, _, invalid = position_rows(values[BAD_ROW : BAD_ROW + 1])
    assert invalid.tolist() == [True]
    shown = repr(values[BAD_ROW])
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return [(BAD_ROW, column, "not 3 finite numbers")], (
        f"row {BAD_ROW}: {column}: not 3 finite numbers (got {shown})"
    )


def assert_reported_once(frame: pd.DataFrame, column: str, values: list[Any]) -> None:
    with pytest.raises(AnnotationValidationError) as info:
        validate_frame(SYNAPSE, frame)
    error = info.value
    reports, message = expected_failure(values, column)
    assert [(e.label, e.field, e.reason) for e in error.errors] == reports
    assert [str(e) for e in error.errors] == [message]
    assert error.bad_rows.tolist() == [BAD_ROW] and error.error_count == 1


@pytest.mark.parametrize("rows", ["lists", "tuples"])
@pytest.mark.parametrize("bad", list(LIST_CORRUPTIONS), ids=str)
def test_an_odd_value_in_a_sequence_column_is_reported_at_its_row(rows: str, bad: str) -> None:
    xyz = coordinates(ROWS)
    values: list[Any] = xyz.tolist() if rows == "lists" else [tuple(r) for r in xyz.tolist()]
    values[BAD_ROW] = LIST_CORRUPTIONS[bad]
    frame = frame_with(pd.Series(values, dtype=object), "pre_pt_position", xyz)
    assert_reported_once(frame, "pre_pt_position", values)


@pytest.mark.parametrize("bad", list(ARRAY_CORRUPTIONS), ids=str)
def test_an_odd_array_in_an_array_column_is_reported_at_its_row(bad: str) -> None:
    xyz = coordinates(ROWS)
    values: list[Any] = list(xyz)
    values[BAD_ROW] = ARRAY_CORRUPTIONS[bad]
    frame = frame_with(pd.Series(values, dtype=object), "ctr_pt_position", xyz)
    assert_reported_once(frame, "ctr_pt_position", values)


@pytest.mark.parametrize("bad", ["NaN", "two items"])
@pytest.mark.parametrize("kind", ["fixed_size_list", "list"])
def test_an_odd_row_in_an_arrow_column_is_reported_at_its_row(bad: str, kind: str) -> None:
    xyz = coordinates(ROWS)
    values: list[Any] = xyz.tolist()
    values[BAD_ROW] = [5, None, 7] if bad == "NaN" else [5, 6]
    if kind == "fixed_size_list" and bad == "two items":
        values[BAD_ROW] = [5, 6, None]  # a fixed-size list cannot hold 2 items: a null one
    array = pa.array(values, type=pa.list_(pa.int64(), 3) if kind != "list" else None)
    series = arrow_series(array)
    frame = frame_with(series, "post_pt_position", xyz)
    assert_reported_once(frame, "post_pt_position", series.tolist())


def test_hidden_booleans_are_refused_in_every_row_they_hide_in() -> None:
    xyz = coordinates(ROWS)
    values: list[Any] = xyz.tolist()
    hidden = [0, 65_535, 65_536, BAD_ROW, ROWS - 1]
    for row in hidden:
        values[row] = [True, 1, 0]
    points, null, invalid = read_positions(pd.Series(values, dtype=object))
    assert np.flatnonzero(invalid).tolist() == hidden
    assert not null.any() and np.isnan(points[hidden]).all()


def test_zeros_ones_and_negative_coordinates_that_are_plain_numbers_are_kept() -> None:
    values: list[Any] = [[0, 1, -5], [0.0, 1.0, -0.5], (1, 1, 1), [None, None, None], None]
    values += [[math.nan] * 3, np.array([0, 1, -2]), np.array([0.0, 1.0, math.nan])]
    for start in (0, 6):
        series = pd.Series(values[start:] if start else values[:6], dtype=object)
        assert_same_read(read_positions(series), position_rows(series.tolist()))
    points, null, invalid = read_positions(pd.Series(values[:6], dtype=object))
    assert points[:3].tolist() == [[0, 1, -5], [0, 1, -0.5], [1, 1, 1]]
    assert null.tolist() == [False, False, False, True, True, True] and not invalid.any()


def test_numpy_uint64_above_2_63_is_read_as_its_value() -> None:
    values: list[Any] = [[np.uint64(2**64 - 1), 6, 7.5], [np.uint64(2**63), 0, 1]]
    points, null, invalid = read_positions(pd.Series(values, dtype=object))
    assert points.tolist() == [[2.0**64, 6, 7.5], [2.0**63, 0, 1]]
    assert not null.any() and not invalid.any()


def test_input_is_not_modified_or_shared() -> None:
    xyz = coordinates(10).astype(np.float64)
    split = xyz.copy()
    read = read_positions(split)
    np.testing.assert_array_equal(split, xyz)
    rows = pd.Series(list(xyz), dtype=object)
    points, _, _ = read_positions(rows)
    points[:] = -1
    assert rows[0].tolist() == xyz[0].tolist() and read[0][0].tolist() == xyz[0].tolist()


# -- the fast readers against the reference ---------------------------------------------------

SCALARS = st.one_of(
    st.integers(-3, 3),
    st.integers(-(2**65), 2**65),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(
        [
            None,
            pd.NA,
            pd.NaT,
            np.True_,
            np.int64(-2),
            np.uint64(2**63 + 5),
            np.uint64(3),
            np.float32(0.5),
            decimal.Decimal("NaN"),
            decimal.Decimal(2),
            "1.5",
            "x",
            b"1",
        ]
    ),
)
NUMBERS = st.one_of(st.integers(-5, 5), st.floats(-1e6, 1e6), st.none())
ARRAYS = st.one_of(
    st.lists(st.integers(-5, 5), min_size=2, max_size=4).map(np.array),
    st.lists(st.floats(allow_nan=True), min_size=3, max_size=3).map(np.array),
    st.lists(st.booleans(), min_size=3, max_size=3).map(np.array),
    st.lists(SCALARS, min_size=3, max_size=3).map(lambda v: np.array(v, dtype=object)),
    st.just(np.array([2**64 - 1, 3, 4], dtype=np.uint64)),
)
ROW_VALUES = st.one_of(
    st.lists(NUMBERS, min_size=3, max_size=3),
    st.lists(SCALARS, min_size=2, max_size=4),
    st.lists(SCALARS, min_size=3, max_size=3).map(tuple),
    st.sampled_from([None, math.nan, pd.NA, 7, 1.5, "abc", b"abc", {"x": 1}, {1, 2, 3}]),
    st.sampled_from([decimal.Decimal("NaN"), np.float64("nan")]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(ROW_VALUES, ARRAYS), min_size=1, max_size=12)
    | st.lists(ARRAYS, min_size=1, max_size=12)
    | st.lists(st.lists(NUMBERS, min_size=3, max_size=3), min_size=1, max_size=12),
    st.integers(1, 5),
)
def test_object_columns_read_as_the_reference_does(values: list[Any], block: int) -> None:
    series = pd.Series(values, dtype=object)
    with mock.patch.object(positions, "BLOCK", block):
        got = read_positions(series)
    assert_same_read(got, position_rows(values))


CHILD_VALUES = {
    pa.float64(): st.floats(allow_nan=True),
    pa.float32(): st.floats(allow_nan=True, width=32),
    pa.int64(): st.integers(-(2**63), 2**63 - 1),
    pa.uint64(): st.integers(0, 2**64 - 1),
    pa.int8(): st.integers(-128, 127),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(list(CHILD_VALUES)),
    st.sampled_from(["list", "large_list", "fixed_size_list"]),
    st.integers(0, 2),
    st.data(),
)
def test_arrow_columns_read_as_the_reference_does(
    child: pa.DataType, kind: str, offset: int, data: st.DataObject
) -> None:
    sizes = (3, 3) if kind == "fixed_size_list" else (2, 4)
    item = st.none() | CHILD_VALUES[child]
    row = st.none() | st.lists(item, min_size=sizes[0], max_size=sizes[1])
    rows = data.draw(st.lists(row, min_size=1, max_size=12))
    list_type = {
        "list": pa.list_(child),
        "large_list": pa.large_list(child),
        "fixed_size_list": pa.list_(child, 3),
    }[kind]
    array = pa.array(rows, type=list_type).slice(min(offset, len(rows) - 1))
    series = arrow_series(array)
    assert_same_read(read_positions(series), position_rows(series.tolist()))


# -- x/y/z columns ----------------------------------------------------------------------------


def axis_series(values: list[Any], dtype: Any) -> pd.Series:
    return pd.Series(values, dtype=dtype)


AXIS_COLUMNS: dict[str, tuple[list[Any], Any]] = {
    "int8": ([1, -2, 3, 4, 5], "int8"),
    "int64": ([1, 2, -(2**62), 4, 5], "int64"),
    "uint64 above 2**63": ([2**64 - 1, 2**63, 3, 4, 5], "uint64"),
    "float32": ([0.5, np.nan, np.inf, 4, 5], "float32"),
    "float64": ([np.nan, 2.5, -np.inf, np.nan, 5], "float64"),
    "nullable Int64": ([pd.NA, 2, 3, pd.NA, 5], "Int64"),
    "nullable UInt64": ([2**64 - 1, pd.NA, 3, pd.NA, 5], "UInt64"),
    "nullable Float64": ([pd.NA, 2.5, 3, pd.NA, 5], "Float64"),
    "Arrow int64": ([None, 2, 3, None, 5], pd.ArrowDtype(pa.int64())),
    "Arrow float32": ([1.5, None, 3, None, 5], pd.ArrowDtype(pa.float32())),
    "bool": ([True, False, True, False, True], "bool"),
    "object of mixed values": ([1, "7", None, True, np.float32(2.5)], object),
    "object of decimals": ([decimal.Decimal(1), 2, None, 4, decimal.Decimal("NaN")], object),
    "pandas strings": (["1", "2.5", None, "x", "5"], "string"),
    "categorical numbers": ([1, 2, 3, 2, 1], "category"),
}


@pytest.mark.parametrize("x", list(AXIS_COLUMNS))
def test_axis_columns_of_every_dtype_read_as_the_reference_does(x: str) -> None:
    """Each dtype as the x column, next to a float64 y (NaN in rows 0 and 3) and an int z: rows
    all null are absent points, partly null or non-finite rows invalid, others exact."""
    values, dtype = AXIS_COLUMNS[x]
    axes = [
        axis_series(values, dtype),
        axis_series([np.nan, 2.0, 3.0, np.nan, 5.0], "float64"),
        axis_series([7, 8, 9, 10, 11], "int64"),
    ]
    expected = position_rows(list(zip(*(a.tolist() for a in axes), strict=True)))
    assert_same_read(axis_positions(axes), expected)


def test_axis_columns_all_numpy_are_exact_and_not_shared() -> None:
    xyz = np.array([[2**64 - 1, 0, 3], [5, 2**53 + 1, 7]], dtype=np.uint64)
    axes = [pd.Series(xyz[:, i]) for i in range(3)]
    points, null, invalid = axis_positions(axes)
    np.testing.assert_array_equal(points, xyz.astype(np.float64))
    assert not null.any() and not invalid.any()
    assert not any(np.shares_memory(points, a.to_numpy()) for a in axes)


def test_absent_and_partial_points_in_float_axis_columns() -> None:
    x = pd.Series([np.nan, 1.0, np.nan, 4.0])
    y = pd.Series([np.nan, np.nan, np.nan, 5.0])
    z = pd.Series([np.nan, 2.0, np.inf, 6.0])
    points, null, invalid = axis_positions([x, y, z])
    assert null.tolist() == [True, False, False, False]
    assert invalid.tolist() == [False, True, True, False]
    assert np.isnan(points[:3]).all() and points[3].tolist() == [4.0, 5.0, 6.0]


# -- empty columns ----------------------------------------------------------------------------


@pytest.mark.parametrize("form", list(forms(coordinates(3))))
def test_empty_columns_of_every_form(form: str) -> None:
    series = forms(coordinates(3))[form].iloc[:0]
    points, null, invalid = read_positions(series)
    assert points.shape == (0, 3) and null.shape == (0,) and invalid.shape == (0,)


def test_empty_frames_validate_in_both_position_forms() -> None:
    empty = coordinates(0)
    table = validate_frame(
        SYNAPSE, frame_with(pd.Series([], dtype=object), "pre_pt_position", empty)
    )
    assert table.length == 0
    assert table.columns["pre_pt_position"].values.shape == (0, 3)
    assert table.columns["post_pt_position"].values.shape == (0, 3)
    points, null, invalid = axis_positions([pd.Series([], dtype=object)] * 3)
    assert points.shape == (0, 3) and not null.size and not invalid.size


# -- block by block ---------------------------------------------------------------------------


def mixed_blocks(block: int) -> list[Any]:
    """Four blocks: lists and tuples; numpy arrays of several dtypes; nulls, bools, wrong
    lengths and strings among lists; arrays of wrong lengths, bool and 2-D arrays."""
    rng = np.random.default_rng(3)
    xyz = rng.integers(-3, 100, size=(4 * block, 3))
    rows: list[Any] = [list(r) if i % 2 else tuple(r) for i, r in enumerate(xyz[:block].tolist())]
    dtypes = (np.int32, np.uint8, np.float32, np.float64)
    rows += [r.astype(dtypes[i % 4]) for i, r in enumerate(xyz[block : 2 * block])]
    odd: list[Any] = [None, math.nan, [1, True, 3], [1, 2], [None] * 3, [1, "x", 2], pd.NA]
    third = xyz[2 * block : 3 * block].tolist()
    rows += [odd[i % len(odd)] if i % 3 == 0 else r for i, r in enumerate(third)]
    odd_arrays = [np.array([1, 2]), np.array([True, False, True]), np.array([[1, 2, 3]]), None]
    fourth = list(xyz[3 * block :])
    rows += [odd_arrays[i % 4] if i % 5 == 0 else r for i, r in enumerate(fourth)]
    return rows


@pytest.mark.parametrize("block", [1, 7, 64])
def test_columns_of_mixed_blocks_read_as_the_reference_does(block: int) -> None:
    values = mixed_blocks(block)
    with mock.patch.object(positions, "BLOCK", block):
        got = read_positions(pd.Series(values, dtype=object))
    assert_same_read(got, position_rows(values))


@pytest.mark.parametrize("block", [3, 50])
def test_arrow_chunks_and_slices_read_block_by_block(block: int) -> None:
    rows: list[Any] = coordinates(400).tolist()
    rows[5], rows[120], rows[121] = None, [1, None, 3], [None, None, None]
    array = pa.array(rows, type=pa.list_(pa.int64(), 3))
    listed = pa.array([*rows[:200], [1, 2], *rows[200:]], type=pa.list_(pa.float64()))
    for arrow in (
        pa.chunked_array([array.slice(0, 7), array.slice(7, 190), array.slice(197)]),
        pa.chunked_array([listed.slice(3, 260), listed.slice(263)]),
        pa.chunked_array([], type=array.type),
    ):
        series = arrow_series(arrow)
        with mock.patch.object(positions, "BLOCK", block):
            got = read_positions(series)
        assert_same_read(got, position_rows(series.tolist()))


def test_one_odd_row_costs_its_block_not_the_column() -> None:
    block = 1_000
    values: list[Any] = coordinates(5 * block).tolist()
    values[2 * block + 17] = "abc"
    with (
        mock.patch.object(positions, "BLOCK", block),
        mock.patch.object(positions, "position_rows", wraps=positions.position_rows) as reference,
    ):
        _, _, invalid = read_positions(pd.Series(values, dtype=object))
    assert np.flatnonzero(invalid).tolist() == [2 * block + 17]
    assert [len(call.args[0]) for call in reference.call_args_list] == [block]


@pytest.mark.parametrize(
    "dtype", ["int8", "uint16", "int64", "uint64", "float16", "float32", "float64", ">i8"]
)
def test_arrays_of_one_dtype_read_as_the_reference_does(dtype: str) -> None:
    """Blocks of arrays sharing one dtype are converted as they are: lengths, NaN, values above
    2**63 and arrays of other shapes still read as the reference reads them."""
    rng = np.random.default_rng(5)
    high = 100 if np.dtype(dtype).itemsize == 1 else 30_000
    values: list[Any] = list(rng.integers(0, high, size=(40, 3)).astype(dtype))
    values[3] = values[3][:2]
    values[4] = np.concatenate([values[4], values[4]])
    values[9] = np.zeros((1, 3), dtype=dtype)
    values[10] = np.array(7, dtype=dtype)
    if np.dtype(dtype).kind == "f":
        values[20] = np.array([np.nan, 1, 2], dtype=dtype)
        values[21] = np.full(3, np.nan, dtype=dtype)
        values[22] = np.array([1, np.inf, 2], dtype=dtype)
    if dtype == "uint64":
        values[30] = np.array([2**64 - 1, 2**63, 1], dtype=dtype)
    for block in (1, 8, 64):
        with mock.patch.object(positions, "BLOCK", block):
            got = read_positions(pd.Series(values, dtype=object))
        assert_same_read(got, position_rows(values))


# -- memory -----------------------------------------------------------------------------------
# A read writes its answer once and converts block by block: its temporaries stay the size of a
# block whatever the column's length (fresh memory costs a page fault per page, more than the
# conversion on some virtual machines). Measured in a fresh interpreter: see allocation_probe.

CAST_BUFFERS = 1 << 17
"""What numpy may hold while it casts (its buffers do not grow with the column)."""


@pytest.fixture(scope="module")
def allocations() -> dict[str, dict[str, int]]:
    quiet = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "COVERAGE_"))}
    probe = subprocess.run(
        [sys.executable, "-m", "tests.unit.annotations.allocation_probe"],
        cwd=REPO,
        env=quiet,
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    measured: dict[str, dict[str, int]] = json.loads(probe.stdout)
    return measured


@pytest.mark.parametrize("form", allocation_probe.READ_FORMS)
def test_object_and_arrow_reads_allocate_their_answer_and_a_block(
    form: str, allocations: dict[str, dict[str, int]]
) -> None:
    read = allocations[f"read {form}"]
    assert read["answer"] >= 3 * 8 * allocation_probe.ROWS  # the points, at least
    assert read["peak"] <= read["answer"] + 2 * read["block_points"]
    assert read["arrow_pool_peak"] <= 4 * read["block_points"]


def test_axis_reads_allocate_only_their_answer(allocations: dict[str, dict[str, int]]) -> None:
    read = allocations["axis read"]
    assert read["answer"] >= 3 * 8 * allocation_probe.ROWS  # the points, at least
    assert read["peak"] <= read["answer"] + CAST_BUFFERS


def test_validating_numeric_axis_columns_copies_no_frame(
    allocations: dict[str, dict[str, int]],
) -> None:
    validation = allocations["axis frame validation"]
    assert validation["peak"] <= 1.2 * validation["answer"]
