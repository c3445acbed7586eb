"""Edits through the client (on a deployment of their own), and the remaining facade methods."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dafclient import AsyncFrameworkClient, FrameworkClient
from dafclient.errors import InputError
from dafserver.runner import LocalServer, running_server
from dafserver.seed import DATASTACK, DEFAULT_GROUP, SeedRecord


@pytest.fixture(scope="module")
def edit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with running_server(tmp_path_factory.mktemp("edits"), size="tiny") as server:
        yield server


@pytest.fixture
def editor(edit_server: LocalServer) -> Iterator[FrameworkClient]:
    with FrameworkClient(
        DATASTACK, server_address=edit_server.base_url, auth_token=edit_server.admin_token
    ) as c:
        yield c


def test_merge_split_undo_redo(editor: FrameworkClient, edit_server: LocalServer) -> None:
    manifest = edit_server.deployment.manifest
    assert manifest is not None
    merge = next(e for e in manifest.edits if e.kind == "merge")
    sv_a, sv_b = merge.source_ids[0], merge.sink_ids[0]
    cg = editor.chunkedgraph
    assert cg.get_root_id(sv_a) == cg.get_root_id(sv_b)
    undone = cg.undo_operation(merge.operation_id)
    assert cg.get_root_id(sv_a) != cg.get_root_id(sv_b)
    assert set(undone.new_root_ids.tolist()) == {cg.get_root_id(sv_a), cg.get_root_id(sv_b)}

    resolution = cg.base_resolution
    coords = np.array([merge.source_coords[0], merge.sink_coords[0]])
    merged = cg.do_merge([sv_a, sv_b], coords, resolution=resolution)
    assert merged.operation_id > undone.operation_id
    # CAVEclient's do_merge/undo_operation return the service's JSON: keys answer too.
    assert merged["operation_id"] == merged.operation_id
    assert list(undone["new_root_ids"]) == undone.new_root_ids.tolist()
    assert cg.get_root_id(sv_a) == cg.get_root_id(sv_b) == int(merged.new_root_ids[0])

    root = cg.get_root_id(sv_a)
    preview = cg.preview_split(
        coords[:1],
        coords[1:],
        root,
        source_supervoxels=[sv_a],
        sink_supervoxels=[sv_b],
        resolution=resolution,
    )
    source, sink, ok = preview  # CAVEclient's three-way unpacking
    assert ok and source is preview.source_connected_component and sink is not None
    assert preview.other_connected_components == []
    assert preview.successful_split
    assert sv_a in preview.source_connected_component.tolist()
    assert sv_b in preview.sink_connected_component.tolist()
    assert cg.get_root_id(sv_a) == root  # a preview changes nothing

    split = cg.execute_split(
        coords[:1] * resolution,  # nm, CAVEclient's unit
        coords[1:] * resolution,
        root,
        source_supervoxels=[sv_a],
        sink_supervoxels=[sv_b],
    )
    assert len(split.new_root_ids) == 2
    assert cg.get_root_id(sv_a) != cg.get_root_id(sv_b)
    cg.undo_operation(split.operation_id)
    assert cg.get_root_id(sv_a) == cg.get_root_id(sv_b)
    cg.redo_operation(split.operation_id)
    assert cg.get_root_id(sv_a) != cg.get_root_id(sv_b)
    all_details = cg.get_operation_details([split.operation_id])
    assert list(all_details) == [str(split.operation_id)]  # string keys, as CAVEclient's
    details = all_details[split.operation_id]
    assert sv_a in details["source_ids"] and sv_b in details["sink_ids"]


def test_find_path_and_remeshing(editor: FrameworkClient, edit_server: LocalServer) -> None:
    manifest = edit_server.deployment.manifest
    assert manifest is not None
    edit = manifest.edits[0]
    cg = editor.chunkedgraph
    root = cg.get_root_id(edit.source_ids[0])
    leaves = cg.get_leaves(root, stop_layer=2)
    resolution = cg.get_base_resolution()
    start = np.asarray(edit.source_coords[0], dtype=float) * resolution
    path = cg.find_path(root, start, start)
    assert path.l2_path.size >= 1 and set(path.l2_path.tolist()) <= set(leaves.tolist())
    assert path.centroids.shape == (path.l2_path.size, 3)
    cg.remesh_level2_chunks(leaves[:3])
    with pytest.raises(InputError):
        cg.remesh_level2_chunks([-1])
    assert cg.get_cloudvolume_path().startswith("graphene://")
    assert cg.get_segmentation_info()["app"]["supported_api_versions"] == [0, 1]


def test_remaining_auth_methods(
    client: FrameworkClient, daf_server: LocalServer, tmp_path: Path
) -> None:
    assert client.auth.request_header == {"Authorization": f"Bearer {daf_server.admin_token}"}
    group_id = daf_server.deployment.auth.ensure_group(DEFAULT_GROUP)
    members = client.auth.get_group_users(group_id)
    admin = daf_server.deployment.auth.user_id_by_email("admin@dafserver.local")
    assert admin in [m.id for m in members]
    token_file = tmp_path / "token.json"
    client.auth.save_token(token=daf_server.admin_token, token_file=token_file, token_key="lab")
    assert client.auth.get_token("lab") == daf_server.admin_token
    # As in CAVEclient, get_token loads the token into the client.
    assert client.auth.get_token("other") is None and client.auth.token is None
    assert client.auth.get_token("lab") == client.auth.token == daf_server.admin_token
    assert json.loads(token_file.read_text()) == {"lab": daf_server.admin_token}
    assert token_file.stat().st_mode & 0o777 == 0o600


def test_remaining_info_methods(
    client: FrameworkClient, daf_server: LocalServer, seed: SeedRecord
) -> None:
    manifest = daf_server.deployment.manifest
    assert manifest is not None
    assert client.info.viewer_site() == "https://neuroglancer-demo.appspot.com"
    assert client.info.soma_table() == seed.annotation_tables["cell_type_local"]
    assert client.info.get_aligned_volume_info().name == seed.aligned_volume
    client.info.refresh_stored_data()
    assert client.info.get_datastack_info().local_server == daf_server.base_url
    with FrameworkClient(
        DATASTACK,
        server_address=daf_server.base_url,
        auth_token=daf_server.admin_token,
        api_versions={"info": 1},
    ) as legacy:
        graphene = f"graphene://{daf_server.base_url}/segmentation/table/{seed.pcg_table}"
        assert legacy.info.pychunkedgraph_segmentation_source() == graphene
        assert legacy.info.flat_segmentation_source() is None
        assert legacy.info.synapse_segmentation_source() is None


def test_remaining_state_methods(
    client: FrameworkClient, daf_server: LocalServer, tmp_path: Path
) -> None:
    assert client.state.state_service_endpoint == f"{daf_server.base_url}/nglstate/api/v1/post"
    client.state.ngl_url = "https://viewer.example.org/"
    assert client.state.build_neuroglancer_url(7).startswith(
        "https://viewer.example.org/?json_url="
    )
    path = client.state.save_state_json_local(
        {"ids": np.array([5], dtype=np.uint64)}, tmp_path / "s.json"
    )
    assert json.loads(path.read_text()) == {"ids": ["5"]}
    with pytest.raises(InputError, match="exists"):
        client.state.save_state_json_local({}, path)


def test_remaining_annotation_methods(client: FrameworkClient, seed: SeedRecord) -> None:
    assert client.annotation.get_aligned_volume_name() == seed.aligned_volume
    frame = pd.DataFrame({"pt_position": [[1, 2, 3]], "tag": ["x"]})
    assert client.annotation.process_position_columns(frame) == [
        {"pt": {"position": [1, 2, 3]}, "tag": "x"}
    ]
    table = client.annotation.create_table("df_updates", "bound_tag", voxel_resolution=[8, 8, 40])
    [first] = client.annotation.post_annotation_df(table, frame)
    update = pd.DataFrame({"id": [first], "pt_position": [[4, 5, 6]], "tag": ["y"]})
    mapping = client.annotation.update_annotation_df(table, update)
    assert client.annotation.get_annotation(table, [mapping[first]])[0]["tag"] == "y"


async def test_async_edit_and_lookups(edit_server: LocalServer) -> None:
    async with AsyncFrameworkClient(
        DATASTACK, server_address=edit_server.base_url, auth_token=edit_server.admin_token
    ) as c:
        manifest = edit_server.deployment.manifest
        assert manifest is not None
        split = next(e for e in manifest.edits if e.kind == "split")
        before = await c.chunkedgraph.get_root_id(split.source_ids[0])
        outcome = await c.chunkedgraph.undo_operation(split.operation_id)
        after = await c.chunkedgraph.get_root_id(split.source_ids[0])
        assert after != before and after in outcome.new_root_ids.tolist()
        assert (await c.chunkedgraph.get_base_resolution()).tolist() == list(
            manifest.graph.resolution
        )
        assert (await c.annotation.get_aligned_volume_name()) == "synthetic_em"


def test_cloudvolumes_from_the_info_service(
    client: FrameworkClient, daf_server: LocalServer
) -> None:
    graph = daf_server.deployment.graph
    segmentation = client.info.segmentation_cloudvolume()
    sample = graph.supervoxel_ids[:50]
    np.testing.assert_array_equal(
        np.asarray(segmentation.get_roots(sample)), graph.get_roots(sample)
    )
    image = client.info.image_cloudvolume()
    bounds = image.bounds
    corner = np.asarray(bounds.minpt)
    cutout = image[corner[0] : corner[0] + 8, corner[1] : corner[1] + 8, corner[2] : corner[2] + 2]
    assert cutout.shape[:3] == (8, 8, 2) and cutout.dtype == np.uint8


async def test_async_cloudvolume(aclient: AsyncFrameworkClient, daf_server: LocalServer) -> None:
    volume = await aclient.info.segmentation_cloudvolume()
    sample = daf_server.deployment.graph.supervoxel_ids[:5]
    assert (
        np.asarray(volume.get_roots(sample)).tolist()
        == daf_server.deployment.graph.get_roots(sample).tolist()
    )


def test_suggest_latest_roots_follows_the_biggest_part(
    client: FrameworkClient, daf_server: LocalServer
) -> None:
    manifest = daf_server.deployment.manifest
    assert manifest is not None
    merge = next(e for e in manifest.edits if e.kind == "merge")
    old = merge.old_root_ids[0]
    suggested = client.chunkedgraph.suggest_latest_roots(old)
    assert client.chunkedgraph.is_latest_roots([suggested]).all()
    old_leaves = set(client.chunkedgraph.get_leaves(old).tolist())
    assert old_leaves & set(client.chunkedgraph.get_leaves(suggested).tolist())
    candidates, fractions = client.chunkedgraph.suggest_latest_roots(
        old, return_all=True, return_fraction_overlap=True
    )
    assert candidates[0] == suggested and np.all(np.diff(fractions) <= 0) and 0 < fractions[0] <= 1
    current = client.chunkedgraph.get_root_id(merge.supervoxel_ids[0])
    assert client.chunkedgraph.suggest_latest_roots(current) == current


def test_neuroglancer_url_styles(client: FrameworkClient, daf_server: LocalServer) -> None:
    url = f"{daf_server.base_url}/nglstate/api/v1/42"
    assert (
        client.state.build_neuroglancer_url(42, ngl_url="https://ngl.example.org")
        == f"https://ngl.example.org/?json_url={url}"
    )
    assert client.state.build_neuroglancer_url(
        42, ngl_url="https://spelunker.example.org", target_site="spelunker"
    ) == (f"https://spelunker.example.org/#!middleauth+{url}")
    with pytest.raises(InputError, match="target_site"):
        client.state.build_neuroglancer_url(42, ngl_url="https://x.org", target_site="nope")


def test_change_auth_switches_every_sub_client(daf_server: LocalServer, tmp_path: Path) -> None:
    from dafclient.errors import AuthenticationError
    from dafclient.tokens import write_token_file

    token_file = write_token_file(tmp_path / "t.json", daf_server.admin_token, key="lab")
    with FrameworkClient(DATASTACK, server_address=daf_server.base_url, auth_token="f" * 32) as c:
        with pytest.raises(AuthenticationError):
            c.info.get_datastacks()
        c.change_auth(auth_token_file=token_file, auth_token_key="lab")
        assert c.auth.token == daf_server.admin_token
        assert c.info.get_datastacks() == [DATASTACK]
