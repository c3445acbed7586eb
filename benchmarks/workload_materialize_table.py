"""materialize_table: one whole materialized synapse table into a DataFrame, positions merged.

dafclient's ``materialize.query_table`` against CAVEclient's ``query_table`` and the floor: one raw
httpx POST of the same query decoded with ``pyarrow`` (IPC stream → pandas, positions left split).
The table is the million-row synapse table of ``bench_big_table`` at the version that holds it
(the benchmark server's query cap is raised above its size, so every system reads it whole).
Answers are compared as the sorted ids with their roots and positions.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import numpy as np
from bench_big_table import big_synapse_table
from bench_checks import both, ratio, same_arrays
from bench_clients import cave_client, daf_client
from bench_raw import raw_client
from bench_registry import Measured, System, Verdict, Workload
from bench_target import Target

NAME = "materialize_table"
DAF, CAVE, RAW = (
    "dafclient query_table",
    "CAVEclient query_table",
    "raw httpx + pyarrow decode (no merge)",
)
POINTS = ("pre_pt_position", "post_pt_position", "ctr_pt_position")


def synapse_table(target: Target) -> str:
    """The datastack's synapse table, from its info record."""
    with raw_client(target) as http:
        record = http.get(f"{target.base_url}/info/api/v2/datastack/full/{target.datastack}")
        record.raise_for_status()
        return str(record.json()["synapse_table"])


def canonical(frame: Any) -> tuple[np.ndarray, ...]:
    """Ids, roots and positions sorted by id, whatever the frame's column layout."""
    ids = frame["id"].to_numpy().astype(np.uint64)
    order = np.argsort(ids, kind="stable")
    parts = [ids[order]]
    for column in ("pre_pt_root_id", "post_pt_root_id"):
        parts.append(frame[column].to_numpy().astype(np.uint64)[order])
    for point in POINTS:
        if f"{point}_x" in frame.columns:
            xyz = frame[[f"{point}_{a}" for a in "xyz"]].to_numpy(dtype=np.int64)
        else:
            xyz = np.stack(list(frame[point].to_numpy())).astype(np.int64)
        parts.append(xyz[order].astype(np.uint64))
    return tuple(parts)


def same_frames(expected: Any, actual: Any) -> bool:
    return same_arrays(canonical(expected), canonical(actual))


def raw_query(
    target: Target, stack: ExitStack, version: int, table: str, body: dict[str, Any]
) -> Any:
    """The floor: the query as CAVEclient sends it, decoded with pyarrow only."""
    import pyarrow as pa

    http = stack.enter_context(raw_client(target))
    url = (
        f"{target.base_url}/materialize/api/v3/datastack/{target.datastack}"
        f"/version/{version}/table/{table}/query"
    )
    params = {
        "return_pyarrow": "True",
        "arrow_format": "True",
        "split_positions": "True",
        "direct_sql_pandas": "True",
    }

    def run() -> Any:
        response = http.post(url, json=body, params=params, headers={"Accept-Encoding": "zstd"})
        response.raise_for_status()
        return pa.ipc.open_stream(response.content).read_all().to_pandas()

    return run


def speed_goal(m: Measured, daf: str, cave: str, raw: str | None) -> dict[str, Verdict]:
    """≥3× CAVEclient and (with a floor) ≤1.2× the floor."""
    to_cave = ratio(m.seconds, cave, daf)
    parts: list[tuple[str, bool | None]] = [
        (
            f"≥3× CAVEclient ({'n/a' if to_cave is None else f'{to_cave:.2f}×'})",
            None if to_cave is None else to_cave >= 3,
        )
    ]
    if raw is not None:
        to_raw = ratio(m.seconds, daf, raw)
        parts.append(
            (
                f"≤1.2× floor ({'n/a' if to_raw is None else f'{to_raw:.2f}×'})",
                None if to_raw is None else to_raw <= 1.2,
            )
        )
    return {daf: both(*parts)}


def build(target: Target, stack: ExitStack) -> Workload:
    daf = daf_client(target, stack)
    table, version = big_synapse_table(target, daf)
    rows = daf.materialize.get_annotation_count(table, version=version)

    def run_daf() -> Any:
        return daf.materialize.query_table(table, materialization_version=version)

    systems = [System(RAW, raw_query(target, stack, version, table, {}), note="the floor")]
    systems.append(System(DAF, run_daf))
    if target.installed("caveclient"):
        cave = cave_client(target)

        def run_cave() -> Any:
            return cave.materialize.query_table(table, materialization_version=version)

        systems.append(System(CAVE, run_cave))
    else:
        systems.append(System(CAVE, None, missing="not installed"))

    return Workload(
        name=NAME,
        description=f"{table} at version {version}: {rows:,} rows, positions merged",
        systems=systems,
        reference=RAW,
        goal=lambda m: speed_goal(m, DAF, CAVE, RAW),
        same=same_frames,
    )
