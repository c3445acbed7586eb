"""Timestamps in and out: every DAF service speaks UTC, as float unix seconds on the wire.

Accepted as input everywhere a timestamp is taken: ``datetime`` (naive means UTC; aware is
converted), ``pandas.Timestamp``, ``numpy.datetime64``, or a number of unix seconds. Nothing is
ever interpreted in the machine's local time zone.
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from dafclient.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

TimestampLike: TypeAlias = "datetime | pd.Timestamp | np.datetime64 | float | int"
"""Anything dafclient accepts as a point in time."""


def to_epoch_seconds(value: TimestampLike | Any, *, name: str = "timestamp") -> float:
    """Unix seconds (UTC) for ``value``; raises :class:`InputError` naming ``name`` if invalid.

    Every kind of input must lie within the years 1970-9999.
    """
    return _in_range(_seconds(value, name), value, name)


def _in_range(seconds: float, value: Any, name: str) -> float:
    if not math.isfinite(seconds):
        raise InputError(f"{name}: {value!r:.80} is not a finite number of seconds")
    if seconds < 0 or seconds >= _END_SECONDS:
        raise InputError(f"{name}: {value!r:.80} is outside the years 1970-9999")
    return seconds


_END_SECONDS = 253402300800.0
"""The start of the year 10000."""


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name}: expected a datetime or unix seconds, got a bool")
    # A pandas value can only exist once pandas is imported; dafclient does not import it here.
    pandas: Any = sys.modules.get("pandas")
    if pandas is not None and value is pandas.NaT:
        raise InputError(f"{name}: NaT is not a point in time")
    if pandas is not None and isinstance(value, pandas.Timestamp):
        if pandas.isna(value):
            raise InputError(f"{name}: NaT is not a point in time")
        stamp = value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")
        return float(stamp.value) / 1e9
    if isinstance(value, datetime):
        try:
            aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:
            raise InputError(f"{name}: {value!r:.80} is outside the years 1970-9999") from None
        return aware.timestamp()
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise InputError(f"{name}: NaT is not a point in time")
        year = int(value.astype("datetime64[Y]").astype(np.int64)) + 1970
        if not 1970 <= year <= 9999:
            raise InputError(f"{name}: {value!r:.80} is outside the years 1970-9999")
        return float((value - np.datetime64(0, "s")) / np.timedelta64(1, "s"))
    if isinstance(value, (int, float, np.integer, np.floating)):
        try:
            return float(value)
        except OverflowError:
            raise InputError(f"{name}: {value!r:.80} is outside the years 1970-9999") from None
    raise InputError(
        f"{name}: expected a datetime, pandas Timestamp, numpy datetime64 or unix seconds, "
        f"got {type(value).__name__}"
    )


def optional_epoch(value: TimestampLike | None, *, name: str = "timestamp") -> float | None:
    """:func:`to_epoch_seconds`, passing ``None`` through."""
    return None if value is None else to_epoch_seconds(value, name=name)


def from_epoch_seconds(seconds: float) -> datetime:
    """A timezone-aware UTC datetime for unix ``seconds``."""
    return datetime.fromtimestamp(seconds, UTC)


def parse_server_datetime(text: str) -> datetime:
    """A UTC datetime from the services' text forms (``str(datetime)``, ISO 8601, with or
    without an offset; a missing offset means UTC)."""
    parsed = datetime.fromisoformat(text.strip())
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
