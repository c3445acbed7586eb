"""Hierarchy routes (children, leaves, subgraph, L2 graph, chunk children) against the engine."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from segmentation_service_support import Site, ok_json, pcg_error


def _root(seg: Site) -> int:
    """A current root with many supervoxels."""
    roots = seg.graph.get_latest_roots()
    sizes = [len(seg.graph.get_leaves(int(r))) for r in roots]
    return int(roots[int(np.argmax(sizes))])


def _bounds(seg: Site, root: int) -> tuple[str, list[list[int]]]:
    """A box around the first atomic chunk of ``root``, as a query string and as voxels."""
    meta = seg.graph.meta
    chunk = seg.graph.layout.get_chunk_coords(seg.graph.get_leaves(root, 2)[0]).reshape(3)
    low = np.asarray(meta.voxel_offset) + chunk * np.asarray(meta.chunk_size)
    high = low + np.asarray(meta.chunk_size) // 2
    text = "_".join(f"{a}-{b}" for a, b in zip(low.tolist(), high.tolist(), strict=True))
    return text, [low.tolist(), high.tolist()]


def test_children(seg: Site) -> None:
    root = _root(seg)
    expected = seg.graph.get_children(root).tolist()
    assert ok_json(seg.http.get(f"{seg.v1}/node/{root}/children")) == {"children_ids": expected}
    as_str = ok_json(seg.http.get(f"{seg.v1}/node/{root}/children", params={"int64_as_str": 1}))
    assert as_str == {"children_ids": [str(c) for c in expected]}
    supervoxel = int(seg.graph.supervoxel_ids[0])
    for node in (supervoxel, 12345):
        assert ok_json(seg.http.get(f"{seg.v1}/node/{node}/children")) == {"children_ids": []}


def test_leaves_with_bounds_and_layers(seg: Site) -> None:
    root = _root(seg)
    url = f"{seg.v1}/node/{root}/leaves"
    everything = ok_json(seg.http.get(url))["leaf_ids"]
    assert everything == seg.graph.get_leaves(root).tolist()
    text, box = _bounds(seg, root)
    inside = ok_json(seg.http.get(url, params={"bounds": text, "int64_as_str": "1"}))["leaf_ids"]
    expected = seg.graph.get_leaves(root, 1, box).tolist()
    assert inside == [str(v) for v in expected]
    assert 0 < len(inside) < len(everything)
    l2 = ok_json(seg.http.get(url, params={"stop_layer": 2}))["leaf_ids"]
    assert l2 == seg.graph.get_leaves(root, 2).tolist()
    above = {"stop_layer": seg.graph.n_layers + 1}
    assert ok_json(seg.http.get(url, params=above)) == {"leaf_ids": []}


def test_leaves_errors(seg: Site) -> None:
    root = _root(seg)
    url = f"{seg.v1}/node/{root}/leaves"
    pcg_error(seg.http.get(url, params={"bounds": "1-2_3-4"}), 400, "bounds")
    pcg_error(seg.http.get(url, params={"stop_layer": "1.5"}), 400, "stop_layer is not an integer")
    pcg_error(seg.http.get(f"{seg.v1}/node/12345/leaves"), 404, "12345")


def test_leaves_many_and_its_alias(seg: Site) -> None:
    roots = [int(r) for r in seg.graph.get_latest_roots()[:3]]
    expected = {str(k): v.tolist() for k, v in seg.graph.get_leaves_many(roots, 2).items()}
    for path in ("node/leaves_many", "leaves_many"):
        answer = seg.http.post(
            f"{seg.v1}/{path}", json={"node_ids": [str(r) for r in roots]}, params={"stop_layer": 2}
        )
        assert ok_json(answer) == expected
    pcg_error(seg.http.post(f"{seg.v1}/node/leaves_many", json={"node_ids": [12345]}), 404)


def test_subgraph_internal_and_all_edges(seg: Site) -> None:
    root = _root(seg)
    url = f"{seg.v1}/node/{root}/subgraph"
    for flag, internal in (("true", True), ("0", False)):
        edges, affinities, areas = seg.graph.get_subgraph(root, None, internal)
        answer = ok_json(seg.http.get(url, params={"only_internal_edges": flag}))
        assert answer["nodes"] == edges.tolist()
        assert answer["affinities"] == affinities.astype(np.float32).tolist()
        assert answer["areas"] == areas.tolist()
    as_str = ok_json(seg.http.get(url, params={"int64_as_str": "true"}))
    assert all(isinstance(a, str) for a in as_str["areas"])
    assert all(isinstance(a, float) for a in as_str["affinities"])
    assert all(isinstance(v, str) for pair in as_str["nodes"] for v in pair)


def test_lvl2_graph_reports_used_bounds(seg: Site) -> None:
    root = _root(seg)
    url = f"{seg.v1}/node/{root}/lvl2_graph"
    plain = seg.http.get(url)
    assert ok_json(plain) == {"edge_graph": seg.graph.get_lvl2_graph(root).tolist()}
    assert plain.headers["Used-Bounds"] == "False"
    text, box = _bounds(seg, root)
    bounded = seg.http.get(url, params={"bounds": text})
    assert ok_json(bounded) == {"edge_graph": seg.graph.get_lvl2_graph(root, box).tolist()}
    assert bounded.headers["Used-Bounds"] == "True"
    huge = f"0-{10**30}_0-{10**30}_0-{10**30}"
    everything = seg.http.get(url, params={"bounds": huge, "int64_as_str": 1})
    expected = [[str(a), str(b)] for a, b in seg.graph.get_lvl2_graph(root).tolist()]
    assert ok_json(everything) == {"edge_graph": expected}
    pcg_error(seg.http.get(f"{seg.v1}/node/12345/lvl2_graph"), 404)


def test_l2_chunk_children_json_binary_and_pickle(seg: Site) -> None:
    l2 = int(seg.graph.get_leaves(_root(seg), 2)[0])
    chunk = int(seg.graph.layout.get_chunk_id(l2)[0])
    expected = seg.graph.get_l2_chunk_children(chunk)
    answer = seg.http.get(f"{seg.v1}/l2_chunk_children/{chunk}", params={"as_array": "True"})
    assert ok_json(answer) == {"l2_chunk_children": expected.tolist()}
    binary_url = f"{seg.v1}/l2_chunk_children_binary/{l2}"
    binary = seg.http.get(binary_url, params={"as_array": "1"})
    assert np.frombuffer(binary.content, "<u8").tolist() == expected.tolist()
    pickled = seg.http.get(binary_url)
    mapping = pickle.loads(pickled.content)
    pairs = expected.reshape(-1, 2)
    assert {int(k): sorted(v.tolist()) for k, v in mapping.items()} == {
        int(k): sorted(pairs[pairs[:, 0] == k, 1].tolist()) for k in np.unique(pairs[:, 0])
    }


@pytest.mark.parametrize("as_array", [None, "false", "maybe"])
def test_l2_chunk_children_json_needs_as_array(seg: Site, as_array: str | None) -> None:
    chunk = int(seg.graph.layout.get_chunk_id(seg.graph.get_leaves(_root(seg), 2)[0])[0])
    params = {} if as_array is None else {"as_array": as_array}
    pcg_error(seg.http.get(f"{seg.v1}/l2_chunk_children/{chunk}", params=params), 400, "as_array")


def test_l2_chunk_children_rejects_other_layers(seg: Site) -> None:
    root = _root(seg)
    pcg_error(
        seg.http.get(f"{seg.v1}/l2_chunk_children/{root}", params={"as_array": "true"}),
        400,
        "only accepts level 2 chunks",
    )
    pcg_error(seg.http.get(f"{seg.v1}/l2_chunk_children/chunk", params={"as_array": 1}), 400)
