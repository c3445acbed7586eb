"""client.chunkedgraph: roots, leaves, history and edits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from . import Fixtures, snippet


def _root(client: Any, fx: Fixtures) -> int:
    return int(client.chunkedgraph.get_root_id(fx.merged_supervoxels[0]))


@snippet("chunkedgraph.get_roots", "chunkedgraph.get_root_id", "chunkedgraph.get_leaves")
def roots_and_leaves(client: Any, fx: Fixtures) -> Any:
    roots = client.chunkedgraph.get_roots(fx.supervoxels)
    root = client.chunkedgraph.get_root_id(fx.supervoxels[0])
    return {
        "roots": roots,
        "root": root,
        "same": int(roots[0]) == int(root),
        "leaves": np.sort(client.chunkedgraph.get_leaves(root)),
        "l2": np.sort(client.chunkedgraph.get_leaves(root, stop_layer=2)),
        "l2_id": client.chunkedgraph.get_root_id(fx.supervoxels[0], level2=True),
    }


@snippet(
    "chunkedgraph.get_children", "chunkedgraph.get_leaves_many", "chunkedgraph.level2_chunk_graph"
)
def hierarchy(client: Any, fx: Fixtures) -> Any:
    root = _root(client, fx)
    many = client.chunkedgraph.get_leaves_many([root], stop_layer=2)
    edges = client.chunkedgraph.level2_chunk_graph(root)
    return {
        "children": np.sort(client.chunkedgraph.get_children(root)),
        "many": {k: np.sort(v) for k, v in many.items()},
        "edges": sorted(sorted(map(int, e)) for e in edges),
    }


@snippet(
    "chunkedgraph.is_latest_roots",
    "chunkedgraph.get_root_timestamps",
    "chunkedgraph.get_latest_roots",
    "chunkedgraph.get_original_roots",
    "chunkedgraph.is_valid_nodes",
)
def root_status(client: Any, fx: Fixtures) -> Any:
    root = _root(client, fx)
    return {
        "latest": client.chunkedgraph.is_latest_roots([root]),
        "created": client.chunkedgraph.get_root_timestamps([root]),
        "latest_of": np.sort(client.chunkedgraph.get_latest_roots(root)),
        "original": np.sort(client.chunkedgraph.get_original_roots(root)),
        "valid": client.chunkedgraph.is_valid_nodes([root, 12345]),
    }


@snippet(
    "chunkedgraph.get_change_log",
    "chunkedgraph.get_merge_log",
    "chunkedgraph.get_tabular_change_log",
)
def change_logs(client: Any, fx: Fixtures) -> Any:
    root = _root(client, fx)
    log = client.chunkedgraph.get_change_log(root)
    merges = client.chunkedgraph.get_merge_log(root)
    table = client.chunkedgraph.get_tabular_change_log(root)[root]
    return {
        "log": log,
        "merges": merges,
        "tabular_columns": sorted(table.columns),
        "tabular_ops": sorted(table["operation_id"].tolist()),
    }


@snippet("chunkedgraph.get_operation_details")
def operation_details(client: Any, fx: Fixtures) -> Any:
    details = client.chunkedgraph.get_operation_details([fx.merge_operation])
    key = next(iter(details))
    record = details[key]
    return {
        "key": key,
        "fields": sorted(record),
        "added_edges": record.get("added_edges"),
        "roots": record["roots"],
        "user": record.get("user"),
    }


@snippet(
    "chunkedgraph.get_lineage_graph", "chunkedgraph.get_past_ids", "chunkedgraph.get_delta_roots"
)
def lineage(client: Any, fx: Fixtures) -> Any:
    root = _root(client, fx)
    graph = client.chunkedgraph.get_lineage_graph(root)
    past = datetime(2000, 1, 1, tzinfo=UTC)
    ids = client.chunkedgraph.get_past_ids([root], timestamp_past=past)
    old, new = client.chunkedgraph.get_delta_roots(past, datetime.now(UTC) + timedelta(minutes=1))
    return {
        "graph_keys": sorted(graph),
        "nodes": sorted(int(n["id"]) for n in graph["nodes"]),
        "past_map": {int(k): np.sort(v) for k, v in ids["past_id_map"].items()},
        "delta_has_root": root in set(map(int, new)),
        "n_old": len(old),
    }


@snippet(
    "chunkedgraph.segmentation_info",
    "chunkedgraph.base_resolution",
    "chunkedgraph.table_name",
    "chunkedgraph.cloudvolume_path",
    "chunkedgraph.get_oldest_timestamp",
)
def table_facts(client: Any, fx: Fixtures) -> Any:
    cg = client.chunkedgraph
    return {
        "info": cg.segmentation_info,
        "base_resolution": cg.base_resolution,
        "table": cg.table_name,
        "cloudvolume_path": cg.cloudvolume_path.replace(fx.server, "{server}"),
        "oldest": cg.get_oldest_timestamp(),
    }


@snippet("chunkedgraph.suggest_latest_roots", "chunkedgraph.get_minimal_covering_nodes")
def suggestions(client: Any, fx: Fixtures) -> Any:
    root = _root(client, fx)
    l2 = client.chunkedgraph.get_leaves(root, stop_layer=2)
    return {
        "suggested": client.chunkedgraph.suggest_latest_roots(root),
        "covering": np.sort(client.chunkedgraph.get_minimal_covering_nodes(l2)),
    }


@snippet(
    "chunkedgraph.preview_split",
    "chunkedgraph.execute_split",
    "chunkedgraph.do_merge",
    "chunkedgraph.undo_operation",
    "chunkedgraph.get_root_id",
)
def edits(client: Any, fx: Fixtures) -> Any:
    cg = client.chunkedgraph
    sv_a, sv_b = fx.merged_supervoxels
    nm = (np.asarray(fx.merge_coords, dtype=float) * fx.base_resolution).tolist()
    root = int(cg.get_root_id(sv_a))
    source, sink, ok = cg.preview_split([nm[0]], [nm[1]], root, [sv_a], [sv_b])
    *_, others = cg.preview_split(
        [nm[0]], [nm[1]], root, [sv_a], [sv_b], return_additional_ccs=True
    )
    operation_id, new_roots = cg.execute_split([nm[0]], [nm[1]], root, [sv_a], [sv_b])
    split_apart = cg.get_root_id(sv_a) != cg.get_root_id(sv_b)
    merged = cg.do_merge([sv_a, sv_b], fx.merge_coords, resolution=fx.base_resolution)
    undone = cg.undo_operation(merged["operation_id"])
    apart_again = cg.get_root_id(sv_a) != cg.get_root_id(sv_b)
    again = cg.do_merge([sv_a, sv_b], fx.merge_coords, resolution=fx.base_resolution)
    return {
        "preview": [sv_a in set(map(int, source)), sv_b in set(map(int, sink)), ok, others],
        "split": [operation_id > 0, len(new_roots), split_apart],
        "merge": [merged["operation_id"] > operation_id, len(merged["new_root_ids"])],
        "undo": [undone["operation_id"] > merged["operation_id"], len(undone["new_root_ids"])],
        "apart_again": apart_again,
        "merged_again": int(again["new_root_ids"][0]) == int(cg.get_root_id(sv_a)),
    }


@snippet("chunkedgraph.get_subgraph", "chunkedgraph.remesh_level2_chunks", "chunkedgraph.timestamp")
def subgraph_and_remesh(client: Any, fx: Fixtures) -> Any:
    root = _root(client, fx)
    bounds = np.array([[0, 4096], [0, 4096], [0, 512]])
    edges, affinities, areas = client.chunkedgraph.get_subgraph(root, bounds)
    l2 = client.chunkedgraph.get_leaves(root, stop_layer=2)
    return {
        "edges": sorted(sorted(map(int, e)) for e in edges),
        "n_affinities": len(affinities),
        "n_areas": len(areas),
        "remesh": client.chunkedgraph.remesh_level2_chunks(l2[:2]),
        "timestamp": client.chunkedgraph.timestamp,
    }
