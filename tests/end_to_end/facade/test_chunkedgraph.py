"""The chunkedgraph client against dafserver; expected values come from the server's own engine."""

from __future__ import annotations

from datetime import UTC, datetime

import networkx as nx
import numpy as np
import pytest

from dafclient import AsyncFrameworkClient, FrameworkClient
from dafclient.errors import InputError, NotFoundError
from dafserver.dataset.manifest import EditRecord
from dafserver.runner import LocalServer


@pytest.fixture(scope="module")
def edits(daf_server: LocalServer) -> tuple[EditRecord, ...]:
    manifest = daf_server.deployment.manifest
    assert manifest is not None
    return manifest.edits


def _before(edit: EditRecord) -> datetime:
    return datetime.fromtimestamp(edit.timestamp - 1, UTC)


def test_roots_now_and_before_each_edit(
    client: FrameworkClient, daf_server: LocalServer, edits: tuple[EditRecord, ...]
) -> None:
    graph = daf_server.deployment.graph
    for edit in edits:
        svs = np.array(edit.supervoxel_ids, dtype=np.uint64)
        then = client.chunkedgraph.get_roots(svs, timestamp=_before(edit))
        np.testing.assert_array_equal(then, np.array(edit.roots_before, dtype=np.uint64))
        at = client.chunkedgraph.get_roots(svs, timestamp=edit.timestamp)
        np.testing.assert_array_equal(at, np.array(edit.roots_after, dtype=np.uint64))
        now = client.chunkedgraph.get_roots(svs)
        np.testing.assert_array_equal(now, graph.get_roots(svs))
        assert (
            client.chunkedgraph.get_root_id(int(svs[0]), timestamp=_before(edit))
            == edit.roots_before[0]
        )


def test_many_roots_with_duplicates_match_the_engine(
    client: FrameworkClient, daf_server: LocalServer
) -> None:
    graph = daf_server.deployment.graph
    rng = np.random.default_rng(7)
    ids = rng.choice(graph.supervoxel_ids, size=30_000, replace=True)
    np.testing.assert_array_equal(client.chunkedgraph.get_roots(ids), graph.get_roots(ids))
    level2 = client.chunkedgraph.get_roots(ids[:100], stop_layer=2)
    np.testing.assert_array_equal(level2, graph.get_roots(ids[:100], stop_layer=2))
    assert client.chunkedgraph.get_root_id(int(ids[0]), level2=True) == int(level2[0])


def test_leaves_children_and_hierarchy(
    client: FrameworkClient, daf_server: LocalServer, edits: tuple[EditRecord, ...]
) -> None:
    graph = daf_server.deployment.graph
    root = edits[0].roots_after[0]
    leaves = client.chunkedgraph.get_leaves(root)
    np.testing.assert_array_equal(np.sort(leaves), np.sort(graph.get_leaves(root)))
    many = client.chunkedgraph.get_leaves_many([root, edits[1].roots_after[0]], stop_layer=2)
    assert set(many) == {root, edits[1].roots_after[0]}
    np.testing.assert_array_equal(
        np.sort(many[root]), np.sort(graph.get_leaves(root, stop_layer=2))
    )
    children = client.chunkedgraph.get_children(root)
    np.testing.assert_array_equal(np.sort(children), np.sort(graph.get_children(root)))
    meta = daf_server.deployment.manifest.graph  # type: ignore[union-attr]
    box = [[meta.voxel_offset[i], meta.voxel_offset[i] + meta.chunk_size[i]] for i in range(3)]
    bounded = client.chunkedgraph.get_leaves(root, bounds=box)
    assert set(bounded.tolist()) <= set(leaves.tolist())
    with pytest.raises(InputError, match="bounds"):
        client.chunkedgraph.get_leaves(root, bounds=[[0, 1], [0, 1]])


def test_history(
    client: FrameworkClient, daf_server: LocalServer, edits: tuple[EditRecord, ...]
) -> None:
    merge = next(e for e in edits if e.kind == "merge")
    new_root = merge.new_root_ids[0]
    log = client.chunkedgraph.get_change_log(new_root)
    assert merge.operation_id in log["operations_ids"].tolist()
    assert set(merge.old_root_ids) <= set(log["past_ids"].tolist())
    lineage = client.chunkedgraph.get_lineage_graph(new_root, as_nx_graph=True)
    assert isinstance(lineage, nx.DiGraph)
    for old in merge.old_root_ids:
        assert lineage.has_edge(old, new_root)
    if merge is edits[0]:  # the first edit's old roots date from the build: they are the origins
        assert set(client.chunkedgraph.get_original_roots(new_root).tolist()) == set(
            merge.old_root_ids
        )
    latest = client.chunkedgraph.get_latest_roots(merge.old_root_ids[0])
    assert client.chunkedgraph.is_latest_roots(latest).all()
    past = client.chunkedgraph.get_past_ids([new_root], timestamp_past=_before(merge))
    assert set(past["past_id_map"][new_root].tolist()) == set(merge.old_root_ids)
    details = client.chunkedgraph.get_operation_details([merge.operation_id])
    assert details[merge.operation_id]["roots"] == list(merge.new_root_ids)
    old, new = client.chunkedgraph.get_delta_roots(_before(merge), merge.timestamp)
    assert set(merge.new_root_ids) <= set(new.tolist()) and set(merge.old_root_ids) <= set(
        old.tolist()
    )
    created = client.chunkedgraph.get_root_timestamps([new_root])
    assert created[0] == datetime.fromtimestamp(merge.timestamp, UTC)
    assert client.chunkedgraph.get_oldest_timestamp() <= created[0]
    assert not client.chunkedgraph.is_latest_roots(merge.old_root_ids).any()
    tabular = client.chunkedgraph.get_tabular_change_log([new_root])[new_root]
    assert merge.operation_id in tabular["operation_id"].tolist()
    merge_log = client.chunkedgraph.get_merge_log(new_root)
    assert len(merge_log["merge_edges"]) >= 1


def test_graph_info_and_paths(
    client: FrameworkClient, daf_server: LocalServer, edits: tuple[EditRecord, ...]
) -> None:
    manifest = daf_server.deployment.manifest
    assert manifest is not None
    assert client.chunkedgraph.table_name == manifest.graph.table_id
    np.testing.assert_array_equal(client.chunkedgraph.base_resolution, manifest.graph.resolution)
    assert client.chunkedgraph.segmentation_info["data_dir"] == manifest.segmentation_cloudpath
    assert client.chunkedgraph.cloudvolume_path.endswith(
        f"/segmentation/api/v1/{manifest.graph.table_id}"
    )
    root = edits[0].roots_after[0]
    l2_edges = client.chunkedgraph.level2_chunk_graph(root)
    assert l2_edges.shape[1] == 2 and np.all(l2_edges[:, 0] < l2_edges[:, 1])
    edges, affinities, areas = client.chunkedgraph.get_subgraph(root)
    assert len(edges) == len(affinities) == len(areas) > 0
    covering = client.chunkedgraph.get_minimal_covering_nodes(
        client.chunkedgraph.get_leaves(root, stop_layer=2)
    )
    assert covering.size >= 1
    valid = client.chunkedgraph.is_valid_nodes([root, 12345])
    assert valid.tolist() == [True, False]


def test_unknown_nodes_are_not_found(client: FrameworkClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.chunkedgraph.get_leaves(2**60 + 17)
    assert caught.value.status == 404


async def test_async_chunkedgraph(
    aclient: AsyncFrameworkClient, daf_server: LocalServer, edits: tuple[EditRecord, ...]
) -> None:
    edit = edits[0]
    roots = await aclient.chunkedgraph.get_roots(list(edit.supervoxel_ids), timestamp=_before(edit))
    assert roots.tolist() == list(edit.roots_before)
    assert (
        await aclient.chunkedgraph.get_table_name() == daf_server.deployment.manifest.graph.table_id
    )  # type: ignore[union-attr]
    leaves = await aclient.chunkedgraph.get_leaves(edit.roots_after[0])
    assert edit.supervoxel_ids[0] in leaves.tolist()
    log = await aclient.chunkedgraph.get_change_log(edit.new_root_ids[0])
    assert edit.operation_id in log["operations_ids"].tolist()
