"""Segmentation v1 edit routes: merge, split, split preview, undo and redo.

Each edit holds its graph exclusively while the points are resolved to supervoxels and the edit
is applied, and answers ``{"new_root_ids": [...], "operation_id": n}``. The user id logged is
the caller's auth id as a string. Points are ``[node_id, x_nm, y_nm, z_nm]``; see
:mod:`dafserver.services.supervoxel_lookup` for how an id that is not a supervoxel is resolved.

Deviations from production: no remesh request is published (``priority`` and ``remesh`` are read
and have no effect); an undo or redo with nothing to change (the edges are already as the target
state wants them) answers 400, where production answers 200 with ``operation_id: null`` and no
new roots, which the contract's response schema cannot express.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from dafserver.auth.guard import require_permission
from dafserver.auth.store import UserContext
from dafserver.chunkedgraph.graph import ChunkedGraph, EditResult
from dafserver.services.chunkedgraph_access import graph_of, read, write
from dafserver.services.chunkedgraph_queries import NAMESPACE, V1, VIEW, watershed_for
from dafserver.services.chunkedgraph_wire import (
    bad_request,
    int64_as_str,
    json_field,
    json_response,
    parse_json,
    parse_uint64,
    read_body,
    str2bool,
)
from dafserver.services.supervoxel_lookup import (
    EditPoint,
    parse_points,
    resolve_points,
    voxel_coords,
)

Editor = Annotated[UserContext, Depends(require_permission("edit", NAMESPACE, "table_id"))]

DEFAULT_CHEBYSHEV_DISTANCE = 3
CHEBYSHEV_MESSAGE = "Chebyshev distance between merge points exceeded allowed maximum (3 chunks)."
"""Production's message names 3 chunks whatever ``chebyshev_distance`` says."""


def _edit_answer(request: Request, result: EditResult) -> Response:
    body = {"new_root_ids": result.new_root_ids, "operation_id": np.uint64(result.operation_id)}
    return json_response(request, body, int64_as_str(request))


def _edit_flags(request: Request) -> None:
    """Read ``priority`` and ``remesh`` as production does (str2bool); nothing is remeshed."""
    str2bool(request.query_params.get("priority"), True)
    str2bool(request.query_params.get("remesh"), True)


def _chebyshev_distance(raw: str | None) -> int:
    """werkzeug's ``type=int``: a value that is not an integer means the default."""
    if raw is None:
        return DEFAULT_CHEBYSHEV_DISTANCE
    try:
        return int(raw)
    except ValueError:
        return DEFAULT_CHEBYSHEV_DISTANCE


async def merge(request: Request, table_id: str, user: Editor) -> Response:
    graph = graph_of(request, table_id)
    document = parse_json(await read_body(request))
    _edit_flags(request)
    distance = _chebyshev_distance(request.query_params.get("chebyshev_distance"))
    points = parse_points(document, graph.meta.resolution, "merge", count=2)
    volume = watershed_for(request, graph)

    def work() -> EditResult:
        supervoxels = resolve_points(graph, volume, points)
        chunks = graph.layout.get_chunk_coords(supervoxels).reshape(2, 3)
        if bool(np.any(np.abs(chunks[0] - chunks[1]) > distance)):
            raise bad_request(CHEBYSHEV_MESSAGE)
        coords = voxel_coords(points)
        return graph.merge(
            int(supervoxels[0]),
            int(supervoxels[1]),
            user_id=str(user.id),
            source_coords=coords[:1],
            sink_coords=coords[1:],
            chebyshev_distance=distance,
        )

    return _edit_answer(request, await write(graph, work))


def _split_points(graph: ChunkedGraph, document: Any) -> tuple[list[EditPoint], list[EditPoint]]:
    resolution = graph.meta.resolution
    sources = parse_points(json_field(document, "sources"), resolution, "sources")
    sinks = parse_points(json_field(document, "sinks"), resolution, "sinks")
    return sources, sinks


async def split(request: Request, table_id: str, user: Editor) -> Response:
    graph = graph_of(request, table_id)
    document = parse_json(await read_body(request))
    _edit_flags(request)
    mincut = str2bool(request.query_params.get("mincut"), True)
    sources, sinks = _split_points(graph, document)
    volume = watershed_for(request, graph)

    def work() -> EditResult:
        supervoxels = resolve_points(graph, volume, sources + sinks)
        coords = voxel_coords(sources + sinks)
        n = len(sources)
        return graph.split(
            supervoxels[:n],
            supervoxels[n:],
            user_id=str(user.id),
            mincut=mincut,
            source_coords=coords[:n],
            sink_coords=coords[n:],
        )

    return _edit_answer(request, await write(graph, work))


async def split_preview(request: Request, table_id: str) -> Response:
    graph = graph_of(request, table_id)
    document = parse_json(await read_body(request))
    sources, sinks = _split_points(graph, document)
    volume = watershed_for(request, graph)

    def work() -> dict[str, Any]:
        supervoxels = resolve_points(graph, volume, sources + sinks)
        coords = voxel_coords(sources + sinks)
        n = len(sources)
        preview = graph.split_preview(
            supervoxels[:n],
            supervoxels[n:],
            source_coords=coords[:n],
            sink_coords=coords[n:],
        )
        return {
            "illegal_split": bool(preview.illegal_split),
            "supervoxel_connected_components": [
                np.asarray(c, dtype=np.uint64) for c in preview.components
            ],
        }

    return json_response(request, await read(graph, work), int64_as_str(request))


async def _undo_redo(request: Request, table_id: str, user: UserContext, undo: bool) -> Response:
    graph = graph_of(request, table_id)
    document = parse_json(await read_body(request))
    _edit_flags(request)
    operation_id = parse_uint64(json_field(document, "operation_id"), "operation_id")

    def work() -> EditResult:
        edit = graph.undo if undo else graph.redo
        result = edit(operation_id, user_id=str(user.id))
        if result.operation_id == 0:
            verb = "undo" if undo else "redo"
            raise bad_request(
                f"Operation {operation_id} has nothing to {verb}: its edges are already "
                "in the requested state."
            )
        return result

    return _edit_answer(request, await write(graph, work))


async def undo(request: Request, table_id: str, user: Editor) -> Response:
    return await _undo_redo(request, table_id, user, undo=True)


async def redo(request: Request, table_id: str, user: Editor) -> Response:
    return await _undo_redo(request, table_id, user, undo=False)


def add_routes(router: APIRouter) -> None:
    """Register the edit routes on ``router``."""
    router.add_api_route(f"{V1}/merge", merge, methods=["POST"])
    router.add_api_route(f"{V1}/split", split, methods=["POST"])
    router.add_api_route(
        f"{V1}/graph/split_preview", split_preview, methods=["POST"], dependencies=[VIEW]
    )
    router.add_api_route(f"{V1}/undo", undo, methods=["POST"])
    router.add_api_route(f"{V1}/redo", redo, methods=["POST"])
