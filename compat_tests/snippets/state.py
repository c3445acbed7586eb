"""client.state: Neuroglancer states and segment properties."""

from __future__ import annotations

import json
from typing import Any

from . import Fixtures, snippet

STATE = {
    "layers": [{"type": "segmentation", "name": "seg", "segments": ["864691135000000001"]}],
    "position": [1.5, 2.0, 3.0],
    "title": "compat",
}
PROPERTIES = {
    "@type": "neuroglancer_segment_properties",
    "inline": {
        "ids": ["1", "2"],
        "properties": [{"id": "label", "type": "label", "values": ["a", "b"]}],
    },
}


@snippet("state.upload_state_json", "state.get_state_json", "state.build_neuroglancer_url")
def state_round_trip(client: Any, fx: Fixtures) -> Any:
    state_id = client.state.upload_state_json(STATE)
    url = client.state.build_neuroglancer_url(state_id, target_site="seunglab")
    spelunker = client.state.build_neuroglancer_url(
        state_id, ngl_url="https://spelunker.example.org/", target_site="spelunker"
    )
    return {
        "is_int": isinstance(state_id, int),
        "state": client.state.get_state_json(state_id),
        "url": url.replace(str(state_id), "{id}").replace(fx.server, "{server}"),
        "spelunker": spelunker.replace(str(state_id), "{id}").replace(fx.server, "{server}"),
    }


@snippet("state.build_neuroglancer_url")
def static_and_property_urls(client: Any, fx: Fixtures) -> Any:
    static = "https://bucket.example.org/state.json"
    return [
        client.state.build_neuroglancer_url(static, target_site="seunglab", static_url=True),
        client.state.build_neuroglancer_url(
            static, ngl_url="https://ngl.example.org", target_site="mainline", static_url=True
        ),
        client.state.build_neuroglancer_url(
            123, target_site="spelunker", format_properties=True
        ).replace(fx.server, "{server}"),
    ]


@snippet("state.upload_property_json", "state.get_property_json")
def properties_round_trip(client: Any, fx: Fixtures) -> Any:
    property_id = client.state.upload_property_json(PROPERTIES)
    return client.state.get_property_json(property_id)


@snippet("state.state_service_endpoint", "state.ngl_url")
def state_endpoints(client: Any, fx: Fixtures) -> Any:
    return {
        "endpoint": client.state.state_service_endpoint.replace(fx.server, "{server}"),
        "ngl_url": client.state.ngl_url,
    }


@snippet("state.save_state_json_local")
def save_locally(client: Any, fx: Fixtures) -> Any:
    path = fx.tmp / "state.json"
    client.state.save_state_json_local(STATE, str(path))
    return json.loads(path.read_text())
