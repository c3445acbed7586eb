"""ImageryClient tests against a dafserver with the small synthetic dataset."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from cloudvolume import CloudVolume

from dafserver.dataset.manifest import DatasetManifest


def read_direct(cloudpath: str, mip: int, lower: npt.ArrayLike, upper: npt.ArrayLike) -> Any:
    """The voxels ``lower <= v < upper`` of a precomputed volume at ``mip``, read directly."""
    cv = CloudVolume(cloudpath, mip=mip, progress=False)
    lo = np.asarray(lower, dtype=np.int64)
    hi = np.asarray(upper, dtype=np.int64)
    return np.asarray(cv[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]])[..., 0]


@pytest.fixture(scope="session")
def volume_box(manifest: DatasetManifest) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(lower, upper)`` of the volume in mip-0 voxels."""
    lower = np.asarray(manifest.graph.voxel_offset, dtype=np.int64)
    return lower, lower + np.asarray(manifest.graph.volume_size, dtype=np.int64)
