"""Voxel resolutions (nanometres per voxel along x, y, z) given by users, checked once."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dafclient.errors import InputError


def checked_resolution(
    value: Sequence[float], name: str = "desired_resolution"
) -> tuple[float, float, float]:
    """``value`` as three positive finite floats; :class:`InputError` naming ``name`` otherwise."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = np.empty(0)
    if (
        array.shape != (3,)
        or any(isinstance(v, bool) for v in value)
        or not np.all(np.isfinite(array))
        or np.any(array <= 0)
    ):
        raise InputError(f"{name}: expected 3 positive numbers (x, y, z), got {value!r}")
    x, y, z = (float(v) for v in array)
    return x, y, z
