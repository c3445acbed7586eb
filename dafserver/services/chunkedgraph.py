"""The chunkedgraph service (PyChunkedGraph 2.21.1, under ``/segmentation``): generic, v1, meshing routes.

Routes follow ``specs/chunkedgraph/v1.yaml`` over the deployment's chunkedgraph engines
(``deployment.graphs``). Every route needs a token; table routes check ``view`` or ``edit`` on
the dataset the table maps to in the auth service (namespace ``pychunkedgraph``).

Wire behaviour shared by every route (see :mod:`dafserver.services.chunkedgraph_wire`): sorted
compact JSON with a trailing newline, ``int64_as_str`` on numpy integers only, raw little-endian
uint64 binary bodies and answers (``application/octet-stream``; production says ``text/html``),
gunzipped ``Content-Encoding: gzip`` request bodies, and 2xx answers gzipped whenever
``Accept-Encoding`` mentions gzip (done per response, like production's ``after_request``, so
error bodies are never compressed).

Deliberate differences from production, besides the statuses the contract declares where
production answers 500:

- dafserver has no meshes: the manifest route lists no fragments (``{"fragments": []}``, plus
  empty ``seg_ids`` / ``seg_id_layers`` / ``seg_chunk_coordinates`` when asked for) after the
  same validation production does, and ``remeshing`` only validates its body before answering
  202. ``find_path`` always answers chunk-centre coordinates (``precision_mode`` has no meshes
  to use) with no failed ids.
- Timestamps beyond the years 1..9999 are clamped to them (production answers 400 or 500).
- ``stop_layer`` / ``start_layer`` above 255 are a 400, and a gzipped body inflating past the
  request-body limit (:mod:`dafserver.body_limit`) is a 413.
- Virtual tables, CORS headers and the plain-text index pages are not served; a table the auth
  service maps but the deployment lacks answers 404. Form-encoded request bodies are read like
  any other (production's Flask loses them).
- Extra routes that production has and the contract leaves out are served too:
  ``POST .../table/{table_id}/leaves_many`` and ``?as_binary=root_ids`` on ``roots``.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from dafserver.auth.guard import require_permission, require_token
from dafserver.auth.store import UserContext
from dafserver.errors import ServiceError
from dafserver.services import chunkedgraph_edits, chunkedgraph_history, chunkedgraph_queries
from dafserver.services.chunkedgraph_access import deployment_of, graph_of, read
from dafserver.services.chunkedgraph_queries import NAMESPACE, VIEW, require_known
from dafserver.services.chunkedgraph_wire import (
    bad_request,
    body_node_ids,
    exact_flag,
    json_response,
    parse_bounds,
    parse_int,
    parse_json,
    parse_layer,
    parse_uint64,
    read_body,
    respond,
    str2bool,
)
from dafserver.services.graphene_info import API_VERSIONS, graphene_info

PCG_VERSION = "2.21.1"
MESHING = "/meshing/api/v1/table/{table_id}"

Token = Annotated[UserContext, Depends(require_token())]
EDIT = Depends(require_permission("edit", NAMESPACE, "table_id"))
_BODY_FLAGS = ("return_seg_ids", "return_seg_id_layers", "return_seg_chunk_coordinates")


# -- generic ---------------------------------------------------------------------------------
async def get_table_info(request: Request, table_id: str) -> Response:
    graph = graph_of(request, table_id)
    manifest = deployment_of(request).manifest
    if manifest is None or manifest.graph.table_id != table_id:
        raise ServiceError(404, f"Table {table_id} has no watershed volume")
    return json_response(request, graphene_info(manifest, graph.meta))


async def get_api_versions(request: Request, _user: Token) -> Response:
    return json_response(request, list(API_VERSIONS))


async def get_version(request: Request, _user: Token) -> Response:
    return json_response(request, PCG_VERSION)


# -- meshing ---------------------------------------------------------------------------------
def _body_flag(value: Any, key: str) -> bool:
    """A manifest body flag through ``toboolean`` called directly (JSON false is an error)."""
    if value is True:
        return True
    if isinstance(value, str) and value.lower() in ("true", "1"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "0"):
        return False
    raise bad_request(f"{key} must be 'true', 'false', '1', '0' or true, got {value!r}")


def _body_layer(value: Any, key: str) -> int:
    """``int(value)`` of a body layer: an integer, a number with no fraction, or a string."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return parse_int(value, key)
    raise bad_request(f"{key} is not an integer {value!r}")


async def get_manifest(request: Request, table_id: str, node_id: str) -> Response:
    graph = graph_of(request, table_id)
    body = await read_body(request)
    options = parse_json(body) if body else {}
    if not isinstance(options, dict):
        raise bad_request("The manifest request body must be a JSON object")
    params = request.query_params
    parse_layer(params.get("start_layer"), 2, "start_layer")
    if "start_layer" in options and _body_layer(options["start_layer"], "start_layer") < 1:
        raise bad_request("start_layer must be at least 1")
    if "flexible_start_layer" in options:
        _body_layer(options["flexible_start_layer"], "flexible_start_layer")
    flags = {key: _body_flag(options[key], key) for key in _BODY_FLAGS if key in options}
    return_seg_ids = flags.get("return_seg_ids", exact_flag(params.get("return_seg_ids")))
    parse_bounds(params.get("bounds"))
    node = parse_uint64(node_id, "node_id")
    await read(graph, lambda: require_known(graph, [node]))
    manifest: dict[str, Any] = {"fragments": []}
    if return_seg_ids:
        manifest["seg_ids"] = np.zeros(0, dtype=np.uint64)
    if flags.get("return_seg_id_layers", False):
        manifest["seg_id_layers"] = []
    if flags.get("return_seg_chunk_coordinates", False):
        manifest["seg_chunk_coordinates"] = []
    return json_response(request, manifest)


async def request_remeshing(request: Request, table_id: str) -> Response:
    graph_of(request, table_id)
    str2bool(request.query_params.get("priority"), True)
    body_node_ids(await read_body(request), is_binary=False, key="new_lvl2_ids")
    return respond(request, b"", "text/html; charset=utf-8", status=202)


def build_router() -> APIRouter:
    """Every route of the chunkedgraph service."""
    router = APIRouter()
    router.add_api_route(
        "/segmentation/table/{table_id}/info",
        get_table_info,
        methods=["GET"],
        dependencies=[VIEW],
    )
    router.add_api_route("/segmentation/api/versions", get_api_versions, methods=["GET"])
    router.add_api_route("/segmentation/api/version", get_version, methods=["GET"])
    chunkedgraph_queries.add_routes(router)
    chunkedgraph_edits.add_routes(router)
    chunkedgraph_history.add_routes(router)
    router.add_api_route(
        f"{MESHING}/manifest/{{node_id}}:0", get_manifest, methods=["GET"], dependencies=[VIEW]
    )
    router.add_api_route(
        f"{MESHING}/remeshing", request_remeshing, methods=["POST"], dependencies=[EDIT]
    )
    return router
