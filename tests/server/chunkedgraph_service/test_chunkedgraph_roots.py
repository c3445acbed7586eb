"""Root routes over HTTP against the scripted history and the engine's own answers."""

from __future__ import annotations

import numpy as np
import pytest
from chunkedgraph_service_support import Site, edits_of, ok_json, pcg_error, uint64s

BEFORE_S = 1.0
"""The manifest's ``roots_before`` are the roots this long before each edit."""


def test_root_before_and_after_every_scripted_edit(cg: Site) -> None:
    for edit in cg.manifest.edits:
        for supervoxel, before, after in zip(
            edit.supervoxel_ids, edit.roots_before, edit.roots_after, strict=True
        ):
            url = f"{cg.v1}/node/{supervoxel}/root"
            earlier = ok_json(cg.http.get(url, params={"timestamp": edit.timestamp - BEFORE_S}))
            later = ok_json(cg.http.get(url, params={"timestamp": edit.timestamp}))
            assert (earlier["root_id"], later["root_id"]) == (before, after)


def test_root_at_a_layer_and_as_string(cg: Site) -> None:
    supervoxel = int(cg.graph.supervoxel_ids[17])
    expected = int(cg.graph.get_roots([supervoxel], stop_layer=2)[0])
    url = f"{cg.v1}/node/{supervoxel}/root"
    answer = ok_json(cg.http.get(url, params={"stop_layer": 2, "int64_as_str": "True"}))
    assert answer == {"root_id": str(expected)}
    unchanged = ok_json(cg.http.get(f"{cg.v1}/node/{expected}/root", params={"stop_layer": 2}))
    assert unchanged == {"root_id": expected}


def test_root_errors(cg: Site) -> None:
    supervoxel = int(cg.graph.supervoxel_ids[0])
    url = f"{cg.v1}/node/{supervoxel}/root"
    pcg_error(
        cg.http.get(url, params={"timestamp": "noon"}),
        400,
        "Timestamp parameter timestamp is not a valid unix timestamp",
    )
    pcg_error(cg.http.get(url, params={"stop_layer": "top"}), 400, "stop_layer is not an integer")
    pcg_error(cg.http.get(url, params={"stop_layer": 0}), 400, "stop_layer must be at least 1")
    above = cg.graph.n_layers + 1
    pcg_error(cg.http.get(url, params={"stop_layer": above}), 404, "Cannot find root id")
    pcg_error(cg.http.get(f"{cg.v1}/node/root-id/root"), 400, "node_id")
    pcg_error(cg.http.get(f"{cg.v1}/node/{2**64}/root"), 400, str(2**64))
    unknown = int(cg.graph.supervoxel_ids.max()) + 1
    pcg_error(cg.http.get(f"{cg.v1}/node/{unknown}/root"), 404, f"Cannot find root id {unknown}")
    before_build = cg.graph.build_timestamp - 10
    pcg_error(cg.http.get(url, params={"timestamp": before_build}), 404, "Cannot find root id")


def test_roots_json_takes_numbers_and_strings(cg: Site) -> None:
    merge = edits_of(cg.manifest, "merge")[0]
    a, b = merge.supervoxel_ids
    body = {"node_ids": [a, str(b), 0]}
    url = f"{cg.v1}/roots"
    before = ok_json(cg.http.post(url, json=body, params={"timestamp": merge.timestamp - 1}))
    assert before == {"root_ids": [*merge.roots_before, 0]}
    after = ok_json(cg.http.post(url, json=body, params={"int64_as_str": 1}))
    expected = cg.graph.get_roots([a, b, 0])
    assert after == {"root_ids": [str(r) for r in expected.tolist()]}


def test_roots_fail_to_zero_and_assert_roots_parse_like_python_bool(cg: Site) -> None:
    unknown = int(cg.graph.supervoxel_ids.max()) + 1
    body = {"node_ids": [unknown]}
    url = f"{cg.v1}/roots"
    # Any non-empty value keeps fail_to_zero on, even "false".
    assert ok_json(cg.http.post(url, json=body, params={"fail_to_zero": "false"})) == {
        "root_ids": [0]
    }
    pcg_error(cg.http.post(url, json=body, params={"fail_to_zero": ""}), 404, str(unknown))
    pcg_error(
        cg.http.post(url, json=body, params={"assert_roots": "false"}), 400, "roots not found"
    )
    known = {"node_ids": [int(cg.graph.supervoxel_ids[3])]}
    assert ok_json(cg.http.post(url, json=known, params={"assert_roots": "1"}))["root_ids"]


def test_roots_above_the_root_layer_are_not_found(cg: Site) -> None:
    supervoxel = int(cg.graph.supervoxel_ids[3])
    root = int(cg.graph.get_roots([supervoxel])[0])
    url = f"{cg.v1}/roots"
    above = {"stop_layer": cg.graph.n_layers + 1}
    body = {"node_ids": [supervoxel, root]}
    assert ok_json(cg.http.post(url, json=body, params=above)) == {"root_ids": [0, 0]}
    pcg_error(cg.http.post(url, json=body, params={**above, "fail_to_zero": ""}), 404)
    pcg_error(cg.http.post(url, json=body, params={"stop_layer": "0"}), 400, "at least 1")


def test_roots_body_errors(cg: Site) -> None:
    url = f"{cg.v1}/roots"
    pcg_error(cg.http.post(url, content=b"[1, 2"), 400, "not valid JSON")
    pcg_error(cg.http.post(url, json={"ids": [1]}), 400, "'node_ids'")
    pcg_error(cg.http.post(url, json={"node_ids": [-1]}), 400, "-1")
    pcg_error(cg.http.post(url, json={"node_ids": [str(2**64)]}), 400, str(2**64))


def test_roots_binary_matches_the_engine_for_ten_thousand_ids(cg: Site) -> None:
    rng = np.random.default_rng(7)
    supervoxels = cg.graph.supervoxel_ids
    unknown = np.array([0, int(supervoxels.max()) + 1], dtype=np.uint64)
    ids = np.concatenate([rng.choice(supervoxels, 9_998), unknown])
    assert ids.dtype == np.uint64
    response = cg.http.post(f"{cg.v1}/roots_binary", content=ids.astype("<u8").tobytes())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    roots = np.frombuffer(response.content, dtype="<u8")
    assert roots.tolist() == cg.graph.get_roots(ids).tolist()
    assert roots[-2:].tolist() == [0, 0]


def test_roots_binary_at_a_timestamp_and_layer(cg: Site) -> None:
    split = edits_of(cg.manifest, "split")[0]
    ids = np.array(split.supervoxel_ids, dtype="<u8")
    url = f"{cg.v1}/roots_binary"
    before = cg.http.post(
        url, content=ids.tobytes(), params={"timestamp": int(split.timestamp) - 1}
    )
    assert np.frombuffer(before.content, "<u8").tolist() == list(split.roots_before)
    l2 = cg.http.post(url, content=ids.tobytes(), params={"stop_layer": 2})
    assert (
        np.frombuffer(l2.content, "<u8").tolist() == cg.graph.get_roots(ids, stop_layer=2).tolist()
    )


def test_roots_binary_edge_cases(cg: Site) -> None:
    url = f"{cg.v1}/roots_binary"
    empty = cg.http.post(url, content=b"")
    assert (empty.status_code, empty.content) == (200, b"")
    pcg_error(cg.http.post(url, content=b"\x01" * 12), 400, "multiple of 8")
    pcg_error(cg.http.post(url, content=b"", params={"timestamp": "x"}), 400, "timestamp")


def test_is_latest_roots_around_a_merge(cg: Site) -> None:
    merge = edits_of(cg.manifest, "merge")[-1]
    old = list(merge.old_root_ids)
    new = list(merge.new_root_ids)
    url = f"{cg.v1}/is_latest_roots"
    body = {"node_ids": [*old, *new, 12345]}
    before = ok_json(cg.http.post(url, json=body, params={"timestamp": merge.timestamp - 1}))
    assert before == {"is_latest": [True] * len(old) + [False] * len(new) + [False]}
    now = ok_json(cg.http.post(url, json=body))
    expected = cg.graph.is_latest_roots([*old, *new, 12345]).tolist()
    assert now == {"is_latest": expected}
    assert now["is_latest"][: len(old)] == [False] * len(old)


def test_root_timestamps_created_and_latest(cg: Site) -> None:
    merge = edits_of(cg.manifest, "merge")[-1]
    new = merge.new_root_ids[0]
    old = merge.old_root_ids[0]
    url = f"{cg.v1}/root_timestamps"
    created = ok_json(cg.http.post(url, json={"node_ids": [new, str(old)]}))
    assert created == {"timestamp": cg.graph.get_root_timestamps([new, old]).tolist()}
    assert created["timestamp"][0] == merge.timestamp
    query = merge.timestamp + 10
    latest = ok_json(
        cg.http.post(url, json={"node_ids": [new, old]}, params={"latest": "1", "timestamp": query})
    )
    assert latest == {"timestamp": [query, merge.timestamp]}
    binary = cg.http.post(
        url, content=np.array([new], "<u8").tobytes(), params={"is_binary": "true"}
    )
    assert ok_json(binary) == {"timestamp": [merge.timestamp]}


def test_root_timestamps_of_unknown_ids(cg: Site) -> None:
    url = f"{cg.v1}/root_timestamps"
    assert ok_json(cg.http.post(url, json={"node_ids": [12345, 67890]})) == {"timestamp": []}
    known = cg.manifest.edits[0].new_root_ids[0]
    pcg_error(cg.http.post(url, json={"node_ids": [known, 12345]}), 404, "12345")


def test_minimal_covering_nodes_json_and_binary(cg: Site) -> None:
    root = cg.manifest.edits[-1].new_root_ids[0]
    l2_ids = cg.graph.get_leaves(root, stop_layer=2)
    some = l2_ids[: max(1, len(l2_ids) // 2)]
    expected = cg.graph.get_minimal_covering_nodes(some)
    url = f"{cg.v1}/minimal_covering_nodes"
    answer = ok_json(cg.http.post(url, json={"node_ids": some.tolist()}))
    assert answer == expected.tolist()
    as_str = ok_json(
        cg.http.post(url, json={"node_ids": some.tolist()}, params={"int64_as_str": 1})
    )
    assert as_str == [str(v) for v in expected.tolist()]
    binary = cg.http.post(
        url,
        content=some.astype("<u8").tobytes(),
        params={"is_binary": "True", "as_array": "true"},
    )
    assert binary.status_code == 200
    assert np.frombuffer(binary.content, "<u8").tolist() == expected.tolist()
    everything = ok_json(cg.http.post(url, json={"node_ids": l2_ids.tolist()}))
    assert everything == [root]


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [({"node_ids": []}, 400, "must not be empty"), ({"node_ids": [12345]}, 404, "12345")],
)
def test_minimal_covering_nodes_errors(cg: Site, body: object, status: int, text: str) -> None:
    pcg_error(cg.http.post(f"{cg.v1}/minimal_covering_nodes", json=body), status, text)


def test_ids_come_back_as_uint64(cg: Site) -> None:
    big = [int(r) for r in cg.graph.get_latest_roots()[:3]]
    answer = ok_json(cg.http.post(f"{cg.v1}/roots", json={"node_ids": big}))
    assert uint64s(answer["root_ids"]).tolist() == big
