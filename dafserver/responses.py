"""Response bodies shaped like the real services' serializers."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import Response


def flask_json_bytes(content: Any, *, sort_keys: bool = True) -> bytes:
    """JSON as Flask's ``jsonify`` writes it in production: compact, sorted keys, trailing newline."""
    return (
        json.dumps(content, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False) + "\n"
    ).encode("utf-8")


class FlaskJSONResponse(Response):
    """``application/json`` rendered like Flask ``jsonify`` (PyChunkedGraph, the state server)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return flask_json_bytes(content)


class RestxJSONResponse(Response):
    """``application/json`` rendered like flask-restx: keys in insertion order, trailing newline."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return flask_json_bytes(content, sort_keys=False)
