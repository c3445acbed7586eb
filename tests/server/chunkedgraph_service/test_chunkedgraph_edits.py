"""Edit routes on a deployment of their own: merge, split preview, split, undo and redo.

The edits re-join the two supervoxels that the dataset's first scripted split separated, using
root ids and nanometre coordinates (so the server has to find the supervoxels in the watershed
volume), then split them again and undo / redo that split.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from chunkedgraph_service_support import Site, edits_of, new_caller, nm, ok_json, pcg_error, site

from dafserver.dataset.manifest import EditRecord
from dafserver.seed import VIEWER_GROUP


@pytest.fixture(scope="module")
def editable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site(tmp_path_factory.mktemp("chunkedgraph_edits")) as running:
        yield running


@dataclass(frozen=True)
class Pair:
    """Two supervoxels of different objects, one atomic chunk apart at most a few chunks."""

    a: int
    b: int
    a_nm: list[float]
    b_nm: list[float]


def _split_pair(site: Site, index: int) -> Pair:
    """The source and sink of the dataset's ``index``-th scripted split (now apart)."""
    split: EditRecord = edits_of(site.manifest, "split")[index]
    return Pair(
        split.source_ids[0],
        split.sink_ids[0],
        nm(split.source_coords[0], site.graph),
        nm(split.sink_coords[0], site.graph),
    )


def _roots(site: Site, pair: Pair) -> list[int]:
    return [int(r) for r in site.graph.get_roots([pair.a, pair.b])]


def test_merge_split_undo_redo(editable: Site) -> None:
    pair = _split_pair(editable, 0)
    v1 = editable.v1
    http = editable.http
    before = _roots(editable, pair)
    assert before[0] != before[1]

    merge_body = [[str(before[0]), *pair.a_nm], [str(before[1]), *pair.b_nm]]
    merged = ok_json(http.post(f"{v1}/merge", json=merge_body, params={"priority": "False"}))
    assert set(merged) == {"new_root_ids", "operation_id"}
    new_root = merged["new_root_ids"][0]
    assert _roots(editable, pair) == [new_root, new_root]
    assert merged["operation_id"] == editable.graph.max_operation_id
    details = ok_json(
        http.get(f"{v1}/operation_details", params={"operation_ids": f"[{merged['operation_id']}]"})
    )[str(merged["operation_id"])]
    assert [sorted(e) for e in details["added_edges"]] == [sorted([pair.a, pair.b])]
    assert details["user"] == str(
        editable.server.deployment.auth.token_owner(editable.server.admin_token)
    )
    ts = float(editable.graph.get_root_timestamps([new_root])[0])
    at_merge = ok_json(
        http.post(f"{v1}/roots", json={"node_ids": [pair.a]}, params={"timestamp": ts})
    )
    assert at_merge == {"root_ids": [new_root]}
    just_before = ok_json(
        http.post(f"{v1}/roots", json={"node_ids": [pair.a]}, params={"timestamp": ts - 0.001})
    )
    assert just_before == {"root_ids": [before[0]]}

    split_body = {"sources": [[new_root, *pair.a_nm]], "sinks": [[str(new_root), *pair.b_nm]]}
    preview = ok_json(http.post(f"{v1}/graph/split_preview", json=split_body))
    assert preview["illegal_split"] is False
    first, second = (set(c) for c in preview["supervoxel_connected_components"][:2])
    assert pair.a in first and pair.b in second
    assert editable.graph.max_operation_id == merged["operation_id"]

    split = ok_json(http.post(f"{v1}/split", json=split_body, params={"int64_as_str": "1"}))
    assert isinstance(split["operation_id"], str)
    assert all(isinstance(r, str) for r in split["new_root_ids"])
    after_split = _roots(editable, pair)
    assert after_split[0] != after_split[1]
    assert set(after_split) <= {int(r) for r in split["new_root_ids"]}
    split_op = int(split["operation_id"])

    undone = ok_json(http.post(f"{v1}/undo", json={"operation_id": split_op}))
    rejoined = _roots(editable, pair)
    assert rejoined[0] == rejoined[1] == undone["new_root_ids"][0]
    undo_row = ok_json(
        http.get(f"{v1}/operation_details", params={"operation_ids": f"[{undone['operation_id']}]"})
    )[str(undone["operation_id"])]
    assert undo_row["undo_operation_id"] == split_op
    pcg_error(http.post(f"{v1}/undo", json={"operation_id": split_op}), 400, "nothing to undo")

    redone = ok_json(http.post(f"{v1}/redo", json={"operation_id": str(split_op)}))
    again = _roots(editable, pair)
    assert again[0] != again[1]
    assert set(again) <= set(redone["new_root_ids"])

    log = ok_json(http.get(f"{v1}/root/{again[0]}/lineage_graph"))
    operations = {n.get("operation_id") for n in log["nodes"]} - {None}
    assert {merged["operation_id"], split_op, undone["operation_id"]} <= operations


def test_merge_takes_supervoxel_ids_without_looking_at_coordinates(editable: Site) -> None:
    pair = _split_pair(editable, 1)
    roots = _roots(editable, pair)
    assert roots[0] != roots[1]
    merged = ok_json(
        editable.http.post(f"{editable.v1}/merge", json=[[pair.a, 1, 2, 3], [str(pair.b), 4, 5, 6]])
    )
    assert _roots(editable, pair) == [merged["new_root_ids"][0]] * 2
    pcg_error(
        editable.http.post(f"{editable.v1}/merge", json=[[pair.a, 0, 0, 0], [pair.b, 0, 0, 0]]),
        400,
        "Supervoxels must belong to different objects.",
    )


def test_merge_rejects_distant_and_unresolvable_points(editable: Site) -> None:
    graph = editable.graph
    supervoxels = graph.supervoxel_ids
    coords = graph.layout.get_chunk_coords(supervoxels).reshape(-1, 3)
    far_a = int(supervoxels[int(np.argmin(coords.sum(axis=1)))])
    far_b = int(supervoxels[int(np.argmax(coords.sum(axis=1)))])
    url = f"{editable.v1}/merge"
    distance = graph.layout.get_chunk_coords([far_a, far_b]).reshape(2, 3)
    assert int(np.abs(distance[0] - distance[1]).max()) > 1
    pcg_error(
        editable.http.post(
            url, json=[[far_a, 0, 0, 0], [far_b, 0, 0, 0]], params={"chebyshev_distance": 1}
        ),
        400,
        "Chebyshev distance between merge points exceeded allowed maximum (3 chunks).",
    )
    root = int(graph.get_roots([far_a])[0])
    pcg_error(
        editable.http.post(url, json=[[root, 1e7, 1e7, 1e7], [far_b, 0, 0, 0]]),
        400,
        "Could not determine supervoxel ID for coordinates",
    )
    pcg_error(editable.http.post(url, json=[[12345, 0, 0, 0], [far_b, 0, 0, 0]]), 404, "12345")
    unknown_sv = int(supervoxels.max()) + 1
    pcg_error(editable.http.post(url, json=[[unknown_sv, 0, 0, 0], [far_b, 0, 0, 0]]), 404)


@pytest.mark.parametrize(
    ("path", "body", "text"),
    [
        ("merge", [[1, 0, 0, 0]], "exactly 2"),
        ("merge", {"points": []}, "list of points"),
        ("merge", [["x", 0, 0, 0], [1, 0, 0, 0]], "node id"),
        ("merge", [[1, "0", 0, 0], [1, 0, 0, 0]], "coordinates"),
        ("split", {"sources": [[1, 0, 0, 0]]}, "'sinks'"),
        ("split", {"sources": [], "sinks": [[1, 0, 0, 0]]}, "at least one"),
        ("undo", {"operation": 1}, "'operation_id'"),
        ("redo", {"operation_id": -1}, "operation_id"),
    ],
)
def test_edit_bodies_are_validated(editable: Site, path: str, body: object, text: str) -> None:
    pcg_error(editable.http.post(f"{editable.v1}/{path}", json=body), 400, text)


def test_unknown_operations_and_viewers(editable: Site) -> None:
    pcg_error(editable.http.post(f"{editable.v1}/undo", json={"operation_id": 10**6}), 404)
    with new_caller(editable.server, [VIEWER_GROUP]) as viewer:
        denied = viewer.post(f"{editable.v1}/undo", json={"operation_id": 1})
    assert denied.status_code == 403
    assert denied.json()["error"] == "missing_permission"
    assert editable.graph.get_operation_details([1])
