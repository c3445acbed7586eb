"""Segmentation v1 history routes: change logs, merge log, lineage, past ids, operations, deltas.

Values keep the numpy types PyChunkedGraph has, so ``int64_as_str`` turns exactly the same fields
into strings: ids, ``n_splits`` and voxel coordinates of the merge log, but not ``n_mergers`` nor
the plain lists of the operation details. Tabular change logs are pandas ``DataFrame.to_json()``
text; ``user_name`` and ``user_affiliation`` come from the deployment's auth users (``unknown``
when the user does not exist) and are absent when no table has a row. The single-root tabular
log is sent as ``application/json`` (production labels it ``text/html``); ``disp=true`` (an HTML
table) is not served.

Routes that need roots answer 404 for ids that are no node of the graph and 400 ``{id} is no
root`` for nodes below the root layer (production: a 500 for both).

Production bugs kept: ``lineage_graph`` and ``past_id_mapping`` ignore ``timestamp_future``
(the future side runs to now); the parameter is still validated.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import Response

from dafserver.auth.store import MAX_DB_INT, AuthStore
from dafserver.chunkedgraph.graph import ChunkedGraph
from dafserver.services.chunkedgraph_access import deployment_of, graph_of, read
from dafserver.services.chunkedgraph_queries import V1, VIEW, require_known
from dafserver.services.chunkedgraph_wire import (
    JSON,
    MAX_UINT64,
    bad_request,
    body_node_ids,
    int64_as_str,
    json_response,
    parse_timestamp,
    parse_uint64,
    pcg_json_bytes,
    read_body,
    require_timestamp,
    respond,
    toboolean,
)

UInt64Array = npt.NDArray[np.uint64]
UNKNOWN_USER = "unknown"
_OPERATION_IDS = re.compile(r"\[\s*([0-9]+\s*(,\s*[0-9]+\s*)*)?\]", re.ASCII)


def check_roots(graph: ChunkedGraph, roots: npt.ArrayLike) -> None:
    """404 for ids that are no node of the graph, 400 for nodes below the root layer."""
    ids = np.asarray(roots, dtype=np.uint64).reshape(-1)
    require_known(graph, ids)
    below = ids[graph.layout.get_layer(ids) != graph.n_layers]
    if below.size:
        raise bad_request(f"{int(below[0])} is no root")


# -- change logs -----------------------------------------------------------------------------
async def get_change_log(request: Request, table_id: str, root_id: str) -> Response:
    graph = graph_of(request, table_id)
    params = request.query_params
    filtered = toboolean(params.get("filtered"), False)
    past = parse_timestamp(params, "timestamp")
    root = parse_uint64(root_id, "root_id")

    def work() -> dict[str, Any]:
        check_roots(graph, [root])
        log = graph.get_change_log(root, filtered, 0.0 if past is None else past)
        users = {
            str(user): {"n_mergers": int(c["n_mergers"]), "n_splits": np.int64(c["n_splits"])}
            for user, c in log["user_info"].items()
        }
        return {
            "n_mergers": int(log["n_mergers"]),
            "n_splits": np.int64(log["n_splits"]),
            "operations_ids": np.asarray(log["operations_ids"], dtype=np.uint64),
            "past_ids": np.asarray(log["past_ids"], dtype=np.uint64),
            "user_info": users,
        }

    log = await read(graph, work)
    return json_response(request, log, int64_as_str(request))


def _user_details(auth: AuthStore, user_id: str) -> tuple[str, str]:
    """``(name, affiliation)`` of a logged user id, ``unknown`` for unknown users."""
    if user_id.isascii() and user_id.isdigit() and int(user_id) <= MAX_DB_INT:
        record = auth.user_record(int(user_id))
        if record is not None:
            return str(record["name"]), str(record["pi"])
    return UNKNOWN_USER, UNKNOWN_USER


def with_user_columns(frames: dict[int, pd.DataFrame], auth: AuthStore) -> None:
    """Add ``user_name`` / ``user_affiliation`` in place (only if some frame has a row)."""
    user_ids = sorted({str(u) for frame in frames.values() for u in frame["user_id"]})
    if not user_ids:
        return
    details = {u: _user_details(auth, u) for u in user_ids}
    for frame in frames.values():
        users = [str(u) for u in frame["user_id"]]
        frame["user_name"] = [details[u][0] for u in users]
        frame["user_affiliation"] = [details[u][1] for u in users]


def _tabular_logs(
    request: Request, graph: ChunkedGraph, roots: UInt64Array, filtered: bool
) -> dict[int, pd.DataFrame]:
    check_roots(graph, roots)
    frames = graph.get_tabular_change_logs(roots, filtered)
    with_user_columns(frames, deployment_of(request).auth)
    return frames


async def get_tabular_change_log(request: Request, table_id: str, root_id: str) -> Response:
    graph = graph_of(request, table_id)
    filtered = toboolean(request.query_params.get("filtered"), True)
    root = parse_uint64(root_id, "root_id")
    roots = np.array([root], dtype=np.uint64)
    frames = await read(graph, lambda: _tabular_logs(request, graph, roots, filtered))
    return respond(request, frames[root].to_json().encode("utf-8"), JSON)


async def get_tabular_change_log_many(request: Request, table_id: str) -> Response:
    graph = graph_of(request, table_id)
    filtered = toboolean(request.query_params.get("filtered"), True)
    roots = body_node_ids(await read_body(request), is_binary=False, key="root_ids")
    frames = await read(graph, lambda: _tabular_logs(request, graph, roots, filtered))
    tables = {str(root): frame.to_json() for root, frame in frames.items()}
    return respond(request, pcg_json_bytes(tables), JSON)


async def get_merge_log(request: Request, table_id: str, root_id: str) -> Response:
    graph = graph_of(request, table_id)
    root = parse_uint64(root_id, "root_id")

    def work() -> dict[str, Any]:
        check_roots(graph, [root])
        log = graph.get_merge_log(root)
        return {
            "merge_edges": [
                np.asarray(e, dtype=np.uint64).reshape(-1, 2) for e in log["merge_edges"]
            ],
            "merge_edge_coords": [
                [np.asarray(side, dtype=np.int64).reshape(-1, 3) for side in pair]
                for pair in log["merge_edge_coords"]
            ],
        }

    log = await read(graph, work)
    return json_response(request, log, int64_as_str(request))


# -- lineage ---------------------------------------------------------------------------------
def node_link_data(lineage: Any) -> dict[str, Any]:
    """networkx ``node_link_data`` of a lineage graph (key ``links``), ids as uint64."""
    nodes = []
    for node, attributes in lineage.nodes(data=True):
        entry: dict[str, Any] = {"id": np.uint64(node)}
        for key, value in attributes.items():
            entry[key] = np.uint64(value) if key == "operation_id" else value
        nodes.append(entry)
    links = [{"source": np.uint64(a), "target": np.uint64(b)} for a, b in lineage.edges()]
    return {
        "directed": bool(lineage.is_directed()),
        "graph": dict(lineage.graph),
        "links": links,
        "multigraph": bool(lineage.is_multigraph()),
        "nodes": nodes,
    }


async def get_lineage_graph(request: Request, table_id: str, root_id: str) -> Response:
    graph = graph_of(request, table_id)
    params = request.query_params
    past = parse_timestamp(params, "timestamp_past")
    parse_timestamp(params, "timestamp_future")
    root = parse_uint64(root_id, "root_id")

    def work() -> dict[str, Any]:
        check_roots(graph, [root])
        return node_link_data(graph.get_lineage_graph([root], past or 0.0, None))

    return json_response(request, await read(graph, work), int64_as_str(request))


async def get_lineage_graph_multiple(request: Request, table_id: str) -> Response:
    graph = graph_of(request, table_id)
    params = request.query_params
    past = parse_timestamp(params, "timestamp_past")
    future = parse_timestamp(params, "timestamp_future")
    roots = body_node_ids(await read_body(request), is_binary=False, key="root_ids")

    def work() -> dict[str, Any]:
        return node_link_data(graph.get_lineage_graph(roots, past or 0.0, future))

    return json_response(request, await read(graph, work), int64_as_str(request))


async def get_past_id_mapping(request: Request, table_id: str) -> Response:
    graph = graph_of(request, table_id)
    roots = body_node_ids(await read_body(request), is_binary=False, key="root_ids")
    params = request.query_params
    past = parse_timestamp(params, "timestamp_past")
    parse_timestamp(params, "timestamp_future")

    def work() -> dict[str, Any]:
        check_roots(graph, roots)
        past_map, future_map = graph.get_past_id_mapping(roots, past or 0.0, None)
        return {
            "past_id_map": {str(k): np.asarray(v, dtype=np.uint64) for k, v in past_map.items()},
            "future_id_map": {str(k): np.uint64(v) for k, v in future_map.items()},
        }

    return json_response(request, await read(graph, work), int64_as_str(request))


# -- operations ------------------------------------------------------------------------------
def parse_operation_ids(raw: str | None) -> list[int]:
    """The ``operation_ids`` query parameter: a JSON list of integers (default ``[]``).

    Ids too large for a uint64 cannot name an operation and are dropped, like unknown ones.
    """
    text = "[]" if raw is None else raw
    if _OPERATION_IDS.fullmatch(text) is None:
        raise bad_request(f"operation_ids must be a JSON list of integers, got {raw!r}")
    return [int(v) for v in re.findall(r"[0-9]+", text) if int(v) <= MAX_UINT64]


async def get_operation_details(request: Request, table_id: str) -> Response:
    graph = graph_of(request, table_id)
    operation_ids = parse_operation_ids(request.query_params.get("operation_ids"))

    def work() -> dict[str, Any]:
        details = graph.get_operation_details(operation_ids)
        rows: dict[str, Any] = {}
        for operation_id, row in details.items():
            row = dict(row)
            for key in ("undo_operation_id", "redo_operation_id"):
                if key in row:
                    row[key] = np.uint64(row[key])
            rows[str(operation_id)] = row
        return rows

    return json_response(request, await read(graph, work), int64_as_str(request))


async def get_delta_roots(request: Request, table_id: str) -> Response:
    graph = graph_of(request, table_id)
    params = request.query_params
    past = require_timestamp(params, "timestamp_past")
    future = parse_timestamp(params, "timestamp_future")
    new_roots, old_roots = await read(graph, lambda: graph.get_delta_roots(past, future))
    body = {"new_roots": new_roots.astype(np.uint64), "old_roots": old_roots.astype(np.uint64)}
    return json_response(request, body, int64_as_str(request))


def add_routes(router: APIRouter) -> None:
    """Register the history routes on ``router``."""
    root = f"{V1}/root/{{root_id}}"
    routes = (
        ("GET", f"{root}/change_log", get_change_log),
        ("GET", f"{root}/tabular_change_log", get_tabular_change_log),
        ("GET", f"{V1}/tabular_change_log_many", get_tabular_change_log_many),
        ("GET", f"{root}/merge_log", get_merge_log),
        ("GET", f"{root}/lineage_graph", get_lineage_graph),
        ("POST", f"{V1}/lineage_graph_multiple", get_lineage_graph_multiple),
        ("GET", f"{V1}/past_id_mapping", get_past_id_mapping),
        ("GET", f"{V1}/operation_details", get_operation_details),
        ("GET", f"{V1}/delta_roots", get_delta_roots),
    )
    for method, path, handler in routes:
        router.add_api_route(path, handler, methods=[method], dependencies=[VIEW])
