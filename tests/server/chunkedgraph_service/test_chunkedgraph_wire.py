"""The wire helpers on their own: PyChunkedGraph's three boolean parsers, ids, bounds, rendering."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from dafserver.errors import ServiceError
from dafserver.services import chunkedgraph_wire as wire


@pytest.mark.parametrize(
    ("raw", "default", "expected"),
    [
        (None, True, True),
        ("TRUE", False, True),
        ("1", False, True),
        ("False", True, False),
        ("0", True, False),
        ("yes", True, True),
        ("yes", False, False),
        ("", True, True),
    ],
)
def test_toboolean_falls_back_to_the_default(
    raw: str | None, default: bool, expected: bool
) -> None:
    assert wire.toboolean(raw, default) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("yes", True), ("T", True), ("1", True), ("true", True), ("no", False), ("2", False)],
)
def test_str2bool_is_false_for_anything_unknown(raw: str, expected: bool) -> None:
    assert wire.str2bool(raw, default=not expected) is expected


@pytest.mark.parametrize(("raw", "expected"), [("false", True), ("0", True), ("", False)])
def test_python_bool_is_true_for_any_non_empty_value(raw: str, expected: bool) -> None:
    assert wire.python_bool(raw, default=not expected) is expected
    assert wire.python_bool(None, default=expected) is expected


def test_exact_flag_accepts_only_three_spellings() -> None:
    assert [wire.exact_flag(v) for v in ("True", "true", "1", "TRUE", "yes", None)] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]


def test_timestamps_are_float_seconds() -> None:
    assert wire.parse_timestamp({"timestamp": "1700000000.25"}, "timestamp") == 1700000000.25
    assert wire.parse_timestamp({}, "timestamp") is None
    far = wire.parse_timestamp({"t": "1e300"}, "t")
    assert far == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
    assert wire.parse_timestamp({"t": "-1e300"}, "t") == datetime(1, 1, 1, tzinfo=UTC).timestamp()
    for raw in ("yesterday", "", "nan", "inf", "1e400"):
        with pytest.raises(ServiceError) as caught:
            wire.parse_timestamp({"t": raw}, "t")
        assert caught.value.status == 400
        assert caught.value.message == "Timestamp parameter t is not a valid unix timestamp"
    with pytest.raises(ServiceError, match="mandatory"):
        wire.require_timestamp({}, "timestamp_past")


def test_uint64_bounds_are_enforced() -> None:
    top = 2**64 - 1
    assert wire.parse_uint64(str(top), "id") == top
    assert wire.parse_uint64(top, "id") == top
    assert wire.parse_uint64(12.0, "id") == 12
    for bad in (str(top + 1), "-1", "12a", "١٢", True, 1.5, -3.0, -3, None):
        with pytest.raises(ServiceError) as caught:
            wire.parse_uint64(bad, "id")
        assert caught.value.status == 400


def test_id_lists_mix_numbers_and_strings_without_losing_precision() -> None:
    big = 2**63 + 5
    assert wire.parse_ids([big, 1], "node_ids").tolist() == [big, 1]
    assert wire.parse_ids([str(big), 7], "node_ids").tolist() == [big, 7]
    assert wire.parse_ids([], "node_ids").dtype == np.uint64
    for bad in ([True, 1], [1.5], [-1], [2**64], ["x"], [[1]], "1,2"):
        with pytest.raises(ServiceError):
            wire.parse_ids(bad, "node_ids")


def test_binary_ids_are_little_endian_uint64() -> None:
    values = np.array([1, 2**64 - 1], dtype="<u8")
    assert wire.parse_binary_ids(values.tobytes()).tolist() == [1, 2**64 - 1]
    with pytest.raises(ServiceError, match="multiple of 8"):
        wire.parse_binary_ids(b"\x00" * 9)


def test_bounds_are_voxel_boxes() -> None:
    box = wire.parse_bounds("10-20_30-40_5-6")
    assert box is not None
    assert box.tolist() == [[10, 30, 5], [20, 40, 6]]
    huge = wire.parse_bounds(f"0-{10**30}_0-1_0-1")
    assert huge is not None
    assert huge[1][0] == wire.MAX_BOUND
    assert wire.parse_bounds(None) is None
    for bad in ("10-20_30-40", "a-b_c-d_e-f", "10-20_30-40_-5-6", "10:20_30-40_5-6"):
        with pytest.raises(ServiceError):
            wire.parse_bounds(bad)


def test_layers_start_at_one() -> None:
    assert wire.parse_layer(None, 4) == 4
    assert wire.parse_layer("2", 4) == 2
    assert wire.parse_layer("9", 4) == 9
    with pytest.raises(ServiceError, match="stop_layer is not an integer"):
        wire.parse_layer("two", 4)
    with pytest.raises(ServiceError, match="at least 1"):
        wire.parse_layer("0", 4)


def test_int64_as_str_touches_only_numpy_int64_and_uint64() -> None:
    value = {
        "ids": np.array([[1, 2]], dtype=np.uint64),
        "signed": np.int64(-3),
        "small": np.int32(4),
        "plain": 5,
        "floats": np.array([0.5], dtype=np.float32),
        "flag": np.bool_(True),
        "when": datetime(2024, 1, 1, tzinfo=UTC),
        "nested": [np.uint64(6), {np.uint64(7): "k"}],
    }
    assert wire.to_wire(value, True) == {
        "ids": [["1", "2"]],
        "signed": "-3",
        "small": 4,
        "plain": 5,
        "floats": [0.5],
        "flag": True,
        "when": "2024-01-01 00:00:00+00:00",
        "nested": ["6", {"7": "k"}],
    }
    assert wire.to_wire(value, False)["ids"] == [[1, 2]]
    assert wire.to_wire(value, False)["signed"] == -3


def test_json_is_sorted_compact_and_newline_terminated() -> None:
    body = wire.pcg_json_bytes({"b": np.uint64(2**64 - 1), "a": [1, 2]})
    assert body == b'{"a":[1,2],"b":18446744073709551615}\n'
    frame = pd.DataFrame({"x": [1]})
    assert json.loads(wire.pcg_json_bytes({"t": frame})) == {"t": frame.to_json()}


def test_json_bodies_need_the_expected_key() -> None:
    body = json.dumps({"node_ids": ["5", 6]}).encode()
    assert wire.body_node_ids(body, is_binary=False).tolist() == [5, 6]
    assert wire.body_node_ids(np.array([5], "<u8").tobytes(), is_binary=True).tolist() == [5]
    with pytest.raises(ServiceError, match="not valid JSON"):
        wire.parse_json(b"{nope")
    with pytest.raises(ServiceError, match="'root_ids'"):
        wire.body_node_ids(body, is_binary=False, key="root_ids")
