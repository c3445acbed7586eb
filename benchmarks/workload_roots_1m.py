"""roots_1m: roots of 1M supervoxel ids at one timestamp.

dafclient's ``chunkedgraph.get_roots`` against CAVEclient's and against one raw ``roots_binary``
request with httpx.
"""

from __future__ import annotations

from contextlib import ExitStack

import numpy as np
import numpy.typing as npt
from bench_checks import both, ratio, same_arrays
from bench_clients import cave_client, daf_client
from bench_inputs import supervoxel_ids
from bench_raw import raw_client, raw_roots
from bench_registry import Measured, System, Verdict, Workload
from bench_target import Target

NAME = "roots_1m"
IDS = 1_000_000
DAF, CAVE, RAW = "dafclient get_roots", "CAVEclient get_roots", "raw httpx roots_binary"
RAW_SAME = "raw httpx, dafclient's requests"
BATCH = 250_000
"""dafclient's ids per request (``dafclient.services.chunkedgraph.ROOTS_BATCH``)."""

Ids = npt.NDArray[np.uint64]


def _dafclient(target: Target, stack: ExitStack, ids: Ids) -> System:

    client = daf_client(target, stack)

    def run() -> Ids:
        return client.chunkedgraph.get_roots(ids, timestamp=target.timestamp)

    return System(DAF, run)


def _caveclient(target: Target, ids: Ids) -> System:
    if not target.installed("caveclient"):
        return System(CAVE, None, missing="not installed")
    client = cave_client(target)

    def run() -> Ids:
        roots = client.chunkedgraph.get_roots(ids, timestamp=target.timestamp)
        return np.asarray(roots, dtype=np.uint64)

    return System(CAVE, run)


def _raw(target: Target, stack: ExitStack, ids: Ids) -> list[System]:
    http = stack.enter_context(raw_client(target))

    def same_requests() -> Ids:
        unique, inverse = np.unique(ids, return_inverse=True)
        parts = [
            raw_roots(http, target, unique[i : i + BATCH]) for i in range(0, unique.size, BATCH)
        ]
        return np.concatenate(parts)[inverse.ravel()]

    return [
        System(RAW, lambda: raw_roots(http, target, ids), note="one request, ids as given"),
        System(
            RAW_SAME,
            same_requests,
            note=f"sorted unique ids in batches of {BATCH:,}, like dafclient; informational",
        ),
    ]


def _goal(m: Measured) -> dict[str, Verdict]:
    vs_cave = ratio(m.seconds, DAF, CAVE)
    overhead, same = _overhead(m, RAW), _overhead(m, RAW_SAME)
    cave_text = "n/a" if vs_cave is None else f"{vs_cave:.2f}× CAVEclient"
    return {
        DAF: both(
            (f"no slower than CAVEclient ({cave_text})", _at_most(vs_cave, 1.0)),
            (f"overhead vs raw ≤10% ({_pct(overhead)})", _at_most(overhead, 0.1)),
            (f"vs the same requests sent raw ({_pct(same)})", _at_most(same, 0.1)),
        )
    }


def _overhead(m: Measured, raw: str) -> float | None:
    """(dafclient − raw) / dafclient; negative when dafclient is faster."""
    if DAF not in m.seconds or raw not in m.seconds:
        return None
    return (m.seconds[DAF] - m.seconds[raw]) / m.seconds[DAF]


def _at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.0%}"


def build(target: Target, stack: ExitStack) -> Workload:
    ids, note = supervoxel_ids(target, target.count(IDS))
    return Workload(
        name=NAME,
        description=f"{note} → roots at one timestamp",
        systems=[
            _dafclient(target, stack, ids),
            _caveclient(target, ids),
            *_raw(target, stack, ids),
        ],
        reference=RAW,
        goal=_goal,
        same=same_arrays,
    )
