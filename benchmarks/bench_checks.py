"""Answer comparison and goal arithmetic shared by the workloads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from bench_registry import Verdict


def same_arrays(a: Any, b: Any) -> bool:
    """Equal answers: arrays (or tuples of arrays) with the same values, or equal scalars."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same_arrays(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        x, y = np.asarray(a), np.asarray(b)
        return x.shape == y.shape and bool(np.array_equal(x.astype(np.uint64), y.astype(np.uint64)))
    return bool(a == b)


def both(*parts: tuple[str, bool | None]) -> Verdict:
    """One verdict from several sub-goals: MISS if any missed, n/a if any undecidable."""
    text = "; ".join(f"{label} {'✓' if ok else '✗' if ok is False else '?'}" for label, ok in parts)
    oks = [ok for _, ok in parts]
    passed = False if False in oks else (None if None in oks else True)
    return Verdict(text, passed)


def ratio(seconds: Mapping[str, float], a: str, b: str) -> float | None:
    """``seconds[a] / seconds[b]``, or None when either did not run."""
    if a not in seconds or b not in seconds or seconds[b] <= 0:
        return None
    return seconds[a] / seconds[b]
