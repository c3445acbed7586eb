"""Wire helpers of the chunkedgraph client: ids, points and boxes in the service's forms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from dafclient._plan import Call
from dafclient.errors import InputError, ResponseFormatError
from dafclient.ids import IdArray, decode_uint64

Bounds = Sequence[Sequence[int]] | npt.NDArray[Any]
"""A box ``[[x0, x1], [y0, y1], [z0, z1]]`` in chunkedgraph (base-resolution) voxels."""


def package_bounds(bounds: Bounds) -> str:
    """``x0-x1_y0-y1_z0-z1`` for a 3×2 voxel box (non-negative integers)."""
    array = np.asarray(bounds)
    if array.shape != (3, 2):
        raise InputError(
            f"bounds: expected [[x0, x1], [y0, y1], [z0, z1]] in chunkedgraph voxels, got shape {array.shape}"
        )
    if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
        raise InputError("bounds: expected finite numbers")
    if np.any(array < 0):
        raise InputError("bounds: negative coordinates cannot be expressed")
    if np.any(array[:, 0] > array[:, 1]):
        raise InputError("bounds: each [min, max] must have min <= max")
    ints = array.astype(np.int64)
    return "_".join(f"{lo}-{hi}" for lo, hi in ints)


def optional_bounds(bounds: Bounds | None) -> str | None:
    """:func:`package_bounds`, or None (no box) for None."""
    return None if bounds is None else package_bounds(bounds)


def json_id(value: Any) -> int:
    """One id from JSON: an integer or a decimal string (not a bool or a float)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise TypeError(f"{value!r} is not an id")


def ids_from_json(values: Any, *, what: str = "ids", request: Call | None = None) -> IdArray:
    """A JSON list of ids (numbers or decimal strings) as uint64 (``request``: for errors)."""
    method, url = (request.method, request.url) if request is not None else ("?", "?")
    if not isinstance(values, list):
        raise ResponseFormatError(f"expected a list of {what}", method=method, url=url)
    if not values:
        return np.zeros(0, dtype=np.uint64)
    try:
        return np.array([json_id(v) for v in values], dtype=np.uint64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ResponseFormatError(
            f"{what}: not a list of ids ({exc})", method=method, url=url
        ) from exc


def json_ids(ids: IdArray) -> list[int | str]:
    """Ids for a JSON request body."""
    return [int(i) for i in ids.tolist()]


def binary_ids(request: Call, response: httpx.Response) -> IdArray:
    """A raw little-endian uint64 body, or :class:`ResponseFormatError`."""
    try:
        return decode_uint64(response.content)
    except ValueError as exc:
        raise ResponseFormatError(str(exc), method=request.method, url=request.url) from exc


def points_nm(points: Any, resolution: Sequence[float], name: str) -> npt.NDArray[np.float64]:
    """Points of shape (N, 3) (one point may be given flat) in voxels of ``resolution``, in nm."""
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: expected points of shape (N, 3) of numbers ({exc})") from None
    if array.ndim == 1:
        array = array[np.newaxis, :]
    if array.ndim != 2 or array.shape[1] != 3:
        raise InputError(f"{name}: expected points of shape (N, 3), got {np.asarray(points).shape}")
    if not np.all(np.isfinite(array)):
        bad = sorted({int(i) for i in np.argwhere(~np.isfinite(array))[:, 0]})
        raise InputError(
            f"{name}: points must be finite", [f"row {i}: {array[i].tolist()}" for i in bad]
        )
    return array * np.asarray(resolution, dtype=np.float64)


def edit_points(
    ids: Sequence[int], points: npt.NDArray[np.float64]
) -> list[list[float | int | str]]:
    """``[[id, x, y, z], ...]``: the edit routes' form of points (nm) on supervoxels or roots."""
    return [[int(i), *map(float, p)] for i, p in zip(ids, points, strict=True)]
