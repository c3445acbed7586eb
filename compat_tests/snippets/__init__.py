"""A corpus of notebook-style snippets, each run with CAVEclient 8.2.1 and with dafclient against
the same dafserver; ``test_snippets.py`` compares what they return.

A snippet is a small function written the way CAVEclient's documentation (or the original
client's) writes notebook code. It takes a client and the deployment's :class:`Fixtures` and
returns a value; :func:`plain` turns both sides' values into plain Python before comparing.
``touches`` names the CAVEclient members the snippet calls (``sub_client.member``); the test
checks every name is a real CAVEclient 8.2.1 member and reports how many the corpus covers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Fixtures:
    """Facts of the deployment a snippet needs; ``side`` is ``"cave"`` or ``"daf"`` (for names
    that must differ between the two runs, like a new table's)."""

    side: str
    server: str
    token: str
    datastack: str
    supervoxels: list[int]
    merge_operation: int
    merged_supervoxels: tuple[int, int]
    merge_coords: list[list[int]]
    base_resolution: list[float]
    tmp: Path
    make: Callable[..., Any]
    """This side's ``CAVEclient`` constructor (CAVEclient's own, or dafclient's)."""


Snippet = Callable[[Any, Fixtures], Any]


@dataclass(frozen=True)
class Entry:
    name: str
    run: Snippet
    touches: tuple[str, ...]
    style: str
    cave_run: Snippet | None
    """For the original client's style: CAVEclient's way of doing the same (else ``run``)."""


SNIPPETS: list[Entry] = []


def snippet(
    *touches: str, style: str = "caveclient", cave: Snippet | None = None
) -> Callable[[Snippet], Snippet]:
    """Register a snippet that calls the CAVEclient members ``touches``."""

    def register(run: Snippet) -> Snippet:
        SNIPPETS.append(Entry(run.__name__, run, touches, style, cave))
        return run

    return register


def plain(value: Any) -> Any:
    """``value`` as plain Python, the same for equal answers of both clients.

    Only representation is normalised: numpy scalars and arrays become ints, floats and lists
    (CAVEclient answers lists in places where dafclient answers arrays); tuples become lists;
    records (dicts, or dafclient's typed records, which answer ``keys()`` and ``[]``) become
    dicts, with their keys' types kept; datetimes become UTC ISO strings (CAVEclient's naive
    datetimes are UTC); DataFrames become their columns and rows. Key types, values, order of
    lists and None are compared as they are.
    """
    if isinstance(value, (str, bytes)):
        return str(value) if isinstance(value, str) else value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if value is None:
        return None
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        return stamp.isoformat()
    if isinstance(value, np.datetime64):
        return plain(pd.Timestamp(value))
    if isinstance(value, pd.DataFrame):
        return {
            "columns": [str(c) for c in value.columns],
            "rows": [plain(list(row)) for row in value.itertuples(index=False)],
        }
    if isinstance(value, Mapping) or (hasattr(value, "keys") and hasattr(value, "__getitem__")):
        # keys(): dafclient's records answer keys() and [] but are not iterable as mappings.
        return {plain(k): plain(value[k]) for k in value.keys()}  # noqa: SIM118
    if isinstance(value, (list, tuple, np.ndarray, set, frozenset)):
        items = list(value)
        if isinstance(value, (set, frozenset)):
            items = sorted(items)
        return [plain(v) for v in items]
    raise TypeError(f"no plain form for {type(value).__name__}")


# Importing the modules registers their snippets.
from . import (  # noqa: E402
    annotation,
    auth,
    chunkedgraph,
    framework,
    info,
    l2cache,
    materialize,
    original,
    schema,
    state,
)

__all__ = [
    "SNIPPETS",
    "Entry",
    "Fixtures",
    "annotation",
    "auth",
    "chunkedgraph",
    "framework",
    "info",
    "l2cache",
    "materialize",
    "original",
    "plain",
    "schema",
    "snippet",
    "state",
]
