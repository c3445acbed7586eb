"""Sorting-based numpy helpers used on large id arrays.

``np.unique`` without ``return_inverse`` goes through a hash table in recent numpy releases and
is several times slower than sorting on million-element id arrays, so the engine uses these.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
UInt64Array = npt.NDArray[np.uint64]
T = TypeVar("T", bound=np.generic)

_EMPTY_I64: Int64Array = np.zeros(0, dtype=np.int64)


def unique(values: npt.NDArray[T]) -> npt.NDArray[T]:
    """Sorted distinct values."""
    ordered = np.sort(values.reshape(-1))
    if ordered.size == 0:
        return ordered
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def unique_inverse(values: npt.NDArray[T]) -> tuple[npt.NDArray[T], Int64Array]:
    """Sorted distinct values and, for each input, the position of its value among them."""
    flat = values.reshape(-1)
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    if ordered.size == 0:
        return ordered, _EMPTY_I64
    first = np.empty(ordered.size, dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    inverse = np.empty(ordered.size, dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def unique_rows(pairs: npt.NDArray[T]) -> npt.NDArray[T]:
    """Distinct rows of a ``[N, 2]`` array, sorted by first then second column."""
    rows = pairs.reshape(-1, 2)
    if rows.size == 0:
        return rows
    ordered = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
    keep = np.ones(len(ordered), dtype=bool)
    keep[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    return ordered[keep]


def unique_indices(indices: Int64Array, size: int) -> Int64Array:
    """Sorted distinct values of non-negative indices below ``size`` (via a mask)."""
    mask = np.zeros(size, dtype=bool)
    mask[indices] = True
    return np.flatnonzero(mask).astype(np.int64)


def lookup(sorted_ids: npt.NDArray[Any], queries: npt.NDArray[Any]) -> tuple[Int64Array, BoolArray]:
    """Positions of ``queries`` in ``sorted_ids`` and whether each one is present."""
    if sorted_ids.size == 0:
        return np.zeros(len(queries), dtype=np.int64), np.zeros(len(queries), dtype=bool)
    position = np.searchsorted(sorted_ids, queries).astype(np.int64)
    np.minimum(position, sorted_ids.size - 1, out=position)
    return position, sorted_ids[position] == queries


def gather_ranges(starts: Int64Array, counts: Int64Array) -> tuple[Int64Array, Int64Array]:
    """Flat indices of the ranges ``[start, start + count)`` and the range number of each."""
    total = int(counts.sum()) if counts.size else 0
    if total == 0:
        return _EMPTY_I64, _EMPTY_I64
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    first = np.cumsum(counts) - counts
    return starts[owner] + (np.arange(total, dtype=np.int64) - first[owner]), owner
