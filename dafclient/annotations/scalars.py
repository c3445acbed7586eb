"""Single values as the validator reads them: what counts as null, what counts as a number."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def is_null_scalar(value: Any) -> bool:
    """``None``, ``pd.NA``, ``pd.NaT`` or a float NaN."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def float_scalar(value: Any) -> float:
    """A finite number (int, float, numpy number or numeric string) as a float; booleans and
    anything else raise ``TypeError``, NaN and infinities ``ValueError``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number, str)):
        raise TypeError("not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not finite")
    return number
