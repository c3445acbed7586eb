"""lookup_100k: supervoxel and root ids under 100k random points.

dafclient's LookupClient against what users are told to do (cloud-volume ``scattered_points`` on
the graphene path, then one roots request) and against two floors: each touched chunk read once
(by cloud-volume's ``download``, or by decoding the chunk file directly), then one raw
``roots_binary`` request. The goal is measured against the direct floor.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import numpy as np
import numpy.typing as npt
from bench_checks import both, ratio, same_arrays
from bench_clients import daf_client
from bench_floor import ChunkedVolume
from bench_inputs import random_points
from bench_raw import raw_client, raw_roots
from bench_registry import Measured, System, Verdict, Workload
from bench_target import Target

NAME = "lookup_100k"
POINTS = 100_000
SCATTERED_POINTS = 10_000
"""scattered_points reads one voxel per point (~1 ms each): it runs on a subset, scaled up."""

DAFCLIENT = "dafclient LookupClient"
SCATTERED = "cloud-volume scattered_points + roots"
CLOUDVOLUME_FLOOR = "floor: cloud-volume chunks + raw roots"
DIRECT_FLOOR = "floor: direct chunk decode + raw roots"

Ids = npt.NDArray[np.uint64]


def _dafclient(target: Target, stack: ExitStack, pts: npt.NDArray[np.float64]) -> System:

    client = daf_client(target, stack)
    lookup = client.make_lookup_client(timestamp=target.timestamp, progress=False)

    def run() -> tuple[Ids, Ids]:
        roots, supervoxels = lookup.lookup_points(pts)
        assert supervoxels is not None
        return supervoxels, roots

    return System(DAFCLIENT, run)


def _scattered(target: Target, pts: npt.NDArray[np.float64]) -> System:
    from cloudvolume import CloudVolume

    cv = CloudVolume(
        target.graphene_path,
        agglomerate=False,
        secrets={"token": target.token},
        use_https=False,
        progress=False,
    )
    n = min(len(pts), target.count(SCATTERED_POINTS))
    subset = pts[:n].astype(np.int64)

    def run() -> tuple[Ids, Ids]:
        found = cv.scattered_points(subset)
        supervoxels = np.array([found[tuple(p)] for p in subset.tolist()], dtype=np.uint64)
        roots = cv.get_roots(supervoxels, timestamp=target.timestamp)
        return supervoxels, np.asarray(roots, dtype=np.uint64)

    def expected(reference: tuple[Ids, Ids]) -> tuple[Ids, Ids]:
        return reference[0][:n], reference[1][:n]

    note = "" if n == len(pts) else f"first {n:,} points, time ×{len(pts) / n:g} (linear)"
    return System(
        SCATTERED,
        run,
        note=note,
        time_scale=len(pts) / n,
        expected=expected,
        warmup=False,
    )


def _floor(target: Target, stack: ExitStack, pts: npt.NDArray[np.float64]) -> list[System]:
    volume = ChunkedVolume(target.watershed)
    http = stack.enter_context(raw_client(target))
    voxels = pts.astype(np.int64)

    def with_reader(read: Any) -> Any:
        def run() -> tuple[Ids, Ids]:
            supervoxels = volume.labels(voxels, read)
            return supervoxels, raw_roots(http, target, supervoxels)

        return run

    direct = System(
        DIRECT_FLOOR,
        with_reader(volume.read_direct) if volume.direct_ok else None,
        missing=None if volume.direct_ok else "not a local unsharded volume",
        note="no cloud-volume",
    )
    return [System(CLOUDVOLUME_FLOOR, with_reader(volume.read_cloudvolume)), direct]


def _goal(m: Measured) -> dict[str, Verdict]:
    speedup = ratio(m.seconds, SCATTERED, DAFCLIENT)
    over = ratio(m.seconds, DAFCLIENT, DIRECT_FLOOR)
    return {
        DAFCLIENT: both(
            (
                f"≥300× faster than scattered ({_x(speedup)})",
                None if speedup is None else speedup >= 300,
            ),
            (f"≤1.3× direct floor ({_x(over)})", None if over is None else over <= 1.3),
        )
    }


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}×" if value < 10 else f"{value:.0f}×"


def build(target: Target, stack: ExitStack) -> Workload:
    pts = random_points(target, target.count(POINTS))
    floor = _floor(target, stack, pts)
    return Workload(
        name=NAME,
        description=f"{len(pts):,} random points → supervoxel + root",
        systems=[_dafclient(target, stack, pts), _scattered(target, pts), *floor],
        reference=DIRECT_FLOOR if floor[1].run is not None else CLOUDVOLUME_FLOOR,
        goal=_goal,
        same=same_arrays,
    )
