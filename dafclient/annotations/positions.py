"""Position columns read whole: ``(N, 3) float64`` points with null and invalid row masks.

:func:`position_rows` is the reference: it reads value by value (a position is a 3-sequence of
finite numbers, booleans refused; an all-null sequence is an absent point). :func:`read_positions`
gives the same answer for every input, without a Python step per row where it can:

- an ``(N, 3)`` numeric array (``_x/_y/_z`` columns): as is;
- a pandas ``ArrowDtype`` column of lists or fixed-size lists of numbers (what materialized
  queries return): the flat child array, no Python objects at all;
- an object column of lists/tuples (rows read back as JSON): one pyarrow conversion to
  ``fixed_size_list<double>[3]``, which checks lengths and refuses strings in C;
- an object column of numpy arrays: one pyarrow conversion (one dtype for all arrays).

pyarrow reads a few values otherwise than the reference: a Python boolean as 0 or 1, a numpy
``uint64`` above 2**63 as a negative number, ``Decimal('NaN')`` as null. So after a conversion from
Python objects, every row with a coordinate ≤ 1 or NaN (rare in real coordinates) is checked: unless
its values are plain ``int``/``float``/``None`` (or it is a numeric numpy array) the reference
re-reads it. What pyarrow cannot convert goes to the reference block by block, so one odd row
costs one block, not the column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from dafclient.annotations.scalars import float_scalar, is_null_scalar

Mask = npt.NDArray[np.bool_]
Points = npt.NDArray[np.float64]
Read = tuple[Points, Mask, Mask]
"""(points, null, invalid): NaN points where null or invalid."""

BLOCK = 1 << 16
"""Rows per block when a column falls back to the reference."""
FIXED_3 = pa.list_(pa.float64(), 3)
_SEQUENCE_ROWS = frozenset({list, tuple})
_NULL_ROWS = frozenset({type(None), float, type(pd.NA), type(pd.NaT)})
"""Row types pyarrow reads as null exactly when the reference does (a float row that is not NaN
makes the conversion fail)."""
_PLAIN_VALUES = frozenset({int, float, type(None)})
_CONVERSION_ERRORS = (pa.ArrowException, OverflowError, TypeError, ValueError)


def position_rows(values: Sequence[Any] | npt.NDArray[Any]) -> Read:
    """The reference reader: 3-sequences one by one."""
    n = len(values)
    out = np.full((n, 3), np.nan)
    null = np.zeros(n, dtype=bool)
    invalid = np.zeros(n, dtype=bool)
    for i, value in enumerate(values):
        if is_null_scalar(value):
            null[i] = True
            continue
        try:
            if isinstance(value, (str, bytes, Mapping)) or len(value) != 3:
                raise ValueError("not 3 items")
            if all(is_null_scalar(v) for v in value):
                null[i] = True  # an all-null position: the point is absent
                continue
            out[i] = [float_scalar(v) for v in value]
        except (TypeError, ValueError, OverflowError):
            invalid[i] = True
    return out, null, invalid


def read_positions(value: pd.Series | npt.NDArray[Any] | Sequence[Any]) -> Read:
    """A position column: a Series, an ``(N, 3)`` array or a sequence of 3-sequences. A numeric
    ``(N, 3)`` array is read in place (a float64 one comes back as the points, not copied)."""
    if isinstance(value, pd.Series):
        if isinstance(value.dtype, pd.ArrowDtype):
            read = arrow_positions(pa.array(value.array))
            return read if read is not None else position_rows(value.tolist())
        if value.dtype == object:
            return _object_positions(value.to_numpy())
        return position_rows(value.tolist())
    if (
        isinstance(value, np.ndarray)
        and value.ndim == 2
        and value.shape[1] == 3
        and value.dtype.kind in "iuf"
    ):
        return _from_points(value.astype(np.float64, copy=False))
    return _object_positions(np.fromiter(value, dtype=object, count=len(value)))


def arrow_positions(array: pa.Array | pa.ChunkedArray) -> Read | None:
    """Positions from an Arrow array of (fixed-size) lists of numbers; None for other types."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    n = len(array)
    kind = array.type
    if pa.types.is_null(kind):
        return _from_points(np.full((n, 3), np.nan), rownull=np.ones(n, dtype=bool))
    if pa.types.is_fixed_size_list(kind):
        size = kind.list_size
        child = array.values.slice(array.offset * size, n * size)
        offsets = np.arange(0, (n + 1) * size, size) if size != 3 else None
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        child = array.values
        offsets = array.offsets.to_numpy()
    else:
        return None
    child_kind = child.type
    if not (
        pa.types.is_integer(child_kind)
        or pa.types.is_floating(child_kind)
        or pa.types.is_null(child_kind)
    ):
        return None
    flat = child.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    rownull = array.is_null().to_numpy(zero_copy_only=False) if array.null_count else None
    if offsets is None:
        points = np.array(flat.reshape(n, 3))
        return _from_points(points, rownull=rownull)
    lengths = np.diff(offsets)
    whole = lengths == 3
    if whole.all():
        start = int(offsets[0])
        points = np.array(flat[start : start + 3 * n].reshape(n, 3))
        return _from_points(points, rownull=rownull)
    points = np.full((n, 3), np.nan)
    points[whole] = flat[offsets[:-1][whole, None] + np.arange(3)]
    wrong_length = ~whole if rownull is None else ~whole & ~rownull
    return _from_points(points, rownull=rownull, wrong_length=wrong_length)


def _from_points(
    points: Points, *, rownull: Mask | None = None, wrong_length: Mask | None = None
) -> Read:
    """Masks for ``points`` (NaN where a coordinate is null): rows all NaN are absent points,
    rows with a NaN or an infinity invalid. ``points`` is not written to."""
    n = len(points)
    coordinates_finite = np.isfinite(points)
    if rownull is None and wrong_length is None and coordinates_finite.all():
        return points, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    finite = _each_row(coordinates_finite)
    given = np.zeros(n, dtype=bool) if rownull is None else rownull
    wrong = np.zeros(n, dtype=bool) if wrong_length is None else wrong_length
    null = given | (~wrong & _each_row(np.isnan(points)))
    invalid = wrong | (~null & ~finite)
    return np.where((null | invalid)[:, None], np.nan, points), null, invalid


def _each_row(mask: npt.NDArray[np.bool_]) -> Mask:
    """Rows of an ``(N, 3)`` mask true in every column (faster than ``.all(axis=1)``)."""
    return mask[:, 0] & mask[:, 1] & mask[:, 2]


def _object_positions(values: npt.NDArray[Any]) -> Read:
    kinds = set(map(type, values))
    array: pa.Array | None = None
    try:
        if kinds <= _SEQUENCE_ROWS | _NULL_ROWS:
            from_pandas = not kinds <= {list, tuple, type(None)}
            array = pa.array(values, type=FIXED_3, from_pandas=from_pandas)
        elif kinds <= {np.ndarray} | _NULL_ROWS:
            array = pa.array(values, from_pandas=True)
    except _CONVERSION_ERRORS:
        array = None
    read = None if array is None else arrow_positions(array)
    if array is None or read is None:
        return _in_blocks(values)
    return _recheck(values, read, array)


def _recheck(values: npt.NDArray[Any], read: Read, array: pa.Array) -> Read:
    """Re-read with the reference the rows pyarrow may have read otherwise (module docstring).
    Rows that were null values themselves are read alike by both."""
    points, null, invalid = read
    above_one = points > 1  # False for a coordinate ≤ 1 or NaN
    if above_one.all():
        return read
    suspect = ~_each_row(above_one)
    if array.null_count:
        suspect &= ~array.is_null().to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(suspect)
    if not len(rows):
        return read
    again = rows[[not _plain(values[r]) for r in rows.tolist()]]
    if len(again):
        points = np.array(points)
        points[again], null[again], invalid[again] = position_rows(values[again])
    return points, null, invalid


def _plain(row: Any) -> bool:
    """Whether pyarrow reads ``row`` exactly as the reference does."""
    kind = type(row)
    if kind is list or kind is tuple:
        return all(type(v) in _PLAIN_VALUES for v in row)
    if kind is np.ndarray:  # uint64 arrays mixed with float ones wrap as uint64 scalars do
        return bool(row.ndim == 1 and row.dtype.kind in "iuf" and row.dtype != np.uint64)
    return False


def _in_blocks(values: npt.NDArray[Any]) -> Read:
    """The fast reader block by block, the reference for the blocks it cannot take."""
    n = len(values)
    if n <= BLOCK:
        return position_rows(values)
    parts = [_object_positions(values[start : start + BLOCK]) for start in range(0, n, BLOCK)]
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )
