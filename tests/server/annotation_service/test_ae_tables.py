"""AnnotationEngine table routes: create, list, metadata, update, delete, count."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from annotation_service_support import (
    API,
    DATASET,
    TEXT_HTML,
    UNLISTED_AV,
    UNMAPPED_AV,
    Caller,
    ae_error,
    count,
    create_table,
    make_caller,
    post_ok,
    synapse,
    unique_table_name,
)

from dafserver.runner import LocalServer

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?$")


def _create_body(name: str, schema_type: str = "synapse", **metadata: Any) -> dict[str, Any]:
    return {
        "table_name": name,
        "schema_type": schema_type,
        "metadata": {
            "description": "d",
            "voxel_resolution_x": 4,
            "voxel_resolution_y": "4.5",
            "voxel_resolution_z": 40.0,
            **metadata,
        },
    }


def _recent(iso: str) -> bool:
    moment = datetime.fromisoformat(iso)
    now = datetime.now(UTC).replace(tzinfo=None)
    return now - timedelta(minutes=1) <= moment <= now + timedelta(seconds=1)


def test_versions_needs_no_token(server: LocalServer) -> None:
    response = httpx.get(server.base_url + "/annotation/api/versions")
    assert response.status_code == 200
    assert response.json() == [2]


def test_create_table_answers_the_name_and_stores_the_metadata(owner: Caller) -> None:
    name = unique_table_name("created")
    response = owner.http.post(f"{API}/table", json=_create_body(name))
    assert response.status_code == 200
    assert response.headers["content-type"] == TEXT_HTML
    assert response.text == name

    assert name in owner.http.get(f"{API}/table").json()
    meta = owner.http.get(f"{API}/table/{name}")
    assert meta.status_code == 201
    assert "warning" not in meta.headers
    body = meta.json()
    assert list(body)[:3] == ["id", "schema_type", "table_name"]
    assert body["table_name"] == name
    assert body["schema_type"] == "synapse"
    assert body["valid"] is True
    assert body["deleted"] is None
    assert body["user_id"] == str(owner.id)
    assert body["description"] == "d"
    assert body["notice_text"] is None
    assert body["reference_table"] is None
    assert body["flat_segmentation_source"] is None
    assert (body["voxel_resolution_x"], body["voxel_resolution_y"]) == (4.0, 4.5)
    assert body["voxel_resolution_z"] == 40.0
    assert (body["read_permission"], body["write_permission"]) == ("PUBLIC", "PRIVATE")
    assert ISO.match(body["created"]) and _recent(body["created"])
    assert body["last_modified"] == body["created"]


def test_create_table_with_every_option(owner: Caller) -> None:
    name = create_table(
        owner,
        "cell_type_local",
        user_id="12345",
        flat_segmentation_source="precomputed://gs://bucket/seg",
        read_permission="GROUP",
        write_permission="PUBLIC",
        notice_text="being revised",
    )
    meta = owner.http.get(f"{API}/table/{name}")
    assert meta.headers["warning"] == "Table Owner Notice: being revised"
    body = meta.json()
    assert body["user_id"] == "12345"
    assert body["flat_segmentation_source"] == "precomputed://gs://bucket/seg"
    assert (body["read_permission"], body["write_permission"]) == ("GROUP", "PUBLIC")
    assert body["notice_text"] == "being revised"


def test_tables_are_listed_in_creation_order(owner: Caller) -> None:
    first, second = create_table(owner), create_table(owner)
    names = owner.http.get(f"{API}/table").json()
    assert names.index(first) < names.index(second)
    assert owner.http.get(f"{API}/table", params={"filter_valid": "FALSE"}).json() == names
    assert owner.http.get(f"{API}/table", params={"filter_valid": "1"}).json() == names


def test_list_rejects_an_unusable_filter_valid(owner: Caller) -> None:
    response = owner.http.get(f"{API}/table", params={"filter_valid": "Maybe"})
    assert response.status_code == 400
    assert response.json() == {
        "errors": {
            "filter_valid": "whether to only return valid items Invalid literal for boolean(): maybe"
        },
        "message": "Input payload validation failed",
    }


def test_body_errors_are_schema_errors(owner: Caller) -> None:
    body = _create_body(unique_table_name())
    del body["metadata"]["description"]
    body["metadata"]["voxel_resolution_x"] = "wide"
    body["metadata"]["table_metadata"] = {"reference_table": 5, "other": 1}
    body["extra"] = True
    response = owner.http.post(f"{API}/table", json=body)
    assert response.status_code == 400
    assert response.json() == {
        "schema_errors": {
            "metadata": {
                "description": ["Missing data for required field."],
                "table_metadata": {
                    "reference_table": ["Not a valid string."],
                    "other": ["Unknown field."],
                },
                "voxel_resolution_x": ["Not a valid number."],
            },
            "extra": ["Unknown field."],
        }
    }
    missing = owner.http.post(f"{API}/table", json={})
    assert missing.status_code == 400
    assert set(missing.json()["schema_errors"]) == {"table_name", "schema_type", "metadata"}


def test_body_that_is_not_json_is_a_bad_request(owner: Caller) -> None:
    response = owner.http.post(f"{API}/table", content=b"{not json")
    assert response.status_code == 400
    assert response.json() == ae_error(
        400,
        "Bad Request",
        "The browser (or proxy) sent a request that this server could not understand.",
    )


def test_table_names_must_match_the_pattern(owner: Caller) -> None:
    for bad in ("Upper", "9starts_with_digit", "has-dash", "has space"):
        response = owner.http.post(f"{API}/table", json=_create_body(bad))
        assert response.status_code == 400
        assert response.json() == ae_error(
            400,
            "Bad Request",
            "Table name error: Invalid table name. Table name must include at least one letter, "
            "and can only contain lowercase letters, numbers, and underscores (_).",
        )
    empty = owner.http.post(f"{API}/table", json=_create_body(""))
    assert empty.json() == ae_error(
        400, "Bad Request", "Table name error: Table name cannot be empty."
    )
    too_long = owner.http.post(f"{API}/table", json=_create_body("a" * 101))
    assert too_long.json() == ae_error(
        400, "Bad Request", "value too long for type character varying(100)"
    )


def test_duplicate_names_and_unknown_types_are_refused(owner: Caller) -> None:
    name = create_table(owner)
    again = owner.http.post(f"{API}/table", json=_create_body(name))
    assert again.status_code == 400
    assert again.json() == ae_error(400, "Bad Request", f"Table {name} already exists")

    unknown = owner.http.post(f"{API}/table", json=_create_body(unique_table_name(), "nope"))
    assert unknown.status_code == 400
    assert unknown.json() == ae_error(
        400, "Bad Request", "Schema type: nope is not a known annotation type"
    )


def test_permission_values_are_checked(owner: Caller) -> None:
    body = _create_body(unique_table_name(), read_permission="EVERYONE")
    response = owner.http.post(f"{API}/table", json=body)
    assert response.status_code == 400
    assert response.json() == ae_error(
        400, "Bad Request", 'invalid input value for enum read_permission: "EVERYONE"'
    )


def test_reference_tables_need_a_valid_reference(owner: Caller) -> None:
    target = create_table(owner)
    cases: list[tuple[str, dict[str, Any], str]] = [
        (
            "simple_reference",
            {},
            'Reference metadata must be supplied as a dict in the form {"reference_table": '
            '"your_target_table"}',
        ),
        (
            "simple_reference",
            {"table_metadata": {"track_target_id_updates": True}},
            "reference table not specified in metadata {'track_target_id_updates': True}: "
            "'reference_table'",
        ),
        (
            "simple_reference",
            {"table_metadata": {"reference_table": "absent_table"}},
            "No table named 'absent_table' exists.",
        ),
        (
            "synapse",
            {"table_metadata": {"reference_table": target}},
            "Reference table must be a ReferenceAnnotation schema type",
        ),
    ]
    for schema_type, metadata, message in cases:
        body = _create_body(unique_table_name(), schema_type, **metadata)
        response = owner.http.post(f"{API}/table", json=body)
        assert response.status_code == 400, schema_type
        assert response.json() == ae_error(400, "Bad Request", message)

    itself = unique_table_name()
    body = _create_body(itself, "simple_reference", table_metadata={"reference_table": itself})
    response = owner.http.post(f"{API}/table", json=body)
    assert response.json() == ae_error(
        400, "Bad Request", f"{itself} must target a different table not {itself}"
    )


def test_reference_table_metadata_and_tracking_note(owner: Caller) -> None:
    target = create_table(owner)
    name = create_table(
        owner,
        "reference_tag",
        table_metadata={"reference_table": target, "track_target_id_updates": "yes"},
    )
    body = owner.http.get(f"{API}/table/{name}").json()
    assert body["reference_table"] == target
    assert body["description"] == (
        f"made by a test [Note: This table '{name}' will update the 'target_id' foreign_key "
        f"when updates are made to the '{target}' table] "
    )


def test_aligned_volume_checks(owner: Caller) -> None:
    unlisted = owner.http.get(f"/annotation/api/v2/aligned_volume/{UNLISTED_AV}/table")
    assert unlisted.status_code == 400
    assert unlisted.json() == ae_error(
        400, "Bad Request", f"aligned volume: {UNLISTED_AV} not valid"
    )
    unmapped = owner.http.get(f"/annotation/api/v2/aligned_volume/{UNMAPPED_AV}/table")
    assert unmapped.status_code == 400
    assert unmapped.json()["error"] == "invalid_table_id"


def test_auth_failures(server: LocalServer, viewer: Caller, owner: Caller) -> None:
    anonymous = httpx.get(f"{server.base_url}{API}/table")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "no_token"
    bad = httpx.get(f"{server.base_url}{API}/table", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_token"

    assert viewer.http.get(f"{API}/table").status_code == 200
    refused = viewer.http.post(f"{API}/table", json=_create_body(unique_table_name()))
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "missing_permission",
        "message": f"Missing permission: edit for dataset {DATASET}",
        "data": {"required_permission": "edit", "auth_dataset": DATASET},
    }
    nobody = make_caller(server, "nobody", [])
    try:
        forbidden = nobody.http.get(f"{API}/table")
        assert forbidden.status_code == 403
        assert forbidden.json()["data"] == {"required_permission": "view", "auth_dataset": DATASET}
    finally:
        nobody.http.close()
    # Auth runs before body validation.
    assert viewer.http.post(f"{API}/table", json={}).status_code == 403
    assert owner.http.post(f"{API}/table", json={}).status_code == 400


def test_an_unknown_table_is_404_on_every_route(owner: Caller) -> None:
    rows = f"{API}/table/no_such_table/annotations"
    for response in (
        owner.http.get(f"{API}/table/no_such_table"),
        owner.http.get(f"{API}/table/no_such_table/count"),
        owner.http.delete(f"{API}/table/no_such_table"),
        owner.http.put(
            f"{API}/table", json={"table_name": "no_such_table", "metadata": {"description": "x"}}
        ),
        owner.http.get(rows, params={"annotation_ids": "1"}),
        owner.http.post(rows, json={"annotations": [synapse(1)]}),
        owner.http.put(rows, json={"annotations": [{**synapse(1), "id": 1}]}),
        owner.http.request("DELETE", rows, json={"annotation_ids": [1]}),
    ):
        assert response.status_code == 404, response.request
        assert response.json() == ae_error(
            404, "Not Found", "No table named 'no_such_table' exists."
        )


def test_update_metadata_by_the_owner(owner: Caller) -> None:
    name = create_table(owner, notice_text="old notice")
    before = owner.http.get(f"{API}/table/{name}").json()
    response = owner.http.put(
        f"{API}/table",
        json={
            "table_name": name,
            "metadata": {
                "description": "new description",
                "read_permission": "PRIVATE",
                "flat_segmentation_source": "precomputed://new",
            },
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["description"] == "new description"
    assert body["read_permission"] == "PRIVATE"
    assert body["flat_segmentation_source"] == "precomputed://new"
    assert body["notice_text"] == "old notice"
    assert body["user_id"] == str(owner.id)
    assert body["last_modified"] >= before["last_modified"]
    assert body == owner.http.get(f"{API}/table/{name}").json()

    cleared = owner.http.put(
        f"{API}/table", json={"table_name": name, "metadata": {"notice_text": ""}}
    )
    assert cleared.json()["notice_text"] is None
    assert "warning" not in owner.http.get(f"{API}/table/{name}").headers


def test_update_metadata_rejects_nulls_bad_values_and_non_owners(
    owner: Caller, peer: Caller
) -> None:
    name = create_table(owner)
    null = owner.http.put(
        f"{API}/table", json={"table_name": name, "metadata": {"description": None}}
    )
    assert null.status_code == 400
    assert null.json() == {
        "schema_errors": {"metadata": {"description": ["Field may not be null."]}}
    }
    bad = owner.http.put(
        f"{API}/table", json={"table_name": name, "metadata": {"write_permission": "ALL"}}
    )
    assert bad.status_code == 400
    assert bad.json() == ae_error(
        400, "Bad Request", 'invalid input value for enum read_permission: "ALL"'
    )
    not_owner = peer.http.put(
        f"{API}/table", json={"table_name": name, "metadata": {"description": "mine"}}
    )
    assert not_owner.status_code == 401
    assert not_owner.json() == ae_error(
        401, "Unauthorized", "You cannot do this because you are not the owner of this table"
    )
    assert owner.http.get(f"{API}/table/{name}").json()["description"] == "made by a test"


def test_ownership_transfer(owner: Caller, peer: Caller) -> None:
    name = create_table(owner)
    moved = owner.http.put(
        f"{API}/table", json={"table_name": name, "metadata": {"user_id": str(peer.id)}}
    )
    assert moved.json()["user_id"] == str(peer.id)
    assert owner.http.delete(f"{API}/table/{name}").status_code == 401
    assert peer.http.delete(f"{API}/table/{name}").json() is True


def test_delete_table_is_soft_and_owner_only(owner: Caller, stranger: Caller) -> None:
    name = create_table(owner)
    post_ok(owner, name, [synapse(1)])
    refused = stranger.http.delete(f"{API}/table/{name}")
    assert refused.status_code == 401
    assert refused.json() == ae_error(
        401, "Unauthorized", "You cannot do this because you are not the owner of this table"
    )
    response = owner.http.delete(f"{API}/table/{name}")
    assert response.status_code == 200
    assert response.json() is True
    body = owner.http.get(f"{API}/table/{name}").json()
    assert body["deleted"] is not None and _recent(body["deleted"])
    assert body["valid"] is True
    assert name in owner.http.get(f"{API}/table").json()
    assert count(owner, name) == 1


def test_count_checks_read_permission(owner: Caller, peer: Caller, stranger: Caller) -> None:
    private = create_table(owner, read_permission="PRIVATE")
    group = create_table(owner, read_permission="GROUP")
    post_ok(owner, group, [synapse(1), synapse(2)])
    assert count(owner, private) == 0
    denied = peer.http.get(f"{API}/table/{private}/count")
    assert denied.status_code == 401
    assert denied.json() == ae_error(
        401, "Unauthorized", "Unauthorized: The table can only be read by its owner"
    )
    assert count(peer, group) == 2
    outsider = stranger.http.get(f"{API}/table/{group}/count")
    assert outsider.status_code == 401
    assert outsider.json() == ae_error(
        401,
        "Unauthorized",
        "Unauthorized: You cannot read this table because you do not share a common group with "
        "the creator of this table.",
    )
    # The metadata route does not check the read permission.
    assert peer.http.get(f"{API}/table/{private}").status_code == 201


def test_tables_belong_to_their_aligned_volume(server: LocalServer, owner: Caller) -> None:
    name = create_table(owner)
    other_av = "second_av"
    if other_av not in server.deployment.info.aligned_volume_names():
        server.deployment.info.add_aligned_volume(other_av, image_source="precomputed://x")
    server.deployment.auth.map_table("aligned_volume", other_av, DATASET)
    other = f"/annotation/api/v2/aligned_volume/{other_av}/table"
    assert name not in owner.http.get(other).json()
    assert owner.http.get(f"{other}/{name}").status_code == 404
