"""Query replies → DataFrames, on replies a dafserver does not send (JSON records, no
``dataframe_resolution`` header): the same frame as from Arrow, positions scaled on this side."""

from __future__ import annotations

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from dafclient._plan import Call
from dafclient.errors import ResponseFormatError
from dafclient.services.materialize_frames import (
    apply_filters,
    arrow_to_frame,
    decode_query,
    scale_positions,
)

CALL = Call("POST", "https://daf.test/materialize/api/v3/datastack/ds/version/1/table/t/query")
ROWS = {
    "id": [3, 1, 2],
    "pt_position_x": [10, 20, 30],
    "pt_position_y": [11, 21, 31],
    "pt_position_z": [12, 22, 32],
    "pt_root_id": [2**63 + 5, 7, 0],
    "cell_type": ["a", "b", "a"],
}


def _arrow_reply() -> httpx.Response:
    table = pa.table(
        {k: pa.array(v, pa.uint64() if k == "pt_root_id" else None) for k, v in ROWS.items()}
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return _reply(sink.getvalue().to_pybytes(), "data.arrow")


def _reply(content: bytes, kind: str) -> httpx.Response:
    return httpx.Response(
        200,
        content=content,
        headers=[("content-type", kind), ("Warning", "one"), ("Warning", "two")],
        request=httpx.Request("POST", CALL.url),
    )


def test_json_and_arrow_replies_give_the_same_frame() -> None:
    import json

    small = {**ROWS, "pt_root_id": [5, 7, 0]}
    records = [dict(zip(small, row, strict=True)) for row in zip(*small.values(), strict=True)]
    with pytest.warns(UserWarning):
        frame = decode_query(CALL, _reply(json.dumps(records).encode(), "application/json"), False)
    assert frame["id"].dtype == np.uint64 and frame["pt_root_id"].tolist() == [5, 7, 0]
    np.testing.assert_array_equal(
        np.stack(list(frame["pt_position"].to_numpy())), [[10, 11, 12], [20, 21, 22], [30, 31, 32]]
    )
    assert frame.attrs["warnings"] == ["one", "two"] and frame.attrs["dataframe_resolution"] is None
    with pytest.warns(UserWarning):
        arrow = decode_query(CALL, _arrow_reply(), False)
    assert arrow["pt_root_id"].tolist() == [2**63 + 5, 7, 0]
    assert (
        list(arrow.columns)
        == list(frame.columns)
        == ["id", "pt_position", "pt_root_id", "cell_type"]
    )


def test_positions_scaled_here_and_filters_applied() -> None:
    frame = pd.DataFrame(
        {"id": [1, 2], "pt_position_x": [1, 4], "pt_position_y": [2, 5], "pt_position_z": [3, 6]}
    )
    merged = arrow_to_frame(pa.Table.from_pandas(frame, preserve_index=False), False)
    scaled = scale_positions(merged, [2.0, 2.0, 1.0], False)
    split = scale_positions(frame, [2.0, 2.0, 1.0], True)
    assert split["pt_position_y"].tolist() == [4.0, 10.0]
    np.testing.assert_array_equal(
        np.stack(list(scaled["pt_position"].to_numpy())), [[2, 4, 3], [8, 10, 6]]
    )
    kept = apply_filters(frame, {"filter_out_dict": {"id": [1]}}, ("filter_out_dict",))
    assert kept["id"].tolist() == [2]
    kept = apply_filters(
        frame, {"filter_greater_equal_dict": {"id": 2}}, ("filter_greater_equal_dict",)
    )
    assert kept["id"].tolist() == [2]


def test_a_body_of_the_wrong_shape_is_a_format_error() -> None:
    with pytest.raises(ResponseFormatError):
        decode_query(CALL, _reply(b"not arrow", "data.arrow"), False)
    with pytest.raises(ResponseFormatError):
        decode_query(CALL, _reply(b'{"a": 1}', "application/json"), False)
