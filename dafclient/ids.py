"""uint64 ids: segment, supervoxel and node ids are unsigned 64-bit integers end to end."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from dafclient.errors import InputError

UINT64_MAX = 2**64 - 1

IdArray: TypeAlias = npt.NDArray[np.uint64]
IdsLike: TypeAlias = int | np.integer[Any] | str | Iterable[Any] | npt.NDArray[Any]
"""One id or many: ints, numpy integers, decimal strings, or sequences/arrays of them."""


def _problem(index: int | None, value: Any, reason: str) -> str:
    where = "" if index is None else f"item {index}: "
    return f"{where}{value!r} {reason}"


def _one(value: Any, index: int | None) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise InputError("invalid id", [_problem(index, value, "is a bool, not an id")])
    if isinstance(value, (int, np.integer)):
        number = int(value)
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    elif isinstance(value, (float, np.floating)) and float(value).is_integer():
        if abs(float(value)) > 2**53:
            raise InputError(
                "invalid id",
                [_problem(index, value, "is a float above 2**53 and may have lost precision")],
            )
        number = int(value)
    else:
        raise InputError("invalid id", [_problem(index, value, "is not an integer id")])
    if not 0 <= number <= UINT64_MAX:
        raise InputError("invalid id", [_problem(index, value, "is outside 0..2**64-1")])
    return number


def as_id(value: Any, *, name: str = "id") -> int:
    """One id as a Python int (exact for the whole uint64 range)."""
    try:
        return _one(value, None)
    except InputError as exc:
        raise InputError(f"{name}: invalid id", exc.problems) from None


def as_id_array(values: IdsLike, *, name: str = "ids") -> IdArray:
    """Ids as a 1-d ``numpy.uint64`` array, checked exactly (no float or negative wrap-around)."""
    if isinstance(values, np.ndarray):
        flat = values.ravel() if values.ndim <= 1 else None
        if flat is None:
            raise InputError(f"{name}: expected a 1-d array of ids, got shape {values.shape}")
        if flat.dtype == np.uint64:
            return np.ascontiguousarray(flat)
        if np.issubdtype(flat.dtype, np.integer):
            negative = np.flatnonzero(flat < 0)
            if negative.size:
                raise InputError(
                    f"{name}: ids must not be negative",
                    [_problem(int(i), flat[i].item(), "is negative") for i in negative[:20]],
                )
            return flat.astype(np.uint64)
        values = flat.tolist()
    if isinstance(values, (int, np.integer, str, float, np.floating, bool, np.bool_)):
        values = [values]
    elif isinstance(values, (bytes, bytearray, Mapping)) or not isinstance(values, Iterable):
        raise InputError(f"{name}: expected ids, got {type(values).__name__}")
    problems: list[str] = []
    out: list[int] = []
    for index, value in enumerate(values):
        try:
            out.append(_one(value, index))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(f"{name}: {len(problems)} invalid id(s)", problems)
    return np.array(out, dtype=np.uint64)


def decode_uint64(content: bytes) -> IdArray:
    """Raw little-endian uint64 bytes as an array (a fresh, writable copy)."""
    if len(content) % 8:
        raise ValueError(f"binary id payload of {len(content)} bytes is not a multiple of 8")
    return np.frombuffer(content, dtype="<u8").astype(np.uint64)


def encode_uint64(ids: IdArray) -> bytes:
    """Ids as raw little-endian uint64 bytes."""
    return np.ascontiguousarray(ids, dtype="<u8").tobytes()
