"""Edit and path points ``[node_id, x_nm, y_nm, z_nm]`` and the supervoxel each one designates.

As in PyChunkedGraph, a point whose id is a supervoxel stands for that supervoxel and its
coordinate is not used. For any other node the server reads the watershed volume (mip 0) around
the coordinate and takes the nearest voxel whose supervoxel descends from the node: the ancestor
at the node's layer, as of the node's creation time, must be the node itself. The search reaches
28 times the mean voxel size (production widens it in steps of 4, 8, 14 and 28 times; the nearest
match within the widest step is the same voxel). Distances are measured in nanometres between
integer voxel positions. A point without a match is a 400 ``Could not determine supervoxel ID for
coordinates ...``.

Deviation: production groups nearby points of the same node and resolves them together; here each
point is resolved on its own, which finds the same supervoxels unless a group only matches
jointly at a larger radius.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from cloudvolume import CloudVolume

from dafserver.chunkedgraph.graph import ChunkedGraph
from dafserver.errors import ServiceError
from dafserver.services.chunkedgraph_wire import bad_request, parse_uint64

UInt64Array = npt.NDArray[np.uint64]
Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]

COORDINATE_LIMIT = float(2**53)
"""Voxel coordinates are clipped to this magnitude (far outside any volume, exact as a float)."""
SEARCH_STEPS = (4, 8, 14, 28)
"""Search radii in multiples of the mean voxel size; the last one bounds the search."""


@dataclass(frozen=True)
class EditPoint:
    """One point of an edit or path request."""

    node_id: int
    voxel: tuple[float, float, float]
    """The position in voxels at mip 0 (nanometres divided by the resolution)."""


def parse_point(raw: Any, resolution: tuple[float, float, float], what: str) -> EditPoint:
    """``[node_id, x_nm, y_nm, z_nm]`` (the id a number or a decimal string)."""
    if not isinstance(raw, list) or len(raw) != 4:
        raise bad_request(f"{what} must be a list [node_id, x_nm, y_nm, z_nm], got {raw!r}")
    node_id = parse_uint64(raw[0], f"{what} node id")
    coords = raw[1:]
    if not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords):
        raise bad_request(f"{what} coordinates must be numbers, got {coords!r}")
    if not all(math.isfinite(float(c)) for c in coords):
        raise bad_request(f"{what} coordinates must be finite, got {coords!r}")
    x, y, z = (
        min(max(float(c) / r, -COORDINATE_LIMIT), COORDINATE_LIMIT)
        for c, r in zip(coords, resolution, strict=True)
    )
    return EditPoint(node_id, (x, y, z))


def parse_points(
    raw: Any, resolution: tuple[float, float, float], what: str, count: int | None = None
) -> list[EditPoint]:
    """A list of points (exactly ``count`` of them when given, else at least one)."""
    if not isinstance(raw, list):
        raise bad_request(f"{what} must be a list of points")
    if count is not None and len(raw) != count:
        raise bad_request(f"{what} needs exactly {count} points, got {len(raw)}")
    if not raw:
        raise bad_request(f"{what} needs at least one point")
    return [parse_point(p, resolution, f"{what}[{i}]") for i, p in enumerate(raw)]


class WatershedVolume:
    """The supervoxel volume at mip 0, read with cloud-volume (one reader at a time)."""

    def __init__(self, cloudpath: str) -> None:
        self._volume = CloudVolume(cloudpath, mip=0, progress=False, fill_missing=True)
        bounds = self._volume.bounds
        self.low = np.asarray(bounds.minpt, dtype=np.int64)
        self.high = np.asarray(bounds.maxpt, dtype=np.int64)
        self._lock = threading.Lock()

    def cutout(self, low: Int64Array, high: Int64Array) -> UInt64Array:
        """Supervoxel ids of the box ``[low, high)`` as an ``[x, y, z]`` array."""
        with self._lock:
            data = self._volume[low[0] : high[0], low[1] : high[1], low[2] : high[2]]
        block: UInt64Array = np.asarray(data)[..., 0].astype(np.uint64)
        return block


@functools.lru_cache(maxsize=8)
def open_watershed(cloudpath: str) -> WatershedVolume:
    """The (cached) reader of the volume at ``cloudpath``."""
    return WatershedVolume(cloudpath)


def _not_found(center: Int64Array) -> ServiceError:
    return bad_request(f"Could not determine supervoxel ID for coordinates {center.tolist()}.")


def find_supervoxel(graph: ChunkedGraph, volume: WatershedVolume | None, point: EditPoint) -> int:
    """The supervoxel nearest to ``point`` that descends from ``point.node_id``."""
    node = point.node_id
    layer = int(graph.layout.get_layer(node)[0])
    if layer == 1:
        return node
    center = np.trunc(np.asarray(point.voxel)).astype(np.int64)
    if layer > graph.n_layers or graph.get_valid_nodes([node]).size == 0:
        raise ServiceError(404, f"Unknown node {node}")
    if volume is None:
        raise _not_found(center)
    created = float(graph.get_root_timestamps([node])[0])
    resolution = np.asarray(graph.meta.resolution, dtype=np.float64)
    reach_nm = SEARCH_STEPS[-1] * float(resolution.mean())
    half = np.ceil(reach_nm / resolution).astype(np.int64)
    low = np.maximum(center - half, volume.low)
    high = np.minimum(center + half + 1, volume.high)
    if bool(np.any(low >= high)):
        raise _not_found(center)
    block = volume.cutout(low, high)
    labels = np.unique(block)
    labels = labels[labels != 0]
    if labels.size == 0:
        raise _not_found(center)
    ancestors = graph.get_roots(labels, timestamp=created, stop_layer=layer)
    wanted = labels[ancestors == np.uint64(node)]
    positions = np.argwhere(np.isin(block, wanted))
    if positions.size == 0:
        raise _not_found(center)
    offsets: Float64Array = (positions + low - center) * resolution
    distances = np.sqrt(np.sum(offsets**2, axis=1))
    best = int(np.argmin(distances))
    if float(distances[best]) > reach_nm:
        raise _not_found(center)
    return int(block[tuple(positions[best])])


def resolve_points(
    graph: ChunkedGraph, volume: WatershedVolume | None, points: list[EditPoint]
) -> UInt64Array:
    """The supervoxel of every point, in order."""
    return np.array([find_supervoxel(graph, volume, p) for p in points], dtype=np.uint64)


def voxel_coords(points: list[EditPoint]) -> Float64Array:
    """``float[k, 3]`` voxel positions of the points (the engine truncates them for its log)."""
    return np.array([p.voxel for p in points], dtype=np.float64).reshape(-1, 3)
