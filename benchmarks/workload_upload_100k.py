"""upload_100k: validate and upload 100k synapses into a new table.

dafclient (``annotation.stage`` + ``add_dataframe`` + ``bulk_post``) against CAVEclient
(``stage_annotations`` + ``add_dataframe`` + ``upload_staged_annotations``), on the same server
and the same DataFrame (``{point}_position`` list columns, the form CAVEclient takes). Only the
staging and the upload are timed; each run gets its own table and the answer is the table's row
count and content digest, read back afterwards.
"""

from __future__ import annotations

import time
from contextlib import ExitStack

from bench_annotations import new_table, synapse_frame, table_digest
from bench_checks import both, ratio
from bench_clients import cave_client, daf_client
from bench_registry import Measured, Outcome, System, Verdict, Workload
from bench_target import Target

NAME = "upload_100k"
ROWS = 100_000
DAF, CAVE = "dafclient stage + bulk_post", "CAVEclient stage + upload_staged"


def build(target: Target, stack: ExitStack) -> Workload:

    n = target.count(ROWS)
    frame = synapse_frame(n, split=False)
    daf = daf_client(target, stack)

    def run_daf() -> Outcome:
        table = new_table(target, daf, "daf")
        start = time.perf_counter()
        stage = daf.annotation.stage(table)
        stage.add_dataframe(frame)
        result = daf.annotation.bulk_post(table, stage, progress=False)
        seconds = time.perf_counter() - start
        result.raise_for_incomplete()
        return Outcome(table_digest(daf, table, result.ids.tolist()), seconds=seconds)

    systems = [System(DAF, run_daf, warmup=False)]
    if target.installed("caveclient"):
        cave = cave_client(target)

        def run_cave() -> Outcome:
            table = new_table(target, daf, "cave")
            start = time.perf_counter()
            stage = cave.annotation.stage_annotations(table)
            stage.add_dataframe(frame)
            ids = cave.annotation.upload_staged_annotations(stage, progress=False)
            seconds = time.perf_counter() - start
            return Outcome(table_digest(daf, table, [int(i) for i in ids]), seconds=seconds)

        systems.append(System(CAVE, run_cave, warmup=False))
    else:
        systems.append(System(CAVE, None, missing="not installed"))

    def goal(m: Measured) -> dict[str, Verdict]:
        r = ratio(m.seconds, CAVE, DAF)
        text = "n/a" if r is None else f"{r:.1f}× faster"
        return {
            DAF: both((f"≥10× faster than CAVEclient ({text})", None if r is None else r >= 10))
        }

    return Workload(
        name=NAME,
        description=f"{n:,} synapses, validated and posted in batches of 10,000",
        systems=systems,
        reference=DAF,
        goal=goal,
        same=lambda a, b: a == b,
    )
