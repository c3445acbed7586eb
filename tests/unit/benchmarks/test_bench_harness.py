"""Smoke test of the benchmark harness: every workload, once, against a tiny in-process dafserver."""

from __future__ import annotations

import sys
from pathlib import Path

from dafserver.runner import running_server
from dafserver.seed import DATASTACK
from tests.paths import REPO

BENCHMARKS = REPO / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from bench_registry import discover  # noqa: E402
from bench_report import markdown  # noqa: E402
from bench_suite import run_suite  # noqa: E402
from bench_target import discover_target  # noqa: E402


def test_every_workload_runs_once_with_matching_answers(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", size="tiny") as server:
        target = discover_target(
            server.base_url,
            server.admin_token,
            DATASTACK,
            scale=0.01,
            unavailable=frozenset({"caveclient"}),
        )
        results = run_suite(target, repeats=1)

    assert [w.name for w in results] == list(discover())
    for workload in results:
        assert workload.answers_match, workload.name
        ran = [s for s in workload.systems if s.seconds]
        assert ran, workload.name
        assert all(s.error is None for s in workload.systems), workload.name
        assert all(s.matched for s in ran), workload.name
        skipped = [s for s in workload.systems if not s.seconds]
        assert all(s.missing is not None for s in skipped), workload.name

    table = markdown(results, "## smoke")
    for workload in results:
        rows = [line for line in table.splitlines() if line.startswith(f"| {workload.name} |")]
        assert len(rows) == len(workload.systems)
    cave_rows = [line for line in table.splitlines() if "| CAVEclient" in line]
    assert cave_rows and all(line.rstrip(" |").endswith("not installed") for line in cave_rows)
    assert "MISMATCH" not in table and "ERROR" not in table
    assert any(line.rstrip(" |").endswith(("PASS", "MISS")) for line in table.splitlines())
