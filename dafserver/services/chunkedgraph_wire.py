"""PyChunkedGraph's wire conventions: query parsing, request bodies and response rendering.

Parsing follows the real server where its quirks are part of the contract (three ways of reading
booleans, float unix timestamps, ``bounds`` strings, raw little-endian uint64 bodies). Where the
real server crashes on bad input (a 500 with a traceback), these helpers raise the 400 the
contract declares instead. Every failure is a :class:`~dafserver.errors.ServiceError`, rendered as
PyChunkedGraph's error body.

Rendering reproduces ``jsonify_with_kwargs``: sorted keys, compact separators, a trailing newline,
and with ``int64_as_str`` every numpy int64/uint64 value (array or scalar) written as a decimal
string while plain Python numbers stay numbers. Handlers therefore keep values as numpy types
exactly where PyChunkedGraph has them.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from fastapi import Request
from fastapi.responses import Response

from dafserver.body_limit import MAX_BODY_BYTES
from dafserver.errors import ServiceError
from dafserver.responses import flask_json_bytes

UInt64Array = npt.NDArray[np.uint64]

MAX_UINT64 = 2**64 - 1
JSON = "application/json"
BINARY = "application/octet-stream"
GZIP_LEVEL = 6
"""zlib level for gzipped answers (production uses gzip's default; the bytes differ, not the data)."""

MAX_LAYER = 255
"""Largest layer a ``stop_layer`` / ``start_layer`` may name (a node id's layer field is 8 bits)."""
MAX_BOUND = 2**53
"""Bounds beyond this many voxels are clipped to it (the box covers the whole volume anyway)."""
EARLIEST = datetime(1, 1, 1, tzinfo=UTC).timestamp()
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()

_BOUNDS = re.compile(r"([0-9]+)-([0-9]+)_([0-9]+)-([0-9]+)_([0-9]+)-([0-9]+)", re.ASCII)
_INT64_TYPES = (np.int64, np.uint64)


def bad_request(message: str) -> ServiceError:
    """A 400 in PyChunkedGraph's error format."""
    return ServiceError(400, message)


# -- booleans --------------------------------------------------------------------------------
def toboolean(raw: str | None, default: bool) -> bool:
    """PCG's ``toboolean`` through werkzeug: ``true``/``1``/``false``/``0`` (any case), else default."""
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    return default


def str2bool(raw: str | None, default: bool) -> bool:
    """PCG's ``str2bool``: true only for ``yes``/``true``/``t``/``1`` (any case) when present."""
    if raw is None:
        return default
    return raw.lower() in ("yes", "true", "t", "1")


def python_bool(raw: str | None, default: bool) -> bool:
    """Python ``bool(str)``: any non-empty value (even ``false``) is true."""
    if raw is None:
        return default
    return bool(raw)


def exact_flag(raw: str | None) -> bool:
    """The meshing routes' test: true only for exactly ``True``, ``true`` or ``1``."""
    return raw in ("True", "true", "1")


# -- scalars ---------------------------------------------------------------------------------
def parse_timestamp(params: Mapping[str, str], name: str) -> float | None:
    """A float unix timestamp parameter, ``None`` when absent.

    Numbers beyond the years 1..9999 are clamped to them (production fails on those with a
    400 or a 500 depending on how far out they are); what is not a finite number is a 400.
    """
    raw = params.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise bad_request(f"Timestamp parameter {name} is not a valid unix timestamp")
    return min(max(value, EARLIEST), LATEST)


def require_timestamp(params: Mapping[str, str], name: str) -> float:
    """A mandatory timestamp parameter."""
    value = parse_timestamp(params, name)
    if value is None:
        raise bad_request(f"Timestamp parameter {name} is mandatory")
    return value


def parse_uint64(raw: Any, what: str) -> int:
    """A uint64 given as a decimal string or a JSON integer (not a bool).

    A JSON number with a zero fraction (``12.0``) is an integer to JSON Schema, so it counts.
    """
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, str):
        if raw.isascii() and raw.isdigit() and int(raw) <= MAX_UINT64:
            return int(raw)
    elif isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= MAX_UINT64:
        return raw
    raise bad_request(f"{what} must be an unsigned 64-bit integer, got {raw!r}")


def parse_int(raw: str, what: str) -> int:
    """``int(raw)`` with PCG's message for ``stop_layer`` failures."""
    try:
        return int(raw)
    except ValueError as err:
        raise bad_request(f"{what} is not an integer {err}") from None


def parse_layer(raw: str | None, default: int, what: str = "stop_layer") -> int:
    """A layer number, 1..:data:`MAX_LAYER` (``default`` when absent).

    Layers above the root layer are allowed: no node reaches them, so root look-ups find no
    ancestor there and leaf look-ups find no descendant. Beyond :data:`MAX_LAYER` (the largest
    layer a node id can encode) is a 400.
    """
    layer = default if raw is None else parse_int(raw, what)
    if layer < 1:
        raise bad_request(f"{what} must be at least 1, got {layer}")
    if layer > MAX_LAYER:
        raise bad_request(f"{what} must be at most {MAX_LAYER}, got {layer}")
    return layer


def parse_bounds(raw: str | None) -> npt.NDArray[np.int64] | None:
    """``x0-x1_y0-y1_z0-z1`` as ``[[x0, y0, z0], [x1, y1, z1]]`` voxels, ``None`` when absent."""
    if raw is None:
        return None
    match = _BOUNDS.fullmatch(raw)
    if match is None:
        raise bad_request(f"bounds must look like x0-x1_y0-y1_z0-z1, got {raw!r}")
    clipped = [min(int(v), MAX_BOUND) for v in match.groups()]
    values = np.array(clipped, dtype=np.int64).reshape(3, 2)
    result: npt.NDArray[np.int64] = values.T.copy()
    return result


# -- bodies ----------------------------------------------------------------------------------
async def read_body(request: Request) -> bytes:
    """The raw request body, gunzipped when it carries ``Content-Encoding: gzip``.

    A gzipped body that inflates past :data:`~dafserver.body_limit.MAX_BODY_BYTES` is a 413.
    """
    body = await request.body()
    if "gzip" in request.headers.get("content-encoding", "").lower():
        try:
            return gunzip_limited(body, MAX_BODY_BYTES)
        except (OSError, EOFError, zlib.error) as err:
            raise bad_request(f"The gzip request body could not be decompressed: {err}") from None
    return body


def gunzip_limited(data: bytes, limit: int) -> bytes:
    """Every gzip member of ``data`` inflated, refusing (413) more than ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    while True:
        inflater = zlib.decompressobj(wbits=31)
        chunk = inflater.decompress(data, limit - size + 1)
        size += len(chunk)
        if size > limit or inflater.unconsumed_tail:
            raise ServiceError(413, f"The gzip request body inflates past {limit} bytes")
        parts.append(chunk)
        if not inflater.eof:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        data = inflater.unused_data
        if not data.strip(b"\0"):
            return b"".join(parts)


def parse_json(body: bytes) -> Any:
    """The body as JSON (its ``Content-Type`` is ignored, as in production)."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise bad_request(f"The request body is not valid JSON: {err}") from None


def json_field(document: Any, key: str) -> Any:
    """``document[key]`` of a JSON object body."""
    if not isinstance(document, dict) or key not in document:
        raise bad_request(f"The request body must be a JSON object with {key!r}")
    return document[key]


def parse_ids(values: Any, what: str) -> UInt64Array:
    """A JSON list of uint64 ids (numbers or decimal strings) as a uint64 array."""
    if not isinstance(values, list):
        raise bad_request(f"{what} must be a list of ids")
    if all(type(v) is int for v in values):
        try:
            return np.array(values, dtype=np.uint64).reshape(-1)
        except OverflowError:
            pass
    return np.fromiter(
        (parse_uint64(v, f"{what} item") for v in values), dtype=np.uint64, count=len(values)
    )


def parse_binary_ids(body: bytes) -> UInt64Array:
    """A raw little-endian uint64 body."""
    if len(body) % 8:
        raise bad_request(f"The binary body has {len(body)} bytes, not a multiple of 8")
    return np.frombuffer(body, dtype="<u8").astype(np.uint64)


def body_node_ids(body: bytes, is_binary: bool, key: str = "node_ids") -> UInt64Array:
    """Ids of a raw uint64 body (``is_binary``) or of the JSON ``{key: [...]}`` body."""
    if is_binary:
        return parse_binary_ids(body)
    return parse_ids(json_field(parse_json(body), key), key)


# -- rendering -------------------------------------------------------------------------------
def to_wire(value: Any, int64_as_str: bool) -> Any:
    """Plain JSON values, converted the way PyChunkedGraph's JSON encoder converts numpy types."""
    if isinstance(value, np.ndarray):
        if int64_as_str and value.dtype.type in _INT64_TYPES:
            return value.astype(str).tolist()
        return value.tolist()
    if isinstance(value, np.generic):
        if int64_as_str and isinstance(value, _INT64_TYPES):
            return str(value)
        return value.item()
    if isinstance(value, dict):
        return {_key(k): to_wire(v, int64_as_str) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v, int64_as_str) for v in value]
    if isinstance(value, datetime):
        return str(value)
    if isinstance(value, pd.DataFrame):
        return value.to_json()
    return value


def _key(key: Any) -> str:
    if isinstance(key, np.generic):
        return str(key.item())
    return str(key)


def pcg_json_bytes(value: Any, int64_as_str: bool = False) -> bytes:
    """``jsonify_with_kwargs(value, int64_as_str=...)``: sorted, compact, newline-terminated."""
    return flask_json_bytes(to_wire(value, int64_as_str))


def respond(
    request: Request,
    body: bytes,
    media_type: str,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A response, gzipped (as production's ``after_request`` does) when the client accepts it."""
    all_headers = dict(headers or {})
    if 200 <= status < 300 and "gzip" in request.headers.get("accept-encoding", "").lower():
        body = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
        all_headers["Content-Encoding"] = "gzip"
        all_headers["Vary"] = "Accept-Encoding"
    return Response(body, status_code=status, media_type=media_type, headers=all_headers)


def json_response(
    request: Request,
    value: Any,
    int64_as_str: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A PyChunkedGraph JSON answer."""
    return respond(request, pcg_json_bytes(value, int64_as_str), JSON, headers=headers)


def binary_response(request: Request, ids: npt.ArrayLike) -> Response:
    """Raw little-endian uint64 (an empty result is an empty body)."""
    data = np.ascontiguousarray(np.asarray(ids, dtype=np.uint64).reshape(-1), dtype="<u8")
    return respond(request, data.tobytes(), BINARY)


def int64_as_str(request: Request) -> bool:
    """The ``int64_as_str`` switch of the request."""
    return toboolean(request.query_params.get("int64_as_str"), False)
