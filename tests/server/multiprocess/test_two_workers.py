"""One deployment on PostgreSQL served by two uvicorn worker processes (`dafclient serve
--workers 2`): answers must be what one process would give.

Requests are sent on fresh connections, which the kernel hands to either worker; every answer
names its worker (``X-Dafserver-Worker``), so the tests check that both took part and read on
the worker that did *not* make a change. Needs a PostgreSQL server in
``DAFSERVER_DATABASE_SERVER`` (``nox -s tests_postgres`` starts one).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import create_engine

from dafserver.chunkedgraph.graph import ChunkedGraph
from dafserver.chunkedgraph.store import GraphStore
from dafserver.db import DATABASE_SERVER_ENV, folder_database_url
from dafserver.deployment import ADMIN_TOKEN_FILE
from dafserver.seed import ALIGNED_VOLUME

pytestmark = pytest.mark.postgres

STARTUP_S = 300.0
WORKER = "x-dafserver-worker"
ANNOTATIONS = f"/annotation/api/v2/aligned_volume/{ALIGNED_VOLUME}"
THREADS = 8


@dataclass(frozen=True)
class Workers:
    """The running server: its base URL, admin token, data folder and worker process ids."""

    base_url: str
    token: str
    data_dir: Path
    pids: frozenset[str]

    def client(self) -> httpx.Client:
        """A client with one connection of its own (so a fresh choice of worker)."""
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.token}"},
            limits=httpx.Limits(max_connections=1),
            timeout=120.0,
        )

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request on a fresh connection."""
        with self.client() as http:
            return http.request(method, url, **kwargs)

    def read_on(self, pid: str, url: str, method: str = "GET", **kwargs: Any) -> httpx.Response:
        """A read answered by worker ``pid`` (fresh connections until that worker takes one)."""
        for _ in range(400):
            response = self.send(method, url, **kwargs)
            if response.headers[WORKER] == pid:
                return response
        raise AssertionError(f"worker {pid} never took a connection")

    def other(self, pid: str) -> str:
        (found,) = self.pids - {pid}
        return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    if not os.environ.get(DATABASE_SERVER_ENV):
        pytest.fail(f"set {DATABASE_SERVER_ENV} to a PostgreSQL server (nox -s tests_postgres)")
    data_dir = tmp_path_factory.mktemp("two_workers")
    port = _free_port()
    command = [
        sys.executable,
        "-c",
        "from dafclient.cli import app; app()",
        "serve",
        "--data",
        str(data_dir),
        "--size",
        "tiny",
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    log = (data_dir.parent / "two_workers.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        pids = _wait_for_both(process, base_url, data_dir)
        token = (data_dir / ADMIN_TOKEN_FILE).read_text(encoding="utf-8").strip()
        yield Workers(base_url, token, data_dir, pids)
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()


def _wait_for_both(
    process: subprocess.Popen[bytes], base_url: str, data_dir: Path
) -> frozenset[str]:
    """Poll until both workers have answered (the parent builds the dataset first)."""
    deadline = time.monotonic() + STARTUP_S
    seen: set[str] = set()
    while len(seen) < 2:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"dafserver --workers 2 did not start (log next to {data_dir})")
        try:
            with httpx.Client(base_url=base_url, timeout=5.0) as http:
                response = http.get("/info/api/versions")
            if response.status_code == 200:
                seen.add(response.headers[WORKER])
        except httpx.TransportError:
            time.sleep(0.2)  # not listening yet: wait for the process, not for a result
    return frozenset(seen)


def _in_threads(work: Callable[[int], Any], n: int) -> list[Any]:
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(work, range(n)))


# -- annotations ------------------------------------------------------------------------------


def _synapse(i: int) -> dict[str, Any]:
    return {
        "pre_pt": {"position": [i, i + 1, i + 2]},
        "ctr_pt": {"position": [i + 3, i + 4, i + 5]},
        "post_pt": {"position": [i + 6, i + 7, i + 8]},
        "size": float(i),
    }


def check_annotation_posts_on_both_workers_all_land_with_distinct_ids(workers: Workers) -> None:
    table = "two_workers_synapses"
    created = workers.send(
        "POST",
        f"{ANNOTATIONS}/table",
        json={
            "table_name": table,
            "schema_type": "synapse",
            "metadata": {
                "description": "written by two worker processes",
                "voxel_resolution_x": 4.0,
                "voxel_resolution_y": 4.0,
                "voxel_resolution_z": 40.0,
            },
        },
    )
    assert created.status_code == 200, created.text
    batches, per_batch = 40, 25

    def post(batch: int) -> tuple[str, list[int]]:
        rows = [_synapse(batch * per_batch + k) for k in range(per_batch)]
        response = workers.send(
            "POST", f"{ANNOTATIONS}/table/{table}/annotations", json={"annotations": rows}
        )
        assert response.status_code == 200, response.text
        return response.headers[WORKER], response.json()

    answers = _in_threads(post, batches)
    assert {pid for pid, _ in answers} == workers.pids, "both workers must have written"
    ids = [i for _, batch_ids in answers for i in batch_ids]
    assert len(ids) == len(set(ids)) == batches * per_batch
    assert sorted(ids) == list(range(1, batches * per_batch + 1))
    for pid in workers.pids:
        count = workers.read_on(pid, f"{ANNOTATIONS}/table/{table}/count")
        assert count.json() == batches * per_batch
    # Every row reads back as posted, from either worker.
    for batch, (pid, batch_ids) in enumerate(answers[:6]):
        response = workers.read_on(
            workers.other(pid),
            f"{ANNOTATIONS}/table/{table}/annotations",
            params={"annotation_ids": ",".join(map(str, batch_ids))},
        )
        by_id = {row["id"]: row for row in response.json()}
        for k, annotation_id in enumerate(batch_ids):
            assert by_id[annotation_id]["size"] == float(batch * per_batch + k)


# -- chunkedgraph edits -----------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """Two supervoxels of different objects joined by an inactive edge."""

    a: int
    b: int
    a_nm: list[float]
    b_nm: list[float]


def _graph_in_database(workers: Workers) -> ChunkedGraph:
    """The graph as a fresh load from the database sees it (the source of truth)."""
    url = folder_database_url(os.environ[DATABASE_SERVER_ENV], workers.data_dir)
    engine = create_engine(url)
    try:
        return ChunkedGraph.load(GraphStore(engine))
    finally:
        engine.dispose()


def _independent_pairs(graph: ChunkedGraph, n: int) -> list[Pair]:
    """``n`` inactive edges whose endpoints lie in different objects, no object used twice, so
    merging them (and then splitting them again) succeeds in any order."""
    edges = graph.state.edges
    candidates = np.flatnonzero(~edges.active_now(np.arange(edges.n_edges)))
    u, v = edges.endpoints(candidates)
    supervoxels = edges.supervoxel_ids
    roots_u = graph.get_roots(supervoxels[u])
    roots_v = graph.get_roots(supervoxels[v])
    meta = graph.meta
    used: set[int] = set()
    pairs: list[Pair] = []
    for a, b, ra, rb in zip(supervoxels[u], supervoxels[v], roots_u, roots_v, strict=True):
        if ra == rb or int(ra) in used or int(rb) in used:
            continue
        chunks = graph.layout.get_chunk_coords(np.array([a, b], dtype=np.uint64)).reshape(2, 3)
        if int(np.abs(chunks[0] - chunks[1]).max()) > 1:
            continue
        used.update((int(ra), int(rb)))
        nm = [
            [
                float((c * s + o + s // 2) * r)
                for c, s, o, r in zip(
                    chunk, meta.chunk_size, meta.voxel_offset, meta.resolution, strict=True
                )
            ]
            for chunk in chunks.tolist()
        ]
        pairs.append(Pair(int(a), int(b), nm[0], nm[1]))
        if len(pairs) == n:
            return pairs
    raise AssertionError(f"only {len(pairs)} independent pairs in the dataset")


def _roots_on(workers: Workers, pid: str, table: str, ids: list[int]) -> list[int]:
    response = workers.read_on(
        pid, f"/segmentation/api/v1/table/{table}/roots", "POST", json={"node_ids": ids}
    )
    assert response.status_code == 200, response.text
    roots: list[int] = response.json()["root_ids"]
    return roots


def check_edits_on_both_workers_are_serialised_and_seen_by_the_other(workers: Workers) -> None:
    before = _graph_in_database(workers)
    table = before.table_id
    v1 = f"/segmentation/api/v1/table/{table}"
    pairs = _independent_pairs(before, 8)
    first_op = before.max_operation_id + 1

    def merge(i: int) -> tuple[str, dict[str, Any]]:
        pair = pairs[i]
        body = [[str(pair.a), *pair.a_nm], [str(pair.b), *pair.b_nm]]
        response = workers.send("POST", f"{v1}/merge", json=body)
        assert response.status_code == 200, response.text
        return response.headers[WORKER], response.json()

    merged = _in_threads(merge, len(pairs))
    assert {pid for pid, _ in merged} == workers.pids, "both workers must have edited"
    ops = sorted(answer["operation_id"] for _, answer in merged)
    assert ops == list(range(first_op, first_op + len(pairs)))
    for pair, (pid, answer) in zip(pairs, merged, strict=True):
        (new_root,) = answer["new_root_ids"]
        # Right after the edit, the other worker sees it...
        assert _roots_on(workers, workers.other(pid), table, [pair.a, pair.b]) == [new_root] * 2
        # ...including the L2 cache of the edit's new L2 nodes.
        leaves = workers.read_on(
            workers.other(pid), f"{v1}/node/{new_root}/leaves", params={"stop_layer": 2}
        ).json()["leaf_ids"]
        features = workers.read_on(
            workers.other(pid),
            f"/l2cache/api/v1/table/{table}/attributes",
            "POST",
            json={"l2_ids": leaves},
        ).json()
        assert sorted(int(k) for k in features) == sorted(leaves)
        assert all(features[str(leaf)] for leaf in leaves)

    def split(i: int) -> tuple[str, dict[str, Any]]:
        pair = pairs[i]
        body = {"sources": [[str(pair.a), *pair.a_nm]], "sinks": [[str(pair.b), *pair.b_nm]]}
        response = workers.send("POST", f"{v1}/split", params={"mincut": "False"}, json=body)
        assert response.status_code == 200, response.text
        return response.headers[WORKER], response.json()

    split_answers = _in_threads(split, len(pairs))
    ops = sorted(answer["operation_id"] for _, answer in split_answers)
    assert ops == list(range(first_op + len(pairs), first_op + 2 * len(pairs)))
    for pair, (pid, answer) in zip(pairs, split_answers, strict=True):
        roots = _roots_on(workers, workers.other(pid), table, [pair.a, pair.b])
        assert roots[0] != roots[1]
        assert sorted(roots) == sorted(answer["new_root_ids"])

    # Both workers and a fresh load of the database agree on every supervoxel's root.
    after = _graph_in_database(workers)
    assert after.max_operation_id == first_op + 2 * len(pairs) - 1
    supervoxels = [int(s) for s in after.supervoxel_ids]
    expected = [int(r) for r in after.get_roots(supervoxels)]
    for pid in workers.pids:
        assert _roots_on(workers, pid, table, supervoxels) == expected


def test_two_workers_answer_as_one_process(workers: Workers) -> None:
    """Both checks against one server (starting one costs a dataset build and two processes; a
    test per check would start one per xdist worker)."""
    check_annotation_posts_on_both_workers_all_land_with_distinct_ids(workers)
    check_edits_on_both_workers_are_serialised_and_seen_by_the_other(workers)
