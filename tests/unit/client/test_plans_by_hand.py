"""Plans stepped by hand, without a server: each test reads the requests a plan yields and
sends it the responses, so what an operation asks for and how it reads the answers is checked
one step at a time (the drivers and the transport play no part)."""

from __future__ import annotations

import numpy as np
import pytest

from dafclient import FrameworkClient
from dafclient.errors import ResponseFormatError
from dafclient.ids import decode_uint64, encode_uint64
from dafclient.services.chunkedgraph import ChunkedGraphBase
from dafclient.services.chunkedgraph import roots as roots_module
from tests.unit.client.conftest import SERVER, answer, finish

TABLE = "graph_table"
PREFIX = f"{SERVER}/segmentation/api/v1/table/{TABLE}"


@pytest.fixture
def chunkedgraph(framework: FrameworkClient) -> ChunkedGraphBase:
    """The chunkedgraph plans on a known server and table: no request before the operation's."""
    return ChunkedGraphBase(framework._ctx, server_address=SERVER, table_name=TABLE)


def test_get_root_id_asks_one_route_and_reads_the_id(chunkedgraph: ChunkedGraphBase) -> None:
    plan = chunkedgraph._get_root_id(5, timestamp=1_600_000_000, level2=True)
    call = next(plan)
    assert (call.method, call.url) == ("GET", f"{PREFIX}/node/5/root")
    assert dict(call.params or {}) == {
        "timestamp": 1_600_000_000.0,
        "stop_layer": 2,
        "int64_as_str": False,
    }
    # Ids above 2**63 arrive as decimal strings from some deployments: read exactly.
    assert finish(plan, answer(call, json={"root_id": str(2**64 - 2)})) == 2**64 - 2


def test_get_root_id_names_what_is_missing(chunkedgraph: ChunkedGraphBase) -> None:
    plan = chunkedgraph._get_root_id(5)
    call = next(plan)
    with pytest.raises(ResponseFormatError) as error:
        plan.send(answer(call, json={"root": 1}))
    assert "root_id" in error.value.reason
    assert error.value.url == f"{PREFIX}/node/5/root?int64_as_str=false"
    assert error.value.method == "GET"


def test_get_roots_batches_unique_ids_and_restores_the_input_order(
    chunkedgraph: ChunkedGraphBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(roots_module, "ROOTS_BATCH", 2)
    plan = chunkedgraph._get_roots([30, 10, 20, 10, 40, 30])
    sent: list[list[int]] = []
    call = next(plan)
    while True:
        assert (call.method, call.url) == ("POST", f"{PREFIX}/roots_binary")
        assert call.idempotent is True
        assert call.content is not None
        asked = decode_uint64(call.content)
        sent.append(asked.tolist())
        try:
            call = plan.send(answer(call, content=encode_uint64(asked + 1000)))
        except StopIteration as done:
            result = done.value
            break
    assert sent == [[10, 20], [30, 40]]
    assert result.dtype == np.uint64
    assert result.tolist() == [1030, 1010, 1020, 1010, 1040, 1030]


def test_get_roots_refuses_an_answer_of_the_wrong_length(chunkedgraph: ChunkedGraphBase) -> None:
    plan = chunkedgraph._get_roots([1, 2, 3])
    call = next(plan)
    with pytest.raises(ResponseFormatError, match="asked for 3 roots, got 2"):
        plan.send(answer(call, content=encode_uint64(np.array([7, 8], dtype=np.uint64))))


def test_get_latest_roots_walks_the_lineage_then_asks_which_are_current(
    chunkedgraph: ChunkedGraphBase,
) -> None:
    # 1 was split into 2 and 3; 3 was merged into 4. The latest roots of 1 are 2 and 4, and
    # the server says only 4 is still current.
    plan = chunkedgraph._get_latest_roots(1)
    lineage = next(plan)
    assert (lineage.method, lineage.url) == ("POST", f"{PREFIX}/lineage_graph_multiple")
    assert lineage.json == {"root_ids": [1]}
    graph = {
        "directed": True,
        "multigraph": False,
        "graph": {},
        "nodes": [{"id": n, "timestamp": float(n)} for n in (1, 2, 3, 4)],
        "links": [
            {"source": 1, "target": 2},
            {"source": 1, "target": 3},
            {"source": 3, "target": 4},
        ],
    }
    latest = plan.send(answer(lineage, json=graph))
    assert (latest.method, latest.url) == ("POST", f"{PREFIX}/is_latest_roots")
    assert latest.json == {"node_ids": [2, 4]}
    assert finish(plan, answer(latest, json={"is_latest": [False, True]})).tolist() == [4]


def test_get_original_roots_walks_the_lineage_backwards(chunkedgraph: ChunkedGraphBase) -> None:
    plan = chunkedgraph._get_original_roots(4)
    lineage = next(plan)
    graph = {
        "directed": True,
        "multigraph": False,
        "graph": {},
        "nodes": [{"id": n, "timestamp": float(n)} for n in (1, 2, 3, 4)],
        "links": [
            {"source": 1, "target": 3},
            {"source": 2, "target": 3},
            {"source": 3, "target": 4},
        ],
    }
    assert finish(plan, answer(lineage, json=graph)).tolist() == [1, 2]


def test_undo_is_a_write_that_reads_the_edit_outcome(chunkedgraph: ChunkedGraphBase) -> None:
    plan = chunkedgraph._undo_operation(12)
    call = next(plan)
    assert (call.method, call.url, call.idempotent) == ("POST", f"{PREFIX}/undo", False)
    assert call.json == {"operation_id": 12}
    outcome = finish(plan, answer(call, json={"operation_id": 13, "new_root_ids": [5, "6"]}))
    assert outcome.operation_id == 13
    assert outcome.new_root_ids.tolist() == [5, 6]


def test_schema_names_negotiate_the_version_first(framework: FrameworkClient) -> None:
    plan = framework.schema._get_schemas()
    versions = next(plan)
    assert (versions.method, versions.url) == ("GET", f"{SERVER}/schema/versions")
    # A deployment without the versions route (404 is accepted by the plan) gets the newest.
    names = plan.send(answer(versions, 404, json={"message": "no such route"}))
    assert (names.method, names.url) == ("GET", f"{SERVER}/schema/api/v2/type")
    assert finish(plan, answer(names, json=["synapse", "cell_type_local"])) == [
        "synapse",
        "cell_type_local",
    ]
