"""Hierarchy routes (children, leaves, subgraph, L2 graph, chunk children) against the engine."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from chunkedgraph_service_support import Site, ok_json, pcg_error


def _root(cg: Site) -> int:
    """A current root with many supervoxels."""
    roots = cg.graph.get_latest_roots()
    sizes = [len(cg.graph.get_leaves(int(r))) for r in roots]
    return int(roots[int(np.argmax(sizes))])


def _bounds(cg: Site, root: int) -> tuple[str, list[list[int]]]:
    """A box around the first atomic chunk of ``root``, as a query string and as voxels."""
    meta = cg.graph.meta
    chunk = cg.graph.layout.get_chunk_coords(cg.graph.get_leaves(root, 2)[0]).reshape(3)
    low = np.asarray(meta.voxel_offset) + chunk * np.asarray(meta.chunk_size)
    high = low + np.asarray(meta.chunk_size) // 2
    text = "_".join(f"{a}-{b}" for a, b in zip(low.tolist(), high.tolist(), strict=True))
    return text, [low.tolist(), high.tolist()]


def test_children(cg: Site) -> None:
    root = _root(cg)
    expected = cg.graph.get_children(root).tolist()
    assert ok_json(cg.http.get(f"{cg.v1}/node/{root}/children")) == {"children_ids": expected}
    as_str = ok_json(cg.http.get(f"{cg.v1}/node/{root}/children", params={"int64_as_str": 1}))
    assert as_str == {"children_ids": [str(c) for c in expected]}
    supervoxel = int(cg.graph.supervoxel_ids[0])
    for node in (supervoxel, 12345):
        assert ok_json(cg.http.get(f"{cg.v1}/node/{node}/children")) == {"children_ids": []}


def test_leaves_with_bounds_and_layers(cg: Site) -> None:
    root = _root(cg)
    url = f"{cg.v1}/node/{root}/leaves"
    everything = ok_json(cg.http.get(url))["leaf_ids"]
    assert everything == cg.graph.get_leaves(root).tolist()
    text, box = _bounds(cg, root)
    inside = ok_json(cg.http.get(url, params={"bounds": text, "int64_as_str": "1"}))["leaf_ids"]
    expected = cg.graph.get_leaves(root, 1, box).tolist()
    assert inside == [str(v) for v in expected]
    assert 0 < len(inside) < len(everything)
    l2 = ok_json(cg.http.get(url, params={"stop_layer": 2}))["leaf_ids"]
    assert l2 == cg.graph.get_leaves(root, 2).tolist()
    above = {"stop_layer": cg.graph.n_layers + 1}
    assert ok_json(cg.http.get(url, params=above)) == {"leaf_ids": []}


def test_leaves_errors(cg: Site) -> None:
    root = _root(cg)
    url = f"{cg.v1}/node/{root}/leaves"
    pcg_error(cg.http.get(url, params={"bounds": "1-2_3-4"}), 400, "bounds")
    pcg_error(cg.http.get(url, params={"stop_layer": "1.5"}), 400, "stop_layer is not an integer")
    pcg_error(cg.http.get(f"{cg.v1}/node/12345/leaves"), 404, "12345")


def test_leaves_many_and_its_alias(cg: Site) -> None:
    roots = [int(r) for r in cg.graph.get_latest_roots()[:3]]
    expected = {str(k): v.tolist() for k, v in cg.graph.get_leaves_many(roots, 2).items()}
    for path in ("node/leaves_many", "leaves_many"):
        answer = cg.http.post(
            f"{cg.v1}/{path}", json={"node_ids": [str(r) for r in roots]}, params={"stop_layer": 2}
        )
        assert ok_json(answer) == expected
    pcg_error(cg.http.post(f"{cg.v1}/node/leaves_many", json={"node_ids": [12345]}), 404)


def test_subgraph_internal_and_all_edges(cg: Site) -> None:
    root = _root(cg)
    url = f"{cg.v1}/node/{root}/subgraph"
    for flag, internal in (("true", True), ("0", False)):
        edges, affinities, areas = cg.graph.get_subgraph(root, None, internal)
        answer = ok_json(cg.http.get(url, params={"only_internal_edges": flag}))
        assert answer["nodes"] == edges.tolist()
        assert answer["affinities"] == affinities.astype(np.float32).tolist()
        assert answer["areas"] == areas.tolist()
    as_str = ok_json(cg.http.get(url, params={"int64_as_str": "true"}))
    assert all(isinstance(a, str) for a in as_str["areas"])
    assert all(isinstance(a, float) for a in as_str["affinities"])
    assert all(isinstance(v, str) for pair in as_str["nodes"] for v in pair)


def test_lvl2_graph_reports_used_bounds(cg: Site) -> None:
    root = _root(cg)
    url = f"{cg.v1}/node/{root}/lvl2_graph"
    plain = cg.http.get(url)
    assert ok_json(plain) == {"edge_graph": cg.graph.get_lvl2_graph(root).tolist()}
    assert plain.headers["Used-Bounds"] == "False"
    text, box = _bounds(cg, root)
    bounded = cg.http.get(url, params={"bounds": text})
    assert ok_json(bounded) == {"edge_graph": cg.graph.get_lvl2_graph(root, box).tolist()}
    assert bounded.headers["Used-Bounds"] == "True"
    huge = f"0-{10**30}_0-{10**30}_0-{10**30}"
    everything = cg.http.get(url, params={"bounds": huge, "int64_as_str": 1})
    expected = [[str(a), str(b)] for a, b in cg.graph.get_lvl2_graph(root).tolist()]
    assert ok_json(everything) == {"edge_graph": expected}
    pcg_error(cg.http.get(f"{cg.v1}/node/12345/lvl2_graph"), 404)


def test_l2_chunk_children_json_binary_and_pickle(cg: Site) -> None:
    l2 = int(cg.graph.get_leaves(_root(cg), 2)[0])
    chunk = int(cg.graph.layout.get_chunk_id(l2)[0])
    expected = cg.graph.get_l2_chunk_children(chunk)
    answer = cg.http.get(f"{cg.v1}/l2_chunk_children/{chunk}", params={"as_array": "True"})
    assert ok_json(answer) == {"l2_chunk_children": expected.tolist()}
    binary_url = f"{cg.v1}/l2_chunk_children_binary/{l2}"
    binary = cg.http.get(binary_url, params={"as_array": "1"})
    assert np.frombuffer(binary.content, "<u8").tolist() == expected.tolist()
    pickled = cg.http.get(binary_url)
    mapping = pickle.loads(pickled.content)
    pairs = expected.reshape(-1, 2)
    assert {int(k): sorted(v.tolist()) for k, v in mapping.items()} == {
        int(k): sorted(pairs[pairs[:, 0] == k, 1].tolist()) for k in np.unique(pairs[:, 0])
    }


@pytest.mark.parametrize("as_array", [None, "false", "maybe"])
def test_l2_chunk_children_json_needs_as_array(cg: Site, as_array: str | None) -> None:
    chunk = int(cg.graph.layout.get_chunk_id(cg.graph.get_leaves(_root(cg), 2)[0])[0])
    params = {} if as_array is None else {"as_array": as_array}
    pcg_error(cg.http.get(f"{cg.v1}/l2_chunk_children/{chunk}", params=params), 400, "as_array")


def test_l2_chunk_children_rejects_other_layers(cg: Site) -> None:
    root = _root(cg)
    pcg_error(
        cg.http.get(f"{cg.v1}/l2_chunk_children/{root}", params={"as_array": "true"}),
        400,
        "only accepts level 2 chunks",
    )
    pcg_error(cg.http.get(f"{cg.v1}/l2_chunk_children/chunk", params={"as_array": 1}), 400)
