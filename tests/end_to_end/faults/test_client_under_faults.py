"""dafclient's read workloads give the fault-free answers while a fifth of requests fail, with
every fault kind the injector has: gateway errors, rate limits, resets, stalled answers (the
client's read timeout fires) and bodies cut short."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import numpy as np
import pandas as pd
import pytest

from dafclient import AsyncFrameworkClient, FrameworkClient
from dafclient.config import RetrySettings, Timeouts
from dafclient.errors import RequestTimeoutError
from dafserver.faults import ALL_KINDS, FaultConfig
from dafserver.runner import LocalServer, running_server
from dafserver.seed import DATASTACK, load_seed_record
from tests.end_to_end.faults.conftest import Serve

FAULTS = FaultConfig(rate=0.2, seed=7, kinds=ALL_KINDS, phase="both", hang_seconds=3.0)
"""Every kind; a hang lasts 3 s, three times the clients' 1 s read timeout."""

RETRIES = RetrySettings(max_retries=8, backoff=0.0)
TIMEOUTS = Timeouts(connect=5.0, read=1.0, total=60.0)
BIG_TABLE = "big_reads"
BIG_ROWS = 600
"""Rows of the table read whole: its JSON answer is well over 100 kB."""
ROOT_INPUTS = 100_000
ROOT_BATCH = 10_000
ROUNDS = 2
"""The workload runs twice per client: enough requests that every fault kind comes up."""


class CountingTransport(httpx.HTTPTransport):
    """Records what every attempt got: a status, or the name of the transport error."""

    outcomes: ClassVar[list[str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = super().handle_request(request)
        except httpx.TransportError as exc:
            self.outcomes.append(type(exc).__name__)
            raise
        self.outcomes.append(str(response.status_code))
        return response


Step = Callable[[Any], Any]


def _steps(server: LocalServer) -> dict[str, Step]:
    """The read workload: name → call on a (sync or async) framework client."""
    seed = load_seed_record(server.deployment.data_dir)
    assert seed is not None
    graph = server.deployment.graph
    rng = np.random.default_rng(3)
    supervoxels = rng.choice(graph.supervoxel_ids, ROOT_INPUTS)
    roots = sorted({int(r) for r in graph.get_roots(graph.supervoxel_ids)})
    steps: dict[str, Step] = {
        "datastacks": lambda c: c.info.get_datastacks(),
        "datastack": lambda c: c.info.get_datastack_info(use_stored=False),
        "schemas": lambda c: c.schema.get_schemas(),
        "synapse_schema": lambda c: c.schema.schema_definition("synapse"),
        "tables": lambda c: c.annotation.get_tables(),
        "big_table": lambda c: c.annotation.get_annotation(BIG_TABLE, list(range(1, BIG_ROWS + 1))),
        "big_count": lambda c: c.annotation.get_annotation_count(BIG_TABLE),
    }
    for start in range(0, ROOT_INPUTS, ROOT_BATCH):
        batch = supervoxels[start : start + ROOT_BATCH]
        steps[f"roots_{start}"] = lambda c, batch=batch: c.chunkedgraph.get_roots(batch)
    for root in roots[:: max(1, len(roots) // 12)]:
        steps[f"leaves_{root}"] = lambda c, root=root: c.chunkedgraph.get_leaves(root)
    for state_id in seed.state_ids:
        steps[f"state_{state_id}"] = lambda c, s=state_id: c.state.get_state_json(s)
    return steps


def _plain(value: Any, server: LocalServer) -> Any:
    """``value`` comparable across runs (records name the server's address, which differs)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "to_dict"):
        return json.loads(json.dumps(value.to_dict()).replace(server.base_url, "<server>"))
    return value


def _settings(server: LocalServer) -> dict[str, Any]:
    return {
        "server_address": server.base_url,
        "auth_token": server.admin_token,
        "retries": RETRIES,
        "timeouts": TIMEOUTS,
    }


def _run(server: LocalServer) -> dict[str, Any]:
    with FrameworkClient(DATASTACK, **_settings(server)) as client:
        steps = _steps(server)
        return {
            f"{n}:{name}": _plain(step(client), server)
            for n in range(ROUNDS)
            for name, step in steps.items()
        }


def _arun(server: LocalServer) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        async with AsyncFrameworkClient(DATASTACK, **_settings(server)) as client:
            results: dict[str, Any] = {}
            steps = _steps(server)
            for n in range(ROUNDS):
                for name, step in steps.items():
                    awaitable: Awaitable[Any] = step(client)
                    results[f"{n}:{name}"] = _plain(await awaitable, server)
            return results

    return asyncio.run(main())


@pytest.fixture(scope="module")
def reads_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A tiny deployment with one table whose whole read is a >100 kB answer."""
    path = tmp_path_factory.mktemp("reads-under-faults")
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            f"{point}_position": list(rng.integers(0, 4_000, (BIG_ROWS, 3)))
            for point in ("pre_pt", "ctr_pt", "post_pt")
        }
    )
    frame["size"] = rng.random(BIG_ROWS)
    with (
        running_server(path, size="tiny") as server,
        FrameworkClient(
            DATASTACK, server_address=server.base_url, auth_token=server.admin_token
        ) as client,
    ):
        client.annotation.create_table(BIG_TABLE, "synapse", voxel_resolution=(4, 4, 40))
        client.annotation.bulk_post(BIG_TABLE, frame).raise_for_incomplete()
    yield path


class AsyncCountingTransport(httpx.AsyncHTTPTransport):
    """The asyncio twin of :class:`CountingTransport` (same record)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except httpx.TransportError as exc:
            CountingTransport.outcomes.append(type(exc).__name__)
            raise
        CountingTransport.outcomes.append(str(response.status_code))
        return response


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_reads_survive_every_fault_kind(
    reads_dir: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.delenv("DAFSERVER_FAULTS", raising=False)
    monkeypatch.setattr(httpx, "HTTPTransport", CountingTransport)
    monkeypatch.setattr(httpx, "AsyncHTTPTransport", AsyncCountingTransport)
    run = _run if mode == "sync" else _arun
    monkeypatch.setattr(CountingTransport, "outcomes", [])
    with running_server(reads_dir, size="tiny") as server:
        expected = run(server)
    fault_free_attempts = len(CountingTransport.outcomes)
    monkeypatch.setattr(CountingTransport, "outcomes", [])
    started = time.monotonic()
    with running_server(reads_dir, size="tiny", faults=FAULTS) as server:
        got = run(server)
        assert server.faults is not None
        injected = Counter(kind for kind, _phase in server.faults.injected.elements())
    elapsed = time.monotonic() - started

    assert got == expected
    assert len(expected["0:big_table"]) == BIG_ROWS
    assert len(json.dumps(expected["0:big_table"])) > 100_000
    assert sum(len(v) for k, v in expected.items() if k.startswith("0:roots_")) == ROOT_INPUTS
    assert set(injected) == set(ALL_KINDS), f"not every kind was injected: {injected}"
    attempts = len(CountingTransport.outcomes)
    print(
        f"{mode}: {len(expected)} calls, {fault_free_attempts} requests fault-free, "
        f"{attempts} attempts under faults, {sum(injected.values())} faults "
        f"{dict(sorted(injected.items()))}, {elapsed:.1f} s"
    )
    # Every injected fault cost exactly one more attempt, and nothing else did.
    assert attempts == fault_free_attempts + sum(injected.values())


STALL = FaultConfig(rate=1.0, kinds=("hang",), hang_seconds=30.0)
STALL_TIMEOUTS = Timeouts(connect=2.0, read=0.4, total=2.0)
MARGIN_S = 0.5
"""Time allowed past the deadline: the last attempt's timeout is cut to the time left, so what
remains is the cost of raising the error."""


def _stalled_call(server: LocalServer, root: int, mode: str) -> tuple[RequestTimeoutError, float]:
    """The error of ``get_leaves(root)`` and the seconds the call took (client set-up and the
    sub-client's first import are not counted)."""
    settings = {
        **_settings(server),
        "retries": RetrySettings(max_retries=100, backoff=0.05),
        "timeouts": STALL_TIMEOUTS,
    }
    if mode == "sync":
        with FrameworkClient(DATASTACK, **settings) as client:
            chunkedgraph = client.chunkedgraph
            started = time.monotonic()
            with pytest.raises(RequestTimeoutError) as caught:
                chunkedgraph.get_leaves(root)
            return caught.value, time.monotonic() - started

    async def main() -> tuple[RequestTimeoutError, float]:
        async with AsyncFrameworkClient(DATASTACK, **settings) as client:
            chunkedgraph = client.chunkedgraph
            started = time.monotonic()
            with pytest.raises(RequestTimeoutError) as caught:
                await chunkedgraph.get_leaves(root)
            return caught.value, time.monotonic() - started

    return asyncio.run(main())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_always_stalling_server_raises_within_the_deadline(serve: Serve, mode: str) -> None:
    """Unlimited retries of a read still end by ``Timeouts.total``, naming every attempt."""
    with serve(STALL) as server:
        graph = server.deployment.graph
        root = int(graph.get_roots(graph.supervoxel_ids[:1])[0])
        error, elapsed = _stalled_call(server, root, mode)
    print(f"{mode}: raised after {elapsed:.2f} s: {error}")
    assert STALL_TIMEOUTS.total is not None
    assert elapsed < STALL_TIMEOUTS.total + MARGIN_S
    # The datastack record comes first; every attempt stalled. The last one is cut to the time
    # left, which can end while it is still connecting (a ConnectTimeout after 0.02 s, seen in CI).
    assert len(error.attempts) >= 3
    *stalled, last = error.attempts
    assert all("ReadTimeout" in attempt for attempt in stalled)
    assert "Timeout" in last
    assert f"{len(error.attempts)} attempts in" in str(error)
    assert "(deadline 2 s)" in str(error)
