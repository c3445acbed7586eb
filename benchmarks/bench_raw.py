"""The raw HTTP baselines: the chunkedgraph routes called with plain httpx, nothing else."""

from __future__ import annotations

import httpx
import numpy as np
import numpy.typing as npt
from bench_target import Target


def raw_client(target: Target) -> httpx.Client:
    """A pooled httpx client with the token (one connection, reused)."""
    return httpx.Client(headers=target.headers, timeout=600)


def raw_roots(
    http: httpx.Client, target: Target, ids: npt.NDArray[np.uint64]
) -> npt.NDArray[np.uint64]:
    """One ``roots_binary`` request for all ``ids`` (little-endian uint64 in and out)."""
    response = http.post(
        target.roots_binary_url,
        content=ids.astype("<u8").tobytes(),
        params={"timestamp": target.epoch},
        headers={"Content-Type": "application/octet-stream"},
    )
    response.raise_for_status()
    return np.frombuffer(response.content, dtype="<u8").astype(np.uint64)


def raw_root(http: httpx.Client, target: Target, supervoxel_id: int) -> int:
    """One ``node/{id}/root`` request."""
    response = http.get(target.root_url(supervoxel_id), params={"timestamp": target.epoch})
    response.raise_for_status()
    return int(response.json()["root_id"])
