"""The input of the graph build: supervoxels, their contacts, affinities, areas and the agglomeration.

Two supervoxels are adjacent when a voxel of one shares a face with a voxel of the other
(6-connectivity); the contact area is the number of such faces. Affinities are drawn from
[0.6, 1) for contacts inside one neuron and from [0, 0.4) across neurons; an edge is active
(part of the build-time agglomeration) exactly when both supervoxels belong to the same neuron.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dafserver.dataset.supervoxels import SupervoxelPartition

IntArray = npt.NDArray[np.int64]
INSIDE_AFFINITY = (0.6, 1.0)
ACROSS_AFFINITY = (0.0, 0.4)
SLAB_WIDTH = 64


@dataclass(frozen=True)
class GraphInput:
    """Arrays in the shapes and dtypes ``ChunkedGraph.build`` takes."""

    supervoxel_ids: npt.NDArray[np.uint64]
    """uint64[N]"""
    edges: npt.NDArray[np.uint64]
    """uint64[E, 2], each unordered pair once, smaller id first."""
    affinities: npt.NDArray[np.float32]
    """float32[E]"""
    areas: npt.NDArray[np.uint64]
    """uint64[E]: contact faces between the two supervoxels."""
    active: npt.NDArray[np.bool_]
    """bool[E]: both supervoxels belong to the same neuron."""


def _face_keys(a: npt.NDArray[np.uint32], b: npt.NDArray[np.uint32], base: int) -> IntArray:
    """``low * base + high`` for every face between two different non-zero labels."""
    touching = (a != b) & (a != 0) & (b != 0)
    left = a[touching].astype(np.int64)
    right = b[touching].astype(np.int64)
    return np.asarray(np.minimum(left, right) * base + np.maximum(left, right), dtype=np.int64)


def contacts(dense: npt.NDArray[np.uint32]) -> tuple[IntArray, IntArray]:
    """Adjacent label pairs of a label volume: (pairs int64[E, 2] with low < high, areas int64[E]).

    The volume is scanned in slabs along x (to bound memory); per-slab counts are merged at
    the end, so labels may cross slab boundaries.
    """
    base = int(dense.max(initial=0)) + 1
    slab_keys: list[IntArray] = []
    slab_counts: list[IntArray] = []
    size_x = dense.shape[0]
    for x0 in range(0, size_x, SLAB_WIDTH):
        x1 = min(x0 + SLAB_WIDTH, size_x)
        slab = dense[x0:x1]
        keys = [
            _face_keys(slab[:, :-1], slab[:, 1:], base),
            _face_keys(slab[:, :, :-1], slab[:, :, 1:], base),
            _face_keys(dense[x0 : x1 - 1], dense[x0 + 1 : x1], base),
        ]
        if x1 < size_x:
            keys.append(_face_keys(dense[x1 - 1], dense[x1], base))
        unique, counts = np.unique(np.concatenate(keys), return_counts=True)
        slab_keys.append(unique)
        slab_counts.append(counts.astype(np.int64))
    if not slab_keys:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.int64)
    merged, inverse = np.unique(np.concatenate(slab_keys), return_inverse=True)
    areas = np.bincount(inverse, weights=np.concatenate(slab_counts), minlength=merged.size)
    pairs = np.stack([merged // base, merged % base], axis=1).astype(np.int64)
    return pairs, np.rint(areas).astype(np.int64)


def build_graph_input(partition: SupervoxelPartition, rng: np.random.Generator) -> GraphInput:
    """Edges, affinities, areas and the active mask of a supervoxel partition."""
    pairs, areas = contacts(partition.dense)
    index = pairs - 1
    neurons = partition.neurons[index]
    active = neurons[:, 0] == neurons[:, 1]
    inside = rng.uniform(*INSIDE_AFFINITY, size=active.shape[0])
    across = rng.uniform(*ACROSS_AFFINITY, size=active.shape[0])
    return GraphInput(
        supervoxel_ids=partition.ids,
        edges=partition.ids[index],
        affinities=np.where(active, inside, across).astype(np.float32),
        areas=areas.astype(np.uint64),
        active=active,
    )
