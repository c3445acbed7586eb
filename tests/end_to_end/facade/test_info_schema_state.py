"""Info, schema and state clients against a running dafserver."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dafclient import AsyncFrameworkClient, FrameworkClient
from dafclient.errors import ConfigurationError, NotFoundError, PermissionDeniedError
from dafserver.runner import LocalServer
from dafserver.seed import SeedRecord


def test_datastack_record_and_sources(
    client: FrameworkClient, daf_server: LocalServer, seed: SeedRecord
) -> None:
    manifest = daf_server.deployment.manifest
    assert manifest is not None
    assert client.info.get_datastacks() == [seed.datastack]
    record = client.info.get_datastack_info()
    assert record.local_server == daf_server.base_url
    assert record.aligned_volume.name == seed.aligned_volume
    assert client.info.local_server() == daf_server.base_url
    assert client.info.annotation_endpoint() == f"{daf_server.base_url}/annotation"
    assert client.info.image_source() == "precomputed://" + manifest.image_cloudpath
    assert (
        client.info.image_source(format_for="cloudvolume")
        == "precomputed://" + manifest.image_cloudpath
    )
    graphene = f"graphene://{daf_server.base_url}/segmentation/table/{seed.pcg_table}"
    assert client.info.segmentation_source() == graphene
    assert client.info.graphene_source() == graphene
    np.testing.assert_array_equal(client.info.viewer_resolution(), manifest.graph.resolution)
    assert client.info.get_aligned_volumes() == [seed.aligned_volume]
    by_id = client.info.get_aligned_volume_info_by_id(record.aligned_volume.id)
    assert by_id.name == seed.aligned_volume
    assert client.info.get_datastacks_by_aligned_volume() == [seed.datastack]
    assert client.info.synapse_table() == seed.annotation_tables["synapse"]


def test_legacy_dataset_api_through_version_one(daf_server: LocalServer, seed: SeedRecord) -> None:
    manifest = daf_server.deployment.manifest
    assert manifest is not None
    with FrameworkClient(
        dataset_name=seed.datastack,
        server_address=daf_server.base_url,
        auth_token=daf_server.admin_token,
        api_versions={"info": 1},
    ) as legacy:
        assert legacy.info.get_datasets() == [seed.datastack]
        record = legacy.info.get_dataset_info()
        assert record.name == seed.datastack
        assert legacy.info.image_source() == "precomputed://" + manifest.image_cloudpath
        assert legacy.info.supervoxel_source() == "precomputed://" + manifest.segmentation_cloudpath
        assert legacy.info.pychunkedgraph_endpoint() == f"{daf_server.base_url}/segmentation"
        assert legacy.info.annotation_endpoint() == f"{daf_server.base_url}/annotation"


def test_unknown_api_version_is_a_clear_error(daf_server: LocalServer) -> None:
    with (
        FrameworkClient(server_address=daf_server.base_url, api_versions={"info": 7}) as c,
        pytest.raises(
            ConfigurationError, match="info: API version 7 is not one this client speaks"
        ),
    ):
        c.info.get_datastacks()


def test_global_only_client_refuses_local_services(daf_server: LocalServer) -> None:
    with FrameworkClient(
        server_address=daf_server.base_url, auth_token=daf_server.admin_token
    ) as c:
        with pytest.raises(ConfigurationError, match="global-only"):
            _ = c.chunkedgraph
        assert c.info.get_datastacks()


def test_schemas_match_the_deployment_catalog(
    client: FrameworkClient, daf_server: LocalServer
) -> None:
    catalog = daf_server.deployment.schemas
    assert client.schema.get_schemas() == catalog.names()
    assert client.schemas.schema() == catalog.names()
    definition = client.schema.schema_definition("microns_func_coreg")
    assert definition == catalog.get("microns_func_coreg")
    assert "FunctionalCoregistration" in definition["definitions"]
    several = client.schema.schema_definition_multi(["synapse", "bound_tag"])
    assert several == {"synapse": catalog.get("synapse"), "bound_tag": catalog.get("bound_tag")}
    assert len(client.schema.schema_definition_all()) == len(catalog.names())
    with pytest.raises(NotFoundError):
        client.schema.schema_definition("not_a_type")


def test_schema_legacy_routes_give_the_same_documents(daf_server: LocalServer) -> None:
    with FrameworkClient(server_address=daf_server.base_url, api_versions={"schema": 1}) as c:
        assert c.schema.schema_definition("synapse") == daf_server.deployment.schemas.get("synapse")


def test_state_round_trip_keeps_ids_exact(client: FrameworkClient, daf_server: LocalServer) -> None:
    state = {
        "layers": [{"name": "seg", "segments": np.array([2**64 - 1, 5], dtype=np.uint64)}],
        "n": 3,
    }
    state_id = client.state.upload_state_json(state)
    raw = daf_server.deployment.state.load(
        state_id,
        column=__import__(
            "dafserver.services.state_store", fromlist=["DocumentKind"]
        ).DocumentKind.STATE,
    )
    assert raw is not None and json.loads(raw)["layers"][0]["segments"] == [str(2**64 - 1), "5"]
    assert client.state.get_state_json(state_id) == json.loads(raw)
    url = client.state.build_neuroglancer_url(state_id)
    assert (
        url
        == f"https://neuroglancer-demo.appspot.com/?json_url={daf_server.base_url}/nglstate/api/v1/{state_id}"
    )


def test_seeded_states_and_legacy_state_routes(daf_server: LocalServer, seed: SeedRecord) -> None:
    with FrameworkClient(
        server_address=daf_server.base_url,
        auth_token=daf_server.admin_token,
        api_versions={"state": 0},
    ) as legacy:
        state = legacy.state.get_state_json(seed.state_ids[1])
        assert len(state["layers"][1]["segments"]) == 5
        new_id = legacy.state.upload_state_json({"legacy": True})
        assert legacy.state.get_state_json(new_id) == {"legacy": True}


def test_property_documents(client: FrameworkClient) -> None:
    doc = {"@type": "neuroglancer_segment_properties", "inline": {"ids": ["1"], "properties": []}}
    pid = client.state.upload_property_json(doc)
    assert client.state.get_property_json(pid) == doc
    with pytest.raises(NotFoundError):
        client.state.get_state_json(pid)


def test_explicit_state_id_needs_a_superadmin(
    client: FrameworkClient, daf_server: LocalServer
) -> None:
    auth = daf_server.deployment.auth
    user = auth.create_user("plain", "plain-state@example.org")
    with (
        FrameworkClient(
            server_address=daf_server.base_url, auth_token=auth.create_token(user)
        ) as plain,
        pytest.raises(PermissionDeniedError),
    ):
        plain.state.upload_state_json({"x": 1}, state_id=123456789)
    assert client.state.upload_state_json({"x": 1}, state_id=123456789) == 123456789
    assert client.state.get_state_json(123456789) == {"x": 1}


async def test_async_global_services(
    aclient: AsyncFrameworkClient, daf_server: LocalServer, seed: SeedRecord
) -> None:
    assert await aclient.info.get_datastacks() == [seed.datastack]
    assert (await aclient.info.get_datastack_info()).local_server == daf_server.base_url
    assert await aclient.schema.get_schemas() == daf_server.deployment.schemas.names()
    state_id = await aclient.state.upload_state_json({"async": [1, 2]})
    assert await aclient.state.get_state_json(state_id) == {"async": [1, 2]}
    assert (await aclient.auth.get_user_cache()).admin is True
