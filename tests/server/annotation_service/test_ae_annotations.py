"""AnnotationEngine annotation routes: insert, read, update (supersede), delete, permissions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from annotation_service_support import (
    API,
    Caller,
    ae_error,
    count,
    create_table,
    get_rows,
    post,
    post_ok,
    synapse,
)

ROW_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?$")


def _flat(i: int) -> dict[str, Any]:
    """The flat columns that ``synapse(i)`` reads back as."""
    return {
        "pre_pt_position": [i, i + 1, i + 2],
        "ctr_pt_position": [i + 3, i + 4, i + 5],
        "post_pt_position": [i + 6, i + 7, i + 8],
        "size": float(i) / 2,
    }


def _recent(text: str) -> bool:
    moment = datetime.fromisoformat(text)
    now = datetime.now(UTC).replace(tzinfo=None)
    return now - timedelta(minutes=1) <= moment <= now + timedelta(seconds=1)


def _put(caller: Caller, table: str, annotations: list[dict[str, Any]]) -> httpx.Response:
    url = f"{API}/table/{table}/annotations"
    response: httpx.Response = caller.http.put(url, json={"annotations": annotations})
    return response


def _delete(caller: Caller, table: str, ids: list[Any]) -> httpx.Response:
    url = f"{API}/table/{table}/annotations"
    response: httpx.Response = caller.http.request("DELETE", url, json={"annotation_ids": ids})
    return response


def test_insert_and_read_back_in_the_flat_shape(owner: Caller) -> None:
    table = create_table(owner)
    ids = post_ok(owner, table, [synapse(i) for i in (10, 20, 30)])
    assert ids == [1, 2, 3]
    rows = get_rows(owner, table, [3, 1, 99])
    assert [row["id"] for row in rows] == [1, 3]
    for row, i in zip(rows, (10, 30), strict=True):
        assert {k: row[k] for k in _flat(i)} == _flat(i)
        assert row["valid"] is True
        assert row["deleted"] == "None"
        assert row["superceded_id"] is None
        assert ROW_TIME.match(row["created"]) and _recent(row["created"])
        assert set(row) == {"id", "valid", "created", "deleted", "superceded_id", *_flat(i)}
    assert get_rows(owner, table, [404]) == []
    assert count(owner, table) == 3


def test_posted_segmentation_ids_unknown_keys_and_valid_are_not_stored(owner: Caller) -> None:
    table = create_table(owner)
    item = synapse(5, type="synapse", valid=False, anything={"x": 1})
    item["pre_pt"] = {"position": [5, 6, 7], "supervoxel_id": 123, "root_id": "456"}
    item["size"] = None
    (new_id,) = post_ok(owner, table, [item])
    (row,) = get_rows(owner, table, [new_id])
    assert row["valid"] is True
    assert row["size"] is None
    assert row["pre_pt_position"] == [5, 6, 7]
    assert not {"type", "anything", "pre_pt_supervoxel_id", "pre_pt_root_id"} & set(row)


def test_missing_optional_columns_read_back_as_null(owner: Caller) -> None:
    table = create_table(owner, "nucleus_detection")
    (new_id,) = post_ok(owner, table, [{"pt": {"position": [1, 2, 3]}, "volume": "2.5"}])
    (row,) = get_rows(owner, table, [new_id])
    assert row["pt_position"] == [1, 2, 3]
    assert row["volume"] == 2.5
    assert row["bb_start_position"] is None and row["bb_end_position"] is None


def test_explicit_ids_do_not_advance_the_sequence(owner: Caller) -> None:
    table = create_table(owner)
    assert post_ok(owner, table, [synapse(1, id=2), synapse(2, id=0)]) == [2, 1]
    clash = post(owner, table, [synapse(3)])
    assert clash.status_code == 404
    assert clash.json() == ae_error(
        404,
        "Not Found",
        f'duplicate key value violates unique constraint "{table}_pkey" DETAIL: Key (id)=(2) '
        "already exists.",
    )
    # Like a Postgres sequence, the failed insert consumed id 2; the next one gets 3.
    assert post_ok(owner, table, [synapse(3)]) == [3]
    twice = post(owner, table, [synapse(4, id=10), synapse(5, id=10)])
    assert twice.status_code == 404
    assert count(owner, table) == 3


def test_explicit_ids_must_be_positive_integers(owner: Caller) -> None:
    table = create_table(owner)
    response = post(owner, table, [synapse(1, id="x")])
    assert response.status_code == 422
    assert response.json() == ae_error(
        422, "Unprocessable Entity", "annotation 0: {'id': ['Not a valid integer.']}"
    )
    negative = post(owner, table, [synapse(1, id=-4)])
    assert negative.status_code == 422
    assert "'id': ['Must be greater than or equal to 1" in negative.json()["message"]
    assert post_ok(owner, table, [synapse(1, id="7")]) == [7]


def test_insert_limit(owner: Caller) -> None:
    table = create_table(owner)
    too_many = [synapse(i) for i in range(10_001)]
    response = post(owner, table, too_many)
    assert response.status_code == 413
    assert response.json() == ae_error(
        413,
        "Request Entity Too Large",
        "10000 -> The insertion limit is 10000, 10001 were attempted to be inserted",
    )
    assert count(owner, table) == 0
    ids = post_ok(owner, table, too_many[:10_000])
    assert ids == list(range(1, 10_001))
    assert count(owner, table) == 10_000
    rows = get_rows(owner, table, ids[-1500:])
    assert [row["id"] for row in rows] == ids[-1500:]
    assert rows[-1]["pre_pt_position"] == [9999, 10000, 10001]


def test_insert_is_all_or_nothing(owner: Caller) -> None:
    table = create_table(owner)
    items = [synapse(i) for i in range(50)]
    items[37] = {**synapse(37), "pre_pt": {"position": [1, 2]}}
    response = post(owner, table, items)
    assert response.status_code == 422
    assert response.json() == ae_error(
        422,
        "Unprocessable Entity",
        "annotation 37: {'pre_pt': {'position': ['Must be a list of 3 finite numbers.']}}",
    )
    assert count(owner, table) == 0
    assert post_ok(owner, table, [synapse(1)]) == [1]


def test_post_body_errors(owner: Caller) -> None:
    table = create_table(owner)
    url = f"{API}/table/{table}/annotations"
    response = owner.http.post(url, json={"annotations": [synapse(1), 5, None], "x": 1})
    assert response.status_code == 400
    assert response.json() == {
        "schema_errors": {
            "annotations": {"1": ["Not a valid mapping type."], "2": ["Field may not be null."]},
            "x": ["Unknown field."],
        }
    }
    missing = owner.http.post(url, json={})
    assert missing.json() == {
        "schema_errors": {"annotations": ["Missing data for required field."]}
    }
    not_a_list = owner.http.post(url, json={"annotations": {"a": 1}})
    assert not_a_list.json() == {"schema_errors": {"annotations": ["Not a valid list."]}}


def test_posting_to_an_unknown_table_is_404(owner: Caller) -> None:
    response = post(owner, "no_such_table", [synapse(1)])
    assert response.status_code == 404
    assert response.json() == ae_error(404, "Not Found", "No table named 'no_such_table' exists.")


def test_get_annotation_ids_argument(owner: Caller) -> None:
    table = create_table(owner)
    url = f"{API}/table/{table}/annotations"
    bad = owner.http.get(url, params={"annotation_ids": "1,x"})
    assert bad.status_code == 400
    assert bad.json() == {
        "errors": {
            "annotation_ids": "list of annotation ids invalid literal for int() with base 10: 'x'"
        },
        "message": "Input payload validation failed",
    }
    missing = owner.http.get(url)
    assert missing.status_code == 400
    assert "Missing required parameter" in missing.json()["errors"]["annotation_ids"]


def test_notice_header_on_reads(owner: Caller) -> None:
    table = create_table(owner, notice_text="under review")
    (new_id,) = post_ok(owner, table, [synapse(1)])
    response = owner.http.get(f"{API}/table/{table}/annotations", params={"annotation_ids": new_id})
    assert response.headers["warning"] == "Table Owner Notice: under review"


def test_update_supersedes_the_old_row(owner: Caller) -> None:
    table = create_table(owner)
    ids = post_ok(owner, table, [synapse(1), synapse(2)])
    response = _put(owner, table, [{**synapse(100), "id": ids[0]}])
    assert response.status_code == 200
    new_id = response.json()[str(ids[0])]
    assert new_id == 3
    assert count(owner, table) == 3
    old, new = get_rows(owner, table, [ids[0], new_id])
    assert old["valid"] is False
    assert old["superceded_id"] == new_id
    assert ROW_TIME.match(old["deleted"]) and _recent(old["deleted"])
    assert {k: old[k] for k in _flat(1)} == _flat(1)
    assert new["valid"] is True and new["deleted"] == "None" and new["superceded_id"] is None
    assert {k: new[k] for k in _flat(100)} == _flat(100)

    again = _put(owner, table, [{**synapse(200), "id": ids[0]}])
    assert again.status_code == 409
    assert again.json() == ae_error(
        409,
        "Conflict",
        f"Error update ID {ids[0]} -> Annotation with ID {ids[0]} has already been superseded "
        f"by annotation ID {new_id}, update annotation ID {new_id} instead",
    )
    assert count(owner, table) == 3


def test_update_items_are_applied_one_by_one(owner: Caller) -> None:
    table = create_table(owner)
    ids = post_ok(owner, table, [synapse(1), synapse(2)])
    response = _put(
        owner,
        table,
        [{**synapse(10), "id": ids[0]}, {"id": ids[1], "pre_pt": {"position": [1, 2, 3]}}],
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith("422 Unprocessable Entity: annotation 1: {")
    assert "'ctr_pt': ['Missing data for required field.']" in response.json()["message"]
    first, second = get_rows(owner, table, ids)
    assert first["superceded_id"] is not None
    assert second["superceded_id"] is None
    assert count(owner, table) == 3


def test_update_needs_a_known_id(owner: Caller) -> None:
    table = create_table(owner)
    post_ok(owner, table, [synapse(1)])
    no_id = _put(owner, table, [synapse(1)])
    assert no_id.status_code == 400
    assert no_id.json() == ae_error(
        400, "Bad Request", "Annotation requires an 'id' to update targeted row"
    )
    unknown = _put(owner, table, [{**synapse(1), "id": 999}])
    assert unknown.status_code == 400
    assert unknown.json() == ae_error(
        400, "Bad Request", "No row was found when one was required (annotation id 999)"
    )
    assert count(owner, table) == 1


def test_delete_is_soft(owner: Caller) -> None:
    table = create_table(owner)
    ids = post_ok(owner, table, [synapse(1), synapse(2), synapse(3)])
    response = _delete(owner, table, [ids[2], ids[0], 777])
    assert response.status_code == 200
    assert response.json() == [ids[0], ids[2]]
    rows = get_rows(owner, table, ids)
    assert [row["valid"] for row in rows] == [False, True, False]
    assert ROW_TIME.match(rows[0]["deleted"]) and _recent(rows[0]["deleted"])
    assert rows[1]["deleted"] == "None"
    assert count(owner, table) == 3

    none_found = _delete(owner, table, [777, 778])
    assert none_found.status_code == 404
    assert none_found.json() == f"annotation_id [777, 778] not in table {table}"
    bad = _delete(owner, table, [1, "x"])
    assert bad.status_code == 400
    assert bad.json() == {"schema_errors": {"annotation_ids": {"1": ["Not a valid integer."]}}}


def test_deleted_rows_can_still_be_superseded(owner: Caller) -> None:
    table = create_table(owner)
    (old_id,) = post_ok(owner, table, [synapse(1)])
    _delete(owner, table, [old_id])
    new_id = _put(owner, table, [{**synapse(2), "id": old_id}]).json()[str(old_id)]
    (old,) = get_rows(owner, table, [old_id])
    assert old["superceded_id"] == new_id


def test_write_permissions(owner: Caller, peer: Caller, stranger: Caller, viewer: Caller) -> None:
    private = create_table(owner)
    group = create_table(owner, write_permission="GROUP")
    public = create_table(owner, write_permission="PUBLIC")

    no_edit = post(viewer, public, [synapse(1)])
    assert no_edit.status_code == 403
    assert no_edit.json()["error"] == "missing_permission"
    assert viewer.http.get(f"{API}/table/{public}/count").status_code == 200

    denied = post(peer, private, [synapse(1)])
    assert denied.status_code == 401
    assert denied.json() == ae_error(
        401, "Unauthorized", "Unauthorized: The table can only be written to by owner"
    )
    assert post_ok(peer, group, [synapse(1)]) == [1]
    outsider = post(stranger, group, [synapse(1)])
    assert outsider.status_code == 401
    assert outsider.json() == ae_error(
        401,
        "Unauthorized",
        "Unauthorized: You cannot write because you do not share a common group with the "
        "creator of this table.",
    )
    assert post_ok(stranger, public, [synapse(1)]) == [1]
    assert _delete(stranger, private, [1]).status_code == 401
    assert _put(stranger, private, [{**synapse(1), "id": 1}]).status_code == 401
    assert [count(owner, t) for t in (private, group, public)] == [0, 1, 1]


def test_read_permissions(owner: Caller, peer: Caller, stranger: Caller) -> None:
    private = create_table(owner, read_permission="PRIVATE")
    group = create_table(owner, read_permission="GROUP")
    for table in (private, group):
        post_ok(owner, table, [synapse(1)])
        assert len(get_rows(owner, table, [1])) == 1
    params = {"annotation_ids": "1"}
    denied = peer.http.get(f"{API}/table/{private}/annotations", params=params)
    assert denied.status_code == 401
    assert denied.json() == ae_error(
        401, "Unauthorized", "Unauthorized: The table can only be read by its owner"
    )
    assert len(get_rows(peer, group, [1])) == 1
    outsider = stranger.http.get(f"{API}/table/{group}/annotations", params=params)
    assert outsider.status_code == 401


def test_reference_tables(owner: Caller) -> None:
    target = create_table(owner)
    synapse_ids = post_ok(owner, target, [synapse(1), synapse(2)])
    tags = create_table(owner, "reference_tag", table_metadata={"reference_table": target})
    tag_ids = post_ok(owner, tags, [{"target_id": synapse_ids[0], "tag": "a"}])
    (row,) = get_rows(owner, tags, tag_ids)
    assert (row["target_id"], row["tag"]) == (synapse_ids[0], "a")

    dangling = post(owner, tags, [{"target_id": 999, "tag": "b"}])
    assert dangling.status_code == 404
    assert "Key (target_id)=(999) is not present" in dangling.json()["message"]

    # Reference tables are updated in place.
    response = _put(owner, tags, [{"id": tag_ids[0], "target_id": synapse_ids[1], "tag": "c"}])
    assert response.json() == {str(tag_ids[0]): tag_ids[0]}
    (row,) = get_rows(owner, tags, tag_ids)
    assert (row["target_id"], row["tag"], row["valid"]) == (synapse_ids[1], "c", True)
    assert count(owner, tags) == 1


def test_tracked_references_follow_supersession(owner: Caller) -> None:
    target = create_table(owner)
    (synapse_id,) = post_ok(owner, target, [synapse(1)])
    options = {"reference_table": target, "track_target_id_updates": True}
    tracked = create_table(owner, "simple_reference", table_metadata=options)
    untracked = create_table(owner, "simple_reference", table_metadata={"reference_table": target})
    (tracked_id,) = post_ok(owner, tracked, [{"target_id": synapse_id}])
    (untracked_id,) = post_ok(owner, untracked, [{"target_id": synapse_id}])

    new_id = _put(owner, target, [{**synapse(5), "id": synapse_id}]).json()[str(synapse_id)]
    assert get_rows(owner, tracked, [tracked_id])[0]["target_id"] == new_id
    assert get_rows(owner, untracked, [untracked_id])[0]["target_id"] == synapse_id


def test_ids_beyond_64_bits_are_simply_absent(owner: Caller) -> None:
    table = create_table(owner)
    post_ok(owner, table, [synapse(1)])
    assert get_rows(owner, table, [2**70, 1])[0]["id"] == 1
    assert get_rows(owner, table, [2**70]) == []


def test_notices_that_are_not_plain_latin1_text(owner: Caller) -> None:
    table = create_table(owner, notice_text="première ligne\nseconde ✓")
    response = owner.http.get(f"{API}/table/{table}")
    assert response.status_code == 201
    assert response.headers["warning"] == "Table Owner Notice: première ligne seconde ✓"
    assert response.json()["notice_text"] == "première ligne\nseconde ✓"
