"""Seeded inputs shared by the workloads: points inside the volume and real supervoxel ids."""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt
from bench_target import Target

SEED = 20261125


def random_points(target: Target, n: int, seed: int = SEED) -> npt.NDArray[np.float64]:
    """``n`` points (x, y, z voxel centres at mip 0, as floats) drawn uniformly inside the volume."""
    rng = np.random.default_rng(seed)
    voxels = rng.integers(target.lower, target.upper, size=(n, 3), dtype=np.int64)
    return voxels.astype(np.float64)


@cache
def _supervoxel_pool(watershed: str) -> npt.NDArray[np.uint64]:
    from cloudvolume import Bbox, CloudVolume

    cv = CloudVolume(watershed, progress=False)
    lower = np.asarray(cv.bounds.minpt, dtype=np.int64)
    upper = np.asarray(cv.bounds.maxpt, dtype=np.int64)
    step = np.asarray(cv.chunk_size, dtype=np.int64)
    found = []
    for x in range(lower[0], upper[0], step[0]):
        for y in range(lower[1], upper[1], step[1]):
            for z in range(lower[2], upper[2], step[2]):
                lo = np.array([x, y, z])
                block = np.asarray(cv.download(Bbox(lo, np.minimum(lo + step, upper))))
                found.append(np.unique(block))
    pool = np.unique(np.concatenate(found)).astype(np.uint64)
    return pool[pool != 0]


def supervoxel_ids(target: Target, n: int, seed: int = SEED) -> tuple[npt.NDArray[np.uint64], str]:
    """``n`` supervoxel ids of the volume in random order, distinct when the volume has enough,
    and a note saying which."""
    pool = _supervoxel_pool(target.watershed)
    rng = np.random.default_rng(seed)
    if n <= pool.size:
        return rng.permutation(pool)[:n], f"{n:,} distinct ids"
    return rng.choice(pool, size=n, replace=True), f"{n:,} ids drawn from {pool.size:,} (repeats)"
