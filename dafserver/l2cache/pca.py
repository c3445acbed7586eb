"""Principal axes of a node's voxels, as PCGL2Cache gets them from scikit-learn's ``PCA(3)``.

``components`` are the unit principal axes (rows, x/y/z, decreasing variance) and ``singular``
the singular values of the centred coordinates (nm times the square root of the point count).
The sign of each axis follows scikit-learn 1.0 (the version production's Python 3.7 image
resolves to): the point projecting farthest on an axis projects positively.

Deviation from production: above :data:`MAX_POINTS` voxels production fits a *random* sample
(so two runs differ); here the sample is drawn from a generator seeded with the L2 id, so the
cache is reproducible.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

MAX_POINTS = 10_000
"""Nodes with more voxels are fitted on a sample of this many."""
MIN_VOLUME_UM3 = 0.01
"""Nodes smaller than this (in cubic micrometres) get no PCA."""


def has_pca(voxel_count: int, resolution: npt.ArrayLike) -> bool:
    """Whether a node of ``voxel_count`` voxels is large enough for a PCA."""
    volume_um3 = voxel_count * float(np.prod(np.asarray(resolution, dtype=np.float64))) / 1e9
    return volume_um3 >= MIN_VOLUME_UM3


def sample_points(coords: npt.NDArray[np.int64], seed: int) -> npt.NDArray[np.int64]:
    """The voxels the PCA is fitted on: all, tripled below 3, a seeded sample above the cap."""
    if len(coords) < 3:
        return np.concatenate([coords, coords, coords])
    if len(coords) > MAX_POINTS:
        rng = np.random.default_rng(seed)
        return coords[np.sort(rng.choice(len(coords), MAX_POINTS, replace=False))]
    return coords


def principal_axes(
    points_nm: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``(components [3, 3], singular values [3])`` of points in nm."""
    centred = points_nm - points_nm.mean(axis=0)
    u, singular, vt = np.linalg.svd(centred, full_matrices=False)
    farthest = np.argmax(np.abs(u), axis=0)
    signs = np.sign(u[farthest, np.arange(u.shape[1])])
    signs[signs == 0] = 1.0
    return vt * signs[:, np.newaxis], singular
