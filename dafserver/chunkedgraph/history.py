"""Root history queries: lineage graph, change logs, past/future ids, delta roots, op details.

These follow PyChunkedGraph's ``lineage.py``, ``segmenthistory.py`` and ``misc.py``. Times are
milliseconds; node ``timestamp`` attributes are float unix seconds as in PyChunkedGraph.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd

from dafserver.chunkedgraph.arrays import unique
from dafserver.chunkedgraph.clock import to_datetime, to_seconds
from dafserver.chunkedgraph.errors import NodeNotFound, PreconditionError
from dafserver.chunkedgraph.ids import as_ids
from dafserver.chunkedgraph.oplog import OperationKind, OperationRecord
from dafserver.chunkedgraph.state import GraphState

UInt64Array = npt.NDArray[np.uint64]

#: PyChunkedGraph's oldest timestamp is the first log time minus this many milliseconds.
OLDEST_MARGIN_MS = 500


def oldest_ms(state: GraphState) -> int:
    """First operation time minus 500 ms, never before the build (the build time if no edits)."""
    if not state.operations:
        return state.build_ms
    first = state.operations[min(state.operations)].timestamp_ms
    return max(state.build_ms, first - OLDEST_MARGIN_MS)


def _node_properties(state: GraphState, node: int) -> dict[str, Any]:
    created = int(state.timeline.created_ms([node])[0])
    properties: dict[str, Any] = {"timestamp": to_seconds(created)}
    retired = state.lineage.retired_by.get(node)
    if retired is not None:
        properties["operation_id"] = retired
    return properties


def lineage_graph(state: GraphState, node_ids: npt.ArrayLike, past_ms: int, future_ms: int) -> Any:
    """``networkx.DiGraph`` of root ids (old -> new) around ``node_ids``.

    Going back stops at nodes created before ``past_ms``; going forward stops at nodes created
    after ``future_ms``. Node attributes: ``timestamp`` (creation, float seconds) and, on
    superseded roots, ``operation_id`` (the operation that retired them).
    """
    queries = unique(as_ids(node_ids))
    unknown = state.timeline.created_ms(queries) < 0
    if unknown.any():
        raise NodeNotFound(f"Unknown node {int(queries[unknown][0])}")
    graph = nx.DiGraph()
    past = [int(x) for x in queries]
    future = list(past)
    while past or future:
        next_past: list[int] = []
        for node in past:
            properties = _node_properties(state, node)
            graph.add_node(node, **properties)
            formers = state.lineage.formers(node).tolist()
            if properties["timestamp"] < to_seconds(past_ms) or not formers:
                continue
            next_past.extend(f for f in formers if f not in graph.nodes)
            graph.add_edges_from((f, node) for f in formers)
        next_future: list[int] = []
        by_operation: dict[int, list[int]] = defaultdict(list)
        for node in future:
            properties = _node_properties(state, node)
            graph.add_node(node, **properties)
            if properties["timestamp"] > to_seconds(future_ms) or "operation_id" not in properties:
                continue
            by_operation[properties["operation_id"]].append(node)
        for operation_id, retired in by_operation.items():
            new_ids = state.operations[operation_id].new_root_ids.tolist()
            next_future.extend(n for n in new_ids if n not in graph.nodes)
            graph.add_edges_from((old, new) for new in new_ids for old in retired)
        past = sorted(set(next_past))
        future = sorted(set(next_future))
    for node in graph.nodes:
        if "timestamp" not in graph.nodes[node]:
            graph.add_node(node, **_node_properties(state, node))
    return graph


def _check_root(state: GraphState, root_id: int) -> None:
    if int(state.layout.get_layer(root_id)[0]) != state.layout.n_layers:
        raise PreconditionError(f"{root_id} is no root")
    if int(state.timeline.created_ms([root_id])[0]) < 0:
        raise NodeNotFound(f"Unknown root {root_id}")


def past_operation_ids(graph: Any, root_id: int) -> list[int]:
    """Sorted ids of the operations that retired the ancestors of ``root_id``."""
    ops = {graph.nodes[a].get("operation_id", 0) for a in nx.ancestors(graph, root_id)}
    return sorted(int(op) for op in ops if op)


def _history_graph(state: GraphState, root_id: int, past_ms: int | None, now_ms: int) -> Any:
    _check_root(state, root_id)
    start = oldest_ms(state) if past_ms is None else past_ms
    return lineage_graph(state, [root_id], start, now_ms)


def tabular_change_log(
    state: GraphState,
    root_id: int,
    filtered: bool,
    now_ms: int,
    past_ms: int | None = None,
) -> pd.DataFrame:
    """PyChunkedGraph's tabular change log of one root (timestamps in ms since the epoch)."""
    graph = _history_graph(state, root_id, past_ms, now_ms)
    roots_by_operation: dict[int, list[int]] = defaultdict(list)
    for node, operation_id in graph.nodes.data("operation_id", default=0):
        roots_by_operation[int(operation_id)].append(int(node))
    root_ms = int(state.timeline.created_ms([root_id])[0])
    original_ms = oldest_ms(state)
    columns: dict[str, list[Any]] = {
        key: []
        for key in (
            "operation_id",
            "timestamp",
            "user_id",
            "before_root_ids",
            "after_root_ids",
            "is_merge",
            "in_neuron",
            "is_relevant",
        )
    }
    for operation_id in past_operation_ids(graph, root_id):
        record = state.operations[operation_id]
        before = roots_by_operation[operation_id]
        supervoxels = record.edges_failsafe
        current_roots = state.timeline.roots_at(supervoxels, root_ms)
        original_roots = state.timeline.roots_at(supervoxels, original_ms)
        if record.is_merge:
            relevant = len(unique(original_roots)) != 1
            in_neuron = bool(np.all(current_roots == root_id))
        else:
            relevant = len(unique(current_roots)) != 1
            in_neuron = bool(np.any(current_roots == root_id))
        columns["operation_id"].append(operation_id)
        columns["timestamp"].append(record.timestamp_ms)
        columns["user_id"].append(record.user_id)
        columns["before_root_ids"].append(before)
        columns["after_root_ids"].append([int(n) for n in graph.successors(before[0])])
        columns["is_merge"].append(record.is_merge)
        columns["in_neuron"].append(in_neuron)
        columns["is_relevant"].append(relevant)
    frame = pd.DataFrame(
        {
            "operation_id": pd.Series(columns["operation_id"], dtype="int64"),
            "timestamp": pd.Series(columns["timestamp"], dtype="int64"),
            "user_id": pd.Series(columns["user_id"], dtype="object"),
            "before_root_ids": pd.Series(columns["before_root_ids"], dtype="object"),
            "after_root_ids": pd.Series(columns["after_root_ids"], dtype="object"),
            "is_merge": pd.Series(columns["is_merge"], dtype="bool"),
            "in_neuron": pd.Series(columns["in_neuron"], dtype="bool"),
            "is_relevant": pd.Series(columns["is_relevant"], dtype="bool"),
        }
    )
    if filtered:
        keep = frame["in_neuron"].to_numpy() & frame["is_relevant"].to_numpy()
        frame = frame[keep].drop(columns=["in_neuron", "is_relevant"])
    return frame


def change_log(
    state: GraphState, root_id: int, filtered: bool, now_ms: int, past_ms: int | None = None
) -> dict[str, Any]:
    """``{n_mergers, n_splits, operations_ids, past_ids, user_info}`` (PyChunkedGraph spellings)."""
    table = tabular_change_log(state, root_id, filtered, now_ms, past_ms)
    user_info: dict[str, dict[str, int]] = {}
    n_mergers = 0
    n_splits = 0
    for user_id, is_merge in zip(table["user_id"], table["is_merge"], strict=True):
        counts = user_info.setdefault(str(user_id), {"n_splits": 0, "n_mergers": 0})
        key = "n_mergers" if bool(is_merge) else "n_splits"
        counts[key] += 1
        if bool(is_merge):
            n_mergers += 1
        else:
            n_splits += 1
    before = [np.asarray(b, dtype=np.uint64) for b in table["before_root_ids"]]
    past_ids = np.concatenate(before) if before else np.zeros(0, dtype=np.uint64)
    return {
        "n_mergers": n_mergers,
        "n_splits": n_splits,
        "operations_ids": table["operation_id"].to_numpy().astype(np.uint64),
        "past_ids": past_ids,
        "user_info": user_info,
    }


def merge_log(state: GraphState, root_id: int, now_ms: int) -> dict[str, Any]:
    """``{merge_edges, merge_edge_coords}`` of the merges in the root's past."""
    graph = _history_graph(state, root_id, None, now_ms)
    edges: list[UInt64Array] = []
    coords: list[list[Any]] = []
    for operation_id in past_operation_ids(graph, root_id):
        record = state.operations[operation_id]
        if record.added_edges is None:
            continue
        edges.append(record.added_edges)
        source = [] if record.source_coords is None else record.source_coords.tolist()
        sink = [] if record.sink_coords is None else record.sink_coords.tolist()
        coords.append([source, sink])
    return {"merge_edges": edges, "merge_edge_coords": coords}


def past_future_id_mapping(
    state: GraphState, root_ids: npt.ArrayLike, past_ms: int, future_ms: int
) -> tuple[dict[int, UInt64Array], dict[int, int]]:
    """PyChunkedGraph's ``past_id_map`` and ``future_id_map``."""
    roots = [int(r) for r in as_ids(root_ids)]
    for root in roots:
        _check_root(state, root)
    graph = lineage_graph(state, roots, past_ms, future_ms)
    in_degree = dict(graph.in_degree)
    out_degree = dict(graph.out_degree)
    past_map: dict[int, UInt64Array] = {}
    for root in roots:
        ancestors = sorted(nx.ancestors(graph, root))
        if not ancestors:
            past_map[root] = np.array([root], dtype=np.uint64)
        else:
            originals = [a for a in ancestors if in_degree[a] == 0]
            past_map[root] = np.asarray(originals, dtype=np.uint64)
    future_map: dict[int, int] = {}
    past_ids = unique(np.concatenate([np.zeros(0, np.uint64), *past_map.values()]))
    for past_id in [int(p) for p in past_ids]:
        descendants = [*nx.descendants(graph, past_id), past_id]
        degrees = [out_degree[d] for d in descendants]
        if 2 in degrees or sum(1 for d in degrees if d == 0) > 1:
            continue
        leaves = [d for d, deg in zip(descendants, degrees, strict=True) if deg == 0]
        single = [d for d, deg in zip(descendants, degrees, strict=True) if deg == 1]
        partners = [in_degree[next(iter(graph.successors(d)))] for d in single]
        if single and 1 in partners:
            continue
        future_map[past_id] = leaves[0]
    return past_map, future_map


def delta_roots(state: GraphState, past_ms: int, future_ms: int) -> tuple[UInt64Array, UInt64Array]:
    """``(new_roots, old_roots)``: roots written by operations in [past, future] and their formers."""
    records = [
        state.operations[op]
        for op in sorted(state.operations)
        if past_ms <= state.operations[op].timestamp_ms <= future_ms
    ]
    new_parts = [r.new_root_ids for r in records]
    new_roots = np.concatenate(new_parts) if new_parts else np.zeros(0, np.uint64)
    old_parts = [state.lineage.formers(int(root)) for root in new_roots]
    old_roots = np.concatenate(old_parts) if old_parts else np.zeros(0, np.uint64)
    return new_roots.astype(np.uint64), old_roots.astype(np.uint64)


def operation_details(record: OperationRecord) -> dict[str, Any]:
    """The log row of one operation with PyChunkedGraph's keys (values as plain Python)."""
    moment = to_datetime(record.timestamp_ms)
    details: dict[str, Any] = {
        "user": record.user_id,
        "roots": record.new_root_ids.tolist(),
        "operation_status": record.status,
        "operation_exception": "",
        "operation_ts": moment,
        "timestamp": moment,
    }
    optional = {
        "added_edges": record.added_edges,
        "removed_edges": record.removed_edges,
        "source_coords": record.source_coords,
        "sink_coords": record.sink_coords,
        "affinities": record.affinities,
    }
    if record.kind is OperationKind.MULTICUT:
        optional["source_ids"] = record.source_ids
        optional["sink_ids"] = record.sink_ids
        optional["bb_offset"] = record.bb_offset
    for key, value in optional.items():
        if value is not None:
            details[key] = value.tolist()
    if record.undo_operation_id is not None:
        details["undo_operation_id"] = record.undo_operation_id
    if record.redo_operation_id is not None:
        details["redo_operation_id"] = record.redo_operation_id
    return details


def user_operations(
    state: GraphState,
    user_id: str,
    start_ms: int,
    end_ms: int,
    include_undone: bool = False,
    include_partial_splits: bool = True,
) -> pd.DataFrame:
    """PyChunkedGraph's ``user_operations``: ``operation_id`` and ``timestamp`` (ms) columns."""
    chosen: list[OperationRecord] = []
    undone: list[int] = []
    for operation_id in sorted(state.operations):
        record = state.operations[operation_id]
        if not start_ms <= record.timestamp_ms <= end_ms:
            continue
        partial_ok = include_partial_splits or record.is_merge or len(record.new_root_ids) > 1
        if record.user_id == user_id and partial_ok:
            chosen.append(record)
        if record.undo_operation_id is not None:
            undone.append(record.undo_operation_id)
        if record.redo_operation_id is not None:
            undone = [u for u in undone if u != record.redo_operation_id]
    if not include_undone:
        chosen = [
            r
            for r in chosen
            if r.kind not in (OperationKind.UNDO, OperationKind.REDO)
            and r.operation_id not in undone
        ]
    return pd.DataFrame(
        {
            "operation_id": pd.Series([r.operation_id for r in chosen], dtype="int64"),
            "timestamp": pd.Series([r.timestamp_ms for r in chosen], dtype="int64"),
        }
    )


def recent_operations(state: GraphState, start_ms: int, end_ms: int) -> pd.DataFrame:
    """``tabular_change_log_recent``: operation_id, timestamp (ms), user_id, is_merge."""
    records = [
        state.operations[op]
        for op in sorted(state.operations)
        if start_ms <= state.operations[op].timestamp_ms <= end_ms
    ]
    return pd.DataFrame(
        {
            "operation_id": pd.Series([r.operation_id for r in records], dtype="int64"),
            "timestamp": pd.Series([r.timestamp_ms for r in records], dtype="int64"),
            "user_id": pd.Series([r.user_id for r in records], dtype="object"),
            "is_merge": pd.Series([r.is_merge for r in records], dtype="bool"),
        }
    )
