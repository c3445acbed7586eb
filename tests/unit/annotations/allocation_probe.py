"""What the position readers allocate, measured in a fresh interpreter.

``tracemalloc`` counts every thread's allocations, and a test process is never quiet: a dafserver
thread from an earlier test keeps ticking, coverage records new lines. So the tests run this module
as a script (no coverage, no other threads) and assert on the JSON it prints.
"""

from __future__ import annotations

import gc
import json
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa

from dafclient.annotations import positions
from dafclient.annotations.columnar import validate_frame
from dafclient.annotations.layout import snapshot_layout
from dafclient.annotations.positions import axis_positions, read_positions
from tests.unit.annotations.position_forms import coordinates, forms

BLOCK = 2_048
ROWS = 16 * BLOCK
READ_FORMS = ("lists", "tuples", "int arrays", "float arrays", "arrow chunked, sliced")
POINTS = ("pre_pt", "post_pt", "ctr_pt")


@contextmanager
def arrow_pool_peak() -> Iterator[pa.MemoryPool]:
    """The default Arrow memory pool replaced by a proxy that counts this block's peak."""
    previous = pa.default_memory_pool()
    proxy = pa.proxy_memory_pool(previous)
    pa.set_memory_pool(proxy)
    try:
        yield proxy
    finally:
        pa.set_memory_pool(previous)


def traced_peak(read: Callable[[], Any]) -> tuple[Any, int]:
    """What ``read()`` returns and the most memory Python and numpy held meanwhile (the garbage
    collector paused, so no earlier garbage is freed or counted mid-read)."""
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        out = read()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        gc.enable()
    return out, peak - start


def read_form(form: str) -> dict[str, int]:
    series = forms(coordinates(ROWS))[form]
    with mock.patch.object(positions, "BLOCK", BLOCK), arrow_pool_peak() as pool:
        read, peak = traced_peak(lambda: read_positions(series))
    return {
        "peak": peak,
        "answer": sum(part.nbytes for part in read),
        "arrow_pool_peak": pool.max_memory(),
        "block_points": 24 * BLOCK,
    }


def read_axes() -> dict[str, int]:
    xyz = coordinates(ROWS)
    axes = [pd.Series(xyz[:, i]) for i in range(3)]
    read, peak = traced_peak(lambda: axis_positions(axes))
    return {"peak": peak, "answer": sum(part.nbytes for part in read)}


def validate_axis_frame() -> dict[str, int]:
    xyz = coordinates(ROWS)
    data = {f"{p}_position_{a}": xyz[:, i] for p in POINTS for i, a in enumerate("xyz")}
    frame = pd.DataFrame({**data, "size": np.linspace(1, 2, ROWS)})
    layout = snapshot_layout("synapse")
    table, peak = traced_peak(lambda: validate_frame(layout, frame))
    answer = sum(c.values.nbytes + c.null.nbytes for c in table.columns.values())
    return {"peak": peak, "answer": answer}


def measure() -> dict[str, dict[str, int]]:
    """Every measurement, each taken after one unmeasured warm-up run of the same read."""
    cases: dict[str, Callable[[], dict[str, int]]] = {
        **{f"read {form}": (lambda form=form: read_form(form)) for form in READ_FORMS},
        "axis read": read_axes,
        "axis frame validation": validate_axis_frame,
    }
    results = {}
    for name, case in cases.items():
        case()
        results[name] = case()
    return results


if __name__ == "__main__":
    json.dump(measure(), sys.stdout)
