"""dafclient's read workloads give the fault-free answers while a fifth of requests fail."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
import numpy as np
import pytest

from dafclient import FrameworkClient
from dafclient.config import RetrySettings, Timeouts
from dafserver.faults import FaultConfig
from dafserver.runner import LocalServer
from dafserver.seed import DATASTACK, load_seed_record
from tests.faults.conftest import Serve

FAULTS = FaultConfig(rate=0.2, seed=7, kinds=("502", "503", "504", "429", "reset"))


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


def _workload(server: LocalServer) -> dict[str, Any]:
    seed = load_seed_record(server.deployment.data_dir)
    assert seed is not None
    supervoxels = server.deployment.graph.supervoxel_ids
    with FrameworkClient(
        DATASTACK,
        server_address=server.base_url,
        auth_token=server.admin_token,
        retries=RetrySettings(max_retries=8, backoff=0.0),
        timeouts=Timeouts(connect=5.0, read=10.0),
    ) as client:
        roots = client.chunkedgraph.get_roots(supervoxels)
        unique_roots = sorted({int(r) for r in roots})
        tables = sorted(client.annotation.get_tables())
        return {
            "datastacks": sorted(client.info.get_datastacks()),
            "schemas": sorted(client.schema.get_schemas()),
            "roots": roots.tolist(),
            "leaves": {
                r: np.sort(client.chunkedgraph.get_leaves(r)).tolist() for r in unique_roots
            },
            "tables": tables,
            "counts": {t: client.annotation.get_annotation_count(t) for t in tables},
            "rows": {t: client.annotation.get_annotation(t, list(range(1, 6))) for t in tables},
            "states": {s: client.state.get_state_json(s) for s in seed.state_ids},
        }


def test_reads_survive_faults(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(None) as server:
        expected = _workload(server)
    monkeypatch.setattr(httpx, "HTTPTransport", CountingTransport)
    monkeypatch.setattr(CountingTransport, "outcomes", [])
    with serve(FAULTS) as server:
        got = _workload(server)
    assert got == expected
    assert expected["roots"] and expected["tables"] and expected["states"]
    outcomes = CountingTransport.outcomes
    injected = [o for o in outcomes if o in FAULTS.kinds or o.endswith("Error")]
    assert injected, "no fault reached the client"
    assert len(injected) < len(outcomes)
