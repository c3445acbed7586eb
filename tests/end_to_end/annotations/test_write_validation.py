"""Every annotation write validates its rows before sending: post_annotation, update_annotation
and their DataFrame variants, sync and async, against dafserver.

dafserver refuses bad rows itself, so "nothing was sent" is shown by recording every request on
its way to the server (a real transport underneath): a bad row must leave no POST or PUT of
annotations behind, and the same row with ``validate=False`` must leave one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from dafclient import AsyncFrameworkClient, FrameworkClient
from dafclient._wire.annotation_models import CellTypeLocal, SynapseSchema
from dafclient._wire.annotation_models.shared import BoundSpatialPoint, SpatialPoint
from dafclient.annotations import AnnotationStage, AnnotationValidationError
from dafclient.errors import InputError, UnprocessableError
from dafserver.runner import LocalServer
from dafserver.seed import DATASTACK

# -- recording the requests a client sends ----------------------------------------------------


class Recording(httpx.HTTPTransport):
    """The real transport, noting (method, path, body) of every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, bytes]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path, request.read()))
        return super().handle_request(request)


class AsyncRecording(httpx.AsyncHTTPTransport):
    """:class:`Recording` for the async client."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, bytes]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path, await request.aread()))
        return await super().handle_async_request(request)


def writes(transport: Recording | AsyncRecording) -> list[tuple[str, bytes]]:
    """The annotation POSTs and PUTs sent so far: (method, body)."""
    return [
        (method, body)
        for method, path, body in transport.sent
        if method in ("POST", "PUT") and path.endswith("/annotations")
    ]


@pytest.fixture
def recording() -> Recording:
    return Recording()


@pytest.fixture
def rclient(daf_server: LocalServer, recording: Recording) -> Iterator[FrameworkClient]:
    """A client whose requests ``recording`` notes."""
    with FrameworkClient(
        DATASTACK,
        server_address=daf_server.base_url,
        auth_token=daf_server.admin_token,
        transport=recording,
    ) as c:
        yield c


@pytest.fixture
def arecording() -> AsyncRecording:
    return AsyncRecording()


@pytest.fixture
async def arclient(
    daf_server: LocalServer, arecording: AsyncRecording
) -> AsyncIterator[AsyncFrameworkClient]:
    async with AsyncFrameworkClient(
        DATASTACK,
        server_address=daf_server.base_url,
        auth_token=daf_server.admin_token,
        transport=arecording,
    ) as c:
        yield c


# -- rows ---------------------------------------------------------------------------------------


def new_table(client: FrameworkClient, schema: str = "synapse") -> str:
    name = f"checked_{schema}_{uuid.uuid4().hex[:10]}"
    client.annotation.create_table(name, schema, voxel_resolution=(4, 4, 40))
    return name


def synapse(i: int) -> dict[str, Any]:
    return {
        "pre_pt": {"position": [i, i + 1, i + 2], "root_id": 10 + i},
        "ctr_pt": {"position": [i + 3, i + 4, i + 5]},
        "post_pt": {"position": [i + 6, i + 7, i + 8]},
        "size": i + 0.5,
    }


def with_change(row: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(row))
    container = out if len(path) == 1 else out[path[0]]
    container[path[-1]] = value
    return out


BAD_VALUES: dict[str, tuple[tuple[str, ...], Any]] = {
    "four-number position": (("pre_pt", "position"), [1, 2, 3, 4]),
    "two-number position": (("post_pt", "position"), [1, 2]),
    "boolean coordinate": (("ctr_pt", "position"), [True, 2, 3]),
    "word coordinate": (("ctr_pt", "position"), ["abc", 2, 3]),
    "root id 2**64": (("pre_pt", "root_id"), 2**64),
    "negative root id": (("pre_pt", "root_id"), -1),
    "fractional root id": (("pre_pt", "root_id"), 1.5),
    "boolean size": (("size",), True),
    "word size": (("size",), "big"),
    "position not a list": (("pre_pt", "position"), "1,2,3"),
}
UNKNOWN_FIELDS: dict[str, tuple[tuple[str, ...], Any]] = {
    "misspelled top-level field": (("szie",), 1.0),
    "misspelled point field": (("pre_pt", "positon"), [1, 2, 3]),
}


def bad_batch(path: tuple[str, ...], value: Any, *, ids: list[int] | None = None) -> list[Any]:
    """Five good synapse rows, the fourth (row 3) changed."""
    rows = [synapse(i) for i in range(5)]
    rows[3] = with_change(rows[3], path, value)
    if ids is not None:
        for row, annotation_id in zip(rows, ids, strict=True):
            row["id"] = annotation_id
    return rows


def flat_frame(rows: list[dict[str, Any]], index: list[int] | None = None) -> pd.DataFrame:
    """Rows as a DataFrame of flat columns (``pre_pt_position`` holding lists)."""
    flat_rows = []
    for row in rows:
        flat: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, dict):
                flat.update({f"{key}_{sub}": v for sub, v in value.items()})
            else:
                flat[key] = value
        flat_rows.append(flat)
    frame = pd.DataFrame(flat_rows, index=index)
    return frame.astype(object).where(frame.notna(), None)


def error_of(call: Callable[[], Any]) -> InputError:
    with pytest.raises(InputError) as caught:
        call()
    return caught.value


def same_error(first: InputError, second: InputError) -> None:
    assert type(first) is type(second)
    assert str(first) == str(second)
    if isinstance(first, AnnotationValidationError):
        assert isinstance(second, AnnotationValidationError)
        assert first.errors == second.errors
        assert first.bad_rows.tolist() == second.bad_rows.tolist()


# -- a bad row: the same error as the stage, nothing sent -------------------------------------

ALL_BAD = {**BAD_VALUES, **UNKNOWN_FIELDS}


@pytest.mark.parametrize("case", list(ALL_BAD))
def test_post_annotation_sends_nothing_and_errs_as_the_stage(
    rclient: FrameworkClient, recording: Recording, case: str
) -> None:
    table = new_table(rclient)
    rows = bad_batch(*ALL_BAD[case])
    from_stage = error_of(lambda: rclient.annotation.stage(table).add_records(rows))
    from_post = error_of(lambda: rclient.annotation.post_annotation(table, rows))
    same_error(from_stage, from_post)
    if case in BAD_VALUES:
        assert isinstance(from_post, AnnotationValidationError)
        assert from_post.bad_rows.tolist() == [3]
        assert [(e.row, e.field) for e in from_post.errors] == [(3, "_".join(ALL_BAD[case][0]))]
    else:
        assert ALL_BAD[case][0][-1] in str(from_post)  # the unknown field is named
    assert writes(recording) == []
    assert rclient.annotation.get_annotation_count(table) == 0


@pytest.mark.parametrize("case", list(ALL_BAD))
def test_post_annotation_df_sends_nothing_and_errs_as_the_stage(
    rclient: FrameworkClient, recording: Recording, case: str
) -> None:
    table = new_table(rclient)
    frame = flat_frame(bad_batch(*ALL_BAD[case]), index=[10, 11, 12, 13, 14])
    from_stage = error_of(lambda: rclient.annotation.stage(table).add_dataframe(frame))
    from_post = error_of(lambda: rclient.annotation.post_annotation_df(table, frame))
    same_error(from_stage, from_post)
    if isinstance(from_post, AnnotationValidationError):
        assert [e.label for e in from_post.errors] == [13]  # rows named by the index
    assert writes(recording) == []
    assert rclient.annotation.get_annotation_count(table) == 0


@pytest.fixture
def posted(rclient: FrameworkClient) -> tuple[str, list[int]]:
    table = new_table(rclient)
    return table, rclient.annotation.post_annotation(table, [synapse(i) for i in range(5)])


@pytest.mark.parametrize(
    "case",
    [*ALL_BAD, "id 2**64", "fractional id", "word id", "boolean id", "missing id"],
)
@pytest.mark.parametrize("as_frame", [False, True], ids=["records", "frame"])
def test_updates_send_nothing_and_err_as_the_stage(
    rclient: FrameworkClient,
    recording: Recording,
    posted: tuple[str, list[int]],
    case: str,
    as_frame: bool,
) -> None:
    table, ids = posted
    if case in ALL_BAD:
        rows = bad_batch(*ALL_BAD[case], ids=ids)
    else:
        rows = bad_batch(("size",), 1.0, ids=ids)
        bad_id = {"id 2**64": 2**64, "fractional id": 1.5, "word id": "x", "boolean id": True}
        if case == "missing id":
            del rows[3]["id"]
        else:
            rows[3]["id"] = bad_id[case]
    sent_before = len(writes(recording))
    stage = rclient.annotation.stage(table, update=True)
    if as_frame:
        frame = flat_frame(rows)
        from_stage = error_of(lambda: stage.add_dataframe(frame))
        from_update = error_of(lambda: rclient.annotation.update_annotation_df(table, frame))
    else:
        from_stage = error_of(lambda: stage.add_records(rows))
        from_update = error_of(lambda: rclient.annotation.update_annotation(table, rows))
    same_error(from_stage, from_update)
    if isinstance(from_update, AnnotationValidationError):
        assert from_update.bad_rows.tolist() == [3]
    assert len(writes(recording)) == sent_before
    assert rclient.annotation.get_annotation_count(table) == 5  # no row was superseded


def test_the_recording_sees_an_unvalidated_write(
    rclient: FrameworkClient, recording: Recording
) -> None:
    """The control of the tests above: the same bad rows, sent with ``validate=False``."""
    table = new_table(rclient)
    rows = bad_batch(*BAD_VALUES["four-number position"])
    with pytest.raises(UnprocessableError):  # dafserver's own check
        rclient.annotation.post_annotation(table, rows, validate=False)
    [(method, body)] = writes(recording)
    assert method == "POST" and json.loads(body) == {"annotations": rows}


def test_too_many_rows_send_no_request_at_all(
    rclient: FrameworkClient, recording: Recording
) -> None:
    rows = [synapse(0)] * 10_001
    with pytest.raises(InputError, match="at most 10000"):
        rclient.annotation.post_annotation("any_table", rows)
    assert recording.sent == []


# -- good rows land unchanged -------------------------------------------------------------------


def stored(client: FrameworkClient, table: str, ids: list[int]) -> list[dict[str, Any]]:
    """Rows as read back, in ``ids`` order, without their bookkeeping columns."""
    rows = {row["id"]: row for row in client.annotation.get_annotation(table, ids)}
    skip = {"id", "created", "deleted", "superceded_id", "valid"}
    return [{k: v for k, v in rows[i].items() if k not in skip} for i in ids]


def test_good_rows_land_as_they_land_unvalidated(rclient: FrameworkClient) -> None:
    rows = [
        synapse(1),
        {
            "pre_pt": {"position": np.array([1.5, 2.25, 3])},
            "ctr_pt": {"position": (np.int64(4), 5, 6)},
            "post_pt": {"position": [7, 8, 9], "supervoxel_id": np.uint64(12_345)},
            "size": None,
        },
        {
            "pre_pt_position": [10, 20, 30],
            "ctr_pt_position": ["11", "21", "31"],
            "post_pt_position": [12, 22, 32],
            "size": "2.5",
            "valid": "yes",
        },
        {"type": "synapse", **synapse(7)},
    ]
    checked, unchecked = new_table(rclient), new_table(rclient)
    validated_ids = rclient.annotation.post_annotation(checked, rows)
    nested = [json.loads(json.dumps(rows[i], default=lambda v: v.tolist())) for i in (0, 1, 3)]
    nested.insert(  # dafserver takes no strings in positions; production and dafclient do
        2,
        {
            "pre_pt": {"position": [10, 20, 30]},
            "ctr_pt": {"position": [11, 21, 31]},
            "post_pt": {"position": [12, 22, 32]},
            "size": "2.5",
        },
    )
    plain_ids = rclient.annotation.post_annotation(unchecked, nested, validate=False)
    assert stored(rclient, checked, validated_ids) == stored(rclient, unchecked, plain_ids)
    landed = stored(rclient, checked, validated_ids)
    assert landed[0]["pre_pt_position"] == [1, 2, 3] and landed[0]["size"] == 1.5
    assert landed[1]["pre_pt_position"] == [1, 2, 3]  # stored as integers, truncated
    assert landed[1]["size"] is None
    assert landed[2]["ctr_pt_position"] == [11, 21, 31] and landed[2]["size"] == 2.5


def test_models_frames_and_stages_are_posted(rclient: FrameworkClient) -> None:
    table = new_table(rclient)
    model = SynapseSchema(
        pre_pt=BoundSpatialPoint(position=[1, 2, 3]),
        ctr_pt=SpatialPoint(position=[4, 5, 6]),
        post_pt=BoundSpatialPoint(position=[7, 8, 9]),
        size=3.0,
    )
    [from_model] = rclient.annotation.post_annotation(table, [model])
    [unvalidated] = rclient.annotation.post_annotation(table, [model], validate=False)
    frame = pd.DataFrame(
        {
            **{f"pre_pt_position_{a}": [1] for a in "xyz"},
            "ctr_pt_position": [[4, 5, 6]],
            "post_pt_position": [np.array([7, 8, 9])],
            "size": [3.0],
        }
    )
    [from_frame] = rclient.annotation.post_annotation_df(table, frame)
    stage = AnnotationStage.for_type("synapse")
    stage.add(model)
    [from_stage] = rclient.annotation.post_annotation(table, stage)
    rows = stored(rclient, table, [from_model, unvalidated, from_frame, from_stage])
    assert rows[0] == rows[1] == rows[3]
    assert rows[2] == {**rows[0], "pre_pt_position": [1, 1, 1]}
    assert rows[0]["post_pt_position"] == [7, 8, 9] and rows[0]["size"] == 3.0


def test_rows_of_another_type_are_refused(rclient: FrameworkClient, recording: Recording) -> None:
    table = new_table(rclient)
    cell = CellTypeLocal(
        cell_type="L5", classification_system="x", pt=BoundSpatialPoint(position=[1, 2, 3])
    )
    with pytest.raises(InputError, match="cell_type"):
        rclient.annotation.post_annotation(table, [cell])
    wrong_type = {"type": "cell_type_local", **synapse(0)}
    with pytest.raises(AnnotationValidationError) as caught:
        rclient.annotation.post_annotation(table, [synapse(1), wrong_type])
    [error] = caught.value.errors
    assert (error.row, error.field, error.value) == (1, "type", "cell_type_local")
    stage = AnnotationStage.for_type("cell_type_local")
    stage.add(cell)
    with pytest.raises(InputError, match="the stage holds 'cell_type_local' rows"):
        rclient.annotation.post_annotation(table, stage)
    assert writes(recording) == []


def test_updates_land_validated(rclient: FrameworkClient, posted: tuple[str, list[int]]) -> None:
    table, ids = posted
    frame = flat_frame([synapse(20), synapse(21)])
    frame.insert(0, "id", [str(ids[0]), ids[1]])  # a decimal string is an id, as for the service
    mapping = rclient.annotation.update_annotation_df(table, frame)
    assert set(mapping) == {str(ids[0]), str(ids[1])}  # string keys, as CAVEclient's
    [row] = stored(rclient, table, [mapping[ids[1]]])
    assert row["size"] == 21.5 and row["pre_pt_position"] == [21, 22, 23]
    one = {**synapse(30), "id": mapping[ids[0]]}
    again = rclient.annotation.update_annotation(table, one)
    assert list(again) == [str(mapping[ids[0]])]


def test_the_table_type_is_learned_once(rclient: FrameworkClient, recording: Recording) -> None:
    table = new_table(rclient)
    ids = rclient.annotation.post_annotation(table, [synapse(0)])
    rclient.annotation.post_annotation_df(table, flat_frame([synapse(1)]))
    rclient.annotation.update_annotation(table, {**synapse(2), "id": ids[0]})
    rclient.annotation.stage(table)
    with pytest.raises(AnnotationValidationError):
        rclient.annotation.post_annotation(table, [synapse(3), {**synapse(4), "size": "x"}])
    metadata = [p for m, p, _ in recording.sent if m == "GET" and p.endswith(f"/table/{table}")]
    assert len(metadata) == 1
    assert len(writes(recording)) == 3


# -- async -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case", ["four-number position", "root id 2**64", "misspelled top-level field"]
)
async def test_async_writes_send_nothing_for_a_bad_row(
    client: FrameworkClient,
    arclient: AsyncFrameworkClient,
    arecording: AsyncRecording,
    case: str,
) -> None:
    table = new_table(client)
    ids = client.annotation.post_annotation(table, [synapse(i) for i in range(5)])
    rows = bad_batch(*ALL_BAD[case])
    expected = error_of(lambda: client.annotation.stage(table).add_records(rows))
    annotation = arclient.annotation
    for call in (
        lambda: annotation.post_annotation(table, rows),
        lambda: annotation.post_annotation_df(table, flat_frame(rows)),
    ):
        with pytest.raises(InputError) as caught:
            await call()
        assert type(caught.value) is type(expected)
    updates = bad_batch(*ALL_BAD[case], ids=ids)
    for call in (
        lambda: annotation.update_annotation(table, updates),
        lambda: annotation.update_annotation_df(table, flat_frame(updates)),
    ):
        with pytest.raises(InputError):
            await call()
    with pytest.raises(InputError) as caught:
        await annotation.post_annotation(table, rows)
    same_error(expected, caught.value)
    assert writes(arecording) == []
    assert client.annotation.get_annotation_count(table) == 5


async def test_async_writes_land_validated(
    client: FrameworkClient, arclient: AsyncFrameworkClient, arecording: AsyncRecording
) -> None:
    table = new_table(client)
    annotation = arclient.annotation
    ids = await annotation.post_annotation(table, [synapse(0), synapse(1)])
    [from_frame] = await annotation.post_annotation_df(table, flat_frame([synapse(2)]))
    mapping = await annotation.update_annotation(table, {**synapse(3), "id": ids[0]})
    frame = flat_frame([synapse(4)])
    frame.insert(0, "id", [ids[1]])
    mapping.update(await annotation.update_annotation_df(table, frame))
    [plain] = await annotation.post_annotation(table, [synapse(5)], validate=False)
    rows = stored(client, table, [mapping[ids[0]], mapping[ids[1]], from_frame, plain])
    assert [r["size"] for r in rows] == [3.5, 4.5, 2.5, 5.5]
    assert [m for m, _ in writes(arecording)] == ["POST", "POST", "PUT", "PUT", "POST"]


def test_ignored_columns_are_left_out_and_named_ones_refused(
    rclient: FrameworkClient, recording: Recording
) -> None:
    table = new_table(rclient)
    rows = [{**synapse(0), "note": "from a notebook"}]
    with pytest.raises(InputError, match="'note'"):
        rclient.annotation.post_annotation(table, rows)
    frame = flat_frame([synapse(1)])
    frame.insert(0, "id", [5])  # a frame read back from a table: ids are not posted
    with pytest.raises(InputError, match="ignore_columns=\\['id'\\]"):
        rclient.annotation.post_annotation_df(table, frame)
    assert writes(recording) == []
    [first] = rclient.annotation.post_annotation(table, rows, ignore_columns=["note"])
    [second] = rclient.annotation.post_annotation_df(table, frame, ignore_columns=["id"])
    assert json.loads(writes(recording)[0][1]) == {"annotations": [synapse(0)]}
    assert stored(rclient, table, [first, second]) == [
        {
            "pre_pt_position": [0, 1, 2],
            "ctr_pt_position": [3, 4, 5],
            "post_pt_position": [6, 7, 8],
            "size": 0.5,
        },
        {
            "pre_pt_position": [1, 2, 3],
            "ctr_pt_position": [4, 5, 6],
            "post_pt_position": [7, 8, 9],
            "size": 1.5,
        },
    ]
