"""Inputs and read-back shared by the annotation workloads: synapse tables and their contents."""

from __future__ import annotations

import hashlib
import itertools
import json

import numpy as np
import pandas as pd
from bench_target import Target

POINTS = ("pre_pt", "ctr_pt", "post_pt")
_tables = itertools.count()


def synapse_frame(
    n: int, *, split: bool, seed: int = 20261126, form: str = "lists"
) -> pd.DataFrame:
    """``n`` synapses: ``{point}_position`` columns of Python lists (the form CAVEclient's stage
    takes), of numpy arrays (``form="arrays"``) or Arrow fixed-size lists (``form="arrow"``, as a
    materialized query returns them), or ``{point}_position_x/_y/_z`` columns with ``split``;
    plus ``size``."""
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for point in POINTS:
        xyz = rng.integers(0, 100_000, size=(n, 3))
        if split:
            for axis, values in zip("xyz", xyz.T, strict=True):
                columns[f"{point}_position_{axis}"] = values
        elif form == "arrays":
            columns[f"{point}_position"] = pd.Series(list(xyz), dtype=object)
        elif form == "arrow":
            array = pa.FixedSizeListArray.from_arrays(pa.array(xyz.ravel()), 3)
            columns[f"{point}_position"] = pd.Series(pd.arrays.ArrowExtensionArray(array))
        else:
            columns[f"{point}_position"] = xyz.tolist()
    columns["size"] = rng.random(n).round(6)
    return pd.DataFrame(columns)


def new_table(target: Target, client: object, label: str) -> str:
    """A fresh synapse table at the datastack's resolution (made outside any timing)."""
    name = f"bench_{label}_{next(_tables)}_{np.random.default_rng().integers(1 << 30)}"
    client.annotation.create_table(name, "synapse", voxel_resolution=(4, 4, 40))  # type: ignore[attr-defined]
    return name


def table_digest(client: object, table: str, ids: list[int]) -> tuple[int, str]:
    """Row count and a digest of the rows' contents (order-free): equal digests, equal tables."""
    rows = client.annotation.get_annotation(table, ids)  # type: ignore[attr-defined]
    keys = sorted(
        json.dumps([r["pre_pt_position"], r["ctr_pt_position"], r["post_pt_position"], r["size"]])
        for r in rows
    )
    total = client.annotation.get_annotation_count(table)  # type: ignore[attr-defined]
    return total, hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
