"""Auth and annotation clients against a running dafserver."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dafclient import AsyncFrameworkClient, FrameworkClient
from dafclient.annotations import AnnotationValidationError
from dafclient.errors import (
    AuthenticationError,
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableError,
)
from dafserver.runner import LocalServer
from dafserver.seed import DATASTACK, SeedRecord


def test_token_look_ups(client: FrameworkClient, daf_server: LocalServer) -> None:
    cache = client.auth.get_user_cache()
    assert cache.admin is True and cache.email == "admin@dafserver.local"
    tokens = client.auth.get_tokens()
    assert daf_server.admin_token in [t.token for t in tokens]
    fresh = client.auth.create_token()
    assert len(fresh) == 32 and fresh in [t.token for t in client.auth.get_tokens()]
    with FrameworkClient(DATASTACK, server_address=daf_server.base_url, auth_token=fresh) as other:
        assert other.auth.get_user_me().email == "admin@dafserver.local"
    names = client.auth.get_user_information([cache.id])
    assert [(n.id, n.name) for n in names] == [(cache.id, cache.name)]


def test_bad_token_is_an_authentication_error_without_the_token(daf_server: LocalServer) -> None:
    secret = "0123456789abcdef0123456789abcdef"
    with (
        FrameworkClient(DATASTACK, server_address=daf_server.base_url, auth_token=secret) as bad,
        pytest.raises(AuthenticationError) as caught,
    ):
        bad.info.get_datastacks()
    assert caught.value.error_code == "invalid_token"
    assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert secret not in repr(bad) and secret not in repr(bad.auth)


def test_seeded_tables_and_rows(
    client: FrameworkClient, daf_server: LocalServer, seed: SeedRecord
) -> None:
    tables = client.annotation.get_tables()
    assert set(seed.annotation_tables.values()) <= set(tables)
    synapses = seed.annotation_tables["synapse"]
    assert client.annotation.get_annotation_count(synapses) == seed.row_counts[synapses]
    meta = client.annotation.get_table_metadata(synapses)
    assert meta.schema_type == "synapse"
    manifest = daf_server.deployment.manifest
    assert manifest is not None
    assert (meta.voxel_resolution_x, meta.voxel_resolution_y, meta.voxel_resolution_z) == tuple(
        manifest.graph.resolution
    )
    rows = client.annotation.get_annotation(synapses, [1, 2, 10**12])
    assert [r["id"] for r in rows] == [1, 2]
    assert len(rows[0]["pre_pt_position"]) == 3


def test_create_post_update_delete_round_trip(client: FrameworkClient) -> None:
    table = client.annotation.create_table(
        "facade_coreg",
        "microns_func_coreg",
        description="made by a test",
        voxel_resolution=[4, 4, 40],
    )
    assert table == "facade_coreg"
    frame = pd.DataFrame(
        {
            "pt_position": [np.array([1, 2, 3]), np.array([4, 5, 6])],
            "func_id": np.array([7, 8], dtype=np.int64),
        }
    )
    ids = client.annotation.post_annotation_df(table, frame, position_columns=["pt_position"])
    assert len(ids) == 2 and ids[1] == ids[0] + 1
    got = client.annotation.get_annotation(table, ids)
    assert [r["pt_position"] for r in got] == [[1, 2, 3], [4, 5, 6]]
    assert [r["func_id"] for r in got] == [7, 8]
    mapping = client.annotation.update_annotation(
        table, {"id": ids[0], "pt": {"position": [9, 9, 9]}, "func_id": 70}
    )
    new_id = mapping[ids[0]]
    assert new_id not in ids
    old, new = client.annotation.get_annotation(table, [ids[0], new_id])
    assert old["superceded_id"] == new_id and old["valid"] is False
    assert new["func_id"] == 70
    with pytest.raises(ConflictError) as conflict:
        client.annotation.update_annotation(
            table, {"id": ids[0], "pt": {"position": [1, 1, 1]}, "func_id": 1}
        )
    assert "superseded" in conflict.value.message
    assert client.annotation.delete_annotation(table, [ids[1]]) == [ids[1]]
    assert client.annotation.get_annotation(table, [ids[1]])[0]["deleted"] != "None"
    assert client.annotation.get_annotation_count(table) == 3
    meta = client.annotation.update_metadata(
        table, description="changed", notice_text="being revised"
    )
    assert meta.description == "changed" and meta.notice_text == "being revised"
    assert client.annotation.delete_table(table) is True


def test_seed_documentation_post_example(client: FrameworkClient) -> None:
    client.annotation.create_table(table_name="docs_style_table", schema_name="microns_func_coreg")
    new_data = {"type": "microns_func_coreg", "pt": {"position": [1, 2, 3]}, "func_id": 0}
    ids = client.annotation.post_annotation(table_name="docs_style_table", data=[new_data])
    assert (
        client.annotation.get_annotation(annotation_ids=ids[0], table_name="docs_style_table")[0][
            "func_id"
        ]
        == 0
    )


def test_invalid_annotations_and_unknown_tables(client: FrameworkClient, seed: SeedRecord) -> None:
    table = seed.annotation_tables["microns_func_coreg"]
    bad = [{"pt": {"position": [1, 2]}, "func_id": 1}]
    with pytest.raises(AnnotationValidationError, match="pt_position"):
        client.annotation.post_annotation(table, bad)
    with pytest.raises(UnprocessableError) as invalid:  # unvalidated: the service refuses it
        client.annotation.post_annotation(table, bad, validate=False)
    assert "position" in invalid.value.message
    with pytest.raises(NotFoundError):
        client.annotation.get_annotation_count("no_such_table")
    with pytest.raises(InputError, match="at most 10000"):
        client.annotation.post_annotation(
            table, [{"pt": {"position": [1, 2, 3]}, "func_id": 1}] * 10_001
        )


def test_view_only_user_cannot_write(daf_server: LocalServer, seed: SeedRecord) -> None:
    auth = daf_server.deployment.auth
    user = auth.create_user("viewer", "viewer-annotation@example.org")
    auth.add_to_group(user, "viewers")
    with FrameworkClient(
        DATASTACK, server_address=daf_server.base_url, auth_token=auth.create_token(user)
    ) as viewer:
        assert viewer.annotation.get_annotation_count(seed.annotation_tables["synapse"]) > 0
        with pytest.raises(PermissionDeniedError) as denied:
            viewer.annotation.post_annotation(
                seed.annotation_tables["microns_func_coreg"],
                [{"pt": {"position": [1, 2, 3]}, "func_id": 1}],
            )
    assert denied.value.error_code == "missing_permission"


async def test_async_annotation(aclient: AsyncFrameworkClient, seed: SeedRecord) -> None:
    table = seed.annotation_tables["cell_type_local"]
    assert table in await aclient.annotation.get_tables()
    count = await aclient.annotation.get_annotation_count(table)
    rows = await aclient.annotation.get_annotation(table, list(range(1, count + 1)))
    assert len(rows) == count and all(r["classification_system"] for r in rows)
    assert (await aclient.annotation.get_table_metadata(table)).schema_type == "cell_type_local"
