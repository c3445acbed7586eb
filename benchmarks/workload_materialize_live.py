"""materialize_live: the synapse table at a time after the edits, ``query_table(timestamp=...)``.

The time is one minute before the most recent version, after the scripted edits, so both clients
read the previous version and look the roots that changed up again. dafclient's answer is
compared with CAVEclient's (the reference: CAVEclient's client-side live query).
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import timedelta
from typing import Any

from bench_checks import ratio
from bench_clients import cave_client, daf_client
from bench_registry import Measured, System, Verdict, Workload
from bench_target import Target
from workload_materialize_table import same_frames, synapse_table

NAME = "materialize_live"
DAF, CAVE = ("dafclient query_table(timestamp=)", "CAVEclient query_table(timestamp=)")


def goal(m: Measured) -> dict[str, Verdict]:
    """Same answer, and no slower than CAVEclient."""
    to_cave = ratio(m.seconds, DAF, CAVE)
    text = "n/a" if to_cave is None else f"{to_cave:.2f}×"
    return {DAF: Verdict(f"≤1.0× CAVEclient ({text})", None if to_cave is None else to_cave <= 1)}


def build(target: Target, stack: ExitStack) -> Workload:
    daf = daf_client(target, stack)
    table = synapse_table(target)
    records = sorted(daf.materialize.get_versions_metadata(), key=lambda r: r["time_stamp"])
    when = records[-1]["time_stamp"] - timedelta(minutes=1)

    def run_daf() -> Any:
        return daf.materialize.query_table(table, timestamp=when)

    systems = [System(DAF, run_daf)]
    reference = DAF
    if target.installed("caveclient"):
        cave = cave_client(target)

        def run_cave() -> Any:
            return cave.materialize.query_table(table, timestamp=when)

        systems.insert(0, System(CAVE, run_cave, note="the reference answer"))
        reference = CAVE
    else:
        systems.append(System(CAVE, None, missing="not installed"))
    return Workload(
        name=NAME,
        description=f"{table} at {when.isoformat()} (after the edits; roots looked up again)",
        systems=systems,
        reference=reference,
        goal=goal,
        same=same_frames,
    )
