"""Segmentation v1 read routes: roots, hierarchy, node validity and path finding.

Parameters are read in the order PyChunkedGraph reads them, so when several are wrong the same
one is reported. Unknown nodes answer 404 where the contract declares it (production: a 500 with
a traceback); ``children`` answers ``[]`` for them as production does.

``stop_layer`` must be at least 1. A layer above the root layer is not an error: no node has an
ancestor there, so ``root`` answers 404 and ``roots`` maps ids to 0 (404 without
``fail_to_zero``) unless an id is itself at or above that layer, and ``leaves`` finds nothing,
as in production (where ``roots`` fails an assertion with a 500 instead).

``find_path`` resolves its two points to supervoxels like the edit routes and searches the path
as of the creation time of the first point's node (now for a supervoxel). Its centroids are
always L2 chunk centres: ``precision_mode`` would use L2 meshes, which dafserver does not have.
"""

from __future__ import annotations

import pickle
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from dafserver.auth.guard import require_permission
from dafserver.chunkedgraph.errors import NodeNotFound
from dafserver.chunkedgraph.graph import ChunkedGraph
from dafserver.errors import ServiceError
from dafserver.services.chunkedgraph_access import deployment_of, graph_of, read
from dafserver.services.chunkedgraph_wire import (
    bad_request,
    binary_response,
    body_node_ids,
    int64_as_str,
    json_response,
    parse_bounds,
    parse_json,
    parse_layer,
    parse_timestamp,
    parse_uint64,
    python_bool,
    read_body,
    respond,
    toboolean,
)
from dafserver.services.supervoxel_lookup import (
    WatershedVolume,
    open_watershed,
    parse_points,
    resolve_points,
)

UInt64Array = npt.NDArray[np.uint64]

NAMESPACE = "pychunkedgraph"
V1 = "/segmentation/api/v1/table/{table_id}"
VIEW = Depends(require_permission("view", NAMESPACE, "table_id"))


def require_known(graph: ChunkedGraph, node_ids: npt.ArrayLike) -> None:
    """404 unless every id is a node of the graph."""
    ids = np.unique(np.asarray(node_ids, dtype=np.uint64).reshape(-1))
    known = graph.get_valid_nodes(ids)
    missing = np.setdiff1d(ids, known)
    if missing.size:
        raise ServiceError(404, f"Unknown node {int(missing[0])}")


def watershed_for(request: Request, graph: ChunkedGraph) -> WatershedVolume | None:
    """The supervoxel volume of ``graph`` when the deployment knows where it is."""
    manifest = deployment_of(request).manifest
    if manifest is None or manifest.graph.table_id != graph.table_id:
        return None
    return open_watershed(manifest.segmentation_cloudpath)


def ancestors(
    graph: ChunkedGraph,
    ids: npt.ArrayLike,
    timestamp: float | None,
    stop_layer: int,
    fail_to_zero: bool = True,
) -> UInt64Array:
    """``get_roots``, also for a ``stop_layer`` above the root layer, which only ids already
    at or above it reach (they are returned unchanged)."""
    if stop_layer <= graph.n_layers:
        return graph.get_roots(ids, timestamp, stop_layer, fail_to_zero=fail_to_zero)
    nodes = np.asarray(ids, dtype=np.uint64).reshape(-1)
    reached = graph.layout.get_layer(nodes) >= stop_layer
    result = np.where(reached, nodes, np.uint64(0)).astype(np.uint64)
    if not fail_to_zero and not bool(reached.all()):
        raise NodeNotFound(f"Cannot find root id {int(nodes[~reached][0])}")
    return result


def _when(timestamp: float | None) -> datetime:
    return datetime.fromtimestamp(time.time() if timestamp is None else timestamp, UTC)


# -- roots -----------------------------------------------------------------------------------
async def get_root(request: Request, table_id: str, node_id: str) -> Response:
    graph = graph_of(request, table_id)
    params = request.query_params
    timestamp = parse_timestamp(params, "timestamp")
    raw_layer = params.get("stop_layer")
    stop_layer = parse_layer(raw_layer, graph.n_layers)
    node = parse_uint64(node_id, "node_id")

    def work() -> np.uint64:
        root = ancestors(graph, [node], timestamp, stop_layer)[0]
        if root == 0:
            raise ServiceError(404, f"Cannot find root id {node}, {raw_layer}, {_when(timestamp)}")
        return np.uint64(root)

    root = await read(graph, work)
    return json_response(request, {"root_id": root}, int64_as_str(request))


async def _roots(request: Request, table_id: str, is_binary: bool) -> UInt64Array:
    graph = graph_of(request, table_id)
    ids = body_node_ids(await read_body(request), is_binary)
    params = request.query_params
    timestamp = parse_timestamp(params, "timestamp")
    stop_layer = parse_layer(params.get("stop_layer"), graph.n_layers)
    assert_roots = python_bool(params.get("assert_roots"), False)
    fail_to_zero = python_bool(params.get("fail_to_zero"), True)

    def work() -> UInt64Array:
        roots = ancestors(graph, ids, timestamp, stop_layer, fail_to_zero)
        check = assert_roots and stop_layer == graph.n_layers
        if check and bool(np.any(graph.layout.get_layer(roots) < graph.n_layers)):
            raise bad_request("roots not found for some IDs")
        return roots

    return await read(graph, work)


async def get_roots(request: Request, table_id: str) -> Response:
    roots = await _roots(request, table_id, is_binary=False)
    if request.query_params.get("as_binary") == "root_ids":
        return binary_response(request, roots)
    return json_response(request, {"root_ids": roots}, int64_as_str(request))


async def get_roots_binary(request: Request, table_id: str) -> Response:
    return binary_response(request, await _roots(request, table_id, is_binary=True))


async def is_latest_roots(request: Request, table_id: str) -> Response:
    graph = graph_of(request, table_id)
    ids = body_node_ids(await read_body(request), is_binary=False)
    timestamp = parse_timestamp(request.query_params, "timestamp")
    latest = await read(graph, lambda: graph.is_latest_roots(ids, timestamp))
    return json_response(request, {"is_latest": latest}, int64_as_str(request))


async def get_root_timestamps(request: Request, table_id: str) -> Response:
    graph = graph_of(request, table_id)
    params = request.query_params
    is_binary = toboolean(params.get("is_binary"), False)
    latest = toboolean(params.get("latest"), False)
    ids = body_node_ids(await read_body(request), is_binary)
    timestamp = parse_timestamp(params, "timestamp")

    def work() -> list[float]:
        try:
            times = graph.get_root_timestamps(ids, latest=latest, timestamp=timestamp)
        except NodeNotFound:
            known = graph.get_valid_nodes(ids)
            if not bool(np.any(graph.layout.get_layer(known) >= 2)):
                return []
            raise
        return [float(t) for t in times]

    times = await read(graph, work)
    return json_response(request, {"timestamp": times}, int64_as_str(request))


async def get_minimal_covering_nodes(request: Request, table_id: str) -> Response:
    graph = graph_of(request, table_id)
    params = request.query_params
    is_binary = toboolean(params.get("is_binary"), False)
    ids = body_node_ids(await read_body(request), is_binary)
    timestamp = parse_timestamp(params, "timestamp")
    if ids.size == 0:
        raise bad_request("node_ids must not be empty")

    def work() -> UInt64Array:
        unique_ids = np.unique(ids)
        known = graph.get_valid_nodes(unique_ids, end_timestamp=timestamp)
        missing = np.setdiff1d(unique_ids, known)
        if missing.size:
            raise ServiceError(404, f"Unknown node {int(missing[0])}")
        return graph.get_minimal_covering_nodes(ids, timestamp)

    nodes = await read(graph, work)
    if toboolean(params.get("as_array"), False):
        return binary_response(request, nodes)
    return json_response(request, nodes, int64_as_str(request))


# -- hierarchy -------------------------------------------------------------------------------
async def get_children(request: Request, table_id: str, node_id: str) -> Response:
    graph = graph_of(request, table_id)
    node = parse_uint64(node_id, "node_id")
    children = await read(graph, lambda: graph.get_children(node))
    return json_response(request, {"children_ids": children}, int64_as_str(request))


async def get_leaves(request: Request, table_id: str, node_id: str) -> Response:
    graph = graph_of(request, table_id)
    params = request.query_params
    stop_layer = parse_layer(params.get("stop_layer"), 1)
    bounds = parse_bounds(params.get("bounds"))
    node = parse_uint64(node_id, "node_id")

    def work() -> UInt64Array:
        require_known(graph, [node])
        if stop_layer > graph.n_layers:
            return np.zeros(0, dtype=np.uint64)
        return graph.get_leaves(node, stop_layer, bounds)

    leaves = await read(graph, work)
    return json_response(request, {"leaf_ids": leaves}, int64_as_str(request))


async def get_leaves_many(request: Request, table_id: str) -> Response:
    graph = graph_of(request, table_id)
    params = request.query_params
    bounds = parse_bounds(params.get("bounds"))
    ids = body_node_ids(await read_body(request), is_binary=False)
    stop_layer = parse_layer(params.get("stop_layer"), 1)

    def work() -> dict[str, UInt64Array]:
        require_known(graph, ids)
        if stop_layer > graph.n_layers:
            return {str(node): np.zeros(0, dtype=np.uint64) for node in ids.tolist()}
        leaves = graph.get_leaves_many(ids, stop_layer, bounds)
        return {str(node): values for node, values in leaves.items()}

    leaves = await read(graph, work)
    return json_response(request, leaves, int64_as_str(request))


async def get_subgraph(request: Request, table_id: str, node_id: str) -> Response:
    graph = graph_of(request, table_id)
    params = request.query_params
    only_internal = toboolean(params.get("only_internal_edges"), True)
    bounds = parse_bounds(params.get("bounds"))
    node = parse_uint64(node_id, "node_id")

    def work() -> dict[str, Any]:
        require_known(graph, [node])
        edges, affinities, areas = graph.get_subgraph(node, bounds, only_internal)
        return {
            "nodes": edges.reshape(-1, 2),
            "affinities": affinities.astype(np.float32),
            "areas": areas.astype(np.uint64),
        }

    subgraph = await read(graph, work)
    return json_response(request, subgraph, int64_as_str(request))


async def get_lvl2_graph(request: Request, table_id: str, node_id: str) -> Response:
    graph = graph_of(request, table_id)
    params = request.query_params
    bounds = parse_bounds(params.get("bounds"))
    node = parse_uint64(node_id, "node_id")

    def work() -> UInt64Array:
        require_known(graph, [node])
        return graph.get_lvl2_graph(node, bounds).reshape(-1, 2)

    edges = await read(graph, work)
    used = "True" if "bounds" in params else "False"
    return json_response(
        request, {"edge_graph": edges}, int64_as_str(request), headers={"Used-Bounds": used}
    )


async def _l2_chunk_children(request: Request, table_id: str, chunk_id: str) -> UInt64Array:
    graph = graph_of(request, table_id)
    timestamp = parse_timestamp(request.query_params, "timestamp")
    chunk = parse_uint64(chunk_id, "chunk_id")
    return await read(graph, lambda: graph.get_l2_chunk_children(chunk, timestamp))


async def get_l2_chunk_children(request: Request, table_id: str, chunk_id: str) -> Response:
    if not toboolean(request.query_params.get("as_array"), False):
        raise bad_request("as_array must be true: the pickled mapping cannot be sent as JSON")
    pairs = await _l2_chunk_children(request, table_id, chunk_id)
    return json_response(request, {"l2_chunk_children": pairs}, int64_as_str(request))


async def get_l2_chunk_children_binary(request: Request, table_id: str, chunk_id: str) -> Response:
    as_array = toboolean(request.query_params.get("as_array"), False)
    pairs = await _l2_chunk_children(request, table_id, chunk_id)
    if as_array:
        return binary_response(request, pairs)
    flat = pairs.reshape(-1, 2)
    mapping = {
        np.uint64(l2): flat[flat[:, 0] == l2, 1].astype(np.uint64)
        for l2 in np.unique(flat[:, 0]).tolist()
    }
    return respond(request, pickle.dumps(mapping), "application/octet-stream")


# -- validity and time -----------------------------------------------------------------------
async def get_valid_nodes(request: Request, table_id: str) -> Response:
    graph = graph_of(request, table_id)
    params = request.query_params
    is_binary = toboolean(params.get("is_binary"), False)
    ids = body_node_ids(await read_body(request), is_binary)
    end = parse_timestamp(params, "end_timestamp")
    start = parse_timestamp(params, "start_timestamp")
    valid = await read(graph, lambda: graph.get_valid_nodes(ids, start, end))
    return json_response(request, {"valid_roots": valid}, int64_as_str(request))


async def get_oldest_timestamp(request: Request, table_id: str) -> Response:
    graph = graph_of(request, table_id)
    delimiter = request.query_params.get("delimiter", " ")
    if len(delimiter) != 1:
        raise bad_request(f"delimiter must be a single character, got {delimiter!r}")
    oldest = await read(graph, graph.get_oldest_timestamp)
    iso = datetime.fromtimestamp(oldest, UTC).isoformat(delimiter)
    return json_response(request, {"iso": iso}, int64_as_str(request))


# -- path ------------------------------------------------------------------------------------
async def find_path(request: Request, table_id: str) -> Response:
    graph = graph_of(request, table_id)
    points = parse_points(
        parse_json(await read_body(request)), graph.meta.resolution, "find_path", count=2
    )
    volume = watershed_for(request, graph)

    def work() -> dict[str, Any]:
        supervoxels = resolve_points(graph, volume, points)
        first = points[0].node_id
        timestamp = None
        if int(graph.layout.get_layer(first)[0]) >= 2:
            timestamp = float(graph.get_root_timestamps([first])[0])
        path, centroids, failed = graph.find_path(
            int(supervoxels[0]), int(supervoxels[1]), timestamp=timestamp
        )
        return {
            "centroids_list": np.asarray(centroids, dtype=np.float32).reshape(-1, 3),
            "failed_l2_ids": failed.astype(np.uint64),
            "l2_path": path.astype(np.uint64),
        }

    result = await read(graph, work)
    return json_response(request, result, int64_as_str(request))


def add_routes(router: APIRouter) -> None:
    """Register the read routes on ``router``."""
    routes = (
        ("GET", f"{V1}/node/{{node_id}}/root", get_root),
        ("POST", f"{V1}/roots", get_roots),
        ("POST", f"{V1}/roots_binary", get_roots_binary),
        ("POST", f"{V1}/is_latest_roots", is_latest_roots),
        ("POST", f"{V1}/root_timestamps", get_root_timestamps),
        ("POST", f"{V1}/minimal_covering_nodes", get_minimal_covering_nodes),
        ("GET", f"{V1}/node/{{node_id}}/children", get_children),
        ("GET", f"{V1}/node/{{node_id}}/leaves", get_leaves),
        ("POST", f"{V1}/node/leaves_many", get_leaves_many),
        ("POST", f"{V1}/leaves_many", get_leaves_many),
        ("GET", f"{V1}/node/{{node_id}}/subgraph", get_subgraph),
        ("GET", f"{V1}/node/{{node_id}}/lvl2_graph", get_lvl2_graph),
        ("GET", f"{V1}/l2_chunk_children/{{chunk_id}}", get_l2_chunk_children),
        ("GET", f"{V1}/l2_chunk_children_binary/{{chunk_id}}", get_l2_chunk_children_binary),
        ("GET", f"{V1}/valid_nodes", get_valid_nodes),
        ("GET", f"{V1}/oldest_timestamp", get_oldest_timestamp),
        ("POST", f"{V1}/graph/find_path", find_path),
    )
    for method, path, handler in routes:
        router.add_api_route(path, handler, methods=[method], dependencies=[VIEW])
