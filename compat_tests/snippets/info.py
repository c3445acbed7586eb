"""client.info, as CAVEclient's documentation and notebooks use it."""

from __future__ import annotations

from typing import Any

from . import Fixtures, snippet


@snippet("info.get_datastack_info")
def datastack_info_keys(client: Any, fx: Fixtures) -> Any:
    info = client.info.get_datastack_info()
    return {
        "segmentation_source": info["segmentation_source"],
        "synapse_table": info["synapse_table"],
        "soma_table": info["soma_table"],
        "aligned_volume": info["aligned_volume"]["name"],
        "image_source": info["aligned_volume"]["image_source"],
        "viewer_resolution": [info[f"viewer_resolution_{a}"] for a in "xyz"],
        "has_local_server": "local_server" in info,
        "missing": info.get("no_such_key", "absent"),
    }


@snippet("info.get_datastack_info")
def datastack_info_whole_record(client: Any, fx: Fixtures) -> Any:
    return dict(client.info.get_datastack_info(datastack_name=fx.datastack, use_stored=False))


@snippet("info.segmentation_source")
def segmentation_source_formats(client: Any, fx: Fixtures) -> Any:
    info = client.info
    return [
        info.segmentation_source(),
        info.segmentation_source(format_for="cloudvolume"),
        info.segmentation_source(format_for="neuroglancer"),
        info.segmentation_source(fx.datastack, True, "raw"),  # CAVEclient's positional order
        info.segmentation_source(format_for="cave_explorer"),
        info.segmentation_source(format_for="spelunker"),
        info.segmentation_source(use_stored=False),
    ]


@snippet("info.image_source")
def image_source_raw_and_cloudvolume(client: Any, fx: Fixtures) -> Any:
    return [
        client.info.image_source(),
        client.info.image_source(fx.datastack, True, "raw"),
        client.info.image_source(format_for="cloudvolume"),
    ]


@snippet("info.synapse_segmentation_source")
def synapse_segmentation_source_by_datastack(client: Any, fx: Fixtures) -> Any:
    return client.info.synapse_segmentation_source(datastack_name=fx.datastack)


@snippet(
    "info.viewer_site",
    "info.viewer_resolution",
    "info.local_server",
    "info.annotation_endpoint",
)
def datastack_endpoints(client: Any, fx: Fixtures) -> Any:
    return {
        "viewer_site": client.info.viewer_site(),
        "viewer_resolution": client.info.viewer_resolution(),
        "local_server_is_the_server": client.info.local_server() == fx.server,
        "annotation_endpoint": client.info.annotation_endpoint().removeprefix(fx.server),
    }


@snippet("info.get_datastacks", "info.get_aligned_volumes", "info.get_datastacks_by_aligned_volume")
def listings(client: Any, fx: Fixtures) -> Any:
    volumes = client.info.get_aligned_volumes()
    return {
        "datastacks": sorted(client.info.get_datastacks()),
        "aligned_volumes": sorted(volumes),
        "by_volume": {v: sorted(client.info.get_datastacks_by_aligned_volume(v)) for v in volumes},
    }


@snippet(
    "info.get_aligned_volume_info",
    "info.get_aligned_volume_info_by_id",
    "info.aligned_volume_name",
    "info.aligned_volume_id",
)
def aligned_volume(client: Any, fx: Fixtures) -> Any:
    av = client.info.get_aligned_volume_info()
    by_id = client.info.get_aligned_volume_info_by_id(av["id"])
    return {
        "record": dict(av),
        "by_id": dict(by_id),
        "name": client.info.aligned_volume_name,
        "id": client.info.aligned_volume_id,
    }


@snippet("info.refresh_stored_data", "info.get_datastack_info")
def refresh(client: Any, fx: Fixtures) -> Any:
    client.info.refresh_stored_data()
    return client.info.get_datastack_info()["segmentation_source"]


@snippet("info.datastack_name")
def info_datastack_name(client: Any, fx: Fixtures) -> Any:
    return client.info.datastack_name
