"""LookupClient tests against a dafserver with the small synthetic dataset."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest
from cloudvolume import CloudVolume

from dafserver.dataset.manifest import DatasetManifest


@dataclass(frozen=True)
class Watershed:
    """The supervoxel volume at one mip, read whole with cloud-volume."""

    labels: npt.NDArray[np.uint64]
    offset: npt.NDArray[np.int64]
    resolution: npt.NDArray[np.float64]

    @property
    def upper(self) -> npt.NDArray[np.int64]:
        return self.offset + np.array(self.labels.shape, dtype=np.int64)

    def at(self, voxels: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
        local = voxels - self.offset
        picked: npt.NDArray[np.uint64] = self.labels[local[:, 0], local[:, 1], local[:, 2]]
        return picked


def read_watershed(cloudpath: str, mip: int) -> Watershed:
    cv = CloudVolume(cloudpath, mip=mip, progress=False)
    return Watershed(
        labels=np.asarray(cv[:, :, :])[..., 0].astype(np.uint64),
        offset=np.asarray(cv.voxel_offset, dtype=np.int64),
        resolution=np.asarray(cv.resolution, dtype=np.float64),
    )


@pytest.fixture(scope="session")
def watershed(manifest: DatasetManifest) -> Watershed:
    return read_watershed(manifest.segmentation_cloudpath, 0)


@pytest.fixture(scope="session")
def watershed_mip1(manifest: DatasetManifest) -> Watershed:
    return read_watershed(manifest.segmentation_cloudpath, 1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
