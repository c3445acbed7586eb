"""ImageryClient tests against a dafserver with the small synthetic dataset."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from cloudvolume import CloudVolume

from dafclient import FrameworkClient
from dafserver.dataset.manifest import DatasetManifest
from dafserver.runner import LocalServer
from dafserver.seed import DATASTACK


def read_direct(cloudpath: str, mip: int, lower: npt.ArrayLike, upper: npt.ArrayLike) -> Any:
    """The voxels ``lower <= v < upper`` of a precomputed volume at ``mip``, read directly."""
    cv = CloudVolume(cloudpath, mip=mip, progress=False)
    lo = np.asarray(lower, dtype=np.int64)
    hi = np.asarray(upper, dtype=np.int64)
    return np.asarray(cv[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]])[..., 0]


@pytest.fixture(scope="session")
def manifest(daf_server: LocalServer) -> DatasetManifest:
    manifest = daf_server.deployment.manifest
    assert manifest is not None
    return manifest


@pytest.fixture(scope="session")
def volume_box(manifest: DatasetManifest) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(lower, upper)`` of the volume in mip-0 voxels."""
    lower = np.asarray(manifest.graph.voxel_offset, dtype=np.int64)
    return lower, lower + np.asarray(manifest.graph.volume_size, dtype=np.int64)


@pytest.fixture
def client(daf_server: LocalServer) -> Iterator[FrameworkClient]:
    with FrameworkClient(
        DATASTACK, server_address=daf_server.base_url, auth_token=daf_server.admin_token
    ) as c:
        yield c
