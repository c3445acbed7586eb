"""materialize_roots: the synapses onto 1,000 root ids (``filter_in_dict``) at a version.

dafclient's ``query_table`` against CAVEclient's and the floor (raw httpx + pyarrow decode). The
table is the million-row synapse table of ``bench_big_table``; the roots are its 1,000 (or fewer)
most frequent ``post_pt_root_id``.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import numpy as np
from bench_big_table import big_synapse_table
from bench_clients import cave_client, daf_client
from bench_registry import System, Workload
from bench_target import Target
from workload_materialize_table import raw_query, same_frames, speed_goal

NAME = "materialize_roots"
ROOTS = 1_000
DAF, CAVE, RAW = (
    "dafclient query_table (filter_in_dict)",
    "CAVEclient query_table (filter_in_dict)",
    "raw httpx + pyarrow decode (no merge)",
)


def build(target: Target, stack: ExitStack) -> Workload:
    daf = daf_client(target, stack)
    table, version = big_synapse_table(target, daf)
    posts = daf.materialize.query_table(
        table, materialization_version=version, select_columns=["id", "post_pt_root_id"]
    )["post_pt_root_id"]
    roots = posts.value_counts().index.to_numpy(dtype=np.uint64)[: target.count(ROOTS)]
    filters = {"post_pt_root_id": [int(r) for r in roots]}

    def run_daf() -> Any:
        return daf.materialize.query_table(
            table, materialization_version=version, filter_in_dict={"post_pt_root_id": roots}
        )

    body = {"filter_in_dict": {table: filters}}
    systems = [
        System(RAW, raw_query(target, stack, version, table, body), note="the floor"),
        System(DAF, run_daf),
    ]
    if target.installed("caveclient"):
        cave = cave_client(target)

        def run_cave() -> Any:
            return cave.materialize.query_table(
                table, materialization_version=version, filter_in_dict=filters
            )

        systems.append(System(CAVE, run_cave))
    else:
        systems.append(System(CAVE, None, missing="not installed"))
    return Workload(
        name=NAME,
        description=f"{table} at version {version}, synapses onto {len(roots):,} roots",
        systems=systems,
        reference=RAW,
        goal=lambda m: speed_goal(m, DAF, CAVE, RAW),
        same=same_frames,
    )
