"""Run in a fresh interpreter: import a client, create it, look up one root; print the timings.

Usage: ``python init_probe.py {dafclient|caveclient} BASE_URL DATASTACK SUPERVOXEL_ID EPOCH``
with the token in ``$BENCH_TOKEN``. Prints one JSON object: ``import_s``, ``init_s`` (construct
+ first call), ``requests`` (HTTP requests on the wire, counted at httpx's and urllib3's
transports) and ``answer`` (the root id).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


def _count_requests() -> list[int]:
    """Count every request sent by httpx or urllib3 (requests) from now on."""
    import httpx
    import urllib3.connectionpool

    counter = [0]

    def counting(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counter[0] += 1
            return original(*args, **kwargs)

        return wrapper

    httpx.HTTPTransport.handle_request = counting(httpx.HTTPTransport.handle_request)  # type: ignore[method-assign]
    pool = urllib3.connectionpool.HTTPConnectionPool
    pool._make_request = counting(pool._make_request)  # type: ignore[method-assign]
    return counter


def main(system: str, base_url: str, datastack: str, supervoxel: int, epoch: float) -> None:
    token = os.environ["BENCH_TOKEN"]
    when = datetime.fromtimestamp(epoch, UTC)
    start = time.perf_counter()
    if system == "dafclient":
        from dafclient import FrameworkClient

        imported = time.perf_counter()
        counter = _count_requests()
        began = time.perf_counter()
        daf = FrameworkClient(datastack, server_address=base_url, auth_token=token)
        answer = int(daf.chunkedgraph.get_roots([supervoxel], timestamp=when)[0])
    elif system == "caveclient":
        from caveclient import CAVEclient

        imported = time.perf_counter()
        counter = _count_requests()
        began = time.perf_counter()
        cave = CAVEclient(
            datastack, server_address=base_url, auth_token=token, write_server_cache=False
        )
        answer = int(cave.chunkedgraph.get_roots([supervoxel], timestamp=when)[0])
    else:
        raise SystemExit(f"unknown system {system!r}")
    done = time.perf_counter()
    result = {
        "import_s": imported - start,
        "init_s": done - began,
        "requests": counter[0],
        "answer": answer,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
