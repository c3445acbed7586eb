"""Every requested L2 node of one atomic chunk, computed from the chunk's supervoxel volume.

An L2 node is the set of its supervoxels' voxels inside its chunk (supervoxels never cross a
chunk border), so a node's mask is "the chunk voxel is one of its children". Nodes are computed
one at a time on their own box, which is what production's edit worker does; its bulk job
labels the whole chunk with the L2 ids of one moment and gets the same values per node, since a
node's features depend only on its own mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from dafserver.l2cache.features import NodeFeatures, Vec3, grown_box, node_features

UInt64Array = npt.NDArray[np.uint64]


def chunk_features(
    labels: npt.NDArray[np.integer],
    nodes: UInt64Array,
    children: Sequence[npt.NDArray[Any]],
    resolution: Vec3,
) -> list[NodeFeatures]:
    """Features of ``nodes`` from their chunk's supervoxel volume.

    ``labels`` is the chunk (its full shape) with each supervoxel as a small positive label
    (its segment id) and 0 for background and for the outside of the dataset;
    ``children[i]`` are the labels of the supervoxels of ``nodes[i]``. A node none of whose
    supervoxels is in the chunk is :meth:`NodeFeatures.failed`.
    """
    shape = (int(labels.shape[0]), int(labels.shape[1]), int(labels.shape[2]))
    dense = np.asarray(labels, dtype=np.int64)
    boxes = ndimage.find_objects(dense)
    results: list[NodeFeatures] = []
    for node, kids in zip(nodes, children, strict=True):
        found = [
            boxes[k - 1] for k in np.asarray(kids, dtype=np.int64).tolist() if 0 < k <= len(boxes)
        ]
        found = [b for b in found if b is not None]
        if not found:
            results.append(NodeFeatures.failed())
            continue
        low = np.min([[s.start for s in box] for box in found], axis=0)
        high = np.max([[s.stop for s in box] for box in found], axis=0)
        box = grown_box(low, high, shape)
        crop = np.isin(dense[box], kids)
        origin = (box[0].start, box[1].start, box[2].start)
        results.append(node_features(crop, origin, shape, resolution, seed=int(node)))
    return results
