"""Supervoxels: each neuron cut by the atomic chunks and by a Voronoi tessellation inside each chunk.

A supervoxel is the set of voxels of one neuron inside one Voronoi cell of one atomic chunk, so no
supervoxel crosses a chunk boundary. It is usually, not necessarily, connected (a neuron surface
can fold through a cell). The Voronoi cells come from a jittered grid of seeds spaced
``preset.supervoxel_spacing`` voxels apart. To keep the build fast, a handful of chunk-sized
tessellations are computed once per dataset and each chunk uses one of them, mirrored along a
random subset of the axes.

Supervoxel ids are layer-1 graphene ids: the chunk id of the chunk holding the voxels with a
segment id counting from 1 inside that chunk (ordered by neuron label, then by cell).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.meta import GraphMeta
from dafserver.dataset.sizes import SizePreset

N_TESSELLATIONS = 4
SEED_JITTER = 0.8
"""Seeds are placed uniformly in the central 80 % of their grid cell."""


@dataclass(frozen=True)
class SupervoxelPartition:
    """The supervoxels of a label volume."""

    dense: npt.NDArray[np.uint32]
    """uint32[X, Y, Z]: 0 for background, else 1 + the supervoxel's index in ``ids``."""
    ids: npt.NDArray[np.uint64]
    """uint64[N]: graphene layer-1 ids, ascending."""
    neurons: npt.NDArray[np.uint32]
    """uint32[N]: the neuron label of each supervoxel."""
    voxel_counts: npt.NDArray[np.int64]
    """int64[N]: voxels per supervoxel at mip 0."""

    def id_volume(self) -> npt.NDArray[np.uint64]:
        """The segmentation: uint64[X, Y, Z] of graphene ids (0 = background)."""
        lookup = np.concatenate([np.zeros(1, dtype=np.uint64), self.ids])
        return lookup[self.dense]


def tessellation(
    shape: tuple[int, int, int], spacing: tuple[int, int, int], rng: np.random.Generator
) -> tuple[npt.NDArray[np.uint32], int]:
    """A Voronoi tessellation of a ``shape`` box: (cell index per voxel, number of cells).

    Distances are measured in units of ``spacing`` along each axis, so cells are about one
    spacing wide in every direction.
    """
    step = np.asarray(spacing, dtype=np.float64)
    counts = tuple(-(-shape[d] // spacing[d]) for d in range(3))
    cells = np.array(counts)
    jitter = rng.uniform(-SEED_JITTER / 2, SEED_JITTER / 2, size=(*cells, 3))
    seeds = np.indices(counts).transpose(1, 2, 3, 0) + 0.5 + jitter  # in units of spacing
    centres = [(np.arange(shape[d]) + 0.5) / step[d] for d in range(3)]
    base = [np.minimum(np.floor(centres[d]).astype(np.int64), cells[d] - 1) for d in range(3)]
    best = np.full(shape, np.inf)
    owner = np.zeros(shape, dtype=np.int64)
    for ox in (-1, 0, 1):
        for oy in (-1, 0, 1):
            for oz in (-1, 0, 1):
                ix = np.clip(base[0] + ox, 0, cells[0] - 1)[:, None, None]
                iy = np.clip(base[1] + oy, 0, cells[1] - 1)[None, :, None]
                iz = np.clip(base[2] + oz, 0, cells[2] - 1)[None, None, :]
                seed = seeds[ix, iy, iz]
                dist = (
                    (centres[0][:, None, None] - seed[..., 0]) ** 2
                    + (centres[1][None, :, None] - seed[..., 1]) ** 2
                    + (centres[2][None, None, :] - seed[..., 2]) ** 2
                )
                closer = dist < best
                best[closer] = dist[closer]
                cell = (ix * cells[1] + iy) * cells[2] + iz
                owner[closer] = np.broadcast_to(cell, shape)[closer]
    return owner.astype(np.uint32), int(np.prod(cells))


def _cut_chunk(
    labels: npt.NDArray[np.uint32], cells: npt.NDArray[np.uint32], n_cells: int, n_labels: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """Supervoxels of one chunk: (segment id per voxel, 0 = background; neuron and voxel count
    of each segment id from 1), numbered by neuron label, then by cell."""
    foreground = labels > 0
    present = np.bincount(labels.ravel(), minlength=n_labels) > 0
    present[0] = False
    n_present = int(present.sum())
    if n_present == 0:
        return np.zeros(labels.shape, np.uint32), np.zeros(0, np.uint32), np.zeros(0, np.int64)
    rank = np.cumsum(present) - 1  # index of each neuron label among those present
    key = np.where(foreground, rank[labels] * n_cells + cells, 0)
    per_key = np.bincount(key[foreground], minlength=n_present * n_cells)
    used = per_key > 0
    segment_of_key = np.cumsum(used)
    segments = np.where(foreground, segment_of_key[key], 0).astype(np.uint32)
    owners = np.flatnonzero(present)[np.flatnonzero(used) // n_cells].astype(np.uint32)
    return segments, owners, per_key[used].astype(np.int64)


def partition_supervoxels(
    preset: SizePreset,
    neurons: npt.NDArray[np.uint32],
    chunk_ids: npt.NDArray[np.uint64],
    rng: np.random.Generator,
) -> SupervoxelPartition:
    """Cut the neuron label volume into supervoxels.

    ``chunk_ids[cx, cy, cz]`` is the layer-1 chunk id of each atomic chunk (segment bits zero).
    Chunks are visited in ascending chunk-id order (x, then y, then z), so ``ids`` is sorted.
    """
    chunk = preset.chunk_size
    templates = [
        tessellation(chunk, preset.supervoxel_spacing, rng) for _ in range(N_TESSELLATIONS)
    ]
    n_labels = int(neurons.max(initial=0)) + 1
    dense = np.zeros(neurons.shape, dtype=np.uint32)
    ids: list[npt.NDArray[np.uint64]] = []
    owners: list[npt.NDArray[np.uint32]] = []
    counts: list[npt.NDArray[np.int64]] = []
    total = 0
    grid = chunk_ids.shape
    for cx in range(grid[0]):
        for cy in range(grid[1]):
            for cz in range(grid[2]):
                window = (
                    slice(cx * chunk[0], (cx + 1) * chunk[0]),
                    slice(cy * chunk[1], (cy + 1) * chunk[1]),
                    slice(cz * chunk[2], (cz + 1) * chunk[2]),
                )
                labels = neurons[window]
                cells, n_cells = templates[int(rng.integers(N_TESSELLATIONS))]
                flips = rng.integers(0, 2, size=3)
                cells = cells[
                    :: -1 if flips[0] else 1, :: -1 if flips[1] else 1, :: -1 if flips[2] else 1
                ][: labels.shape[0], : labels.shape[1], : labels.shape[2]]
                segments, owner, count = _cut_chunk(labels, cells, n_cells, n_labels)
                dense[window] = np.where(segments > 0, segments + np.uint32(total), 0)
                ids.append(chunk_ids[cx, cy, cz] | np.arange(1, owner.size + 1, dtype=np.uint64))
                owners.append(owner)
                counts.append(count)
                total += owner.size
    return SupervoxelPartition(
        dense=dense,
        ids=np.concatenate(ids) if ids else np.zeros(0, dtype=np.uint64),
        neurons=np.concatenate(owners) if owners else np.zeros(0, dtype=np.uint32),
        voxel_counts=np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64),
    )


def central_voxel(
    segmentation: npt.NDArray[np.uint64], meta: GraphMeta, supervoxel: int | np.uint64
) -> npt.NDArray[np.int64]:
    """The voxel of ``supervoxel`` closest to its centroid (volume-relative ``int64[3]``).

    Only the supervoxel's own atomic chunk is searched.
    """
    coords = meta.layout.get_chunk_coords(supervoxel)[0]
    low = coords * np.asarray(meta.chunk_size)
    high = low + np.asarray(meta.chunk_size)
    window = segmentation[low[0] : high[0], low[1] : high[1], low[2] : high[2]]
    voxels = np.argwhere(window == np.uint64(supervoxel))
    if voxels.shape[0] == 0:
        raise ValueError(f"supervoxel {int(supervoxel)} has no voxel in its chunk")
    centre = voxels.mean(axis=0)
    closest = voxels[np.argmin(((voxels - centre) ** 2).sum(axis=1))]
    return np.asarray(closest + low, dtype=np.int64)
