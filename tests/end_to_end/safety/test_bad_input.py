"""Bad input gives the documented typed errors, never a TypeError/KeyError/ValueError from inside."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safety_support import MakeClient, counting_transport

from dafclient import FrameworkClient
from dafclient.errors import ConfigurationError, DafHTTPError, InputError
from dafclient.ids import UINT64_MAX, as_id_array
from dafclient.timestamps import to_epoch_seconds

TYPED = (InputError, ConfigurationError, DafHTTPError)
FIXTURES = [HealthCheck.function_scoped_fixture]

scalars = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=6),
    st.binary(max_size=4),
)
id_inputs = st.one_of(
    scalars,
    st.lists(scalars, max_size=5),
    st.lists(st.lists(scalars, max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=3), scalars, max_size=2),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=5).map(np.array),
    st.lists(st.floats(), max_size=4).map(np.array),
)


def _expected_ids(value: Any) -> list[int] | None:
    """The ids ``value`` stands for when it is valid input, else None."""
    items = value.tolist() if isinstance(value, np.ndarray) else value
    if isinstance(items, (int, float, str)):  # one id (a bool is refused below)
        items = [items]
    if not isinstance(items, list):
        return None
    out = []
    for item in items:
        if isinstance(item, bool):
            return None
        if isinstance(item, str) and item.strip().isascii() and item.strip().isdigit():
            item = int(item.strip())
        elif isinstance(item, float) and item.is_integer() and abs(item) <= 2**53:
            item = int(item)
        if not isinstance(item, int) or not 0 <= item <= UINT64_MAX:
            return None
        out.append(item)
    return out


@settings(max_examples=200, deadline=None)
@given(id_inputs)
def test_as_id_array_converts_exactly_or_says_which_item(value: Any) -> None:
    expected = _expected_ids(value)
    if expected is None:
        with pytest.raises(InputError) as caught:
            as_id_array(value)
        assert "ids" in str(caught.value)
    else:
        result = as_id_array(value)
        assert result.dtype == np.uint64
        assert [int(i) for i in result] == expected


@pytest.mark.parametrize(
    "value, where",
    [
        ([1, -1], "item 1"),
        ([2**64], "item 0"),
        ([1, 2.5], "item 1"),
        ([True], "item 0"),
        ([[1, 2]], "item 0"),
        (["12x"], "item 0"),
        (["²"], "item 0"),
        ([float(2**60)], "item 0"),
        (np.array([[1, 2]]), "shape (1, 2)"),
        (np.array([3, -4]), "item 1"),
        (None, "NoneType"),
        (1.5, "item 0"),
        (b"\x01\x02", "bytes"),
        ({"1": 2}, "dict"),
    ],
)
def test_invalid_ids_name_what_is_wrong(value: Any, where: str) -> None:
    with pytest.raises(InputError) as caught:
        as_id_array(value, name="root_ids")
    assert str(caught.value).startswith("root_ids")
    assert where in str(caught.value)


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURES)
@given(id_inputs)
def test_get_roots_takes_valid_ids_and_refuses_the_rest(
    client: FrameworkClient, value: Any
) -> None:
    expected = _expected_ids(value)
    if expected is None:
        with pytest.raises(InputError):
            client.chunkedgraph.get_roots(value)
    else:
        roots = client.chunkedgraph.get_roots(value)
        assert roots.dtype == np.uint64 and roots.size == len(expected)


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURES)
@given(st.one_of(scalars, st.lists(scalars, max_size=2)))
def test_get_leaves_ends_in_a_typed_error_for_anything_but_a_known_node(
    client: FrameworkClient, value: Any
) -> None:
    try:
        leaves = client.chunkedgraph.get_leaves(value)
    except TYPED as exc:
        assert str(exc)
    else:
        assert leaves.dtype == np.uint64 and _expected_ids(value) is not None


points = st.one_of(
    st.none(),
    st.text(max_size=4),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=4),
    st.lists(
        st.lists(st.one_of(st.floats(allow_nan=True), st.text(max_size=2)), max_size=4),
        max_size=3,
    ),
    st.lists(st.lists(st.integers(0, 1000), min_size=3, max_size=3), max_size=4).map(np.array),
)


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
@given(points)
def test_do_merge_refuses_bad_points_before_sending(make_client: MakeClient, value: Any) -> None:
    transport, sent = counting_transport()
    client = make_client(transport)
    array: np.ndarray[Any, Any] | None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    valid = array is not None and array.shape == (2, 3) and bool(np.all(np.isfinite(array)))
    with pytest.raises((InputError, DafHTTPError)) as caught:
        client.chunkedgraph.do_merge([1, 2], value)
    if valid:  # good points: the request goes out (and meets the 599 of the test transport)
        assert isinstance(caught.value, DafHTTPError) and sent
    else:
        assert isinstance(caught.value, InputError) and sent == []
        assert "coords" in str(caught.value)


def test_nan_points_name_the_row(make_client: MakeClient) -> None:
    transport, sent = counting_transport()
    with pytest.raises(InputError) as caught:
        make_client(transport).chunkedgraph.do_merge([1, 2], [[1, 2, 3], [4, math.nan, 6]])
    assert "row 1" in str(caught.value) and sent == []


timestamps = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=9))]
        ),
    ),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=10),
    st.just(pd.NaT),
    st.just(np.datetime64("NaT")),
    st.integers(min_value=-(2**40), max_value=2**40).map(lambda s: np.datetime64(s, "s")),
    st.integers(min_value=0, max_value=2**62).map(lambda ns: pd.Timestamp(ns, unit="ns")),
    st.lists(st.integers(), max_size=2),
)
START = datetime(1970, 1, 1, tzinfo=UTC)
END = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def _expected_seconds(value: Any) -> float | None:
    if isinstance(value, (bool, list, str)) or value is pd.NaT:
        return None
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            return None
        seconds = int(value.astype(np.int64))
        return float(seconds) if 0 <= seconds < 253402300800 else None
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        try:
            if not START <= aware <= END:
                return None
        except OverflowError:
            return None
        return (aware - START).total_seconds()
    number = float(value) if abs(value) < 2**1000 else math.inf
    return number if math.isfinite(number) and 0 <= number < 253402300800 else None


@settings(max_examples=300, deadline=None)
@given(timestamps)
def test_to_epoch_seconds_accepts_every_kind_within_range(value: Any) -> None:
    expected = _expected_seconds(value)
    if expected is None:
        with pytest.raises(InputError) as caught:
            to_epoch_seconds(value, name="at")
        assert str(caught.value).startswith("at: ")
    else:
        assert to_epoch_seconds(value, name="at") == pytest.approx(expected, abs=1e-3)


@settings(max_examples=20, deadline=None, suppress_health_check=FIXTURES)
@given(timestamps)
def test_get_roots_timestamp_is_checked_before_sending(make_client: MakeClient, value: Any) -> None:
    transport, sent = counting_transport()
    client = make_client(transport)
    with pytest.raises((InputError, DafHTTPError)) as caught:
        client.chunkedgraph.get_roots([1, 2], timestamp=value)
    if _expected_seconds(value) is None:
        assert isinstance(caught.value, InputError) and sent == []
        assert "timestamp" in str(caught.value)
    else:  # the first request (the datastack record) meets the 599 of the test transport
        assert isinstance(caught.value, DafHTTPError) and len(sent) == 1


def test_none_is_refused_where_a_timestamp_is_required() -> None:
    with pytest.raises(InputError, match="timestamp: expected a datetime"):
        to_epoch_seconds(None)


cells = st.one_of(
    st.lists(st.one_of(st.floats(allow_nan=True), st.integers(), st.text(max_size=2)), max_size=5),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.none(),
)


@settings(max_examples=15, deadline=None, suppress_health_check=FIXTURES)
@given(st.lists(cells, min_size=1, max_size=3))
def test_post_annotation_df_with_bad_positions_is_a_typed_error(
    client: FrameworkClient, positions: list[Any]
) -> None:
    # No classification_system column: the server can never accept these rows.
    df = pd.DataFrame({"pt_position": positions, "cell_type": ["x"] * len(positions)})
    with pytest.raises(TYPED) as caught:
        client.annotation.post_annotation_df("cell_types", df)
    assert str(caught.value)


def test_post_annotation_df_names_a_missing_position_column(make_client: MakeClient) -> None:
    transport, sent = counting_transport()
    df = pd.DataFrame({"cell_type": ["x"]})
    with pytest.raises(InputError, match="pt_position"):
        make_client(transport).annotation.post_annotation_df(
            "cell_types", df, position_columns=["pt_position"]
        )
    assert sent == []


def test_post_annotation_df_names_a_value_json_cannot_carry(make_client: MakeClient) -> None:
    transport, sent = counting_transport()
    df = pd.DataFrame({"pt_position": [[1, 2, 3], [4, 5, 6]], "tag": ["a", {1, 2}]})
    with pytest.raises(InputError) as caught:
        make_client(transport).annotation.post_annotation_df("cell_types", df, validate=False)
    assert "item 1" in str(caught.value) and "set" in str(caught.value)
    assert sent == []


def test_post_annotation_df_sends_timestamps_as_iso_text(client: FrameworkClient) -> None:
    df = pd.DataFrame({"pt_position": [[1, 2, 3]], "when": [pd.Timestamp("2020-01-02")]})
    with pytest.raises(DafHTTPError) as caught:  # the table has no such field: the server says so
        client.annotation.post_annotation_df("cell_types", df, validate=False)
    assert caught.value.status in (400, 422)
