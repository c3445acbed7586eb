"""Generic and meshing routes, authentication, gzip in both directions, and path finding."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from chunkedgraph_service_support import (
    Site,
    auth_error,
    client,
    edits_of,
    new_caller,
    nm,
    ok_json,
    pcg_error,
)

from dafserver.seed import VIEWER_GROUP


def test_info_merges_the_watershed_info_with_the_graph(cg: Site) -> None:
    info = ok_json(cg.http.get(f"/segmentation/table/{cg.table}/info"))
    meta = cg.graph.meta
    on_disk = json.loads(
        (cg.manifest.data_dir / cg.manifest.segmentation_path / "info").read_text()
    )
    for key, value in on_disk.items():
        assert info[key] == value
    assert info["data_dir"] == cg.manifest.segmentation_cloudpath
    assert info["graph"] == {
        "bounding_box": [2048, 2048, 512],
        "chunk_size": list(meta.chunk_size),
        "cv_mip": 0,
        "fan_out": 2,
        "n_bits_for_layer_id": 8,
        "n_layers": cg.graph.n_layers,
        "spatial_bit_masks": {str(k): v for k, v in meta.bitmasks.items()},
    }
    assert info["app"] == {"supported_api_versions": [0, 1]}
    assert info["chunks_start_at_voxel_offset"] is True
    assert (info["sharded_mesh"], info["verify_mesh"], info["mesh"]) == (
        False,
        False,
        "graphene_meshes",
    )
    assert info["scales"][0]["resolution"] == list(meta.resolution)


def test_versions_need_a_token_but_no_permission(cg: Site) -> None:
    with new_caller(cg.server, []) as stranger:
        assert ok_json(stranger.get("/segmentation/api/versions")) == [0, 1]
        assert ok_json(stranger.get("/segmentation/api/version")) == "2.21.1"
    with client(cg.server, None) as anonymous:
        auth_error(anonymous.get("/segmentation/api/version"), 401, "no_token")
    with client(cg.server, "0" * 32) as wrong:
        auth_error(wrong.get("/segmentation/api/versions"), 401, "invalid_token")


def test_permissions(cg: Site) -> None:
    supervoxel = int(cg.graph.supervoxel_ids[0])
    root_url = f"{cg.v1}/node/{supervoxel}/root"
    root = int(cg.graph.get_roots([supervoxel])[0])
    with new_caller(cg.server, [VIEWER_GROUP]) as viewer:
        assert ok_json(viewer.get(root_url)) == {"root_id": root}
        merge = edits_of(cg.manifest, "merge")[0]
        points = [[a, 0, 0, 0] for a in merge.supervoxel_ids]
        denied = auth_error(viewer.post(f"{cg.v1}/merge", json=points), 403, "missing_permission")
        assert denied["data"]["required_permission"] == "edit"
        remesh = viewer.post(f"{cg.meshing}/remeshing", json={"new_lvl2_ids": []})
        auth_error(remesh, 403, "missing_permission")
    with new_caller(cg.server, []) as stranger:
        body = auth_error(stranger.get(root_url), 403, "missing_permission")
        assert body["data"]["required_permission"] == "view"
    with client(cg.server, None) as anonymous:
        auth_error(anonymous.get(root_url), 401, "no_token")
        auth_error(anonymous.get(f"/segmentation/table/{cg.table}/info"), 401, "no_token")
        in_query = anonymous.get(root_url, params={"middle_auth_token": cg.server.admin_token})
        assert ok_json(in_query) == {"root_id": root}
    auth_error(cg.http.get("/segmentation/table/no_such_table/info"), 400, "invalid_table_id")


def test_gzip_request_bodies_and_answers(cg: Site) -> None:
    ids = cg.graph.supervoxel_ids[:50]
    body = gzip.compress(json.dumps({"node_ids": ids.tolist()}).encode())
    response = cg.http.post(
        f"{cg.v1}/roots",
        content=body,
        headers={"Content-Encoding": "gzip", "Accept-Encoding": "gzip"},
    )
    assert response.headers["content-encoding"] == "gzip"
    assert ok_json(response) == {"root_ids": cg.graph.get_roots(ids).tolist()}
    binary = cg.http.post(
        f"{cg.v1}/roots_binary",
        content=gzip.compress(ids.astype("<u8").tobytes()),
        headers={"Content-Encoding": "gzip", "Accept-Encoding": "gzip, deflate"},
    )
    assert binary.headers["content-encoding"] == "gzip"
    assert np.frombuffer(binary.content, "<u8").tolist() == cg.graph.get_roots(ids).tolist()
    plain = cg.http.post(
        f"{cg.v1}/roots_binary",
        content=ids.astype("<u8").tobytes(),
        headers={"Accept-Encoding": "identity"},
    )
    assert "content-encoding" not in plain.headers
    assert plain.content == binary.content
    broken = cg.http.post(
        f"{cg.v1}/roots", content=b"not gzip", headers={"Content-Encoding": "gzip"}
    )
    pcg_error(broken, 400, "gzip")
    error = cg.http.get(f"{cg.v1}/node/12345/root", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in error.headers
    pcg_error(error, 404)


def test_manifest_lists_no_fragments(cg: Site) -> None:
    root = cg.manifest.edits[-1].new_root_ids[0]
    url = f"{cg.meshing}/manifest/{root}:0"
    assert ok_json(cg.http.get(url)) == {"fragments": []}
    asked = cg.http.request(
        "GET",
        url,
        params={"verify": "True", "return_seg_ids": "1"},
        json={
            "start_layer": 2,
            "return_seg_id_layers": "true",
            "return_seg_chunk_coordinates": True,
        },
    )
    assert ok_json(asked) == {
        "fragments": [],
        "seg_chunk_coordinates": [],
        "seg_id_layers": [],
        "seg_ids": [],
    }
    off = cg.http.request("GET", url, params={"return_seg_ids": "1"}, json={"return_seg_ids": "0"})
    assert ok_json(off) == {"fragments": []}


@pytest.mark.parametrize(
    ("params", "body", "text"),
    [
        ({"bounds": "1-2"}, None, "bounds"),
        ({"start_layer": "two"}, None, "start_layer"),
        ({}, {"return_seg_ids": False}, "return_seg_ids"),
        ({}, {"start_layer": 0}, "start_layer"),
        ({}, {"start_layer": "low"}, "start_layer"),
    ],
)
def test_manifest_errors(
    cg: Site, params: dict[str, str], body: dict[str, object] | None, text: str
) -> None:
    root = cg.manifest.edits[-1].new_root_ids[0]
    response = cg.http.request("GET", f"{cg.meshing}/manifest/{root}:0", params=params, json=body)
    pcg_error(response, 400, text)


def test_manifest_of_an_unknown_node(cg: Site) -> None:
    pcg_error(cg.http.get(f"{cg.meshing}/manifest/12345:0"), 404, "12345")


def test_remeshing_accepts_and_does_nothing(cg: Site) -> None:
    l2 = int(cg.graph.get_leaves(cg.manifest.edits[-1].new_root_ids[0], 2)[0])
    before = cg.graph.max_operation_id
    response = cg.http.post(f"{cg.meshing}/remeshing", json={"new_lvl2_ids": [str(l2)]})
    assert (response.status_code, response.content) == (202, b"")
    assert cg.graph.max_operation_id == before
    pcg_error(cg.http.post(f"{cg.meshing}/remeshing", json={"ids": [l2]}), 400, "new_lvl2_ids")


def test_find_path_between_merged_supervoxels(cg: Site) -> None:
    merge = edits_of(cg.manifest, "merge")[-1]
    root = merge.new_root_ids[0]
    points = [[str(root), *nm(c, cg.graph)] for c in (*merge.source_coords, *merge.sink_coords)]
    answer = ok_json(
        cg.http.post(f"{cg.v1}/graph/find_path", json=points, params={"precision_mode": "false"})
    )
    created = float(cg.graph.get_root_timestamps([root])[0])
    source, target = merge.supervoxel_ids
    path, centroids, _ = cg.graph.find_path(source, target, timestamp=created)
    assert answer == {
        "centroids_list": centroids.tolist(),
        "failed_l2_ids": [],
        "l2_path": path.tolist(),
    }
    l2_of = cg.graph.get_roots([source, target], stop_layer=2)
    assert (answer["l2_path"][0], answer["l2_path"][-1]) == tuple(l2_of.tolist())
    pcg_error(cg.http.post(f"{cg.v1}/graph/find_path", json=points[:1]), 400, "exactly 2")
