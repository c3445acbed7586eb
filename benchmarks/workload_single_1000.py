"""single_1000: 1,000 sequential one-id root look-ups (``node/{id}/root``).

dafclient's ``chunkedgraph.get_root_id`` against the same route in a plain httpx loop on one
reused connection (and CAVEclient's ``get_root_id`` when it is installed, for information).
"""

from __future__ import annotations

from contextlib import ExitStack

import numpy as np
from bench_checks import both, ratio, same_arrays
from bench_clients import cave_client, daf_client
from bench_inputs import supervoxel_ids
from bench_raw import raw_client, raw_root
from bench_registry import Measured, System, Verdict, Workload
from bench_target import Target

NAME = "single_1000"
LOOKUPS = 1_000
DAF, CAVE, RAW = "dafclient get_root_id", "CAVEclient get_root_id", "raw httpx loop"


def build(target: Target, stack: ExitStack) -> Workload:

    ids, note = supervoxel_ids(target, target.count(LOOKUPS), seed=7)
    id_list = [int(i) for i in ids]
    daf = daf_client(target, stack)
    http = stack.enter_context(raw_client(target))

    def run_daf() -> np.ndarray:
        get = daf.chunkedgraph.get_root_id
        return np.array([get(i, timestamp=target.timestamp) for i in id_list], dtype=np.uint64)

    def run_raw() -> np.ndarray:
        return np.array([raw_root(http, target, i) for i in id_list], dtype=np.uint64)

    systems = [System(DAF, run_daf), System(RAW, run_raw, note="same route, one connection")]
    if target.installed("caveclient"):
        cave = cave_client(target)

        def run_cave() -> np.ndarray:
            get = cave.chunkedgraph.get_root_id
            return np.array([get(i, timestamp=target.timestamp) for i in id_list], dtype=np.uint64)

        systems.append(System(CAVE, run_cave, note="informational"))
    else:
        systems.append(System(CAVE, None, missing="not installed"))

    def goal(m: Measured) -> dict[str, Verdict]:
        r = ratio(m.seconds, DAF, RAW)
        text = "n/a" if r is None else f"{r:.2f}×"
        return {DAF: both((f"≤1.2× raw ({text})", None if r is None else r <= 1.2))}

    return Workload(
        name=NAME,
        description=f"{note}, one request each, sequential",
        systems=systems,
        reference=RAW,
        goal=goal,
        same=same_arrays,
    )
