"""Chunk grouping and reads without a server: partial chunks at the upper bounds."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from dafclient.chunked_reads import VolumeGrid, group_by_chunk, read_labels, to_mip_voxels


def test_partial_chunks_are_clipped_and_read_once() -> None:
    rng = np.random.default_rng(7)
    shape = np.array([10, 7, 5])
    lower = np.array([3, 2, 1])
    volume = rng.integers(1, 2**63, size=tuple(shape), dtype=np.uint64)
    grid = VolumeGrid(
        resolution=np.array([8.0, 8.0, 40.0]),
        lower=lower,
        upper=lower + shape,
        chunk_size=np.array([4, 4, 4]),
        chunk_origin=lower,
    )
    reads: list[tuple[tuple[int, ...], tuple[int, ...]]] = []

    def read(lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
        reads.append((tuple(lo.tolist()), tuple(hi.tolist())))
        assert (hi <= grid.upper).all() and (lo >= grid.lower).all()
        start, stop = lo - lower, hi - lower
        block: npt.NDArray[Any] = volume[start[0] : stop[0], start[1] : stop[1], start[2] : stop[2]]
        return block

    points = rng.integers(lower, lower + shape, size=(400, 3)).astype(np.float64)
    voxels, valid = to_mip_voxels(points, grid.resolution, grid)
    assert valid.all()
    groups = group_by_chunk(voxels, grid)
    labels = read_labels(voxels, grid, read, groups=groups)
    local = voxels - lower
    np.testing.assert_array_equal(labels, volume[local[:, 0], local[:, 1], local[:, 2]])
    assert len(reads) == len(set(reads)) == len(groups) == 3 * 2 * 2
    assert ((11, 6, 5), (13, 9, 6)) in reads  # the corner chunk, clipped on every axis
