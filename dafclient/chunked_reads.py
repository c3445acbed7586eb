"""Read the labels under many points from a chunked volume, one read per touched chunk.

The points are validated and converted to voxels of the volume's mip first (:func:`to_mip_voxels`);
:func:`read_labels_batched` then groups them by storage chunk, hands every touched chunk's box
(clipped to the volume bounds) to a reader at once, and picks the points' voxels out of each chunk
with fancy indexing; :func:`read_labels` does the same with a reader of one chunk at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

from dafclient.errors import InputError
from dafclient.ids import IdArray

OutsidePolicy: TypeAlias = Literal["error", "zero"]
Voxels: TypeAlias = npt.NDArray[np.int64]


class LabelBlock(Protocol):
    """One chunk's labels, read at voxels (relative to the chunk) as ``block[xs, ys, zs]``: an
    ``[X, Y, Z]`` numpy array, or a chunk read without decoding it whole."""

    def __getitem__(self, index: tuple[Voxels, Voxels, Voxels], /) -> npt.NDArray[Any]: ...


ChunkReader: TypeAlias = Callable[[Voxels, Voxels], LabelBlock]
"""``read(lo, hi)`` -> labels of the voxels ``lo <= v < hi``."""
BlockReader: TypeAlias = Callable[[Voxels, Voxels], Iterable[tuple[int, LabelBlock]]]
"""``read_blocks(lo, hi)`` -> ``(k, labels of lo[k] <= v < hi[k])`` for every k, in any order."""


@dataclass(frozen=True)
class VolumeGrid:
    """Geometry of one mip of a chunked volume, in voxels of that mip."""

    resolution: npt.NDArray[np.float64]
    lower: npt.NDArray[np.int64]
    upper: npt.NDArray[np.int64]
    """Exclusive upper bound."""
    chunk_size: npt.NDArray[np.int64]
    chunk_origin: npt.NDArray[np.int64]
    """Voxel where chunk (0, 0, 0) starts (the volume's voxel offset)."""


def _row_problems(points: Sequence[Any], labels: Sequence[Any]) -> list[str]:
    problems = []
    for label, row in zip(labels, points, strict=True):
        try:
            values = np.asarray(row, dtype=np.float64)
        except (TypeError, ValueError):
            problems.append(f"row {label}: not a point of 3 numbers: {row!r}")
            continue
        if values.shape != (3,):
            problems.append(f"row {label}: not a point of 3 numbers: {row!r}")
    return problems


def as_points(points: Any, labels: Sequence[Any] | None = None) -> npt.NDArray[np.float64]:
    """``points`` as an ``(N, 3)`` float array; :class:`InputError` names the malformed rows.

    ``labels`` names the rows in messages (default: their positions).
    """
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if array is not None and array.size == 0:
        return np.zeros((0, 3), dtype=np.float64)
    if array is not None and array.ndim == 2 and array.shape[1] == 3:
        return array
    rows = list(points) if array is None or array.ndim >= 1 else [points]
    names = list(labels) if labels is not None else list(range(len(rows)))
    problems = _row_problems(rows, names)
    if not problems:  # e.g. a single point given as a flat [x, y, z]
        problems = [f"expected an (N, 3) array of points, got shape {np.shape(points)}"]
    raise InputError("points must be an (N, 3) array of x, y, z", problems)


def to_mip_voxels(
    points: npt.NDArray[np.float64],
    point_resolution: npt.NDArray[np.float64],
    grid: VolumeGrid,
    *,
    outside: OutsidePolicy = "error",
    labels: Sequence[Any] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Voxel coordinates at the grid's mip of points given in voxels of ``point_resolution``.

    Scales by the ratio of resolutions and floors. Returns ``(voxels, valid)``; rows that are not
    finite or fall outside the volume raise :class:`InputError` naming them, or with
    ``outside="zero"`` are marked invalid (their voxel is meaningless).
    """
    names: Sequence[Any] = labels if labels is not None else range(len(points))
    finite: npt.NDArray[np.bool_] = np.asarray(np.isfinite(points).all(axis=1))
    scaled = np.where(finite[:, None], points, 0.0) * point_resolution / grid.resolution
    voxels = np.floor(scaled).astype(np.int64)
    in_bounds = np.asarray(((voxels >= grid.lower) & (voxels < grid.upper)).all(axis=1))
    inside: npt.NDArray[np.bool_] = finite & in_bounds
    if outside == "error" and not inside.all():
        problems = []
        for i in np.flatnonzero(~inside):
            reason = "not a finite point" if not finite[i] else "outside the volume"
            problems.append(f"row {names[int(i)]}: {points[i].tolist()} is {reason}")
        raise InputError(
            f"{int((~inside).sum())} point(s) cannot be looked up (volume spans "
            f"{grid.lower.tolist()} to {grid.upper.tolist()} voxels at "
            f"{grid.resolution.tolist()} nm; points given at {point_resolution.tolist()} nm)",
            problems,
        )
    return voxels, inside


@dataclass(frozen=True)
class ChunkGroups:
    """Points grouped by storage chunk: chunk ``k`` holds rows ``order[bounds[k]:bounds[k+1]]``."""

    chunks: npt.NDArray[np.int64]
    """``(K, 3)`` chunk grid indices."""
    order: npt.NDArray[np.intp]
    bounds: npt.NDArray[np.intp]

    def __len__(self) -> int:
        return len(self.chunks)


def group_by_chunk(voxels: npt.NDArray[np.int64], grid: VolumeGrid) -> ChunkGroups:
    """Group ``voxels`` (inside the grid) by the chunk they fall in."""
    if len(voxels) == 0:
        empty = np.zeros(0, dtype=np.intp)
        return ChunkGroups(np.zeros((0, 3), dtype=np.int64), empty, np.zeros(1, dtype=np.intp))
    chunks = (voxels - grid.chunk_origin) // grid.chunk_size
    low = chunks.min(axis=0)
    span = chunks.max(axis=0) - low + 1
    local = chunks - low
    keys = (local[:, 0] * span[1] + local[:, 1]) * span[2] + local[:, 2]
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    bounds = np.r_[starts, len(order)].astype(np.intp)
    return ChunkGroups(chunks[order[starts]], order, bounds)


def chunk_boxes(
    groups: ChunkGroups, grid: VolumeGrid
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(lo, hi)``: the voxel box of each grouped chunk, clipped to the volume bounds."""
    start = grid.chunk_origin + groups.chunks * grid.chunk_size
    lo = np.maximum(start, grid.lower)
    hi = np.minimum(start + grid.chunk_size, grid.upper)
    return lo, hi


def read_labels(
    voxels: npt.NDArray[np.int64],
    grid: VolumeGrid,
    read: ChunkReader,
    *,
    groups: ChunkGroups | None = None,
    progress: Callable[[int], Any] | None = None,
) -> IdArray:
    """Labels at ``voxels`` (inside the grid), reading each touched chunk once with ``read``.

    ``groups`` is :func:`group_by_chunk` of the voxels, if already computed. ``progress(n)`` is
    called after each chunk with the number of chunks done since the last call.
    """

    def one_by_one(
        lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]
    ) -> Iterator[tuple[int, LabelBlock]]:
        for k in range(len(lo)):
            yield k, read(lo[k], hi[k])

    return read_labels_batched(voxels, grid, one_by_one, groups=groups, progress=progress)


def read_labels_batched(
    voxels: npt.NDArray[np.int64],
    grid: VolumeGrid,
    read_blocks: BlockReader,
    *,
    groups: ChunkGroups | None = None,
    progress: Callable[[int], Any] | None = None,
) -> IdArray:
    """Labels at ``voxels`` (inside the grid); ``read_blocks`` gets every touched chunk's box at
    once (e.g. to fetch the files concurrently) and yields each chunk's labels once."""
    out = np.zeros(len(voxels), dtype=np.uint64)
    if len(voxels) == 0:
        return out
    if groups is None:
        groups = group_by_chunk(voxels, grid)
    lo, hi = chunk_boxes(groups, grid)
    # every point's voxel relative to its chunk, in chunk order: chunk k's are one slice
    local = voxels[groups.order] - np.repeat(lo, np.diff(groups.bounds), axis=0)
    xs, ys, zs = (np.ascontiguousarray(local[:, axis]) for axis in range(3))
    found = np.zeros(len(voxels), dtype=np.uint64)
    bounds = groups.bounds.tolist()
    for k, block in read_blocks(lo, hi):
        rows = slice(bounds[k], bounds[k + 1])
        found[rows] = block[xs[rows], ys[rows], zs[rows]]
        if progress is not None:
            progress(1)
    out[groups.order] = found
    return out


def resolution_triple(value: Any, name: str) -> npt.NDArray[np.float64]:
    """A voxel size: exactly 3 finite positive numbers (nm), or :class:`InputError` naming ``name``."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be 3 numbers, got {value!r}") from exc
    if array.shape != (3,) or not np.isfinite(array).all() or (array <= 0).any():
        raise InputError(f"{name} must be 3 positive numbers, got {value!r}")
    return array
