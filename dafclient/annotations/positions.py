"""Position columns read whole: ``(N, 3) float64`` points with null and invalid row masks.

:func:`position_rows` is the reference: it reads value by value (a position is a 3-sequence of
finite numbers, booleans refused; an all-null sequence is an absent point). :func:`read_positions`
and :func:`axis_positions` give the same answer for every input, without a Python step per row
where they can:

- ``_x/_y/_z`` numeric columns (:func:`axis_positions`) or an ``(N, 3)`` numeric array: copied
  into the points as they are;
- a pandas ``ArrowDtype`` column of lists or fixed-size lists of numbers (what materialized
  queries return): the flat child arrays, no Python objects at all;
- an object column of lists/tuples (rows read back as JSON): pyarrow conversion to
  ``fixed_size_list<double>[3]``, which checks lengths and refuses strings in C;
- an object column of numpy arrays: pyarrow conversion, as they are when a block's arrays share
  one numeric dtype (what ``list(points)`` and Arrow's ``to_pandas`` give), else of the type
  pyarrow infers.

pyarrow reads a few values otherwise than the reference: a Python boolean as 0 or 1, a numpy
``uint64`` above 2**63 as a negative number, ``Decimal('NaN')`` as null. So after a conversion from
Python objects, every row with a coordinate ≤ 1 or NaN (rare in real coordinates) is checked: unless
its values are plain ``int``/``float``/``None`` (or it is a numeric numpy array) the reference
re-reads it.

Memory: a read allocates its answer (the points and two masks) once and fills it block by block
(:data:`BLOCK` rows), so the temporaries of a conversion are small and reused from block to block.
Freshly allocated pages cost a page fault each (and on a virtual machine often the host's too),
which for large columns costs more than the conversion; a block pyarrow cannot convert goes to the
reference, so one odd row costs one block, not the column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import attrgetter, countOf
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
"""Rows converted at a time (and read by the reference when a conversion fails)."""
FIXED_3 = pa.list_(pa.float64(), 3)
_SEQUENCE_ROWS = frozenset({list, tuple})
_NULL_ROWS = frozenset({type(None), float, type(pd.NA), type(pd.NaT)})
"""Row types pyarrow reads as null exactly when the reference does (a float row that is not NaN
makes the conversion fail)."""
_PLAIN_ROWS = frozenset({list, tuple, np.ndarray, type(None)})
"""Row types pyarrow reads without ``from_pandas``."""
_PLAIN_VALUES = frozenset({int, float, type(None)})
_CONVERSION_ERRORS = (pa.ArrowException, OverflowError, TypeError, ValueError)
_DTYPE = attrgetter("dtype")


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
    ``(N, 3)`` array is read in place (a valid float64 one comes back as the points, not copied)."""
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


def axis_positions(axes: Sequence[pd.Series]) -> Read:
    """A position given as three columns (``_x``, ``_y``, ``_z``): numeric ones are copied into
    the points directly, any other is read row by row as 3-tuples."""
    n = len(axes[0])
    if not all(axis.dtype.kind in "iuf" for axis in axes):
        rows = zip(*(axis.tolist() for axis in axes), strict=True)
        return _object_positions(np.fromiter(rows, dtype=object, count=n))
    points = np.empty((n, 3))
    for i, axis in enumerate(axes):
        if isinstance(axis.dtype, np.dtype):
            np.copyto(points[:, i], axis.to_numpy())  # a view of the column: no temporary
        else:  # nullable and Arrow numbers: missing values become NaN
            points[:, i] = axis.to_numpy(dtype=np.float64, na_value=np.nan)
    null = np.zeros(n, dtype=bool)
    invalid = np.zeros(n, dtype=bool)
    _settle(points, null, invalid)
    return points, null, invalid


def arrow_positions(array: pa.Array | pa.ChunkedArray) -> Read | None:
    """Positions from an Arrow array of (fixed-size) lists of numbers; None for other types."""
    if not _arrow_readable(array.type):
        return None
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    n = len(array)
    points = np.empty((n, 3))
    null = np.zeros(n, dtype=bool)
    invalid = np.zeros(n, dtype=bool)
    start = 0
    for chunk in chunks:
        for offset in range(0, len(chunk), BLOCK):
            part = chunk.slice(offset, BLOCK)
            stop = start + len(part)
            _arrow_into(part, points[start:stop], null[start:stop], invalid[start:stop])
            start = stop
    return points, null, invalid


def _arrow_readable(kind: pa.DataType) -> bool:
    """Whether :func:`_arrow_into` reads an array of this type: null, or lists of numbers."""
    if pa.types.is_null(kind):
        return True
    if not (
        pa.types.is_fixed_size_list(kind) or pa.types.is_list(kind) or pa.types.is_large_list(kind)
    ):
        return False
    child = kind.value_type
    return bool(
        pa.types.is_integer(child) or pa.types.is_floating(child) or pa.types.is_null(child)
    )


def _arrow_into(array: pa.Array, points: Points, null: Mask, invalid: Mask) -> None:
    """Read a readable Arrow array (:func:`_arrow_readable`) into ``points`` and the masks."""
    m = len(array)
    kind = array.type
    if pa.types.is_null(kind):
        points[:] = np.nan
        null[:] = True
        invalid[:] = False
        return
    null[:] = array.is_null().to_numpy(zero_copy_only=False) if array.null_count else False
    invalid[:] = False
    if pa.types.is_fixed_size_list(kind) and kind.list_size == 3:
        points[:] = _numbers(array.values.slice(array.offset * 3, m * 3)).reshape(m, 3)
    else:
        if pa.types.is_fixed_size_list(kind):
            size = kind.list_size
            child = array.values.slice(array.offset * size, m * size)
            offsets = np.arange(0, (m + 1) * size, size)
        else:
            child = array.values
            offsets = array.offsets.to_numpy()
        whole = np.diff(offsets) == 3
        if whole.all():
            start = int(offsets[0])
            points[:] = _numbers(child.slice(start, 3 * m)).reshape(m, 3)
        else:
            points[:] = np.nan
            flat = _numbers(child)
            points[whole] = flat[offsets[:-1][whole, None] + np.arange(3)]
            invalid[:] = ~whole & ~null
    _settle(points, null, invalid)


def _numbers(child: pa.Array) -> npt.NDArray[Any]:
    """An Arrow array of numbers as numpy numbers, NaN where null (no copy when it has none)."""
    if child.null_count or pa.types.is_null(child.type):
        child = child.cast(pa.float64(), safe=False)
    numbers: npt.NDArray[Any] = child.to_numpy(zero_copy_only=False)
    return numbers


def _all_finite(points: Points) -> bool:
    """Whether every coordinate is finite, in one pass without a temporary: a sum is finite only
    if every term is (a finite sum that overflows is checked again coordinate by coordinate)."""
    with np.errstate(all="ignore"):
        if np.isfinite(np.sum(points)):
            return True
    return bool(np.isfinite(points).all())


def _settle(points: Points, null: Mask, invalid: Mask) -> None:
    """Complete the masks of ``points`` (written to) in place. ``null`` holds the rows that were
    null values and ``invalid`` those of a wrong length; besides, rows all NaN are absent points,
    rows with a NaN or an infinity invalid, and both become NaN."""
    if not null.any() and not invalid.any() and _all_finite(points):
        return
    wrong = invalid.copy()
    null |= ~wrong & _each_row(np.isnan(points))
    invalid |= ~null & ~_each_row(np.isfinite(points))
    points[null | invalid] = np.nan


def _from_points(points: Points) -> Read:
    """The masks of a caller's ``points``, which are not written to (copied when a row must be
    set to NaN)."""
    n = len(points)
    null = np.zeros(n, dtype=bool)
    invalid = np.zeros(n, dtype=bool)
    if _all_finite(points):
        return points, null, invalid
    points = points.copy()
    _settle(points, null, invalid)
    return points, null, invalid


def _each_row(mask: npt.NDArray[np.bool_]) -> Mask:
    """Rows of an ``(N, 3)`` mask true in every column (faster than ``.all(axis=1)``)."""
    return mask[:, 0] & mask[:, 1] & mask[:, 2]


def _object_positions(values: npt.NDArray[Any]) -> Read:
    """An object array of rows, block by block: pyarrow where it converts the block, the
    reference where it does not."""
    n = len(values)
    points = np.empty((n, 3))
    null = np.zeros(n, dtype=bool)
    invalid = np.zeros(n, dtype=bool)
    for start in range(0, n, BLOCK):
        rows = slice(start, start + BLOCK)
        block = values[rows]
        if not _objects_into(block, points[rows], null[rows], invalid[rows]):
            points[rows], null[rows], invalid[rows] = position_rows(block)
    return points, null, invalid


def _objects_into(values: npt.NDArray[Any], points: Points, null: Mask, invalid: Mask) -> bool:
    """Read a block of rows through pyarrow; False when pyarrow cannot take it."""
    # a block of lists is counted faster than its row types are collected
    all_lists = type(values[0]) is list and countOf(map(type, values), list) == len(values)
    kinds = {list} if all_lists else set(map(type, values))
    same_numbers = kinds == {np.ndarray} and _one_number_dtype(values)
    try:
        # from_pandas (NaN and pandas' nulls as null rows) only when there are such rows: it
        # costs a check of every value
        from_pandas = not kinds <= _PLAIN_ROWS
        if same_numbers:  # as they are: no type inferred, no value cast
            item = pa.from_numpy_dtype(values[0].dtype)
            array = pa.array(values, type=pa.list_(item))
        elif kinds <= _SEQUENCE_ROWS | _NULL_ROWS:
            array = pa.array(values, type=FIXED_3, from_pandas=from_pandas)
        elif kinds <= {np.ndarray} | _NULL_ROWS:
            array = pa.array(values, from_pandas=from_pandas)
        else:
            return False
    except _CONVERSION_ERRORS:
        return False
    if not _arrow_readable(array.type):
        return False
    _arrow_into(array, points, null, invalid)
    if not same_numbers:  # 1-D arrays of one numeric dtype are read as the reference does
        _recheck(values, array, points, null, invalid)
    return True


def _one_number_dtype(arrays: npt.NDArray[Any]) -> bool:
    """Whether numpy arrays all have one numeric dtype (native byte order)."""
    dtypes = set(map(_DTYPE, arrays))
    if len(dtypes) != 1:
        return False
    dtype = dtypes.pop()
    return bool(dtype.kind in "iuf" and dtype.isnative)


def _recheck(
    values: npt.NDArray[Any], array: pa.Array, points: Points, null: Mask, invalid: Mask
) -> None:
    """Re-read with the reference the rows pyarrow may have read otherwise (module docstring).
    Rows that were null values themselves are read alike by both."""
    if not len(points) or np.min(points) > 1:  # False for a coordinate ≤ 1 or NaN
        return
    rows = np.unique(np.flatnonzero(~(points.reshape(-1) > 1)) // 3)
    if array.null_count:
        rows = rows[~array.is_null().to_numpy(zero_copy_only=False)[rows]]
    again = rows[[not _plain(values[r]) for r in rows.tolist()]]
    if len(again):
        points[again], null[again], invalid[again] = position_rows(values[again])


def _plain(row: Any) -> bool:
    """Whether pyarrow reads ``row`` exactly as the reference does."""
    kind = type(row)
    if kind is list or kind is tuple:
        return all(type(v) in _PLAIN_VALUES for v in row)
    if kind is np.ndarray:  # uint64 arrays mixed with float ones wrap as uint64 scalars do
        return bool(row.ndim == 1 and row.dtype.kind in "iuf" and row.dtype != np.uint64)
    return False
