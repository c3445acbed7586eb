"""A Dask LocalCluster of two worker processes, shared by the tests of this folder.

The workers talk HTTP to the test session's dafserver (loopback) and read its volumes on disk,
as workers of a real cluster would read cloud storage.
"""

from __future__ import annotations

import resource
from collections.abc import Iterator

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
            dashboard_address=":0",  # any free port: 8787 may be taken
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
