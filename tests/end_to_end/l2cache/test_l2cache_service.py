"""The L2 cache end to end: dafserver's routes over HTTP and ``client.l2cache``, checked against an
independent computation from the deployment's watershed volume."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from l2_reference import check_against_reference, reference

import dafclient
from dafclient import AsyncFrameworkClient, FrameworkClient
from dafclient.errors import AuthenticationError, BadRequestError
from dafclient.services import l2cache as l2cache_module
from dafserver.dataset.manifest import DatasetManifest
from dafserver.dataset.volumes import read_volume
from dafserver.l2cache import fill
from dafserver.runner import LocalServer, running_server
from dafserver.seed import DATASET, DATASTACK

ATTRIBUTES = "/l2cache/api/v1/table/{table}/attributes"


@pytest.fixture(scope="module")
def volume(manifest: DatasetManifest) -> npt.NDArray[np.uint64]:
    """The watershed at mip 0, read with cloud-volume."""
    return read_volume(manifest.data_dir / manifest.segmentation_path)


@pytest.fixture(scope="module")
def largest_root(daf_server: LocalServer) -> tuple[int, npt.NDArray[np.uint64]]:
    """The current root with the most L2 nodes, and those nodes (from the client)."""
    roots = daf_server.deployment.graph.get_latest_roots()
    with FrameworkClient(
        DATASTACK, server_address=daf_server.base_url, auth_token=daf_server.admin_token
    ) as client:
        leaves = {int(r): client.chunkedgraph.get_leaves(int(r), stop_layer=2) for r in roots}
    root = max(leaves, key=lambda r: len(leaves[r]))
    return root, leaves[root]


def _post(server: LocalServer, ids: list[Any], query: str = "", **headers: str) -> httpx.Response:
    url = server.base_url + ATTRIBUTES.format(table=server.deployment.graph.table_id) + query
    auth = {"Authorization": f"Bearer {server.admin_token}", **headers}
    return httpx.post(url, content=json.dumps({"l2_ids": ids}), headers=auth, timeout=60)


def test_every_l2_node_of_the_largest_root_matches_an_independent_computation(
    client: FrameworkClient,
    manifest: DatasetManifest,
    volume: npt.NDArray[np.uint64],
    largest_root: tuple[int, npt.NDArray[np.uint64]],
) -> None:
    _, l2_ids = largest_root
    assert len(l2_ids) > 10
    data = client.l2cache.get_l2data(l2_ids, as_dict=True)
    assert isinstance(data, dict)
    assert list(data) == [str(i) for i in np.unique(l2_ids)]
    with_pca = 0
    for l2_id in l2_ids.tolist():
        children = client.chunkedgraph.get_children(l2_id)
        expected = reference(volume, manifest.graph, l2_id, children)
        check_against_reference(data[str(l2_id)], expected)
        with_pca += expected.axes is not None
    assert with_pca > 0


def test_a_client_made_with_caveclients_constructor_answers_caveclients_dict(
    client: FrameworkClient,
    daf_server: LocalServer,
    largest_root: tuple[int, npt.NDArray[np.uint64]],
) -> None:
    _, l2_ids = largest_root
    asked = [int(i) for i in l2_ids[:7]]
    with dafclient.CAVEclient(
        DATASTACK, daf_server.base_url, auth_token=daf_server.admin_token
    ) as cave_style:
        assert isinstance(cave_style, FrameworkClient)
        data = cave_style.l2cache.get_l2data(asked, attributes=["size_nm3", "area_nm2"])
        table = cave_style.l2cache.get_l2data_table(asked)
    assert isinstance(data, dict)
    assert data == client.l2cache.get_l2data(asked, ["size_nm3", "area_nm2"], as_dict=True)
    assert data[str(asked[0])]["size_nm3"] == table.loc[asked[0], "size_nm3"]
    assert isinstance(client.l2cache.get_l2data(asked), pd.DataFrame)


def test_dataframe_matches_the_dict_form(
    client: FrameworkClient, largest_root: tuple[int, npt.NDArray[np.uint64]]
) -> None:
    root, l2_ids = largest_root
    # reversed, with duplicates and an id that is not an L2 node
    asked = np.concatenate([l2_ids[::-1], l2_ids[:3], np.array([root], dtype=np.uint64)])
    frame = client.l2cache.get_l2data(asked)
    data = client.l2cache.get_l2data(asked, as_dict=True)
    assert frame.index.dtype == np.uint64 and frame.index.name == "l2_id"
    np.testing.assert_array_equal(frame.index.to_numpy(), np.unique(asked))
    assert frame.loc[root].isna().all()  # not an L2 id: uncached, every column NaN
    for l2_id in l2_ids.tolist():
        row, raw = frame.loc[l2_id], data[str(l2_id)]
        for name in ("size_nm3", "area_nm2", "max_dt_nm", "mean_dt_nm"):
            assert row[name] == raw[name]
        assert [row[f"rep_coord_nm_{a}"] for a in "xyz"] == raw["rep_coord_nm"]
        low, high = raw["chunk_intersect_count"]
        assert row["chunk_intersect_count_y_bottom"] == low[1]
        assert row["chunk_intersect_count_z_top"] == high[2]
        if "pca" in raw:
            assert row["pca_1_z"] == raw["pca"][1][2]
            assert row["pca_val_2"] == raw["pca_val"][2]
        else:
            assert np.isnan(row["pca_0_x"]) and np.isnan(row["pca_val_0"])
    unsplit = client.l2cache.get_l2data(l2_ids, attributes=["pca", "size_nm3"], split_columns=False)
    assert list(unsplit.columns) == ["pca", "size_nm3"]
    for l2_id, value in unsplit["pca"].items():
        raw = data[str(l2_id)]
        if "pca" in raw:
            np.testing.assert_array_equal(value, raw["pca"])
        else:
            assert value is None


def test_get_l2data_table_uses_caveclients_columns(
    client: FrameworkClient, largest_root: tuple[int, npt.NDArray[np.uint64]]
) -> None:
    _, l2_ids = largest_root
    table = client.l2cache.get_l2data_table(l2_ids[:4], attributes=["rep_coord_nm", "pca_val"])
    assert list(table.columns) == [
        "rep_coord_nm_x",
        "rep_coord_nm_y",
        "rep_coord_nm_z",
        "pca_val_0",
        "pca_val_1",
        "pca_val_2",
    ]


def test_batches_give_the_same_answer(
    client: FrameworkClient,
    largest_root: tuple[int, npt.NDArray[np.uint64]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, l2_ids = largest_root
    whole = client.l2cache.get_l2data(l2_ids)
    requests: list[httpx.Request] = []
    client._http.event_hooks["request"].append(requests.append)
    monkeypatch.setattr(l2cache_module, "L2DATA_BATCH", 4)
    batched = client.l2cache.get_l2data(l2_ids)
    attribute_calls = [r for r in requests if r.url.path.endswith("/attributes")]
    assert len(attribute_calls) == -(-len(np.unique(l2_ids)) // 4)
    assert batched.equals(whole)


def test_uncached_ids_answer_empty_objects_in_numeric_order(
    daf_server: LocalServer, largest_root: tuple[int, npt.NDArray[np.uint64]]
) -> None:
    root, l2_ids = largest_root
    graph = daf_server.deployment.graph
    supervoxel = int(graph.get_leaves(root)[0])
    unknown = int(l2_ids.max()) + 2**40  # an L2-shaped id no node has
    ids = [str(unknown), int(l2_ids[0]), supervoxel, 5, root, int(l2_ids[0])]
    response = _post(daf_server, ids)
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == [str(i) for i in sorted({int(i) for i in ids})]
    assert body[str(unknown)] == body[str(supervoxel)] == body["5"] == body[str(root)] == {}
    assert set(body[str(int(l2_ids[0]))]) >= {"size_nm3", "rep_coord_nm"}
    assert response.text.endswith("}\n")


def test_attribute_names_int64_as_str_and_gzip(
    daf_server: LocalServer, largest_root: tuple[int, npt.NDArray[np.uint64]]
) -> None:
    _, l2_ids = largest_root
    ids = [int(i) for i in l2_ids[:3]]
    full = _post(daf_server, ids).json()
    response = _post(
        daf_server,
        ids,
        "?attribute_names= size_nm3 ,max_dt_nm&int64_as_str=TRUE",
        **{"Accept-Encoding": "gzip"},
    )
    assert response.headers["content-encoding"] == "gzip"
    body = response.json()  # httpx has gunzipped it
    for i in ids:
        assert body[str(i)] == {
            "max_dt_nm": full[str(i)]["max_dt_nm"],
            "size_nm3": str(full[str(i)]["size_nm3"]),
        }


@pytest.mark.parametrize(
    ("content", "query", "message"),
    [
        ("{}", "", "'l2_ids'"),
        ("not json", "", "Expecting value"),
        ('{"l2_ids": [1]}', "?attribute_names=size_nm3,volume", "'volume'"),
        ('{"l2_ids": [-1]}', "", "l2_ids"),
    ],
)
def test_bad_input_is_a_400_with_the_l2cache_error_body(
    daf_server: LocalServer, content: str, query: str, message: str
) -> None:
    url = daf_server.base_url + ATTRIBUTES.format(table=daf_server.deployment.graph.table_id)
    headers = {"Authorization": f"Bearer {daf_server.admin_token}"}
    response = httpx.post(url + query, content=content, headers=headers)
    assert response.status_code == 400
    body = response.json()
    assert sorted(body) == ["code", "duration", "message", "timestamp", "traceback"]
    assert body["code"] == 400 and message in body["message"]


def test_auth_as_production(daf_server: LocalServer) -> None:
    base = daf_server.base_url
    assert httpx.get(base + "/l2cache/api/v1/attribute_metadata").status_code == 200
    mapping = httpx.get(base + "/l2cache/api/v1/table_mapping")
    table = daf_server.deployment.graph.table_id
    assert mapping.json()[table] == {
        "cv_path": f"graphene://{base}/segmentation/table/{table}",
        "l2cache_id": f"l2cache_{table}",
    }
    url = base + ATTRIBUTES.format(table=table)
    body = json.dumps({"l2_ids": [1]})
    assert httpx.post(url, content=body).json()["error"] == "no_token"
    auth = daf_server.deployment.auth
    outsider = auth.create_user("l2 outsider", f"{uuid.uuid4().hex}@dafserver.local")
    token = {"Authorization": f"Bearer {auth.create_token(outsider)}"}
    refused = httpx.post(url, content=body, headers=token)
    assert refused.status_code == 403 and refused.json()["error"] == "missing_permission"
    admin = {"Authorization": f"Bearer {daf_server.admin_token}"}
    unknown = httpx.post(base + ATTRIBUTES.format(table="nope"), content=body, headers=admin)
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_table_id"
    uncached_table = f"no_cache_{uuid.uuid4().hex[:8]}"
    auth.map_table("pychunkedgraph", uncached_table, DATASET)
    no_cache = httpx.post(
        base + ATTRIBUTES.format(table=uncached_table), content=body, headers=admin
    )
    assert no_cache.status_code == 404
    assert no_cache.json()["message"] == f"Dataset {uncached_table} does not have an L2 Cache."


def test_client_metadata_mapping_and_errors(
    client: FrameworkClient, daf_server: LocalServer
) -> None:
    l2 = client.l2cache
    metadata = l2.cache_metadata()
    assert metadata["size_nm3"] == "<class 'numpy.uint32'>"
    assert l2.attributes == list(metadata) == sorted(l2cache_module.ATTRIBUTES)
    assert l2.has_cache() is True
    assert daf_server.deployment.graph.table_id in l2.table_mapping()
    with pytest.raises(BadRequestError):
        l2.get_l2data([1], attributes=["volume"])
    empty = l2.get_l2data([])
    assert empty.empty and "size_nm3" in empty.columns
    with FrameworkClient(DATASTACK, server_address=daf_server.base_url, auth_token="x" * 32) as bad:
        with pytest.raises(AuthenticationError):
            bad.l2cache.get_l2data([1])


async def test_async_client_gives_the_sync_answer(
    aclient: AsyncFrameworkClient,
    client: FrameworkClient,
    largest_root: tuple[int, npt.NDArray[np.uint64]],
) -> None:
    _, l2_ids = largest_root
    frame = await aclient.l2cache.get_l2data(l2_ids)
    assert frame.equals(client.l2cache.get_l2data(l2_ids))
    assert await aclient.l2cache.has_cache()
    assert await aclient.l2cache.get_attributes() == client.l2cache.attributes


# -- edits -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def edit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with running_server(tmp_path_factory.mktemp("l2edits"), size="tiny") as server:
        yield server


def test_edits_fill_their_new_l2_ids(edit_server: LocalServer) -> None:
    manifest = edit_server.deployment.manifest
    assert manifest is not None
    merge = next(e for e in manifest.edits if e.kind == "merge")
    sv_a, sv_b = merge.source_ids[0], merge.sink_ids[0]
    with FrameworkClient(
        DATASTACK, server_address=edit_server.base_url, auth_token=edit_server.admin_token
    ) as client:
        cg = client.chunkedgraph
        before = {cg.get_root_id(sv, level2=True) for sv in (sv_a, sv_b)}
        cg.undo_operation(merge.operation_id)
        after = {cg.get_root_id(sv, level2=True) for sv in (sv_a, sv_b)}
        created = sorted(after - before)
        assert created, "the undo created no L2 node"
        data = client.l2cache.get_l2data(sorted(before | after), as_dict=True)
        assert isinstance(data, dict)
        volume = read_volume(manifest.data_dir / manifest.segmentation_path)
        for l2_id in sorted(before | after):  # the new nodes, and the old ones still cached
            expected = reference(volume, manifest.graph, l2_id, cg.get_children(l2_id))
            check_against_reference(data[str(l2_id)], expected)


def test_a_parallel_fill_equals_the_sequential_one(
    edit_server: LocalServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    manifest = edit_server.deployment.manifest
    assert manifest is not None
    graph = edit_server.deployment.graph
    monkeypatch.setattr(fill, "PARALLEL_MIN_CHUNKS", 1)
    ids = fill.every_l2_node(graph)[:60]
    sequential = fill.compute(graph, manifest.segmentation_cloudpath, ids, workers=1)
    parallel = fill.compute(graph, manifest.segmentation_cloudpath, ids, workers=2)
    assert "worker processes failed" not in caplog.text
    in_parallel = {i: repr(f) for i, f in parallel}
    assert len(in_parallel) == len(parallel) == len(ids)
    assert in_parallel == {i: repr(f) for i, f in sequential}
