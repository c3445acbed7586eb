"""The columnar validator: every field kind, required-ness, columns, error reports, and that the
input DataFrame is neither modified nor shared with the validated table."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dafclient.annotations import AnnotationStage, validate_dataframe
from dafclient.annotations.columnar import (
    AnnotationValidationError,
    Column,
    ColumnTable,
    validate_frame,
)
from dafclient.annotations.layout import AnnotationLayout, snapshot_layout
from dafclient.annotations.wire import encode_body
from dafclient.errors import InputError

SYNAPSE = snapshot_layout("synapse")
UINT64_MAX = 2**64 - 1
INT64_MAX = 2**63 - 1
POINTS = ("pre_pt", "post_pt", "ctr_pt")


def synapse_frame(n: int = 3, index: Any = None) -> pd.DataFrame:
    """A valid synapse frame with ``{point}_position`` list columns."""
    data = {
        f"{point}_position": [[10 * i + k, 20 * i + k, 30 * i + k] for i in range(n)]
        for k, point in enumerate(POINTS)
    }
    return pd.DataFrame(data, index=range(n) if index is None else index)


def with_column(frame: pd.DataFrame, name: str, values: Any) -> pd.DataFrame:
    out = frame.copy()
    out[name] = (
        values
        if isinstance(values, (pd.Series, np.ndarray, pd.api.extensions.ExtensionArray))
        else pd.Series(values, dtype=object, index=frame.index)
    )
    return out


def failure(layout: AnnotationLayout, frame: pd.DataFrame, **kw: Any) -> AnnotationValidationError:
    with pytest.raises(AnnotationValidationError) as info:
        validate_frame(layout, frame, **kw)
    return info.value


def reported(error: AnnotationValidationError) -> list[tuple[Any, str, str]]:
    """(label, field, reason) of each reported error."""
    return [(e.label, e.field, e.reason) for e in error.errors]


def column_values(table: ColumnTable, name: str) -> list[Any]:
    """A validated column as Python values, None where null."""
    column: Column = table.columns[name]
    values: list[Any] = column.values.tolist()
    return [
        None if null else value for value, null in zip(values, column.null.tolist(), strict=True)
    ]


# -- positions --------------------------------------------------------------------------------


def test_position_column_accepts_lists_arrays_and_tuples() -> None:
    given_positions = [
        [1, 2, 3],
        np.array([4.5, 5, 6]),
        (7, 8.25, 9),
        np.array([1, 2, 3], np.uint8),
    ]
    frame = with_column(synapse_frame(4), "pre_pt_position", given_positions)
    table = validate_frame(SYNAPSE, frame)
    values = table.columns["pre_pt_position"].values
    assert values.dtype == np.float64 and values.shape == (4, 3)
    assert values.tolist() == [[float(v) for v in p] for p in given_positions]
    assert not table.columns["pre_pt_position"].null.any()


def test_position_numeric_2d_column_is_read_whole() -> None:
    points = np.arange(12).reshape(4, 3)
    frame = with_column(synapse_frame(4), "ctr_pt_position", list(points))
    table = validate_frame(SYNAPSE, frame)
    np.testing.assert_array_equal(table.columns["ctr_pt_position"].values, points.astype(float))


def test_position_from_xyz_columns_with_mixed_dtypes() -> None:
    frame = synapse_frame(3).drop(columns="post_pt_position")
    frame["post_pt_position_x"] = np.array([1, 2, 3], dtype=np.int32)
    frame["post_pt_position_y"] = [1.5, 2.5, 3.5]
    frame["post_pt_position_z"] = pd.Series(["7", 8, np.float32(9)], dtype=object)
    table = validate_frame(SYNAPSE, frame)
    expected = list(
        zip(frame["post_pt_position_x"], frame["post_pt_position_y"], [7.0, 8.0, 9.0], strict=True)
    )
    assert table.columns["post_pt_position"].values.tolist() == [
        list(map(float, p)) for p in expected
    ]


def test_position_from_numeric_xyz_columns() -> None:
    frame = synapse_frame(5).drop(columns="pre_pt_position")
    rng = np.random.default_rng(1)
    xyz = rng.integers(0, 10**6, size=(5, 3))
    for i, axis in enumerate("xyz"):
        frame[f"pre_pt_position_{axis}"] = xyz[:, i]
    table = validate_frame(SYNAPSE, frame)
    np.testing.assert_array_equal(table.columns["pre_pt_position"].values, xyz.astype(float))


@pytest.mark.parametrize(
    "bad",
    [
        [1, 2],
        [1, 2, 3, 4],
        "abc",
        {"x": 1, "y": 2, "z": 3},
        [1, math.inf, 2],
        [1, "a", 2],
        7,
    ],
    ids=repr,
)
def test_position_not_three_finite_numbers_is_refused(bad: Any) -> None:
    frame = synapse_frame(3, index=["a", "b", "c"])
    positions = frame["pre_pt_position"].tolist()
    positions[1] = bad
    error = failure(SYNAPSE, with_column(frame, "pre_pt_position", positions))
    assert reported(error) == [("b", "pre_pt_position", "not 3 finite numbers")]
    assert error.bad_rows.tolist() == [1] and error.error_count == 1


def test_both_position_forms_at_once_are_refused() -> None:
    frame = synapse_frame(2)
    for axis in "xyz":
        frame[f"pre_pt_position_{axis}"] = [1, 2]
    with pytest.raises(InputError, match="pre_pt_position_x"):
        validate_frame(SYNAPSE, frame)


# -- optional points --------------------------------------------------------------------------

NUCLEUS = snapshot_layout("nucleus_detection")


@pytest.mark.parametrize("form", ["lists", "float_xyz", "object_xyz", "Int64_xyz"])
def test_all_null_position_of_an_optional_point_is_an_absent_point(form: str) -> None:
    starts: list[Any] = [[1, 2, 3], None, [math.nan] * 3, [None] * 3]
    frame = pd.DataFrame({"pt_position": [[5, 5, 5]] * 4}, index=[10, 11, 12, 13])
    if form == "lists":
        frame["bb_start_position"] = pd.Series(starts, dtype=object, index=frame.index)
    else:
        rows = [s if s is not None else [None] * 3 for s in starts]
        for i, axis in enumerate("xyz"):
            axis_values = [r[i] for r in rows]
            dtype = {"float_xyz": "float64", "object_xyz": object, "Int64_xyz": "Int64"}[form]
            cleaned = [None if v is None or v != v else v for v in axis_values]
            frame[f"bb_start_position_{axis}"] = pd.Series(cleaned, dtype=dtype, index=frame.index)
    table = validate_frame(NUCLEUS, frame)
    assert table.columns["bb_start_position"].null.tolist() == [False, True, True, True]
    assert table.columns["bb_start_position"].values[0].tolist() == [1.0, 2.0, 3.0]
    stage = AnnotationStage.for_type("nucleus_detection")
    stage.add_dataframe(frame)
    records = stage.records()
    assert records[0]["bb_start"] == {"position": [1, 2, 3]}
    assert all("bb_start" not in record for record in records[1:])
    assert all("bb_end" not in record for record in records)


@pytest.mark.parametrize("partial", [[1, math.nan, 2], [None, 1, 2], [math.nan, math.nan, 0]])
def test_partially_null_position_is_an_error(partial: list[Any]) -> None:
    frame = pd.DataFrame(
        {"pt_position": [[5, 5, 5]] * 2, "bb_end_position": [[1, 1, 1], partial]},
        index=["first", "second"],
    )
    error = failure(NUCLEUS, frame)
    assert reported(error) == [("second", "bb_end_position", "not 3 finite numbers")]


def test_required_point_position_missing_is_reported() -> None:
    frame = with_column(synapse_frame(3), "ctr_pt_position", [[1, 2, 3], None, [np.nan] * 3])
    error = failure(SYNAPSE, frame)
    assert reported(error) == [
        (1, "ctr_pt_position", "missing (required)"),
        (2, "ctr_pt_position", "missing (required)"),
    ]


def test_point_with_an_id_but_no_position_is_reported() -> None:
    frame = with_column(synapse_frame(2), "pre_pt_position", [[1, 2, 3], None])
    frame["pre_pt_root_id"] = np.array([5, 6], dtype=np.uint64)
    error = failure(SYNAPSE, frame)
    assert reported(error) == [(1, "pre_pt_position", "missing (required)")]


# -- integers ---------------------------------------------------------------------------------


def test_uint64_ids_at_and_above_2_63_in_a_uint64_column_are_exact() -> None:
    ids = np.array([2**63, UINT64_MAX, 0, 2**63 + 1], dtype=np.uint64)
    table = validate_frame(SYNAPSE, with_column(synapse_frame(4), "pre_pt_root_id", ids))
    column = table.columns["pre_pt_root_id"]
    assert column.values.dtype == np.uint64
    assert column.values.tolist() == [int(v) for v in ids]


def test_python_ints_above_2_63_in_an_object_column_are_exact() -> None:
    given_ids = [
        2**63,
        UINT64_MAX,
        None,
        np.uint64(2**63 + 7),
        np.int64(12),
        "18446744073709551614",
    ]
    frame = with_column(synapse_frame(6), "post_pt_root_id", given_ids)
    table = validate_frame(SYNAPSE, frame)
    assert column_values(table, "post_pt_root_id") == [
        2**63,
        UINT64_MAX,
        None,
        2**63 + 7,
        12,
        UINT64_MAX - 1,
    ]


@pytest.mark.parametrize("dtype", ["Int64", "UInt64"])
def test_nullable_integer_columns(dtype: str) -> None:
    big = INT64_MAX if dtype == "Int64" else UINT64_MAX
    ids = pd.array([1, None, big], dtype=dtype)
    table = validate_frame(SYNAPSE, with_column(synapse_frame(3), "pre_pt_supervoxel_id", ids))
    assert column_values(table, "pre_pt_supervoxel_id") == [1, None, big]


def test_integral_floats_are_integers_and_nan_is_null() -> None:
    floats = [1.0, np.nan, 2.0**53, 0.0]
    table = validate_frame(
        SYNAPSE, with_column(synapse_frame(4), "pre_pt_root_id", np.array(floats))
    )
    assert column_values(table, "pre_pt_root_id") == [1, None, 2**53, 0]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (3.5, "not an integer"),
        (2.0**60, "a float above 2**53 may have lost precision"),
        (math.inf, "not an integer"),
        (-1.0, f"outside 0..{UINT64_MAX}"),
    ],
)
@pytest.mark.parametrize("as_object", [False, True], ids=["float column", "object column"])
def test_bad_floats_for_an_integer_field(value: float, reason: str, as_object: bool) -> None:
    floats: Any = np.array([1.0, value, 2.0])
    if as_object:
        floats = pd.Series([1, value, np.int64(2)], dtype=object)
    error = failure(SYNAPSE, with_column(synapse_frame(3), "pre_pt_root_id", floats))
    assert reported(error) == [(1, "pre_pt_root_id", reason)]
    assert error.errors[0].value == value


def test_numeric_strings_are_integers() -> None:
    frame = with_column(synapse_frame(3), "pre_pt_root_id", ["12", " 7 ", str(UINT64_MAX)])
    assert column_values(validate_frame(SYNAPSE, frame), "pre_pt_root_id") == [12, 7, UINT64_MAX]


@pytest.mark.parametrize(
    ("values", "bad_row", "reason"),
    [
        (np.array([5, -1, 7], dtype=np.int64), 1, f"outside 0..{UINT64_MAX}"),
        ([5, -(2**70), 7], 1, f"outside 0..{UINT64_MAX}"),
        ([5, 2**64, 7], 1, f"outside 0..{UINT64_MAX}"),
        ([5, "x", 7], 1, "not an integer"),
        ([5, "1.5", 7], 1, "not an integer"),
        ([5, True, 7], 1, "not an integer"),
        ([5, [1], 7], 1, "not an integer"),
        (np.array([True, False, True]), 0, "a boolean, not an integer"),
    ],
    ids=repr,
)
def test_invalid_segment_ids(values: Any, bad_row: int, reason: str) -> None:
    error = failure(SYNAPSE, with_column(synapse_frame(3), "pre_pt_root_id", values))
    assert (error.errors[0].row, error.errors[0].field, error.errors[0].reason) == (
        bad_row,
        "pre_pt_root_id",
        reason,
    )


def test_boolean_column_for_an_integer_field_is_reported_once_per_value() -> None:
    layout = snapshot_layout("bouton_shape")
    frame = pd.DataFrame({"target_id": [True, False], "shape": ["potato", "pancake"]})
    error = failure(layout, frame)
    # target_id is required: the wrong type must not also be reported as missing.
    assert reported(error) == [
        (0, "target_id", "a boolean, not an integer"),
        (1, "target_id", "a boolean, not an integer"),
    ]
    assert error.error_count == 2


def test_annotation_id_fields_are_int64() -> None:
    layout = snapshot_layout("bouton_shape")
    good = pd.DataFrame({"target_id": [0, INT64_MAX], "shape": ["potato", "basmati"]})
    assert column_values(validate_frame(layout, good), "target_id") == [0, INT64_MAX]
    assert validate_frame(layout, good).columns["target_id"].values.dtype == np.int64
    bad = pd.DataFrame(
        {"target_id": np.array([1, 2**63], dtype=np.uint64), "shape": ["potato", "basmati"]}
    )
    assert reported(failure(layout, bad)) == [(1, "target_id", f"outside 0..{INT64_MAX}")]


def test_unbounded_integer_field_takes_negative_int64() -> None:
    layout = snapshot_layout("microns_func_coreg")
    frame = pd.DataFrame({"pt_position": [[1, 2, 3]] * 3, "func_id": [-5, 2**63 - 1, 2**63]})
    error = failure(layout, frame)
    assert reported(error) == [(2, "func_id", f"outside {-(2**63)}..{INT64_MAX}")]
    frame["func_id"] = [-5, -(2**63), 0]
    assert column_values(validate_frame(layout, frame), "func_id") == [-5, -(2**63), 0]


# -- numbers, booleans, strings ---------------------------------------------------------------


def test_numbers_nan_is_null_and_numeric_strings_count() -> None:
    sizes = pd.Series([1.5, np.nan, 3, "4.25", None, np.float32(0.5)], dtype=object)
    table = validate_frame(SYNAPSE, with_column(synapse_frame(6), "size", sizes))
    assert column_values(table, "size") == [1.5, None, 3.0, 4.25, None, 0.5]
    floats = validate_frame(SYNAPSE, with_column(synapse_frame(2), "size", np.array([np.nan, 2])))
    assert column_values(floats, "size") == [None, 2.0]


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        (np.array([1.0, np.inf, 2.0]), "not finite"),
        (np.array([1.0, -np.inf, 2.0]), "not finite"),
        ([1.0, "abc", 2.0], "not a finite number"),
        ([1.0, "inf", 2.0], "not a finite number"),
        ([1.0, True, 2.0], "not a finite number"),
        ([1.0, [1.0], 2.0], "not a finite number"),
    ],
    ids=repr,
)
def test_invalid_numbers(values: Any, reason: str) -> None:
    error = failure(SYNAPSE, with_column(synapse_frame(3), "size", values))
    assert reported(error) == [(1, "size", reason)]


def test_boolean_column_for_a_number_field_is_refused() -> None:
    error = failure(SYNAPSE, with_column(synapse_frame(2), "size", np.array([True, False])))
    assert {e.reason for e in error.errors} == {"a boolean, not a number"}
    assert error.bad_rows.tolist() == [0, 1]


def test_booleans_accept_marshmallow_words_and_0_1() -> None:
    words = [
        "true",
        "False",
        " yes ",
        "N",
        "on",
        "OFF",
        "t",
        "f",
        "1",
        "0",
        True,
        False,
        1,
        0,
        1.0,
        None,
    ]
    frame = with_column(synapse_frame(len(words)), "valid", words)
    expected = [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        None,
    ]
    assert column_values(validate_frame(SYNAPSE, frame), "valid") == expected


@pytest.mark.parametrize(
    "values",
    [
        [True, 2, False],
        [True, "maybe", False],
        np.array([1, 2, 0]),
        np.array([0.0, 0.5, 1.0]),
        [True, [True], False],
    ],
    ids=repr,
)
def test_invalid_booleans(values: Any) -> None:
    error = failure(SYNAPSE, with_column(synapse_frame(3), "valid", values))
    assert reported(error) == [(1, "valid", "not a boolean")]


def test_nullable_boolean_column() -> None:
    values = pd.array([True, None, False], dtype="boolean")
    table = validate_frame(SYNAPSE, with_column(synapse_frame(3), "valid", values))
    assert column_values(table, "valid") == [True, None, False]


CELL_TYPE = snapshot_layout("cell_type_local")


def cell_type_frame(cell_types: Any) -> pd.DataFrame:
    n = len(cell_types)
    return pd.DataFrame(
        {
            "pt_position": [[i, i, i] for i in range(n)],
            "cell_type": cell_types,
            "classification_system": ["aibs"] * n,
        }
    )


def test_strings_kept_as_given() -> None:
    table = validate_frame(CELL_TYPE, cell_type_frame(["L2/3 IT", "", "ünïcode"]))
    assert column_values(table, "cell_type") == ["L2/3 IT", "", "ünïcode"]
    typed = cell_type_frame(pd.array(["a", "b"], dtype="string"))
    assert column_values(validate_frame(CELL_TYPE, typed), "cell_type") == ["a", "b"]


@pytest.mark.parametrize("value", [5, 1.5, True, b"bytes", ["a"]], ids=repr)
def test_non_strings_are_refused_once(value: Any) -> None:
    frame = cell_type_frame(pd.Series(["a", value, "c"], dtype=object))
    error = failure(CELL_TYPE, frame)
    assert reported(error) == [(1, "cell_type", "not a string")]
    assert error.error_count == 1


def test_required_string_null_is_missing() -> None:
    frame = cell_type_frame(pd.array(["a", None, "c"], dtype="string"))
    assert reported(failure(CELL_TYPE, frame)) == [(1, "cell_type", "missing (required)")]


# -- enums ------------------------------------------------------------------------------------

PROOFREAD = snapshot_layout("proofread_status")


def proofread_frame(statuses: list[Any]) -> pd.DataFrame:
    n = len(statuses)
    return pd.DataFrame(
        {
            "pt_position": [[1, 2, 3]] * n,
            "status": pd.Series(statuses, dtype=object),
            "valid_id": np.arange(n, dtype=np.uint64),
        }
    )


def test_string_enum() -> None:
    choices = PROOFREAD.field("status").choices
    assert choices is not None and len(choices) >= 2
    table = validate_frame(PROOFREAD, proofread_frame(list(choices)))
    assert column_values(table, "status") == list(choices)
    bad = [choices[0], choices[0].upper(), f" {choices[0]}", "bogus", 5, None]
    error = failure(PROOFREAD, proofread_frame(bad))
    shown = ", ".join(choices)
    assert reported(error) == [
        (1, "status", f"not one of: {shown}"),
        (2, "status", f"not one of: {shown}"),
        (3, "status", f"not one of: {shown}"),
        (4, "status", "not a string"),
        (5, "status", "missing (required)"),
    ]
    assert error.error_count == 5


PLASTIC = snapshot_layout("plastic_synapse")


def plastic_frame(plasticity: Any) -> pd.DataFrame:
    frame = synapse_frame(len(plasticity))
    frame["plasticity"] = plasticity
    return frame


def test_integer_enum() -> None:
    choices = PLASTIC.field("plasticity").choices
    assert choices is not None
    table = validate_frame(PLASTIC, plastic_frame(list(choices)))
    assert column_values(table, "plasticity") == list(choices)
    mixed = pd.Series([2.0, "3", np.int8(choices[0])], dtype=object)
    assert column_values(validate_frame(PLASTIC, plastic_frame(mixed)), "plasticity") == [
        2,
        3,
        choices[0],
    ]
    shown = ", ".join(str(c) for c in choices)
    error = failure(PLASTIC, plastic_frame([max(choices) + 1, -1, 2.5, choices[1]]))
    assert reported(error) == [
        (0, "plasticity", f"not one of: {shown}"),
        (1, "plasticity", f"not one of: {shown}"),
        (2, "plasticity", "not an integer"),
    ]


# -- columns ----------------------------------------------------------------------------------


def test_missing_required_columns_are_named() -> None:
    frame = synapse_frame(2).drop(columns=["ctr_pt_position"])
    with pytest.raises(InputError, match=r"required columns missing.*ctr_pt_position"):
        validate_frame(SYNAPSE, frame)


def test_optional_columns_may_be_left_out() -> None:
    table = validate_frame(SYNAPSE, synapse_frame(2))
    assert set(table.columns) == {f"{p}_position" for p in POINTS}
    assert table.length == 2


def test_unknown_columns_are_refused_with_a_clear_message() -> None:
    frame = synapse_frame(2)
    frame["pre_pt_rootid"] = [1, 2]
    with pytest.raises(InputError) as info:
        validate_frame(SYNAPSE, frame)
    message = str(info.value)
    assert "pre_pt_rootid" in message and "ignore_columns" in message
    assert "pre_pt_root_id" in message  # the type's real columns are listed
    table = validate_frame(SYNAPSE, frame, ignore_columns=["pre_pt_rootid"])
    assert "pre_pt_rootid" not in table.columns and "pre_pt_root_id" not in table.columns


def test_duplicate_columns_are_refused() -> None:
    frame = pd.concat([synapse_frame(2), synapse_frame(2)[["pre_pt_position"]]], axis=1)
    with pytest.raises(InputError, match="duplicate"):
        validate_frame(SYNAPSE, frame)


def read_back_frame() -> pd.DataFrame:
    """Rows as a table query returns them: bookkeeping columns next to the type's."""
    frame = synapse_frame(2)
    frame["id"] = [1, 2]
    frame["created"] = pd.to_datetime(["2024-01-01", "2024-01-02"])
    frame["deleted"] = pd.Series([None, None], dtype=object)
    frame["superceded_id"] = pd.Series([None, 5], dtype=object)
    frame["valid"] = [True, True]
    return frame


def test_read_back_bookkeeping_columns_are_ignored_but_valid_is_a_field() -> None:
    frame = read_back_frame().drop(columns="id")
    table = validate_frame(SYNAPSE, frame)
    assert set(table.columns) == {*(f"{p}_position" for p in POINTS), "valid"}
    # ``valid`` is a synapse field, so it is validated, not ignored.
    frame["valid"] = pd.Series([True, "maybe"], dtype=object)
    assert reported(failure(SYNAPSE, frame)) == [(1, "valid", "not a boolean")]


def test_read_back_id_column_is_refused_for_posts_and_read_for_updates() -> None:
    # Posting rows with an id would create new annotations, not replace those ids: say so.
    frame = read_back_frame()
    with pytest.raises(InputError, match=r"'id'.*ignore_columns=\['id'\]"):
        validate_frame(SYNAPSE, frame)
    assert validate_frame(SYNAPSE, frame, ignore_columns=["id"]).ids is None
    table = validate_frame(SYNAPSE, frame, id_column="id")
    assert table.ids is not None and table.ids.tolist() == [1, 2]


def test_id_column_for_updates_is_required_and_int64() -> None:
    frame = with_column(synapse_frame(4), "id", [1, None, 2**63, -3])
    error = failure(SYNAPSE, frame, id_column="id")
    assert reported(error) == [
        (1, "id", "missing (required)"),
        (2, "id", f"outside 0..{INT64_MAX}"),
        (3, "id", f"outside 0..{INT64_MAX}"),
    ]
    with pytest.raises(InputError, match="'id'"):
        validate_frame(SYNAPSE, synapse_frame(1), id_column="id")


def test_validate_dataframe_by_type_name() -> None:
    table = validate_dataframe("synapse", synapse_frame(3))
    assert table.layout == SYNAPSE and table.length == 3
    with pytest.raises(InputError, match="unknown annotation type"):
        validate_dataframe("no_such_type", synapse_frame(1))


# -- error reports ----------------------------------------------------------------------------


def test_errors_name_row_label_field_and_reason() -> None:
    labels = ["syn-a", "syn-b", "syn-c", "syn-d"]
    frame = synapse_frame(4, index=pd.Index(labels, name="key"))
    frame = with_column(frame, "size", [1.0, "big", 2.0, 3.0])
    frame = with_column(frame, "pre_pt_root_id", [1, 2, 3, -4])
    error = failure(SYNAPSE, frame)
    assert [(e.row, e.label, e.field) for e in error.errors] == [
        (1, "syn-b", "size"),
        (3, "syn-d", "pre_pt_root_id"),
    ]
    assert error.errors[1].value == -4
    text = str(error)
    assert "row 'syn-b': size: not a finite number (got 'big')" in text
    assert f"row 'syn-d': pre_pt_root_id: outside 0..{UINT64_MAX} (got -4)" in text
    assert "2 invalid synapse row(s), 2 invalid value(s)" in text


def test_integer_index_labels_are_used_not_positions() -> None:
    frame = with_column(synapse_frame(3, index=[100, 7, 55]), "valid", [True, True, "maybe"])
    error = failure(SYNAPSE, frame)
    assert (error.errors[0].row, error.errors[0].label) == (2, 55)
    assert type(error.errors[0].label) is int
    assert "row 55: valid: not a boolean (got 'maybe')" in str(error)


def test_max_errors_caps_the_list_but_not_the_counts() -> None:
    n = 30
    frame = synapse_frame(n, index=np.arange(n) * 2)
    frame = with_column(frame, "size", ["x" if i % 2 else 1.0 for i in range(n)])
    frame = with_column(frame, "valid", ["maybe" if i % 3 == 0 else True for i in range(n)])
    bad_size = {i for i in range(n) if i % 2}
    bad_valid = {i for i in range(n) if i % 3 == 0}
    error = failure(SYNAPSE, frame, max_errors=4)
    assert len(error.errors) == 4
    assert error.error_count == len(bad_size) + len(bad_valid)
    assert error.bad_rows.tolist() == sorted(bad_size | bad_valid)
    assert [e.row for e in error.errors] == sorted(e.row for e in error.errors)
    assert [(e.row, e.field) for e in error.errors] == [
        (0, "valid"),
        (1, "size"),
        (3, "size"),
        (3, "valid"),
    ]
    assert all(e.label == e.row * 2 for e in error.errors)
    everything = failure(SYNAPSE, frame, max_errors=1000)
    assert len(everything.errors) == everything.error_count == error.error_count


# -- nothing is lost or shared ----------------------------------------------------------------


def every_kind_frame() -> pd.DataFrame:
    frame = synapse_frame(3, index=["x", "y", "z"]).drop(columns="post_pt_position")
    frame["post_pt_position_x"] = [1, 2, 3]
    frame["post_pt_position_y"] = [1.5, np.nan, 3.0]
    frame["post_pt_position_z"] = pd.Series(["1", 2, 3], dtype=object, index=frame.index)
    frame["pre_pt_root_id"] = np.array([2**63, 1, UINT64_MAX], dtype=np.uint64)
    frame["post_pt_root_id"] = pd.Series([2**64 - 2, None, 3], dtype=object, index=frame.index)
    frame["pre_pt_supervoxel_id"] = pd.array([1, None, 2], dtype="UInt64")
    frame["size"] = [1.0, np.nan, np.inf]
    frame["valid"] = [True, False, True]
    return frame


@pytest.mark.parametrize("valid", [True, False])
def test_input_frame_is_not_modified(valid: bool) -> None:
    frame = every_kind_frame()
    if valid:
        frame["post_pt_position_y"] = [1.5, 2.0, 3.0]
        frame["size"] = [1.0, np.nan, 2.0]
    before = frame.copy(deep=True)
    positions_before = [list(p) for p in frame["pre_pt_position"]]
    if valid:
        validate_frame(SYNAPSE, frame)
    else:
        failure(SYNAPSE, frame)
    pd.testing.assert_frame_equal(frame, before)
    assert [list(p) for p in frame["pre_pt_position"]] == positions_before


def test_validated_table_shares_no_memory_with_the_input() -> None:
    frame = every_kind_frame()
    frame["post_pt_position_y"] = [1.5, 2.0, 3.0]
    frame["size"] = [1.0, np.nan, 2.0]
    table = validate_frame(SYNAPSE, frame)
    for name, column in table.columns.items():
        for source in frame.columns:
            assert not np.shares_memory(column.values, frame[source].to_numpy()), (name, source)
    sizes, flags = column_values(table, "size"), column_values(table, "valid")
    frame.loc["x", "size"] = 99.0
    frame.loc["x", "valid"] = False
    assert column_values(table, "size") == sizes and column_values(table, "valid") == flags


# -- properties -------------------------------------------------------------------------------

COORDINATE = st.integers(-(10**7), 10**7) | st.floats(
    -1e7, 1e7, allow_nan=False, allow_infinity=False
)
SEGMENT_ID = st.integers(0, UINT64_MAX)


@st.composite
def synapse_rows(draw: st.DrawFn) -> dict[str, Any]:
    """Valid synapse frame data: columns of Python values (None = missing)."""
    n = draw(st.integers(1, 12))
    columns: dict[str, Any] = {}
    for point in POINTS:
        columns[f"{point}_position"] = [
            draw(st.lists(COORDINATE, min_size=3, max_size=3)) for _ in range(n)
        ]
    for point in ("pre_pt", "post_pt"):
        for sub in ("root_id", "supervoxel_id"):
            if draw(st.booleans()):
                columns[f"{point}_{sub}"] = draw(
                    st.lists(st.none() | SEGMENT_ID, min_size=n, max_size=n)
                )
    if draw(st.booleans()):
        size = st.none() | st.floats(allow_nan=False, allow_infinity=False)
        columns["size"] = draw(st.lists(size, min_size=n, max_size=n))
    if draw(st.booleans()):
        columns["valid"] = draw(st.lists(st.none() | st.booleans(), min_size=n, max_size=n))
    return columns


def build_frame(columns: dict[str, Any], split: bool, index: pd.Index) -> pd.DataFrame:
    """A DataFrame of the columns, each in the dtype a user would have."""
    data: dict[str, Any] = {}
    for name, values in columns.items():
        if name.endswith("_position") and split:
            for i, axis in enumerate(("_x", "_y", "_z")):
                data[name + axis] = np.array([v[i] for v in values], dtype=np.float64)
        elif name.endswith("_position"):
            data[name] = pd.Series(values, dtype=object, index=index)
        elif name.endswith("_id") and None not in values:
            data[name] = np.array(values, dtype=np.uint64)
        elif name.endswith("_id"):
            data[name] = pd.Series(values, dtype=object, index=index)
        elif name == "size":
            data[name] = np.array([np.nan if v is None else v for v in values])
        else:
            data[name] = pd.Series(values, dtype=object, index=index)
    return pd.DataFrame(data, index=index)


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    return value


def expected_record(columns: dict[str, Any], row: int) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, values in columns.items():
        value = values[row]
        if value is None:
            continue
        point = next((p for p in POINTS if name.startswith(p + "_")), None)
        if point is None:
            record[name] = value
        else:
            record.setdefault(point, {})[name.removeprefix(point + "_")] = value
    return record


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(synapse_rows(), st.booleans())
def test_random_valid_frames_validate_and_round_trip(columns: dict[str, Any], split: bool) -> None:
    n = len(columns["pre_pt_position"])
    index = pd.Index([f"r{i}" for i in range(n)])
    frame = build_frame(columns, split, index)
    before = frame.copy(deep=True)
    table = validate_frame(SYNAPSE, frame)
    pd.testing.assert_frame_equal(frame, before)
    assert table.length == n

    stage = AnnotationStage.for_type("synapse")
    stage.add_dataframe(frame)
    records = stage.records()
    assert records == [expected_record(columns, i) for i in range(n)]
    for record, i in zip(records, range(n), strict=True):
        for point in ("pre_pt", "post_pt"):
            for sub in ("root_id", "supervoxel_id"):
                given_id = columns.get(f"{point}_{sub}", [None] * n)[i]
                got = record[point].get(sub)
                assert got == given_id and (got is None or type(got) is int)

    back = stage.to_dataframe()
    for name, values in columns.items():
        got = back[name].tolist()
        if name.endswith("_position"):
            assert got == [[float(c) for c in v] for v in values]
        else:
            assert got == values
    again = AnnotationStage.for_type("synapse")
    again.add_dataframe(back)
    assert again.records() == records
    # The templated body sends null for a field that is null in some rows: the same meaning.
    body = json.loads(encode_body(stage.table(), slice(None)))
    assert [without_nulls(r) for r in body["annotations"]] == records


CORRUPTIONS: list[tuple[str, Any, str]] = [
    ("pre_pt_root_id", -1, f"outside 0..{UINT64_MAX}"),
    ("pre_pt_root_id", 2**64, f"outside 0..{UINT64_MAX}"),
    ("post_pt_root_id", "x", "not an integer"),
    ("post_pt_supervoxel_id", 3.5, "not an integer"),
    ("pre_pt_supervoxel_id", float(2**60), "a float above 2**53 may have lost precision"),
    ("size", math.inf, "not a finite number"),
    ("size", "abc", "not a finite number"),
    ("valid", 2, "not a boolean"),
    ("valid", "maybe", "not a boolean"),
    ("ctr_pt_position", [1, 2], "not 3 finite numbers"),
    ("pre_pt_position", [1, math.nan, 2], "not 3 finite numbers"),
    ("post_pt_position", "abc", "not 3 finite numbers"),
    ("ctr_pt_position", None, "missing (required)"),
    ("pre_pt_position", [math.nan] * 3, "missing (required)"),
]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(synapse_rows(), st.sampled_from(CORRUPTIONS), st.data())
def test_random_single_cell_corruption_is_reported_exactly(
    columns: dict[str, Any], corruption: tuple[str, Any, str], data: st.DataObject
) -> None:
    name, bad, reason = corruption
    n = len(columns["pre_pt_position"])
    row = data.draw(st.integers(0, n - 1))
    index = pd.Index(np.arange(n) * 10 + 3)
    frame = build_frame(columns, False, index)
    values = list(columns.get(name, [None] * n))
    values[row] = bad
    frame[name] = pd.Series(values, dtype=object, index=index)
    error = failure(SYNAPSE, frame)
    assert error.error_count == 1
    assert error.bad_rows.tolist() == [row]
    assert [(e.row, e.label, e.field, e.reason) for e in error.errors] == [
        (row, index[row], name, reason)
    ]
