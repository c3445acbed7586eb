"""Supervoxel ids under voxel points, read from the segmentation volume at mip 0.

Production's ingest workflow reads the segmentation once per new annotation and stores the ids in
the segmentation table. dafserver reads them when a version is frozen and, for annotations newer
than the version a live query starts from, when the query runs (so a lookup is never missing).
Points are grouped by atomic chunk and every touched chunk is read once.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.meta import GraphMeta
from dafserver.services.supervoxel_lookup import WatershedVolume

Int64Array = npt.NDArray[np.int64]
UInt64Array = npt.NDArray[np.uint64]


def supervoxels_at(
    volume: WatershedVolume,
    meta: GraphMeta,
    positions: Int64Array,
    position_resolution: tuple[float, float, float],
) -> UInt64Array:
    """uint64[N]: the supervoxel under each ``positions[i]`` (voxels at ``position_resolution``);
    0 outside the volume."""
    out = np.zeros(positions.shape[0], dtype=np.uint64)
    if positions.shape[0] == 0:
        return out
    scale = np.asarray(position_resolution, dtype=np.float64) / np.asarray(meta.resolution)
    voxels = np.floor(positions.astype(np.float64) * scale).astype(np.int64)
    inside = np.all((voxels >= volume.low) & (voxels < volume.high), axis=1)
    chunk = np.asarray(meta.chunk_size, dtype=np.int64)
    origin = volume.low
    keys = (voxels - origin) // chunk
    index = np.flatnonzero(inside)
    if index.size == 0:
        return out
    unique, inverse = np.unique(keys[index], axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    for k, key in enumerate(unique):
        low = origin + key * chunk
        high = np.minimum(low + chunk, volume.high)
        block = volume.cutout(low, high)
        members = index[inverse == k]
        local = voxels[members] - low
        out[members] = block[local[:, 0], local[:, 1], local[:, 2]]
    return out
