"""History routes over HTTP, checked against the dataset's scripted edits."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
from chunkedgraph_service_support import Site, edits_of, ok_json, pcg_error


def test_change_log_of_a_merged_root(cg: Site) -> None:
    merge = edits_of(cg.manifest, "merge")[-1]
    root = merge.new_root_ids[0]
    url = f"{cg.v1}/root/{root}/change_log"
    log = ok_json(cg.http.get(url))
    assert log == {
        "n_mergers": 1,
        "n_splits": 0,
        "operations_ids": [merge.operation_id],
        "past_ids": sorted(merge.old_root_ids),
        "user_info": {merge.user_id: {"n_mergers": 1, "n_splits": 0}},
    }
    as_str = ok_json(cg.http.get(url, params={"int64_as_str": 1, "filtered": "true"}))
    assert as_str["n_mergers"] == 1
    assert as_str["n_splits"] == "0"
    assert as_str["operations_ids"] == [str(merge.operation_id)]
    assert as_str["user_info"][merge.user_id] == {"n_mergers": 1, "n_splits": "0"}


def test_change_log_counts_splits(cg: Site) -> None:
    split = edits_of(cg.manifest, "split")[0]
    for root in split.new_root_ids:
        log = ok_json(cg.http.get(f"{cg.v1}/root/{root}/change_log"))
        assert (log["n_splits"], log["n_mergers"]) == (1, 0)
        assert log["operations_ids"] == [split.operation_id]
        assert log["past_ids"] == list(split.old_root_ids)


def test_change_log_errors(cg: Site) -> None:
    supervoxel = int(cg.graph.supervoxel_ids[0])
    pcg_error(cg.http.get(f"{cg.v1}/root/{supervoxel}/change_log"), 400, "is no root")
    missing_root = int(cg.graph.layout.root_chunk_id) + 10**9
    for unknown in (missing_root, 0, 12345):
        pcg_error(cg.http.get(f"{cg.v1}/root/{unknown}/change_log"), 404, str(unknown))
    root = cg.manifest.edits[0].new_root_ids[0]
    pcg_error(
        cg.http.get(f"{cg.v1}/root/{root}/change_log", params={"timestamp": "then"}),
        400,
        "Timestamp parameter timestamp",
    )


def test_tabular_change_log_single_and_many(cg: Site) -> None:
    merge = edits_of(cg.manifest, "merge")[-1]
    root = merge.new_root_ids[0]
    single = cg.http.get(f"{cg.v1}/root/{root}/tabular_change_log")
    assert single.status_code == 200
    table = json.loads(single.content)
    assert table["operation_id"] == {"0": merge.operation_id}
    assert table["timestamp"] == {"0": int(merge.timestamp * 1000)}
    assert table["before_root_ids"] == {"0": sorted(merge.old_root_ids)}
    assert table["after_root_ids"] == {"0": [root]}
    assert table["is_merge"] == {"0": True}
    user = cg.server.deployment.auth.user_record(int(merge.user_id))
    assert user is not None
    assert table["user_name"] == {"0": user["name"]}
    assert table["user_affiliation"] == {"0": user["pi"]}
    many = cg.http.request(
        "GET", f"{cg.v1}/tabular_change_log_many", json={"root_ids": [str(root)]}
    )
    doubled = ok_json(many)
    assert set(doubled) == {str(root)}
    assert isinstance(doubled[str(root)], str)
    assert json.loads(doubled[str(root)]) == table


def test_tabular_change_log_unfiltered_columns_and_empty_logs(cg: Site) -> None:
    merge = edits_of(cg.manifest, "merge")[-1]
    root = merge.new_root_ids[0]
    unfiltered = json.loads(
        cg.http.get(f"{cg.v1}/root/{root}/tabular_change_log", params={"filtered": "false"}).content
    )
    assert {"in_neuron", "is_relevant"} <= set(unfiltered)
    untouched = int(
        next(
            r
            for r in cg.graph.get_latest_roots().tolist()
            if not cg.graph.get_change_log(r)["past_ids"].size
        )
    )
    empty = json.loads(cg.http.get(f"{cg.v1}/root/{untouched}/tabular_change_log").content)
    assert empty["operation_id"] == {}
    assert "user_name" not in empty


def test_merge_log(cg: Site) -> None:
    merge = edits_of(cg.manifest, "merge")[-1]
    root = merge.new_root_ids[0]
    url = f"{cg.v1}/root/{root}/merge_log"
    log = ok_json(cg.http.get(url))
    assert [sorted(pair) for pair in log["merge_edges"][0]] == [sorted(merge.supervoxel_ids)]
    engine = cg.graph.get_merge_log(root)
    assert log["merge_edge_coords"] == [
        [list(side) for side in pair] for pair in engine["merge_edge_coords"]
    ]
    as_str = ok_json(cg.http.get(url, params={"int64_as_str": "1"}))
    assert as_str["merge_edges"][0][0] == [str(v) for v in log["merge_edges"][0][0]]
    coords = as_str["merge_edge_coords"][0][0][0]
    assert coords == [str(v) for v in log["merge_edge_coords"][0][0][0]]


def test_lineage_graph_of_a_merge(cg: Site) -> None:
    merge = edits_of(cg.manifest, "merge")[-1]
    root = merge.new_root_ids[0]
    graph = ok_json(cg.http.get(f"{cg.v1}/root/{root}/lineage_graph"))
    assert (graph["directed"], graph["multigraph"], graph["graph"]) == (True, False, {})
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert set(nodes) == {root, *merge.old_root_ids}
    assert nodes[root] == {"id": root, "timestamp": merge.timestamp}
    for old in merge.old_root_ids:
        assert nodes[old]["operation_id"] == merge.operation_id
    links = {(link["source"], link["target"]) for link in graph["links"]}
    assert links == {(old, root) for old in merge.old_root_ids}


def test_lineage_graph_multiple_honours_timestamp_future(cg: Site) -> None:
    undo = edits_of(cg.manifest, "undo")[0]
    merge = next(e for e in cg.manifest.edits if e.operation_id == undo.undone_operation_id)
    origin = merge.old_root_ids[0]
    merged = merge.new_root_ids[0]
    url = f"{cg.v1}/lineage_graph_multiple"
    body = {"root_ids": [origin]}
    whole = ok_json(cg.http.post(url, json=body, params={"int64_as_str": 1}))
    links = {(link["source"], link["target"]) for link in whole["links"]}
    assert links == {(str(origin), str(merged))} | {
        (str(merged), str(r)) for r in undo.new_root_ids
    }
    # The walk forward stops at roots created after timestamp_future (they are still listed).
    early = {"timestamp_future": merge.timestamp - 60}
    cut = ok_json(cg.http.post(url, json=body, params=early))
    assert [(link["source"], link["target"]) for link in cut["links"]] == [(origin, merged)]
    assert {n["id"] for n in cut["nodes"]} == {origin, merged}
    # The single-root route ignores timestamp_future, as production does.
    single = ok_json(cg.http.get(f"{cg.v1}/root/{merged}/lineage_graph", params=early))
    assert {n["id"] for n in single["nodes"]} >= set(undo.new_root_ids)


def test_past_id_mapping(cg: Site) -> None:
    merge = edits_of(cg.manifest, "merge")[-1]
    split = edits_of(cg.manifest, "split")[0]
    roots = [merge.new_root_ids[0], *split.new_root_ids]
    mapping = ok_json(cg.http.request("GET", f"{cg.v1}/past_id_mapping", json={"root_ids": roots}))
    assert mapping["past_id_map"] == {
        str(merge.new_root_ids[0]): sorted(merge.old_root_ids),
        **{str(r): list(split.old_root_ids) for r in split.new_root_ids},
    }
    # A merge's past ids lead to the merged root; a split root has no single successor.
    assert mapping["future_id_map"] == {
        str(old): merge.new_root_ids[0] for old in merge.old_root_ids
    }


def test_many_root_routes_check_every_root(cg: Site) -> None:
    root = cg.manifest.edits[-1].new_root_ids[0]
    supervoxel = int(cg.graph.supervoxel_ids[0])
    for path in ("past_id_mapping", "tabular_change_log_many"):
        url = f"{cg.v1}/{path}"
        unknown = cg.http.request("GET", url, json={"root_ids": [root, 12345]})
        pcg_error(unknown, 404, "12345")
        below = cg.http.request("GET", url, json={"root_ids": [root, supervoxel]})
        pcg_error(below, 400, f"{supervoxel} is no root")
        pcg_error(cg.http.request("GET", url, json={"node_ids": [root]}), 400, "'root_ids'")


def test_operation_details_of_the_scripted_edits(cg: Site) -> None:
    edits = cg.manifest.edits
    ids = [e.operation_id for e in edits]
    url = f"{cg.v1}/operation_details"
    details = ok_json(cg.http.get(url, params={"operation_ids": json.dumps([*ids, 999])}))
    assert set(details) == {str(i) for i in ids}
    for edit in edits:
        row = details[str(edit.operation_id)]
        assert row["user"] == edit.user_id
        assert row["roots"] == list(edit.new_root_ids)
        moment = datetime.fromtimestamp(edit.timestamp, UTC)
        assert row["timestamp"] == row["operation_ts"] == str(moment)
        if edit.kind == "merge":
            assert [sorted(p) for p in row["added_edges"]] == [sorted(edit.supervoxel_ids)]
        elif edit.kind == "split":
            assert row["source_ids"] == list(edit.source_ids)
            assert row["sink_ids"] == list(edit.sink_ids)
            assert row["removed_edges"]
        else:
            assert row["undo_operation_id"] == edit.undone_operation_id
    undo = edits_of(cg.manifest, "undo")[0]
    as_str = ok_json(
        cg.http.get(url, params={"operation_ids": f"[{undo.operation_id}]", "int64_as_str": 1})
    )
    row = as_str[str(undo.operation_id)]
    assert row["undo_operation_id"] == str(undo.undone_operation_id)
    assert row["roots"] == list(undo.new_root_ids)
    assert ok_json(cg.http.get(url)) == {}
    pcg_error(cg.http.get(url, params={"operation_ids": "1,2"}), 400, "operation_ids")
    pcg_error(cg.http.get(url, params={"operation_ids": '["1"]'}), 400, "operation_ids")
    spaced = f"[ {ids[0]} ,\t{2**64} ]"
    assert set(ok_json(cg.http.get(url, params={"operation_ids": spaced}))) == {str(ids[0])}


def test_delta_roots_in_a_window_around_each_edit(cg: Site) -> None:
    url = f"{cg.v1}/delta_roots"
    for edit in cg.manifest.edits:
        window = {"timestamp_past": edit.timestamp - 1, "timestamp_future": edit.timestamp + 1}
        delta = ok_json(cg.http.get(url, params=window))
        assert sorted(delta["new_roots"]) == sorted(edit.new_root_ids)
        assert sorted(delta["old_roots"]) == sorted(
            r for r in edit.old_root_ids for _ in edit.new_root_ids
        )
    everything = ok_json(cg.http.get(url, params={"timestamp_past": 0, "int64_as_str": 1}))
    assert len(everything["new_roots"]) == sum(len(e.new_root_ids) for e in cg.manifest.edits)
    assert all(isinstance(r, str) for r in everything["new_roots"])
    pcg_error(cg.http.get(url), 400, "Timestamp parameter timestamp_past is mandatory")


def test_valid_nodes_in_time_windows(cg: Site) -> None:
    merge = edits_of(cg.manifest, "merge")[-1]
    new = merge.new_root_ids[0]
    body = {"node_ids": [new, 12345]}
    url = f"{cg.v1}/valid_nodes"
    assert ok_json(cg.http.request("GET", url, json=body)) == {"valid_roots": [new]}
    early = {"end_timestamp": merge.timestamp - 1}
    assert ok_json(cg.http.request("GET", url, json=body, params=early)) == {"valid_roots": []}
    binary = cg.http.request(
        "GET",
        url,
        content=np.array([new], "<u8").tobytes(),
        params={"is_binary": "true", "start_timestamp": merge.timestamp},
    )
    assert ok_json(binary) == {"valid_roots": [new]}


def test_oldest_timestamp(cg: Site) -> None:
    first = min(cg.manifest.edits, key=lambda e: e.operation_id)
    expected = datetime.fromtimestamp(first.timestamp - 0.5, UTC)
    url = f"{cg.v1}/oldest_timestamp"
    assert ok_json(cg.http.get(url)) == {"iso": expected.isoformat(" ")}
    assert ok_json(cg.http.get(url, params={"delimiter": "T"})) == {"iso": expected.isoformat()}
    pcg_error(cg.http.get(url, params={"delimiter": "--"}), 400, "delimiter")
