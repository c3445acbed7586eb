"""Version and table metadata routes (v3 and the v2 routes CAVEclient uses)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from materialize_support import V2, V3

from dafserver.deployment import Deployment
from dafserver.seed import ALIGNED_VOLUME


def test_app_level_routes_need_no_token(daf_server_url: str) -> None:
    with httpx.Client(base_url=daf_server_url) as anonymous:
        assert anonymous.get("/materialize/api/versions").json() == [2, 3]
        version = anonymous.get("/materialize/version").json()
        assert tuple(int(p) for p in version.split(".")) >= (5, 13, 0)


def test_versions_valid_and_expired(http: httpx.Client, versions: tuple[int, int]) -> None:
    valid = http.get(f"{V3}/versions").json()
    everything = http.get(f"{V3}/versions", params={"expired": "True"}).json()
    assert set(valid) < set(everything)
    expired = [http.get(f"{V3}/version/{v}").json() for v in set(everything) - set(valid)]
    assert all(v["status"] == "EXPIRED" and v["valid"] is False for v in expired)
    assert http.get(f"{V2}/versions").json() == valid
    records = http.get(f"{V3}/metadata").json()
    assert [r["version"] for r in records] == valid
    for record in records:
        assert "parent_version" not in record
        stamp = datetime.strptime(record["time_stamp"], "%Y-%m-%dT%H:%M:%S.%f")
        assert stamp < datetime.now(UTC).replace(tzinfo=None)


def test_versions_straddle_the_scripted_edits(
    http: httpx.Client, deployment: Deployment, versions: tuple[int, int]
) -> None:
    manifest = deployment.manifest
    assert manifest is not None
    edits = sorted(e.timestamp for e in manifest.edits)
    before, after = (http.get(f"{V3}/version/{v}").json()["time_stamp"] for v in versions)
    as_seconds = [
        datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC).timestamp()
        for s in (before, after)
    ]
    assert as_seconds[0] < edits[0] and as_seconds[1] > edits[-1]


def test_unknown_version_answers(http: httpx.Client) -> None:
    missing = http.get(f"{V3}/version/9999")
    assert (missing.status_code, missing.json()) == (404, "No version found")
    tables = http.get(f"{V3}/version/9999/tables")
    assert (tables.status_code, tables.json()) == (404, None)
    metadata = http.get(f"{V3}/version/9999/tables/metadata")
    assert metadata.status_code == 404
    assert metadata.json()["message"] == "404 Not Found: version 9999 not found in synthetic"
    v2_tables = http.get(f"{V2}/version/9999/tables")
    assert v2_tables.status_code == 404
    assert v2_tables.json()["message"].endswith("version 9999 does not exist for synthetic ")
    assert http.get(f"{V2}/version/-1/tables").status_code == 404


def test_tables_and_counts_match_the_live_rows(
    http: httpx.Client, deployment: Deployment, versions: tuple[int, int]
) -> None:
    store = deployment.annotation
    for version in versions:
        names = http.get(f"{V2}/version/{version}/tables").json()
        assert names == http.get(f"{V3}/version/{version}/tables").json()
        assert {"synapses", "cell_types", "nuclei", "nucleus_cell_types"} <= set(names)
        stamp = http.get(f"{V3}/version/{version}").json()["time_stamp"]
        when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f")
        table = store.table(ALIGNED_VOLUME, "synapses")
        assert table is not None
        rows = store.get(table, range(1, store.count(table) + 1))
        alive = sum(
            1 for r in rows if r.created <= when and (r.deleted is None or r.deleted > when)
        )
        assert http.get(f"{V2}/version/{version}/table/synapses/count").json() == alive
        assert http.get(f"{V3}/version/{version}/table/synapses/count").json() == alive
    counts = [http.get(f"{V3}/version/{v}/table/synapses/count").json() for v in versions]
    assert counts[0] > counts[1]
    assert http.get(f"{V3}/version/{versions[1]}/table/nope/count").json() is None


def test_table_metadata_v3_and_v2(http: httpx.Client, versions: tuple[int, int]) -> None:
    version = versions[1]
    v3 = http.get(f"{V3}/version/{version}/table/synapses/metadata").json()
    assert v3["table_name"] == "synapses" and v3["schema"] == "synapse"
    assert v3["pcg_table_name"] == "synthetic_small"
    assert {"voxel_resolution_x", "read_permission", "last_modified", "last_updated"} <= set(v3)
    v2 = http.get(f"{V2}/version/{version}/table/synapses/metadata").json()
    assert v2["table_name"] == "synapses__synthetic_small"
    assert v2["annotation_table"] == "synapses"
    reference = http.get(f"{V3}/version/{version}/table/nucleus_cell_types/metadata").json()
    assert reference["reference_table"] == "nuclei"
    assert "pcg_table_name" not in reference and "segmentation_source" not in reference
    everything = http.get(f"{V3}/version/{version}/tables/metadata").json()
    assert {m["table_name"] for m in everything} == set(
        http.get(f"{V3}/version/{version}/tables").json()
    )
    missing = http.get(f"{V3}/version/{version}/table/nope/metadata")
    assert missing.status_code == 404
    assert (
        missing.json()
        == f"No table named 'nope' found for version '{version}' in datastack 'synthetic'"
    )


def test_unique_string_values(http: httpx.Client, deployment: Deployment) -> None:
    values = http.get(f"{V3}/table/cell_types/unique_string_values").json()
    table = deployment.annotation.table(ALIGNED_VOLUME, "cell_types")
    assert table is not None
    rows = deployment.annotation.get(table, range(1, deployment.annotation.count(table) + 1))
    assert set(values) == {"cell_type", "classification_system"}
    assert set(values["cell_type"]) == {r.data["cell_type"] for r in rows}
