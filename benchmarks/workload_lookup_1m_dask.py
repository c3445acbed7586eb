"""lookup_1m_dask: supervoxel and root ids under 1M points of a table, in memory and on Dask.

The same ``lookup_dataframe`` call on a pandas DataFrame (one process) and on a Dask DataFrame
held by a ``LocalCluster`` of two worker processes (the partitions are on the workers before the
clock starts, as a table read by the cluster would be; the ids come back to the caller). The
workers make their own clients and read the volume themselves. Needs ``dafclient[dask]``.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import numpy as np
import numpy.typing as npt
from bench_checks import ratio, same_arrays
from bench_clients import daf_client
from bench_inputs import random_points
from bench_registry import Measured, Outcome, System, Verdict, Workload
from bench_target import Target

NAME = "lookup_1m_dask"
POINTS = 1_000_000
PARTITION_ROWS = 250_000
"""Each partition reads every chunk its points touch: random points over the whole volume read
the same chunks once per partition. Measured on the medium dataset, 2 shared cores: 20 partitions
of 50k took 8.6× the in-memory time, 4 of 250k 4.2× (the work grows with the partition count and
two workers on two busy cores run little in parallel)."""
WORKERS = 2
MEMORY_LIMIT = "2GiB"

Ids = npt.NDArray[np.uint64]
IN_MEMORY = "dafclient lookup_dataframe, pandas (one process)"
ON_DASK = f"dafclient lookup_dataframe, Dask ({WORKERS} worker processes)"


def _frame(pts: npt.NDArray[np.float64]) -> Any:
    import pandas as pd
    import pyarrow as pa

    kind = pa.list_(pa.int64(), 3)
    column = pa.array(list(pts.astype(np.int64)), type=kind)
    return pd.DataFrame({"pt": pd.Series(column, dtype=pd.ArrowDtype(kind))})


def _ids(frame: Any) -> tuple[Ids, Ids]:
    return frame["pt_supervoxel_id"].to_numpy(), frame["pt_root_id"].to_numpy()


def _in_memory(lookup: Any, frame: Any) -> System:
    def run() -> tuple[Ids, Ids]:
        return _ids(lookup.lookup_dataframe("pt", frame))

    return System(IN_MEMORY, run)


def _peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _on_dask(target: Target, stack: ExitStack, lookup: Any, frame: Any) -> System:
    if not (target.installed("dask") and target.installed("distributed")):
        return System(ON_DASK, None, missing="dask not installed (dafclient[dask])")
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    cluster = stack.enter_context(
        LocalCluster(
            n_workers=WORKERS,
            threads_per_worker=1,
            processes=True,
            memory_limit=MEMORY_LIMIT,
            dashboard_address=":0",  # any free port: 8787 may be taken
        )
    )
    client = stack.enter_context(Client(cluster))
    parts = max(1, len(frame) // PARTITION_ROWS)
    points = client.persist(dd.from_pandas(frame, npartitions=parts))

    def run() -> Outcome:
        found = lookup.lookup_dataframe("pt", points)
        ids = client.compute(found[["pt_supervoxel_id", "pt_root_id"]], sync=True)
        peaks = client.run(_peak_rss)
        return Outcome(_ids(ids), metrics={"worker peak RSS MiB": max(peaks.values()) / 2**20})

    return System(ON_DASK, run, note=f"{parts} partitions held by the cluster; ids gathered back")


def _goal(m: Measured) -> dict[str, Verdict]:
    over = ratio(m.seconds, ON_DASK, IN_MEMORY)
    text = "n/a" if over is None else f"{over:.2f}×"
    return {
        ON_DASK: Verdict(
            f"≤1.5× the in-memory time on {WORKERS} workers sharing the machine ({text})",
            None if over is None else over <= 1.5,
        )
    }


def build(target: Target, stack: ExitStack) -> Workload:
    pts = random_points(target, target.count(POINTS))
    frame = _frame(pts)
    client = daf_client(target, stack)
    lookup = client.make_lookup_client(timestamp=target.timestamp, progress=False)
    return Workload(
        name=NAME,
        description=f"{len(pts):,} points of a table → supervoxel + root, pandas vs Dask",
        systems=[_in_memory(lookup, frame), _on_dask(target, stack, lookup, frame)],
        reference=IN_MEMORY,
        goal=_goal,
        same=same_arrays,
    )
