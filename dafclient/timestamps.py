"""Timestamps in and out: every DAF service speaks UTC, as float unix seconds on the wire.

Accepted as input everywhere a timestamp is taken: ``datetime`` (naive means UTC; aware is
converted), ``pandas.Timestamp``, ``numpy.datetime64``, or a number of unix seconds. Nothing is
ever interpreted in the machine's local time zone.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from dafclient.errors import InputError

TimestampLike: TypeAlias = datetime | pd.Timestamp | np.datetime64 | float | int
"""Anything dafclient accepts as a point in time."""


def to_epoch_seconds(value: TimestampLike | Any, *, name: str = "timestamp") -> float:
    """Unix seconds (UTC) for ``value``; raises :class:`InputError` naming ``name`` if invalid."""
    if isinstance(value, bool):
        raise InputError(f"{name}: expected a datetime or unix seconds, got a bool")
    if value is pd.NaT:
        raise InputError(f"{name}: NaT is not a point in time")
    if isinstance(value, pd.Timestamp):
        if pd.isna(value):
            raise InputError(f"{name}: NaT is not a point in time")
        stamp = value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")
        return float(stamp.value) / 1e9
    if isinstance(value, datetime):
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.timestamp()
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise InputError(f"{name}: NaT is not a point in time")
        return float(value.astype("datetime64[ns]").astype(np.int64)) / 1e9
    if isinstance(value, (int, float, np.integer, np.floating)):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise InputError(f"{name}: {value!r} is not a finite number of seconds")
        if seconds < 0 or seconds > 253402300799:
            raise InputError(f"{name}: {value!r} is outside the years 1970-9999")
        return seconds
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
