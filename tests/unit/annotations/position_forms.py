"""The same positions in every form a position column comes in (shared by the reader tests and
the allocation probe)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa


def coordinates(n: int, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).integers(2, 100_000, size=(n, 3))


def arrow_series(array: pa.Array | pa.ChunkedArray) -> pd.Series:
    return pd.Series(pd.arrays.ArrowExtensionArray(array))


def forms(xyz: np.ndarray) -> dict[str, pd.Series]:
    """The same positions in every form a position column comes in."""
    rows = xyz.tolist()
    floats = xyz.astype(np.float64)
    fixed = pa.FixedSizeListArray.from_arrays(pa.array(floats.ravel()), 3)
    half = len(xyz) // 2
    return {
        "lists": pd.Series(rows, dtype=object),
        "tuples": pd.Series([tuple(r) for r in rows], dtype=object),
        "int arrays": pd.Series(list(xyz), dtype=object),
        "float arrays": pd.Series(list(floats), dtype=object),
        "arrow fixed_size_list<double>": arrow_series(fixed),
        "arrow fixed_size_list<int64>": arrow_series(
            pa.FixedSizeListArray.from_arrays(pa.array(xyz.ravel()), 3)
        ),
        "arrow list<int64>": arrow_series(pa.array(rows, type=pa.list_(pa.int64()))),
        "arrow large_list<double>": arrow_series(
            pa.array(floats.tolist(), type=pa.large_list(pa.float64()))
        ),
        "arrow chunked, sliced": arrow_series(
            pa.chunked_array([fixed.slice(0, half), fixed.slice(half)])
        ),
    }
