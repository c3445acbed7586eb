"""The features of one L2 node, computed from its voxels inside its atomic chunk.

This is PCGL2Cache's ``calculate_features`` for one node, with the values in their storage
dtypes (the Bigtable serializers'): ``voxel_count`` uint32 (served ``size_nm3`` is it times the
voxel volume), ``area_nm2`` uint32, ``max_dt_nm`` uint16, ``mean_dt_nm`` float16,
``rep_coord`` uint16[3] chunk-local voxel (served in world nm), ``chunk_intersect_count``
uint16[2, 3], ``pca`` float16[3, 3] and ``pca_val`` float32[3] (both empty for small nodes).

- The distance transform is the Euclidean distance in nm (anisotropic, ``sampling`` = the voxel
  size) from each node voxel to the nearest voxel of the chunk that is not the node's; the chunk
  border is not a boundary (production: ``edt.edt(..., black_border=False)``), and each value is
  floored before the max and the mean. scipy's transform of the node's mask gives the same values
  as ``edt``'s multi-label transform for the node's voxels.
- It runs on the node's bounding box grown by one voxel (clipped to the chunk): the grown layer
  holds no node voxel, so the nearest non-node voxel of any node voxel is always inside it and
  the values equal those over the whole chunk.
- ``area_nm2`` counts the faces between a node voxel and a non-node voxel of the same chunk
  (faces on the chunk border are not counted), times the face area of each axis.
- ``rep_coord`` is the voxel maximising ``dt · (1 − d / max d)``, ``d`` being each voxel's
  distance in nm from the voxels' mean; ties go to the first voxel in x-major order (the order
  production's edit worker sees them in).
- If a node fills its whole chunk there is no boundary at all: production's ``edt`` then gives
  infinite distances that wrap when stored; here they are 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from dafserver.l2cache.pca import has_pca, principal_axes, sample_points

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class NodeFeatures:
    """One node's cache row, in storage dtypes; ``voxel_count == 0`` marks a failed node."""

    voxel_count: int
    area_nm2: int
    max_dt_nm: int
    mean_dt_nm: float
    rep_coord: npt.NDArray[np.uint16]
    chunk_intersect_count: npt.NDArray[np.uint16]
    pca: npt.NDArray[np.float16]
    pca_val: npt.NDArray[np.float32]

    @classmethod
    def failed(cls) -> NodeFeatures:
        """What the worker stores when it cannot compute a node (served ``{"size_nm3": 0}``)."""
        return cls(
            0,
            0,
            0,
            0.0,
            np.zeros(0, np.uint16),
            np.zeros((0, 3), np.uint16),
            np.zeros((0, 3), np.float16),
            np.zeros(0, np.float32),
        )

    @property
    def is_failed(self) -> bool:
        return self.voxel_count == 0


def grown_box(
    low: npt.ArrayLike, high: npt.ArrayLike, shape: tuple[int, int, int]
) -> tuple[slice, slice, slice]:
    """The box ``[low, high)`` grown by one voxel on every side, clipped to ``shape``."""
    lo = np.maximum(np.asarray(low, dtype=np.int64) - 1, 0)
    hi = np.minimum(np.asarray(high, dtype=np.int64) + 1, np.asarray(shape))
    return (
        slice(int(lo[0]), int(hi[0])),
        slice(int(lo[1]), int(hi[1])),
        slice(int(lo[2]), int(hi[2])),
    )


def _boundary_faces(mask: npt.NDArray[np.bool_], resolution: npt.NDArray[np.float64]) -> float:
    rx, ry, rz = resolution
    faces_x = np.count_nonzero(mask[1:] != mask[:-1])
    faces_y = np.count_nonzero(mask[:, 1:] != mask[:, :-1])
    faces_z = np.count_nonzero(mask[:, :, 1:] != mask[:, :, :-1])
    return float(faces_x * ry * rz + faces_y * rx * rz + faces_z * rx * ry)


def _distance_weights(
    coords: npt.NDArray[np.int64], resolution: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """``1 − d / max d`` (NaN everywhere for a single voxel, as production's division gives)."""
    dists = np.linalg.norm((coords - coords.mean(axis=0)) * resolution, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        weights: npt.NDArray[np.float64] = 1.0 - dists / dists.max()
    return weights


def node_features(
    crop: npt.NDArray[np.bool_],
    origin: npt.ArrayLike,
    chunk_shape: tuple[int, int, int],
    resolution: Vec3,
    seed: int,
) -> NodeFeatures:
    """Features of the node whose voxels are ``crop`` (a box of its chunk starting at voxel
    ``origin``; it must hold every node voxel and one more voxel on each side the chunk has).

    ``seed`` (the L2 id) seeds the PCA sample of large nodes.
    """
    res = np.asarray(resolution, dtype=np.float64)
    local = np.argwhere(crop)
    if local.shape[0] == 0:
        return NodeFeatures.failed()
    coords = local + np.asarray(origin, dtype=np.int64)
    if crop.all():
        dts = np.zeros(len(coords), dtype=np.uint64)
    else:
        distances = ndimage.distance_transform_edt(crop, sampling=res).astype(np.float32)
        dts = np.floor(distances[crop]).astype(np.uint64)
    max_index = int(np.argmax(dts))
    representative = coords[int(np.argmax(dts * _distance_weights(coords, res)))]
    shape = np.asarray(chunk_shape, dtype=np.int64)
    intersects = np.stack([(coords == 0).sum(axis=0), (coords == shape - 1).sum(axis=0)])
    count = len(coords)
    if has_pca(count, res):
        axes, singular = principal_axes(sample_points(coords, seed) * res)
        pca = axes.astype(np.float16)
        pca_val = singular.astype(np.float32)
    else:
        pca = np.zeros((0, 3), dtype=np.float16)
        pca_val = np.zeros(0, dtype=np.float32)
    return NodeFeatures(
        voxel_count=int(np.uint32(count)),
        area_nm2=int(np.float64(_boundary_faces(crop, res)).astype(np.uint32)),
        max_dt_nm=int(dts[max_index].astype(np.uint16)),
        mean_dt_nm=float(np.float16(dts.mean())),
        rep_coord=representative.astype(np.uint16),
        chunk_intersect_count=intersects.astype(np.uint16),
        pca=pca,
        pca_val=pca_val,
    )
