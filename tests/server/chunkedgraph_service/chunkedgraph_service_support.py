"""Shared helpers of the chunkedgraph service tests: URLs, callers and wire-format checks."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.graph import ChunkedGraph
from dafserver.dataset.manifest import DatasetManifest, EditRecord
from dafserver.runner import LocalServer, running_server

SIZE = "tiny"
UInt64Array = npt.NDArray[np.uint64]
_names = itertools.count(1)


@dataclass(frozen=True)
class Site:
    """A running deployment seen from the tests: where to call and what it serves."""

    server: LocalServer
    http: httpx.Client

    @property
    def graph(self) -> ChunkedGraph:
        return self.server.deployment.graph

    @property
    def manifest(self) -> DatasetManifest:
        manifest = self.server.deployment.manifest
        assert manifest is not None
        return manifest

    @property
    def table(self) -> str:
        return self.graph.table_id

    @property
    def v1(self) -> str:
        return f"/segmentation/api/v1/table/{self.table}"

    @property
    def meshing(self) -> str:
        return f"/meshing/api/v1/table/{self.table}"


def client(server: LocalServer, token: str | None) -> httpx.Client:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=60.0)


@contextmanager
def site(data_dir: Path) -> Iterator[Site]:
    """A tiny deployment in ``data_dir`` with an admin client."""
    with running_server(data_dir, size=SIZE) as server, client(server, server.admin_token) as http:
        yield Site(server, http)


def new_caller(server: LocalServer, groups: list[str]) -> httpx.Client:
    """A client for a new user who belongs to ``groups``."""
    auth = server.deployment.auth
    n = next(_names)
    user_id = auth.create_user(f"user {n}", f"user{n}@example.org")
    for group in groups:
        auth.add_to_group(user_id, group)
    return client(server, auth.create_token(user_id))


def pcg_json(response: httpx.Response) -> Any:
    """The JSON body, after checking it is written like Flask's jsonify (sorted, compact, newline)."""
    assert response.headers["content-type"] == "application/json", response.text
    value = json.loads(response.content)
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":")) + "\n"
    assert response.content == canonical.encode("utf-8")
    return value


def ok_json(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return pcg_json(response)


def pcg_error(response: httpx.Response, status: int, text: str | None = None) -> str:
    """Check a PyChunkedGraph error answer; returns the message after the ``[status]: `` prefix."""
    assert response.status_code == status, response.text
    body = pcg_json(response)
    assert set(body) == {"code", "duration", "message", "timestamp"}
    assert body["code"] == status
    prefix = f"[{status}]: "
    assert body["message"].startswith(prefix)
    message: str = body["message"][len(prefix) :]
    if text is not None:
        assert text in message, message
    return message


def auth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """Check a middle_auth_client error answer."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    return body


def uint64s(values: Any) -> UInt64Array:
    """Ids from JSON (numbers or strings) as a uint64 array."""
    return np.array([int(v) for v in values], dtype=np.uint64)


def nm(voxel: tuple[int, int, int] | npt.ArrayLike, graph: ChunkedGraph) -> list[float]:
    """Nanometre coordinates of a voxel position."""
    scaled = np.asarray(voxel, dtype=np.float64) * np.asarray(graph.meta.resolution)
    return [float(v) for v in scaled]


def edits_of(manifest: DatasetManifest, kind: str) -> list[EditRecord]:
    edits = [e for e in manifest.edits if e.kind == kind]
    assert edits, f"the dataset has no {kind} edit"
    return edits
