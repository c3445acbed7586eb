"""Oversized bodies and absurd parameters are refused with the documented 4xx, quickly.

Each case checks the status, the error body (the owning service's format) and that the server
still answers afterwards.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import time
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from contract_support import ContractServer

from dafserver.body_limit import MAX_BODY_BYTES, BodyLimitMiddleware, too_large_message
from dafserver.seed import ALIGNED_VOLUME, ANNOTATION_TABLES
from dafserver.services.annotation import MAX_QUERY_IDS
from dafserver.services.chunkedgraph_wire import MAX_LAYER

OVERSIZED = 120_000_000
"""A body larger than the limit (production's nginx limit is 100 MB)."""
PROBE_BYTES = 65_536
"""How much of an oversized body is sent before the answer is expected."""
SYNAPSES = ANNOTATION_TABLES["synapse"]


@pytest.fixture(scope="module")
def http(hardened_server: ContractServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {hardened_server.token}"}
    with httpx.Client(
        base_url=hardened_server.server.base_url, headers=headers, timeout=60.0
    ) as client:
        yield client


def _v1(server: ContractServer) -> str:
    return f"/segmentation/api/v1/table/{server.server.deployment.graph.table_id}"


def _annotations(table: str = SYNAPSES) -> str:
    return f"/annotation/api/v2/aligned_volume/{ALIGNED_VOLUME}/table/{table}/annotations"


def _assert_responsive(http: httpx.Client) -> None:
    response = http.get("/segmentation/api/versions")
    assert response.status_code == 200, response.text


def _announce_oversized(server: ContractServer, path: str) -> tuple[int, bytes, float]:
    """Send headers announcing a 120 MB body plus its first 64 KiB; return status, body, seconds."""
    url = urlsplit(server.server.base_url)
    assert url.hostname is not None and url.port is not None
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\n"
        f"Authorization: Bearer {server.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {OVERSIZED}\r\n\r\n"
    ).encode("ascii")
    started = time.monotonic()
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head + b" " * PROBE_BYTES)
        received = b""
        while True:
            chunk = sock.recv(65_536)
            if not chunk:
                break
            received += chunk
    elapsed = time.monotonic() - started
    header, _, body = received.partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    return status, body, elapsed


def test_an_announced_oversized_segmentation_body_is_refused_before_it_is_read(
    hardened_server: ContractServer, http: httpx.Client
) -> None:
    status, body, elapsed = _announce_oversized(hardened_server, f"{_v1(hardened_server)}/roots")
    assert status == 413
    error = json.loads(body)
    assert error["code"] == 413
    assert error["message"] == f"[413]: {too_large_message(MAX_BODY_BYTES)}"
    # The answer came without the client sending the other 119.9 MB.
    assert elapsed < 10
    _assert_responsive(http)


@pytest.mark.parametrize(
    ("path", "check"),
    [
        (_annotations(), lambda body: json.loads(body)["code"] == 413),
        ("/nglstate/api/v1/post", lambda body: body.decode().startswith("Request body too large")),
        ("/auth/api/v1/user/token", lambda body: "too large" in json.loads(body)["message"]),
    ],
    ids=["annotation", "state", "auth"],
)
def test_every_service_refuses_an_oversized_body_in_its_own_format(
    hardened_server: ContractServer, http: httpx.Client, path: str, check: Any
) -> None:
    status, body, _ = _announce_oversized(hardened_server, path)
    assert status == 413
    assert check(body), body[:200]
    _assert_responsive(http)


def test_a_gzip_body_inflating_past_the_limit_is_refused(
    hardened_server: ContractServer, http: httpx.Client
) -> None:
    deflater = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * 1_000_000
    parts = [deflater.compress(b'{"node_ids": [1')]
    parts += [deflater.compress(block) for _ in range(OVERSIZED // len(block))]
    parts.append(deflater.compress(b"]}") + deflater.flush())
    compressed = b"".join(parts)
    assert len(compressed) < MAX_BODY_BYTES // 100
    response = http.post(
        f"{_v1(hardened_server)}/roots",
        content=compressed,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text
    assert response.json()["message"].startswith("[413]: The gzip request body inflates past")
    _assert_responsive(http)


def test_a_small_gzip_body_is_still_read(
    hardened_server: ContractServer, http: httpx.Client
) -> None:
    graph = hardened_server.server.deployment.graph
    ids = graph.supervoxel_ids[:5]
    body = gzip.compress(json.dumps({"node_ids": ids.tolist()}).encode())
    response = http.post(
        f"{_v1(hardened_server)}/roots", content=body, headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["root_ids"] == graph.get_roots(ids).tolist()


def test_a_million_ids_in_one_roots_request_are_answered(
    hardened_server: ContractServer, http: httpx.Client
) -> None:
    graph = hardened_server.server.deployment.graph
    supervoxels = graph.supervoxel_ids
    ids = np.resize(supervoxels, 1_000_000)
    response = http.post(
        f"{_v1(hardened_server)}/roots_binary", content=ids.astype("<u8").tobytes()
    )
    assert response.status_code == 200, response.text[:200]
    roots = np.frombuffer(response.content, dtype="<u8")
    expected = np.resize(graph.get_roots(supervoxels), 1_000_000)
    assert np.array_equal(roots, expected)


def test_a_streamed_body_is_cut_off_at_the_limit() -> None:
    """A body of unannounced length is refused once it passes the limit, not read to the end."""
    limit = 1000
    chunk = b"x" * 100
    reads = 0
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body", False):
            pass
        raise AssertionError("the whole body was handed to the application")

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": chunk, "more_body": reads < 10_000}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/segmentation/api/v1/table/t/roots", "headers": []}
    asyncio.run(BodyLimitMiddleware(app, max_bytes=limit)(scope, receive, send))
    assert sent[0]["status"] == 413
    assert reads == limit // len(chunk) + 1
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert body["message"] == f"[413]: {too_large_message(limit)}"


@pytest.mark.parametrize("layer", [MAX_LAYER + 1, 10**30])
@pytest.mark.parametrize("route", ["root", "roots", "leaves", "leaves_many", "manifest"])
def test_a_layer_beyond_any_id_is_a_400(
    hardened_server: ContractServer, http: httpx.Client, route: str, layer: int
) -> None:
    graph = hardened_server.server.deployment.graph
    supervoxel = int(graph.supervoxel_ids[0])
    root = int(graph.get_roots([supervoxel])[0])
    v1 = _v1(hardened_server)
    body = {"node_ids": [root]}
    if route == "root":
        response = http.get(f"{v1}/node/{supervoxel}/root", params={"stop_layer": layer})
    elif route == "roots":
        response = http.post(f"{v1}/roots", params={"stop_layer": layer}, json=body)
    elif route == "leaves":
        response = http.get(f"{v1}/node/{root}/leaves", params={"stop_layer": layer})
    elif route == "leaves_many":
        response = http.post(f"{v1}/node/leaves_many", params={"stop_layer": layer}, json=body)
    else:
        table = graph.table_id
        response = http.get(
            f"/meshing/api/v1/table/{table}/manifest/{root}:0", params={"start_layer": layer}
        )
    assert response.status_code == 400, response.text
    what = "start_layer" if route == "manifest" else "stop_layer"
    expected = f"[400]: {what} must be at most {MAX_LAYER}, got {layer}"
    assert response.json()["message"] == expected


def test_the_largest_layer_is_still_answered(
    hardened_server: ContractServer, http: httpx.Client
) -> None:
    graph = hardened_server.server.deployment.graph
    root = int(graph.get_roots(graph.supervoxel_ids[:1])[0])
    response = http.get(
        f"{_v1(hardened_server)}/node/{root}/leaves", params={"stop_layer": MAX_LAYER}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"leaf_ids": []}


def test_absurd_bounds_cover_the_volume(
    hardened_server: ContractServer, http: httpx.Client
) -> None:
    graph = hardened_server.server.deployment.graph
    root = int(graph.get_roots(graph.supervoxel_ids[:1])[0])
    huge = "9" * 40
    bounds = f"0-{huge}_0-{huge}_0-{huge}"
    response = http.get(f"{_v1(hardened_server)}/node/{root}/leaves", params={"bounds": bounds})
    assert response.status_code == 200, response.text
    assert response.json()["leaf_ids"] == graph.get_leaves(root).tolist()


def test_too_many_annotation_ids_are_a_400(
    hardened_server: ContractServer, http: httpx.Client
) -> None:
    too_many = ",".join(str(i) for i in range(1, MAX_QUERY_IDS + 2))
    response = http.get(f"{_annotations()}?annotation_ids={too_many}")
    assert response.status_code == 400, response.text
    expected = f"at most {MAX_QUERY_IDS} ids per request, got {MAX_QUERY_IDS + 1}"
    assert expected in response.text
    _assert_responsive(http)


def test_the_largest_annotation_id_list_is_answered(
    hardened_server: ContractServer, http: httpx.Client
) -> None:
    ids = ",".join(str(i) for i in range(1, MAX_QUERY_IDS + 1))
    response = http.get(f"{_annotations()}?annotation_ids={ids}")
    assert response.status_code == 200, response.text[:300]
    rows = response.json()
    assert rows and all(1 <= row["id"] <= MAX_QUERY_IDS for row in rows)
