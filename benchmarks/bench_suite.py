"""Build and run the selected workloads against one target."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import ExitStack

from bench_registry import discover
from bench_runner import WorkloadResult, run_workload
from bench_target import Target


def run_suite(
    target: Target, repeats: int, only: Sequence[str] | None = None
) -> list[WorkloadResult]:
    """Run the workloads named in ``only`` (default: all), each with its own clients."""
    builders = discover()
    names = list(builders) if not only else list(only)
    unknown = [n for n in names if n not in builders]
    if unknown:
        raise SystemExit(f"unknown workload(s) {unknown}; known: {sorted(builders)}")
    results = []
    for name in names:
        print(f"{name}: preparing", file=sys.stderr, flush=True)
        with ExitStack() as stack:
            workload = builders[name](target, stack)
            results.append(run_workload(workload, repeats))
    return results
