"""Run one workload: warm up, then interleaved repeats (the system order rotates every repeat, so
machine noise falls on all systems alike), then medians, the answer check and the goal."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench_registry import Measured, Outcome, System, Verdict, Workload


@dataclass
class SystemResult:
    """Timings and status of one system in one workload."""

    name: str
    note: str = ""
    missing: str | None = None
    error: str | None = None
    seconds: list[float] = field(default_factory=list)
    metrics: list[Mapping[str, float]] = field(default_factory=list)
    matched: bool | None = None
    answer: Any = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None

    def median_metrics(self) -> dict[str, float]:
        keys = self.metrics[0].keys() if self.metrics else ()
        return {k: statistics.median(m[k] for m in self.metrics) for k in keys}


@dataclass
class WorkloadResult:
    """Everything the report needs about one workload."""

    name: str
    description: str
    reference: str
    repeats: int
    systems: list[SystemResult]
    verdicts: Mapping[str, Verdict]

    @property
    def answers_match(self) -> bool:
        return all(s.matched is not False for s in self.systems)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _once(system: System) -> tuple[Any, float, Mapping[str, float]]:
    assert system.run is not None
    start = time.perf_counter()
    out = system.run()
    elapsed = time.perf_counter() - start
    if isinstance(out, Outcome):
        seconds = elapsed if out.seconds is None else out.seconds
        return out.answer, seconds * system.time_scale, out.metrics
    return out, elapsed * system.time_scale, {}


def run_workload(
    workload: Workload, repeats: int, log: Callable[[str], None] = _log
) -> WorkloadResult:
    """Time every runnable system ``repeats`` times, interleaved, and check their answers."""
    results = {
        s.name: SystemResult(s.name, note=s.note, missing=s.missing) for s in workload.systems
    }
    live = [s for s in workload.systems if s.run is not None]

    def attempt(system: System, repeat: int) -> None:
        result = results[system.name]
        try:
            answer, seconds, metrics = _once(system)
        except Exception as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            log(f"  {system.name}: ERROR {result.error}")
            return
        if repeat < 0:
            return
        result.seconds.append(seconds)
        result.metrics.append(metrics)
        if result.answer is None:
            result.answer = answer
        elif not workload.same(result.answer, answer):
            result.matched = False
            log(f"  {system.name}: answer changed between repeats")
        log(f"  [{workload.name} #{repeat + 1}] {system.name}: {seconds:.3f} s")

    for system in live:
        if system.warmup:
            attempt(system, -1)
    for repeat in range(repeats):
        live = [s for s in live if results[s.name].error is None]
        shift = repeat % len(live) if live else 0
        for system in live[shift:] + live[:shift]:
            attempt(system, repeat)
    _check_answers(workload, results)
    measured = Measured(
        seconds={n: r.median for n, r in results.items() if r.median is not None},
        metrics={n: r.median_metrics() for n, r in results.items() if r.metrics},
    )
    return WorkloadResult(
        name=workload.name,
        description=workload.description,
        reference=workload.reference,
        repeats=repeats,
        systems=list(results.values()),
        verdicts=workload.goal(measured),
    )


def _check_answers(workload: Workload, results: dict[str, SystemResult]) -> None:
    """Compare every system's answer with the reference's (or the first plain system's)."""
    by_name = {s.name: s for s in workload.systems}
    ran = [r for r in results.values() if r.seconds]
    baseline = results.get(workload.reference)
    if baseline is None or not baseline.seconds:
        plain = [r for r in ran if by_name[r.name].expected is None]
        baseline = plain[0] if plain else None
    if baseline is None:
        return
    for r in ran:
        if r.matched is False:
            continue
        expected_of = by_name[r.name].expected
        expected = baseline.answer if expected_of is None else expected_of(baseline.answer)
        r.matched = bool(workload.same(expected, r.answer))
        if not r.matched:
            _log(f"  {workload.name}: MISMATCH between {r.name} and {baseline.name}")
