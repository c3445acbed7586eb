"""Live queries at any time (new and deleted annotations, roots at the requested time), making a
new version, and the immutability of frozen versions."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from edit_history import first_merge
from materialize_support import V2, V3, expected_table, frame_of, query, supervoxels, version_time

from dafserver.deployment import Deployment
from dafserver.runner import LocalServer

_names = itertools.count(1)
ANNOTATION = "/annotation/api/v2/aligned_volume/synthetic_em"


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def live(http: httpx.Client, body: dict[str, Any], **params: Any) -> httpx.Response:
    return query(http, f"{V3}/query", body, **params)


@pytest.fixture
def coreg_table(http: httpx.Client, versions: tuple[int, int]) -> Iterator[str]:
    """A new ``microns_func_coreg`` table (made after every seeded version)."""
    name = f"live_coreg_{next(_names)}"
    created = http.post(
        f"{ANNOTATION}/table",
        json={
            "table_name": name,
            "schema_type": "microns_func_coreg",
            "metadata": {
                "description": "live query test",
                "voxel_resolution_x": 8.0,
                "voxel_resolution_y": 8.0,
                "voxel_resolution_z": 40.0,
            },
        },
    )
    assert created.status_code == 200, created.text
    yield name


def test_live_query_between_versions_matches_the_rows_and_roots_at_that_time(
    http: httpx.Client, deployment: Deployment, versions: tuple[int, int]
) -> None:
    manifest = deployment.manifest
    assert manifest is not None
    _, middle = first_merge(manifest)
    when = datetime.fromtimestamp(middle, UTC)
    served = frame_of(live(http, {"table": "synapses", "timestamp": _iso(when)}))
    served = served.sort_values("id").reset_index(drop=True)
    expected = expected_table(deployment, "synapses", when, ("pre_pt", "post_pt"))
    assert served["id"].tolist() == expected["id"].tolist()
    for column in ("pre_pt_root_id", "post_pt_root_id", "pre_pt_supervoxel_id"):
        np.testing.assert_array_equal(served[column].to_numpy(), expected[column].to_numpy())
    frozen = frame_of(query(http, f"{V3}/version/{versions[0]}/table/synapses/query", {}))
    frozen = frozen.sort_values("id").reset_index(drop=True)
    assert (frozen["pre_pt_root_id"] != served["pre_pt_root_id"]).any()


def test_live_query_sees_annotations_created_and_deleted_after_every_version(
    http: httpx.Client, deployment: Deployment, coreg_table: str
) -> None:
    cells = frame_of(query(http, f"{V3}/version/3/table/cell_types/query", {"limit": 3}))
    points = [[int(cells[f"pt_position_{a}"].iloc[i]) for a in "xyz"] for i in range(len(cells))]
    posted = http.post(
        f"{ANNOTATION}/table/{coreg_table}/annotations",
        json={
            "annotations": [
                {"pt": {"position": p}, "func_id": 10 + i} for i, p in enumerate(points)
            ]
        },
    )
    assert posted.status_code == 200, posted.text
    ids = posted.json()
    after_post = datetime.now(UTC)
    deleted = http.request(
        "DELETE", f"{ANNOTATION}/table/{coreg_table}/annotations", json={"annotation_ids": ids[:1]}
    )
    assert deleted.status_code == 200, deleted.text
    now = datetime.now(UTC)
    at_post = frame_of(live(http, {"table": coreg_table, "timestamp": _iso(after_post)}))
    at_now = frame_of(live(http, {"table": coreg_table, "timestamp": _iso(now)}))
    assert sorted(at_post["id"]) == sorted(ids)
    assert sorted(at_now["id"]) == sorted(ids[1:])
    svs = supervoxels(deployment, np.asarray(points, dtype=np.int64))
    expected_roots = deployment.graph.get_roots(svs, timestamp=now.timestamp()).astype(np.int64)
    by_id = at_now.set_index("id")
    np.testing.assert_array_equal(by_id.loc[ids[1:], "pt_root_id"].to_numpy(), expected_roots[1:])
    filtered = frame_of(
        live(
            http,
            {
                "table": coreg_table,
                "timestamp": _iso(now),
                "filter_equal_dict": {coreg_table: {"pt_root_id": int(expected_roots[2])}},
                "select_columns": {coreg_table: ["id", "func_id"]},
            },
        )
    )
    assert list(filtered.columns) == ["id", "func_id"]
    assert ids[2] in filtered["id"].tolist()


def test_live_query_root_filters_must_be_current_at_the_timestamp(
    http: httpx.Client, deployment: Deployment
) -> None:
    manifest = deployment.manifest
    assert manifest is not None
    edit, middle = first_merge(manifest)
    old_root = int(edit.roots_before[0])
    when = _iso(datetime.fromtimestamp(middle, UTC))
    body = {
        "table": "synapses",
        "timestamp": when,
        "filter_in_dict": {"synapses": {"pre_pt_root_id": [old_root]}},
    }
    refused = live(http, body)
    assert refused.status_code == 400
    assert "Some root_ids passed are not valid at the query timestamp" in refused.json()["message"]
    new_root = int(edit.roots_after[0])
    body["filter_in_dict"] = {"synapses": {"pre_pt_root_id": [old_root, new_root]}}
    allowed = live(http, body, allow_invalid_root_ids="true")
    frame = frame_of(allowed)
    assert set(frame["pre_pt_root_id"]) <= {new_root} and len(frame) > 0
    assert any("not valid at the query timestamp" in w for w in allowed.headers.get_list("Warning"))


def test_live_query_errors(http: httpx.Client, versions: tuple[int, int]) -> None:
    long_ago = _iso(datetime(2020, 1, 1, tzinfo=UTC))
    missing = live(http, {"table": "synapses"})
    assert missing.status_code == 400
    assert missing.json() == {"schema_errors": {"timestamp": ["Missing data for required field."]}}
    unknown = live(http, {"table": "nope", "timestamp": long_ago})
    assert unknown.status_code == 404
    exact = version_time(http, versions[1]).replace(tzinfo=UTC)
    same = live(http, {"table": "synapses", "timestamp": _iso(exact)})
    assert same.status_code == 200  # synapses did not change after that version
    selected = live(
        http,
        {"table": "synapses", "timestamp": _iso(exact), "select_columns": {"synapses": ["size"]}},
    )
    assert selected.status_code == 400


@pytest.fixture
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A deployment of its own (the test makes a version), on the tiny dataset."""
    from dafserver.runner import running_server

    with running_server(tmp_path_factory.mktemp("materialize_admin"), size="tiny") as server:
        yield server


def test_create_frozen_version_and_immutability(fresh_server: LocalServer) -> None:
    admin = {"Authorization": f"Bearer {fresh_server.admin_token}"}
    with httpx.Client(base_url=fresh_server.base_url, headers=admin, timeout=60) as http:
        before = http.get(f"{V3}/versions", params={"expired": "true"}).json()
        old = max(before)
        snapshot = frame_of(query(http, f"{V3}/version/{old}/table/functional_coreg/query", {}))
        cells = frame_of(query(http, f"{V3}/version/{old}/table/cell_types/query", {"limit": 1}))
        point = [int(cells[f"pt_position_{a}"].iloc[0]) for a in "xyz"]
        posted = http.post(
            f"{ANNOTATION}/table/functional_coreg/annotations",
            json={"annotations": [{"pt": {"position": point}, "func_id": 424242}]},
        )
        assert posted.status_code == 200, posted.text
        missing_arg = http.post(
            "/materialize/api/v2/materialize/run/create_frozen/datastack/synthetic",
            params={"days_to_expire": 3},
        )
        assert missing_arg.status_code == 400
        made = http.post(
            "/materialize/api/v2/materialize/run/create_frozen/datastack/synthetic",
            params={"days_to_expire": 3, "merge_tables": "true"},
        )
        assert (made.status_code, made.json()) == (200, 200)
        after = http.get(f"{V3}/versions").json()
        new = max(after)
        assert new == max(before) + 1
        record = http.get(f"{V2}/version/{new}").json()
        assert record["status"] == "AVAILABLE" and record["valid"] is True
        stamp = datetime.strptime(record["time_stamp"], "%Y-%m-%dT%H:%M:%S.%f")
        expires = datetime.strptime(record["expires_on"], "%Y-%m-%dT%H:%M:%S.%f")
        assert expires - stamp == timedelta(days=3)
        fresh = frame_of(query(http, f"{V3}/version/{new}/table/functional_coreg/query", {}))
        assert 424242 in fresh["func_id"].tolist()
        again = frame_of(query(http, f"{V3}/version/{old}/table/functional_coreg/query", {}))
        pd.testing.assert_frame_equal(snapshot, again)
        split = http.post(
            "/materialize/api/v2/materialize/run/create_frozen/datastack/synthetic",
            params={"days_to_expire": 3, "merge_tables": "false"},
        )
        assert split.status_code == 200
        split_version = max(http.get(f"{V3}/versions").json())
        assert http.get(f"{V3}/version/{split_version}").json()["is_merged"] is False
        rows = frame_of(
            query(http, f"{V3}/version/{split_version}/table/functional_coreg/query", {})
        )
        assert {"created", "superceded_id"} <= set(rows.columns)
        assert rows["id"].tolist() == fresh["id"].tolist()
        viewer_id = fresh_server.deployment.auth.create_user("plain", "plain@dafserver.local")
        fresh_server.deployment.auth.add_to_group(viewer_id, "viewers")
        token = fresh_server.deployment.auth.create_token(viewer_id)
        refused = httpx.post(
            f"{fresh_server.base_url}/materialize/api/v2/materialize/run/create_frozen/datastack/synthetic",
            params={"days_to_expire": 3, "merge_tables": "true"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert refused.status_code == 403


def test_freeze_now_behind_serve_new_version(fresh_server: LocalServer) -> None:
    from dafserver.materialize.engine import freeze_now

    admin = {"Authorization": f"Bearer {fresh_server.admin_token}"}
    with httpx.Client(base_url=fresh_server.base_url, headers=admin, timeout=60) as http:
        before = http.get(f"{V3}/versions").json()
        (made,) = freeze_now(fresh_server.deployment, days_to_expire=5)
        after = http.get(f"{V3}/versions").json()
        assert after == [*before, made.version] and made.version == max(before) + 1
        count = http.get(f"{V2}/version/{made.version}/table/synapses/count").json()
        assert count == http.get(f"{V2}/version/{max(before)}/table/synapses/count").json()
