"""Bad requests get clear typed errors (the status production intends, its body shapes), and the
routes need ``view`` on the datastack plus the table's read permission."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from materialize_support import V3, query

from dafserver.runner import LocalServer
from dafserver.seed import ALIGNED_VOLUME


def _simple(
    http: httpx.Client, version: int, body: dict[str, Any], table: str = "synapses", **params: Any
) -> httpx.Response:
    return query(http, f"{V3}/version/{version}/table/{table}/query", body, **params)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"filter_in_dict": {"synapses": {"nope": [1]}}}, "column nope not found in synapses"),
        ({"filter_in_dict": {"other": {"id": [1]}}}, "table other is not part of this query"),
        (
            {"filter_equal_dict": {"synapses": {"size": "big"}}},
            "Invalid value 'big' for column size",
        ),
        ({"filter_in_dict": {"synapses": {"id": ["1"]}}}, "Invalid value '1' for column id"),
        ({"filter_equal_dict": {"synapses": {"id": [1, 2]}}}, "use filter_in_dict"),
        (
            {"filter_regex_dict": {"synapses": {"size": "1"}}},
            "Regex filter is only supported on string columns",
        ),
        (
            {"filter_spatial_dict": {"synapses": {"ctr_pt_position": [[5, 5, 5], [5, 9, 9]]}}},
            "min bounds: [5, 5, 5] must be less than max bounds: [5, 9, 9]",
        ),
        ({"select_columns": ["id", "nope"]}, "column nope not found in synapses"),
    ],
)
def test_bad_filters_and_selections_are_400(
    http: httpx.Client, versions: tuple[int, int], body: dict[str, Any], fragment: str
) -> None:
    response = _simple(http, versions[1], body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == 400 and fragment in payload["message"]


def test_body_schema_and_argument_errors(http: httpx.Client, versions: tuple[int, int]) -> None:
    unknown = _simple(http, versions[1], {"filter_out_dict": {"synapses": {"id": [1]}}})
    assert (unknown.status_code, unknown.json()) == (
        400,
        {"schema_errors": {"filter_out_dict": ["Unknown field."]}},
    )
    typed = _simple(http, versions[1], {"limit": "ten", "desired_resolution": [1, 2]})
    assert typed.status_code == 400
    assert set(typed.json()["schema_errors"]) == {"limit", "desired_resolution"}
    boolean = _simple(http, versions[1], {}, return_pyarrow="maybe")
    assert boolean.status_code == 400
    assert boolean.json() == {
        "errors": {"return_pyarrow": "Invalid literal for boolean(): maybe"},
        "message": "Input payload validation failed",
    }
    sample = _simple(http, versions[1], {}, random_sample=0)
    assert sample.status_code == 400 and "random_sample" in sample.json()["errors"]
    not_json = http.post(
        f"{V3}/version/{versions[1]}/table/synapses/query",
        content=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert not_json.status_code == 400 and "could not understand" in not_json.json()["message"]


def test_unknown_table_version_and_expired_version(
    http: httpx.Client, versions: tuple[int, int]
) -> None:
    table = _simple(http, versions[1], {}, table="nope")
    assert table.status_code == 404
    assert table.json()["message"] == (
        f"404 Not Found: Analysis table 'nope' not found for version {versions[1]} in datastack synthetic"
    )
    version = _simple(http, 9999, {})
    assert version.status_code == 404
    assert version.json()["message"] == "404 Not Found: version 9999 not found in synthetic"
    everything = set(http.get(f"{V3}/versions", params={"expired": "true"}).json())
    (expired,) = everything - set(http.get(f"{V3}/versions").json())
    gone = _simple(http, expired, {})
    assert gone.status_code == 410
    assert "not available" in gone.json()["message"]
    view = http.get(f"{V3}/version/{versions[1]}/views/nope/metadata")
    assert view.status_code == 404


@pytest.fixture(scope="module")
def users(daf_server: LocalServer) -> Iterator[dict[str, httpx.Client]]:
    auth = daf_server.deployment.auth
    clients: dict[str, httpx.Client] = {}
    for name, groups in (("mat_viewer", ["viewers"]), ("mat_outsider", [])):
        user = auth.create_user(name, f"{name}@dafserver.local")
        for group in groups:
            auth.add_to_group(user, group)
        clients[name] = httpx.Client(
            base_url=daf_server.base_url,
            headers={"Authorization": f"Bearer {auth.create_token(user)}"},
        )
    clients["anonymous"] = httpx.Client(base_url=daf_server.base_url)
    yield clients
    for client in clients.values():
        client.close()


def test_view_permission_and_table_read_permission(
    users: dict[str, httpx.Client], daf_server: LocalServer, versions: tuple[int, int]
) -> None:
    path = f"{V3}/version/{versions[1]}/table/nuclei/query"
    assert users["anonymous"].post(path, json={}).status_code == 401
    outsider = users["mat_outsider"].post(path, json={})
    assert outsider.status_code == 403 and outsider.json()["error"] == "missing_permission"
    assert users["mat_viewer"].post(path, json={"limit": 1}).status_code == 200
    store = daf_server.deployment.annotation
    table = store.table(ALIGNED_VOLUME, "nuclei")
    assert table is not None
    store.update_table(table, {"read_permission": "PRIVATE"})
    try:
        refused = users["mat_viewer"].post(path, json={"limit": 1})
        assert refused.status_code == 401
        assert refused.json()["message"].endswith("The table can only be read by its owner")
        metadata = users["mat_viewer"].get(f"{V3}/version/{versions[1]}/table/nuclei/metadata")
        assert metadata.status_code == 200
    finally:
        store.update_table(table, {"read_permission": "PUBLIC"})
