"""l2data: L2-cache features of every L2 node of the largest root.

dafclient's ``l2cache.get_l2data`` (a DataFrame) against CAVEclient's ``get_l2data_table`` (its
DataFrame) and ``get_l2data`` (the raw dict), and one raw httpx POST of all the ids. The largest
root is the one with the most L2 nodes among the roots of 2,000 random supervoxels. Answers are
compared as the server's ``{id: {attribute: value}}``: DataFrames are turned back into it after
the timed call.
"""

from __future__ import annotations

import math
from contextlib import ExitStack
from typing import Any

import numpy as np
import numpy.typing as npt
from bench_checks import both, ratio
from bench_clients import cave_client, daf_client
from bench_inputs import supervoxel_ids
from bench_raw import raw_client
from bench_registry import Measured, System, Verdict, Workload
from bench_target import Target

NAME = "l2data"
SAMPLE = 2_000
CANDIDATES = 5
DAF, CAVE_TABLE, CAVE_DICT, RAW = (
    "dafclient get_l2data (DataFrame)",
    "CAVEclient get_l2data_table",
    "CAVEclient get_l2data (dict)",
    "raw httpx, one POST",
)
Ids = npt.NDArray[np.uint64]
Answer = dict[str, dict[str, Any]]

_VECTORS = {
    "rep_coord_nm": [f"rep_coord_nm_{a}" for a in "xyz"],
    "pca": [f"pca_{i}_{a}" for i in range(3) for a in "xyz"],
    "pca_val": [f"pca_val_{i}" for i in range(3)],
    "chunk_intersect_count": [
        f"chunk_intersect_count_{a}_{side}" for side in ("bottom", "top") for a in "xyz"
    ],
}
_SHAPES = {"pca": (3, 3), "chunk_intersect_count": (2, 3)}


def largest_root_l2_ids(target: Target, stack: ExitStack) -> tuple[int, Ids]:
    """The root with the most L2 nodes among the most frequent roots of random supervoxels."""
    client = daf_client(target, stack)
    ids, _ = supervoxel_ids(target, target.count(SAMPLE), seed=11)
    roots, counts = np.unique(client.chunkedgraph.get_roots(ids), return_counts=True)
    candidates = roots[np.argsort(-counts)][:CANDIDATES]
    leaves = {int(r): client.chunkedgraph.get_leaves(int(r), stop_layer=2) for r in candidates}
    root = max(leaves, key=lambda r: len(leaves[r]))
    return root, leaves[root]


def frame_answer(frame: Any) -> Answer:
    """A split-column DataFrame (dafclient's or CAVEclient's) as the server's answer."""
    out: Answer = {}
    for l2_id, row in frame.iterrows():
        node: dict[str, Any] = {}
        for name in ("area_nm2", "max_dt_nm", "mean_dt_nm", "size_nm3"):
            if name in row and not _missing(row[name]):
                node[name] = float(row[name])
        for name, columns in _VECTORS.items():
            values = [float(row[c]) for c in columns if c in row]
            if len(values) == len(columns) and not any(math.isnan(v) for v in values):
                node[name] = np.reshape(values, _SHAPES.get(name, (-1,))).tolist()
        out[str(int(l2_id))] = node
    return out


def without_pca(answer: Answer) -> Answer:
    """The answer without ``pca``/``pca_val``: CAVEclient's table fills the rows of nodes that
    have none with ``np.empty`` garbage, so its values there cannot be compared."""
    return {
        k: {n: v for n, v in node.items() if not n.startswith("pca")} for k, node in answer.items()
    }


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def same_answer(expected: Any, actual: Any) -> bool:
    """The same ids, attributes and values (numbers compared as floats); DataFrames are compared
    as the answer they stand for (outside the timed call)."""
    if not isinstance(expected, dict):
        expected = frame_answer(expected)
    if not isinstance(actual, dict):
        actual = frame_answer(actual)
    if set(expected) != set(actual):
        return False
    for key, node in expected.items():
        if set(node) != set(actual[key]):
            return False
        for name, value in node.items():
            if not np.array_equal(np.asarray(value, float), np.asarray(actual[key][name], float)):
                return False
    return True


def build(target: Target, stack: ExitStack) -> Workload:
    root, l2_ids = largest_root_l2_ids(target, stack)
    id_list = [int(i) for i in l2_ids]
    daf = daf_client(target, stack)
    http = stack.enter_context(raw_client(target))
    url = f"{target.base_url}/l2cache/api/v1/table/{target.table}/attributes"

    def run_raw() -> Answer:
        response = http.post(url, json={"l2_ids": id_list}, params={"int64_as_str": "false"})
        response.raise_for_status()
        answer: Answer = response.json()
        return answer

    def run_daf() -> Any:
        return daf.l2cache.get_l2data(l2_ids)

    systems = [System(RAW, run_raw, note="the floor"), System(DAF, run_daf)]
    if target.installed("caveclient"):
        cave = cave_client(target)

        def run_cave_table() -> Any:
            table = cave.l2cache.get_l2data_table(id_list)
            return table.drop(columns=[c for c in table.columns if c.startswith("pca")])

        def run_cave_dict() -> Answer:
            answer: Answer = cave.l2cache.get_l2data(id_list)
            return answer

        systems += [
            System(
                CAVE_TABLE,
                run_cave_table,
                note="pca not compared (np.empty garbage where missing)",
                expected=without_pca,
            ),
            System(CAVE_DICT, run_cave_dict),
        ]
    else:
        systems += [
            System(CAVE_TABLE, None, missing="not installed"),
            System(CAVE_DICT, None, missing="not installed"),
        ]

    def goal(m: Measured) -> dict[str, Verdict]:
        to_cave = ratio(m.seconds, DAF, CAVE_TABLE)
        to_raw = ratio(m.seconds, DAF, RAW)
        cave_text = "n/a" if to_cave is None else f"{to_cave:.2f}×"
        raw_text = "n/a" if to_raw is None else f"{to_raw:.2f}×"
        return {
            DAF: both(
                (
                    f"≤1.0× CAVEclient table ({cave_text})",
                    None if to_cave is None else to_cave <= 1,
                ),
                (f"≤1.5× raw ({raw_text})", None if to_raw is None else to_raw <= 1.5),
            )
        }

    return Workload(
        name=NAME,
        description=f"{len(id_list):,} L2 nodes of root {root}, all attributes",
        systems=systems,
        reference=RAW,
        goal=goal,
        same=same_answer,
    )
