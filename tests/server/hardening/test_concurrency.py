"""One client shared by many threads, and many asyncio tasks on one async client.

Every call's answer must equal the expected one: chunkedgraph answers are computed from the
engine (no edits happen here), the other reads from a single-threaded run, and each posted state
must read back as posted. The big variants are slow; a small variant of each runs by default.
The slow variants also run against the same deployment served with a fifth of requests failing
in every way the fault injector has (truncated bodies and stalls included); there the workload
is reads only, since a write whose answer is lost has no single expected outcome.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dafclient import AsyncFrameworkClient, FrameworkClient
from dafclient.config import RetrySettings, Timeouts
from dafserver.faults import ALL_KINDS, FaultConfig
from dafserver.runner import LocalServer, running_server
from dafserver.seed import ANNOTATION_TABLES, DATASTACK

THREADS = 8
KINDS = ("roots", "leaves", "info", "schema", "annotation", "state")
READS = KINDS[:-1]
FAULTS = FaultConfig(rate=0.2, seed=5, kinds=ALL_KINDS, phase="both", hang_seconds=2.0)
FAULT_SETTINGS: dict[str, Any] = {
    "retries": RetrySettings(max_retries=10, backoff=0.0),
    "timeouts": Timeouts(connect=5.0, read=0.5, total=60.0),
}
"""Client settings against the faulty server: a stalled answer is given up after 0.5 s."""
SCHEMA_TYPE = "synapse"
SYNAPSES = ANNOTATION_TABLES[SCHEMA_TYPE]
Op = tuple[str, int]


@dataclass(frozen=True)
class Expectations:
    """What every operation must answer, derived before any concurrent call."""

    supervoxels: np.ndarray[Any, np.dtype[np.uint64]]
    roots: np.ndarray[Any, np.dtype[np.uint64]]
    leaves: dict[int, list[int]]
    info: Any
    schema: Any
    annotations: dict[int, Any]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("concurrency")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[LocalServer]:
    with running_server(data_dir, size="tiny") as local:
        yield local


@pytest.fixture(scope="module")
def faulty_server(data_dir: Path, server: LocalServer) -> Iterator[LocalServer]:
    """The same deployment served a second time, with :data:`FAULTS`."""
    with running_server(data_dir, size="tiny", faults=FAULTS) as local:
        yield local


def _client(server: LocalServer, **settings: Any) -> FrameworkClient:
    return FrameworkClient(
        DATASTACK, server_address=server.base_url, auth_token=server.admin_token, **settings
    )


def _settings(server: LocalServer) -> dict[str, Any]:
    return FAULT_SETTINGS if server.faults is not None else {}


def _without_server(value: Any, server: LocalServer) -> Any:
    """A record with the server's address replaced, comparable across servers."""
    return json.loads(json.dumps(value.to_dict()).replace(server.base_url, "<server>"))


@pytest.fixture(scope="module")
def expected(server: LocalServer) -> Expectations:
    graph = server.deployment.graph
    supervoxels = graph.supervoxel_ids
    roots = graph.get_roots(supervoxels)
    with _client(server) as client:
        count = client.annotation.get_annotation_count(SYNAPSES)
        ids = range(1, min(count, 50) + 1)
        return Expectations(
            supervoxels=supervoxels,
            roots=roots,
            leaves={int(r): graph.get_leaves(int(r)).tolist() for r in np.unique(roots)},
            info=_without_server(client.info.get_datastack_info(), server),
            schema=client.schema.schema_definition(SCHEMA_TYPE),
            annotations={i: client.annotation.get_annotation(SYNAPSES, [i]) for i in ids},
        )


def _operations(
    count: int, expected: Expectations, seed: int, kinds: tuple[str, ...] = KINDS
) -> list[Op]:
    rng = np.random.default_rng(seed)
    roots = sorted(expected.leaves)
    annotation_ids = sorted(expected.annotations)
    ops: list[Op] = []
    for index in range(count):
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind == "roots":
            ops.append((kind, int(rng.integers(len(expected.supervoxels)))))
        elif kind == "leaves":
            ops.append((kind, roots[int(rng.integers(len(roots)))]))
        elif kind == "annotation":
            ops.append((kind, annotation_ids[int(rng.integers(len(annotation_ids)))]))
        else:
            ops.append((kind, index))
    return ops


def _state(index: int) -> dict[str, Any]:
    return {"layers": [], "title": f"state {index}", "position": [index, index * 2, 3]}


def _check(op: Op, answer: Any, expected: Expectations, server: LocalServer) -> bool:
    kind, arg = op
    if kind == "roots":
        return int(answer[0]) == int(expected.roots[arg])
    if kind == "leaves":
        return bool(np.asarray(answer).tolist() == expected.leaves[arg])
    if kind == "info":
        return bool(_without_server(answer, server) == expected.info)
    if kind == "schema":
        return bool(answer == expected.schema)
    if kind == "annotation":
        return bool(answer == expected.annotations[arg])
    return bool(answer == _state(arg))


def _call(client: FrameworkClient, op: Op, expected: Expectations) -> Any:
    kind, arg = op
    if kind == "roots":
        return client.chunkedgraph.get_roots([int(expected.supervoxels[arg])])
    if kind == "leaves":
        return client.chunkedgraph.get_leaves(arg)
    if kind == "info":
        return client.info.get_datastack_info(use_stored=False)
    if kind == "schema":
        return client.schema.schema_definition(SCHEMA_TYPE)
    if kind == "annotation":
        return client.annotation.get_annotation(SYNAPSES, [arg])
    state_id = client.state.upload_state_json(_state(arg))
    return client.state.get_state_json(state_id)


async def _acall(client: AsyncFrameworkClient, op: Op, expected: Expectations) -> Any:
    kind, arg = op
    if kind == "roots":
        return await client.chunkedgraph.get_roots([int(expected.supervoxels[arg])])
    if kind == "leaves":
        return await client.chunkedgraph.get_leaves(arg)
    if kind == "info":
        return await client.info.get_datastack_info(use_stored=False)
    if kind == "schema":
        return await client.schema.schema_definition(SCHEMA_TYPE)
    if kind == "annotation":
        return await client.annotation.get_annotation(SYNAPSES, [arg])
    state_id = await client.state.upload_state_json(_state(arg))
    return await client.state.get_state_json(state_id)


def _kinds(server: LocalServer) -> tuple[str, ...]:
    return READS if server.faults is not None else KINDS


def _run_threads(server: LocalServer, expected: Expectations, count: int) -> float:
    kinds = _kinds(server)
    ops = _operations(count, expected, seed=count, kinds=kinds)
    started = time.monotonic()
    with _client(server, **_settings(server)) as client, ThreadPoolExecutor(THREADS) as pool:
        call: Callable[[Op], Any] = lambda op: _call(client, op, expected)  # noqa: E731
        answers = list(pool.map(call, ops))
    elapsed = time.monotonic() - started
    wrong = [
        op
        for op, answer in zip(ops, answers, strict=True)
        if not _check(op, answer, expected, server)
    ]
    assert wrong == [], f"{len(wrong)} of {count} answers differ, e.g. {wrong[:5]}"
    assert {kind for kind, _ in ops} == set(kinds)
    return elapsed


def _run_tasks(server: LocalServer, expected: Expectations, tasks: int, calls: int) -> float:
    ops = _operations(tasks * calls, expected, seed=tasks * calls + 1, kinds=_kinds(server))

    async def worker(client: AsyncFrameworkClient, mine: list[Op]) -> list[Any]:
        return [await _acall(client, op, expected) for op in mine]

    async def main() -> list[list[Any]]:
        async with AsyncFrameworkClient(
            DATASTACK,
            server_address=server.base_url,
            auth_token=server.admin_token,
            **_settings(server),
        ) as client:
            shares = [ops[i::tasks] for i in range(tasks)]
            return await asyncio.gather(*(worker(client, share) for share in shares))

    started = time.monotonic()
    results = asyncio.run(main())
    elapsed = time.monotonic() - started
    wrong = [
        op
        for i, answers in enumerate(results)
        for op, answer in zip(ops[i::tasks], answers, strict=True)
        if not _check(op, answer, expected, server)
    ]
    assert wrong == [], f"{len(wrong)} of {len(ops)} answers differ, e.g. {wrong[:5]}"
    return elapsed


def test_one_client_shared_by_threads(server: LocalServer, expected: Expectations) -> None:
    elapsed = _run_threads(server, expected, 400)
    print(f"{THREADS} threads, 400 calls: {elapsed:.1f} s")


@pytest.mark.slow
def test_one_client_shared_by_threads_ten_thousand_calls(
    server: LocalServer, expected: Expectations
) -> None:
    elapsed = _run_threads(server, expected, 10_000)
    print(f"{THREADS} threads, 10000 calls: {elapsed:.1f} s")


def test_many_tasks_on_one_async_client(server: LocalServer, expected: Expectations) -> None:
    elapsed = _run_tasks(server, expected, tasks=100, calls=3)
    print(f"100 tasks, 300 calls: {elapsed:.1f} s")


@pytest.mark.slow
def test_many_tasks_on_one_async_client_many_calls(
    server: LocalServer, expected: Expectations
) -> None:
    elapsed = _run_tasks(server, expected, tasks=100, calls=20)
    print(f"100 tasks, 2000 calls: {elapsed:.1f} s")


def _injected(server: LocalServer) -> dict[str, int]:
    assert server.faults is not None
    counts: dict[str, int] = {}
    for (kind, _phase), n in server.faults.injected.items():
        counts[kind] = counts.get(kind, 0) + n
    assert set(counts) == set(ALL_KINDS), f"not every fault kind came up: {counts}"
    return dict(sorted(counts.items()))


@pytest.mark.slow
def test_threads_under_every_fault_kind(faulty_server: LocalServer, expected: Expectations) -> None:
    elapsed = _run_threads(faulty_server, expected, 4_000)
    print(f"{THREADS} threads, 4000 reads, faults {_injected(faulty_server)}: {elapsed:.1f} s")


@pytest.mark.slow
def test_async_tasks_under_every_fault_kind(
    faulty_server: LocalServer, expected: Expectations
) -> None:
    elapsed = _run_tasks(faulty_server, expected, tasks=100, calls=20)
    print(f"100 tasks, 2000 reads, faults {_injected(faulty_server)}: {elapsed:.1f} s")
