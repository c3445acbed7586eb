"""Shared values and helpers for the AnnotationEngine route tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from dafserver.runner import LocalServer, running_server

AV = "test_av"
"""The aligned volume the tests work in (listed by the info service, mapped by auth)."""
DATASET = "test_dataset"
UNLISTED_AV = "unlisted_av"
"""Mapped to the dataset by auth, unknown to the info service."""
UNMAPPED_AV = "unmapped_av"
"""Listed by the info service, not mapped by auth."""
API = f"/annotation/api/v2/aligned_volume/{AV}"
TEXT_HTML = "text/html; charset=utf-8"

_names = itertools.count(1)


def unique_table_name(prefix: str = "table") -> str:
    return f"{prefix}_{next(_names)}"


def synapse(i: int, **extra: Any) -> dict[str, Any]:
    """A valid posted ``synapse`` annotation whose positions are derived from ``i``."""
    return {
        "pre_pt": {"position": [i, i + 1, i + 2]},
        "ctr_pt": {"position": [i + 3, i + 4, i + 5]},
        "post_pt": {"position": [i + 6, i + 7, i + 8]},
        "size": float(i) / 2,
        **extra,
    }


def ae_error(status: int, phrase: str, message: str) -> dict[str, Any]:
    return {"code": status, "message": f"{status} {phrase}: {message}"}


@dataclass(frozen=True)
class Caller:
    """A user of the deployment, with an HTTP client carrying its token."""

    id: int
    token: str
    http: httpx.Client


@contextmanager
def annotation_server(data_dir: Path) -> Iterator[LocalServer]:
    """A deployment without a dataset (the tests register their own aligned volumes)."""
    with running_server(data_dir, size=None) as server:
        yield server


def provision(server: LocalServer) -> None:
    """Register the aligned volumes with the info service and the auth mappings (idempotent)."""
    deployment = server.deployment
    names = deployment.info.aligned_volume_names()
    for name in (AV, UNMAPPED_AV):
        if name not in names:
            deployment.info.add_aligned_volume(name, image_source="precomputed://test/image")
    for name in (AV, UNLISTED_AV):
        deployment.auth.map_table("aligned_volume", name, DATASET)
    deployment.auth.grant("editors", DATASET, ["view", "edit"])
    deployment.auth.grant("other_editors", DATASET, ["view", "edit"])
    deployment.auth.grant("viewers", DATASET, ["view"])


def make_caller(server: LocalServer, name: str, groups: list[str]) -> Caller:
    """A new user in ``groups`` with a client for ``server``."""
    auth = server.deployment.auth
    n = next(_names)
    user_id = auth.create_user(f"{name} {n}", f"{name}{n}@example.org")
    for group in groups:
        auth.add_to_group(user_id, group)
    token = auth.create_token(user_id)
    http = httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60.0,
    )
    return Caller(user_id, token, http)


def create_table(
    caller: Caller,
    schema_type: str = "synapse",
    name: str | None = None,
    **metadata: Any,
) -> str:
    """Create a table owned by ``caller``; its name."""
    table_name = name or unique_table_name(schema_type)
    body = {
        "table_name": table_name,
        "schema_type": schema_type,
        "metadata": {
            "description": "made by a test",
            "voxel_resolution_x": 4.0,
            "voxel_resolution_y": 4.0,
            "voxel_resolution_z": 40.0,
            **metadata,
        },
    }
    response = caller.http.post(f"{API}/table", json=body)
    assert response.status_code == 200, response.text
    assert response.text == table_name
    return table_name


def post(caller: Caller, table: str, annotations: list[dict[str, Any]]) -> httpx.Response:
    return caller.http.post(f"{API}/table/{table}/annotations", json={"annotations": annotations})


def post_ok(caller: Caller, table: str, annotations: list[dict[str, Any]]) -> list[int]:
    response = post(caller, table, annotations)
    assert response.status_code == 200, response.text
    ids: list[int] = response.json()
    return ids


def get_rows(caller: Caller, table: str, ids: list[int]) -> list[dict[str, Any]]:
    response = caller.http.get(
        f"{API}/table/{table}/annotations",
        params={"annotation_ids": ",".join(str(i) for i in ids)},
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def count(caller: Caller, table: str) -> int:
    response = caller.http.get(f"{API}/table/{table}/count")
    assert response.status_code == 200, response.text
    value: int = response.json()
    return value
