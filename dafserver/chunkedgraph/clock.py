"""Timestamp conversions: the engine keeps integer milliseconds since the unix epoch.

PyChunkedGraph turns a float unix timestamp into a UTC ``datetime`` and truncates it to
milliseconds (the BigTable cell resolution); ``to_ms`` does exactly the same.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def now_ms() -> int:
    """The current time in milliseconds."""
    return time.time_ns() // 1_000_000


def to_ms(timestamp: float | None) -> int:
    """Milliseconds for a float unix timestamp (``None`` = now), truncated as PyChunkedGraph does."""
    if timestamp is None:
        return now_ms()
    moment = datetime.fromtimestamp(float(timestamp), tz=UTC)
    return (moment - _EPOCH) // _ONE_MS


def to_seconds(ms: int) -> float:
    """Float unix seconds for a millisecond timestamp."""
    return ms / 1000.0


def to_datetime(ms: int) -> datetime:
    """A timezone-aware UTC ``datetime`` for a millisecond timestamp."""
    return _EPOCH + timedelta(milliseconds=ms)
