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
MANY_PARTITION_ROWS = 50_000
"""The same points in 20 partitions. The job shuffles points by chunk, so each chunk is read once
whatever the partition count; partition by partition, every partition read every chunk its random
points touched (20 partitions took 8.6× the in-memory time).

Medium dataset, 2 cores: in memory 0.50 s; Dask with 4 partitions 1.05 s (2.1×), with 20
partitions 1.50 s (3.0×), since compressed_segmentation chunks are read at their points (before:
in memory 0.72-1.94 s, Dask 2.7-4.2 s and 4.1-6.8 s; with every point column turned into Python
lists, 4.9 s in memory and 5.9-10.2 s on Dask). What is left is Dask's fixed cost, not the
lookup: two shuffles (by chunk, and back to the partitions), a few tasks per partition, the
scheduler and two worker processes on the two cores the caller and dafserver use too."""
WORKERS = 2
MEMORY_LIMIT = "2GiB"

Ids = npt.NDArray[np.uint64]
IN_MEMORY = "dafclient lookup_dataframe, pandas (one process)"
ON_DASK = f"dafclient lookup_dataframe, Dask ({WORKERS} worker processes)"
ON_DASK_MANY = f"dafclient lookup_dataframe, Dask ({WORKERS} worker processes, 20 partitions)"


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
    """The worker's peak resident memory since the last call (``VmHWM``, its own address space's
    high-water mark, reset after reading through ``/proc/self/clear_refs``; ``ru_maxrss`` would
    include the peak of the process that started it and never goes down)."""
    from pathlib import Path

    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
            Path("/proc/self/clear_refs").write_text("5")
            return peak
    return 0


def _on_dask(target: Target, stack: ExitStack, lookup: Any, frame: Any) -> list[System]:
    if not (target.installed("dask") and target.installed("distributed")):
        missing = "dask not installed (dafclient[dask])"
        return [System(ON_DASK, None, missing=missing), System(ON_DASK_MANY, None, missing=missing)]
    import dask.dataframe as dd
    from distributed import Client, LocalCluster, wait

    cluster = stack.enter_context(
        LocalCluster(
            n_workers=WORKERS,
            threads_per_worker=1,
            processes=True,
            memory_limit=MEMORY_LIMIT,
            dashboard_address=None,
            # No dashboard; the scheduler's HTTP routes on a free port: the default 8787 may be
            # taken by another cluster, and distributed then warns (an error in the tests).
            scheduler_kwargs={"dashboard_address": ":0"},
        )
    )
    client = stack.enter_context(Client(cluster))

    def system(name: str, rows: int) -> System:
        parts = max(1, len(frame) // rows)
        points = client.persist(dd.from_pandas(frame, npartitions=parts))
        wait(points)
        client.run(_peak_rss)  # from here on, each run's peak

        def run() -> Outcome:
            found = lookup.lookup_dataframe("pt", points)
            ids = client.compute(found[["pt_supervoxel_id", "pt_root_id"]], sync=True)
            peaks = client.run(_peak_rss)
            metrics = {"worker peak RSS MiB": max(peaks.values()) / 2**20}
            return Outcome(_ids(ids), metrics=metrics)

        return System(name, run, note=f"{parts} partitions held by the cluster; ids gathered back")

    return [system(ON_DASK, PARTITION_ROWS), system(ON_DASK_MANY, MANY_PARTITION_ROWS)]


def _goal(m: Measured) -> dict[str, Verdict]:
    verdicts = {}
    for name in (ON_DASK, ON_DASK_MANY):
        over = ratio(m.seconds, name, IN_MEMORY)
        text = "n/a" if over is None else f"{over:.2f}×"
        verdicts[name] = Verdict(
            f"≤1.5× the in-memory time on {WORKERS} workers sharing the machine ({text})",
            None if over is None else over <= 1.5,
        )
    return verdicts


def build(target: Target, stack: ExitStack) -> Workload:
    pts = random_points(target, target.count(POINTS))
    frame = _frame(pts)
    client = daf_client(target, stack)
    lookup = client.make_lookup_client(timestamp=target.timestamp, progress=False)
    return Workload(
        name=NAME,
        description=f"{len(pts):,} points of a table → supervoxel + root, pandas vs Dask",
        systems=[_in_memory(lookup, frame), *_on_dask(target, stack, lookup, frame)],
        reference=IN_MEMORY,
        goal=_goal,
        same=same_arrays,
    )
