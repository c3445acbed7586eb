"""A Dask LocalCluster of two worker processes, shared by the tests of this folder.

The workers talk HTTP to the test session's dafserver (loopback) and read its volumes on disk,
as workers of a real cluster would read cloud storage.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client, LocalCluster

WORKER_MEMORY_LIMIT = "1.5GiB"
"""Each worker's memory limit: the nanny restarts a worker above it, which fails the task."""


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit=WORKER_MEMORY_LIMIT,
            dashboard_address=None,
            # No dashboard; the scheduler's HTTP routes on a free port: the default 8787 may be
            # taken by another cluster, and distributed then warns (an error in the tests).
            scheduler_kwargs={"dashboard_address": ":0"},
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far: ``VmHWM``, the high-water mark of its own
    address space. Not ``getrusage``'s ``ru_maxrss``, which a process started by fork and exec
    inherits from its parent (a worker started from a large test process would report that
    process's peak, and grow by nothing)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # reported in kB
    raise RuntimeError("no VmHWM in /proc/self/status (this check needs Linux)")
