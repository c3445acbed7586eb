"""The L2Cache service (PCGL2Cache 1.3.1): per-L2-node features of the deployment's graphs.

Routes follow ``specs/l2cache/v1.yaml``: ``attribute_metadata`` and ``table_mapping`` need no
token; ``table/{table_id}/attributes`` needs ``view`` on the table (namespace
``pychunkedgraph``, like PyChunkedGraph). Answers are compact JSON with sorted keys and a
trailing newline, ``int64_as_str`` applies to numpy int64 values only (in practice
``size_nm3``), and 2xx answers are gzipped when ``Accept-Encoding`` mentions gzip.

Deliberate differences from production:

- Success bodies are labelled ``application/json`` (production's Flask 2.2 labels them
  ``text/html; charset=utf-8``).
- Bad input answers 400 and a graph without an L2 cache 404, with production's error body
  (``code``, ``duration``, ``message``, ``timestamp``, an empty ``traceback``); production
  answers 500 to all of these. Ids must be a JSON list of integers or decimal strings (production
  casts whatever numpy accepts, truncating floats).
- ``update_cache`` is read and has no effect: every L2 id is computed when it is created
  (:mod:`dafserver.l2cache.fill`), so the only uncached ids are those production's worker
  skips too (not layer 2, or not a node), which stay ``{}`` there forever as well.
- The plain-text index pages (``/l2cache/``, ``/l2cache/api/v1/``) and virtual tables are not
  served.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dafserver.auth.guard import require_permission
from dafserver.auth.store import UserContext
from dafserver.errors import ServiceError
from dafserver.l2cache.served import ATTRIBUTE_DTYPES, attribute_metadata, served_row
from dafserver.l2cache.store import L2CacheStore
from dafserver.services.chunkedgraph_access import deployment_of
from dafserver.services.chunkedgraph_wire import (
    json_response,
    parse_ids,
    pcg_json_bytes,
    read_body,
    respond,
    toboolean,
)

V1 = "/l2cache/api/v1"
NAMESPACE = "pychunkedgraph"
Viewer = Annotated[UserContext, Depends(require_permission("view", NAMESPACE, "table_id"))]


def _store(request: Request) -> L2CacheStore:
    store = deployment_of(request).l2cache
    assert isinstance(store, L2CacheStore)
    return store


def _l2_ids(body: bytes) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """``json.loads(body)["l2_ids"]`` as sorted unique uint64 (messages as production's)."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise ServiceError(400, str(err)) from None
    if not isinstance(document, dict) or "l2_ids" not in document:
        raise ServiceError(400, "'l2_ids'")
    return np.unique(parse_ids(document["l2_ids"], "l2_ids"))


def _attribute_names(raw: str | None) -> list[str]:
    """The ``attribute_names`` subset (stripped names), every attribute when absent."""
    if raw is None:
        return sorted(ATTRIBUTE_DTYPES)
    names = [name.strip() for name in raw.split(",")]
    for name in names:
        if name not in ATTRIBUTE_DTYPES:
            raise ServiceError(400, repr(name))
    return names


async def get_attribute_metadata(request: Request) -> Response:
    return json_response(request, attribute_metadata())


async def get_table_mapping(request: Request) -> Response:
    server = str(request.base_url).rstrip("/")
    mapping = {
        config.graph_id: {
            "cv_path": config.cv_path.replace("{server}", server),
            "l2cache_id": config.l2cache_id,
        }
        for config in _store(request).configs()
    }
    return json_response(request, mapping)


async def get_attributes(request: Request, table_id: str, _user: Viewer) -> Response:
    int64_as_str = toboolean(request.query_params.get("int64_as_str"), False)
    toboolean(request.query_params.get("update_cache"), True)
    ids = _l2_ids(await read_body(request))
    names = _attribute_names(request.query_params.get("attribute_names"))
    store = _store(request)
    config = store.config(table_id)
    graph = deployment_of(request).graphs.get(table_id)
    if config is None or graph is None:
        raise ServiceError(404, f"Dataset {table_id} does not have an L2 Cache.")
    meta = graph.meta

    def render() -> bytes:
        # Production sorts the integer keys before writing them, so "5" comes before "144…".
        rows = store.get(config.l2cache_id, ids.tolist())
        parts = []
        for l2_id in ids.tolist():
            row = {} if l2_id not in rows else served_row(rows[l2_id], meta, l2_id, names)
            parts.append(f'"{l2_id}":' + pcg_json_bytes(row, int64_as_str).decode()[:-1])
        return ("{" + ",".join(parts) + "}\n").encode()

    return respond(request, await run_in_threadpool(render), "application/json")


def build_router() -> APIRouter:
    """The L2Cache routes."""
    router = APIRouter()
    router.add_api_route(f"{V1}/attribute_metadata", get_attribute_metadata, methods=["GET"])
    router.add_api_route(f"{V1}/table_mapping", get_table_mapping, methods=["GET"])
    router.add_api_route(f"{V1}/table/{{table_id}}/attributes", get_attributes, methods=["POST"])
    return router
