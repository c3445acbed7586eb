"""The framework client itself: construction and its shared settings."""

from __future__ import annotations

import json
from typing import Any

from . import Fixtures, snippet


@snippet("CAVEclient.datastack_name", "CAVEclient.server_address")
def framework_properties(client: Any, fx: Fixtures) -> Any:
    return {
        "datastack": client.datastack_name,
        "server": client.server_address == fx.server,
    }


@snippet("CAVEclient.change_auth", "auth.token")
def change_token(client: Any, fx: Fixtures) -> Any:
    client.change_auth(auth_token="another-token")
    changed = client.auth.token
    client.change_auth(auth_token=fx.token)
    return {"changed": changed, "back": client.auth.token == fx.token}


@snippet("CAVEclient.__init__", "info.get_datastacks")
def positional_token_file(client: Any, fx: Fixtures) -> Any:
    # CAVEclient's documented call: the third positional parameter is the token file.
    path = fx.tmp / "tokens.json"
    path.write_text(json.dumps({"token": fx.token}))
    other = fx.make(fx.datastack, fx.server, str(path), write_server_cache=False)
    return {"token": other.auth.token == fx.token, "datastacks": other.info.get_datastacks()}


@snippet("CAVEclient.__init__", "chunkedgraph.get_roots")
def transport_options(client: Any, fx: Fixtures) -> Any:
    other = fx.make(
        fx.datastack,
        server_address=fx.server,
        auth_token=fx.token,
        max_retries=2,
        pool_maxsize=4,
        pool_block=True,
        write_server_cache=False,
    )
    return other.chunkedgraph.get_roots(fx.supervoxels[:3])


@snippet("CAVEclient.__init__", "info.segmentation_source")
def global_only_and_info_cache(client: Any, fx: Fixtures) -> Any:
    record = dict(client.info.get_datastack_info())
    record["aligned_volume"] = dict(record["aligned_volume"])
    cached = fx.make(
        fx.datastack,
        server_address=fx.server,
        auth_token=fx.token,
        info_cache={fx.datastack: record},
        write_server_cache=False,
    )
    only = fx.make(
        fx.datastack,
        server_address=fx.server,
        auth_token=fx.token,
        global_only=True,
        write_server_cache=False,
    )
    return {
        "cached": cached.info.segmentation_source(),
        "global_only_schemas": len(only.schema.get_schemas()) > 0,
    }


@snippet("CAVEclient.__init__", "CAVEclient.version", "CAVEclient.timestamp", "materialize.version")
def pinned_version(client: Any, fx: Fixtures) -> Any:
    latest = int(client.materialize.most_recent_version())  # CAVEclient's is a numpy int
    pinned = fx.make(
        fx.datastack,
        server_address=fx.server,
        auth_token=fx.token,
        version=latest,
        write_server_cache=False,
    )
    return {
        "version": pinned.version,
        "timestamp": pinned.timestamp,
        "materialize": pinned.materialize.version,
    }
