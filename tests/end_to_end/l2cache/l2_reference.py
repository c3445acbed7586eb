"""An independent computation of an L2 node's served features from the watershed volume.

It shares no code with ``dafserver.l2cache``: the node's voxels are found from its supervoxels
in the volume read with cloud-volume, distances come from a k-d tree over the chunk's other
voxels (not a distance transform), areas from neighbour comparisons of the node mask, principal
axes from the eigenvectors of the covariance matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from dafserver.chunkedgraph.meta import GraphMeta


@dataclass(frozen=True)
class Reference:
    served: dict[str, Any]
    """Scalars, ``rep_coord_nm`` and ``chunk_intersect_count`` as the route serves them."""
    voxel_count: int
    axes: npt.NDArray[np.float64] | None
    """Principal axes (rows) from all voxels; None below 0.01 µm³."""
    singular: npt.NDArray[np.float64] | None


def reference(
    volume: npt.NDArray[np.uint64], meta: GraphMeta, l2_id: int, children: npt.ArrayLike
) -> Reference:
    """The features of L2 node ``l2_id`` (supervoxels ``children``) in the whole-dataset
    ``volume`` (``[x, y, z]`` at mip 0, starting at the dataset's voxel offset)."""
    res = np.asarray(meta.resolution, dtype=np.float64)
    size = np.asarray(meta.chunk_size)
    chunk = meta.layout.get_chunk_coords(np.uint64(l2_id))[0]
    low = chunk * size
    window = volume[low[0] : low[0] + size[0], low[1] : low[1] + size[1], low[2] : low[2] + size[2]]
    mask = np.isin(window, np.asarray(children, dtype=np.uint64))
    coords = np.argwhere(mask)
    others = np.argwhere(~mask)
    distances, _ = cKDTree(others * res).query(coords * res)
    floored = np.floor(distances)
    area = 0.0
    for axis, face in enumerate((res[1] * res[2], res[0] * res[2], res[0] * res[1])):
        m = np.moveaxis(mask, axis, 0)
        area += face * np.count_nonzero(m[1:] != m[:-1])
    from_mean = np.linalg.norm((coords - coords.mean(axis=0)) * res, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):  # one voxel: NaN, as production
        best = coords[np.argmax(floored * (1 - from_mean / from_mean.max()))]
    world = (best + low + np.asarray(meta.voxel_offset)) * res
    served = {
        "size_nm3": int(len(coords) * np.prod(res)),
        "area_nm2": int(area),
        "max_dt_nm": int(floored.max()),
        "mean_dt_nm": float(np.float16(floored.mean())),
        "rep_coord_nm": world.tolist(),
        "chunk_intersect_count": [
            (coords == 0).sum(axis=0).tolist(),
            (coords == size - 1).sum(axis=0).tolist(),
        ],
    }
    axes = singular = None
    if len(coords) * np.prod(res) / 1e9 >= 0.01:
        points = coords * res
        centred = points - points.mean(axis=0)
        values, vectors = np.linalg.eigh(centred.T @ centred)
        axes, singular = vectors[:, ::-1].T, np.sqrt(np.maximum(values[::-1], 0))
    return Reference(served, len(coords), axes, singular)


def check_against_reference(served: dict[str, Any], expected: Reference) -> None:
    """Assert the served features equal the reference (PCA: exactly for nodes fitted on all
    voxels, as orthonormal axes of the right count for sampled ones)."""
    for key, value in expected.served.items():
        assert served[key] == value, key
    if expected.axes is None:
        assert "pca" not in served and "pca_val" not in served
        return
    pca = np.asarray(served["pca"], dtype=np.float64)
    values = np.asarray(served["pca_val"], dtype=np.float64)
    np.testing.assert_allclose(pca @ pca.T, np.eye(3), atol=5e-3)
    assert expected.singular is not None
    if expected.voxel_count <= 10_000:
        np.testing.assert_allclose(values, expected.singular, rtol=1e-5)
        for row, axis, value in zip(pca, expected.axes, values, strict=True):
            if np.sum(np.isclose(values, value, rtol=1e-3)) == 1:  # a unique axis
                np.testing.assert_allclose(abs(row @ axis), 1.0, atol=5e-3)
    else:  # fitted on a sample of 10,000 voxels: values scale by about sqrt(10000 / n)
        scaled = expected.singular * np.sqrt(10_000 / expected.voxel_count)
        np.testing.assert_allclose(values, scaled, rtol=0.05)
