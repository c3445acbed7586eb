"""A materialized synapse table of a million rows, made once per data folder.

The synthetic dataset's own synapse table has ~120,000 rows (medium); the materialization
workloads query a table ten times that size. It is an ordinary annotation table (synapses at
random points inside the volume, posted with ``bulk_post``) frozen into a new version with the
superadmin route, so its ``_supervoxel_id``/``_root_id`` columns are read from the segmentation as
for any other table. A later run on the same data folder finds the table and its version again.

Production answers at most ``QUERY_LIMIT_SIZE`` rows per query (200,000 by default, a deployment
setting); the benchmark server is started with a cap above this table's size
(``dafclient serve --query-limit``, see ``bench_server.QUERY_LIMIT``), so one query reads it whole.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from bench_annotations import POINTS
from bench_inputs import random_points
from bench_raw import raw_client
from bench_target import Target

BIG_ROWS = 1_000_000
SEED = 20261204


def big_synapse_frame(target: Target, n: int) -> pd.DataFrame:
    """``n`` synapses with every point inside the volume (mip 0 voxels), ``size`` random."""
    columns: dict[str, Any] = {}
    for offset, point in enumerate(POINTS):
        xyz = random_points(target, n, seed=SEED + offset).astype(np.int64)
        for axis, values in zip("xyz", xyz.T, strict=True):
            columns[f"{point}_position_{axis}"] = values
    columns["size"] = np.random.default_rng(SEED).random(n).round(6)
    return pd.DataFrame(columns)


def _version_with(daf: Any, table: str) -> int | None:
    for version in sorted(daf.materialize.get_versions(), reverse=True):
        if table in daf.materialize.get_tables(version=version):
            return int(version)
    return None


def _freeze(target: Target) -> None:
    with raw_client(target) as http:
        response = http.post(
            f"{target.base_url}/materialize/api/v2/materialize/run/create_frozen"
            f"/datastack/{target.datastack}",
            params={"days_to_expire": 3650, "merge_tables": True},
        )
        response.raise_for_status()


def big_synapse_table(target: Target, daf: Any) -> tuple[str, int]:
    """The name of a synapse table of ``target.count(BIG_ROWS)`` rows and a version holding it."""
    n = target.count(BIG_ROWS)
    table = f"bench_synapses_{n}"
    if table not in daf.annotation.get_tables():
        resolution = tuple(float(r) for r in daf.info.viewer_resolution())
        daf.annotation.create_table(table, "synapse", voxel_resolution=resolution)
    count = daf.annotation.get_annotation_count(table)
    if count == 0:
        stage = daf.annotation.stage(table)
        stage.add_dataframe(big_synapse_frame(target, n))
        daf.annotation.bulk_post(table, stage, progress=False).raise_for_incomplete()
    elif count != n:
        raise RuntimeError(
            f"{table} holds {count:,} rows, not {n:,} (an interrupted setup?): "
            "remove the benchmark data folder and run again"
        )
    version = _version_with(daf, table)
    if version is None:
        _freeze(target)
        version = _version_with(daf, table)
    if version is None:
        raise RuntimeError(f"no materialization version holds {table} after freezing")
    return table, version
