"""``client.materialize`` (the start of the client half) against dafserver, checked against the
routes' own answers and the deployment's data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pandas as pd

from dafserver.deployment import Deployment
from tests.server.materialize_service.materialize_support import V3, frame_of, positions_of, query


def test_versions_metadata_and_tables(client: Any, http: httpx.Client) -> None:
    versions = client.materialize.get_versions()
    assert versions == http.get(f"{V3}/versions").json()
    assert set(versions) < set(client.materialize.get_versions(expired=True))
    latest = client.materialize.most_recent_version()
    assert latest == max(versions)
    record = client.materialize.get_version_metadata()
    assert record["version"] == latest and record["time_stamp"].tzinfo is not None
    assert client.materialize.get_timestamp(latest) == record["time_stamp"]
    assert [r["version"] for r in client.materialize.get_versions_metadata()] == versions
    assert "synapses" in client.materialize.get_tables()
    metadata = client.materialize.get_table_metadata("synapses")
    assert metadata["voxel_resolution"] == [8.0, 8.0, 40.0]
    count = client.materialize.get_annotation_count("synapses", version=min(versions))
    assert count == http.get(f"{V3}/version/{min(versions)}/table/synapses/count").json()


def test_query_table_matches_the_route_and_merges_positions(
    client: Any, http: httpx.Client, versions: tuple[int, int]
) -> None:
    raw = frame_of(query(http, f"{V3}/version/{versions[0]}/table/synapses/query", {}))
    frame = client.materialize.query_table("synapses", materialization_version=versions[0])
    assert frame["id"].tolist() == raw["id"].tolist()
    merged = np.stack(frame["pre_pt_position"].to_numpy())
    np.testing.assert_array_equal(merged, positions_of(raw, "pre_pt_position"))
    assert frame.attrs["dataframe_resolution"] == [8.0, 8.0, 40.0]
    root = int(raw["post_pt_root_id"].iloc[0])
    some = client.materialize.query_table(
        "synapses",
        materialization_version=versions[0],
        filter_in_dict={"post_pt_root_id": np.array([root], dtype=np.uint64)},
        select_columns=["id", "post_pt_root_id"],
    )
    assert some["id"].tolist() == raw[raw["post_pt_root_id"] == root]["id"].tolist()


def test_filter_out_applies_although_the_server_ignores_it(client: Any) -> None:
    whole = client.materialize.query_table("cell_types")
    dropped = whole["cell_type"].iloc[0]
    kept = client.materialize.query_table("cell_types", filter_out_dict={"cell_type": [dropped]})
    assert kept["id"].tolist() == whole[whole["cell_type"] != dropped]["id"].tolist()


def test_join_and_live_queries(client: Any, deployment: Deployment) -> None:
    joined = client.materialize.join_query(
        [["nucleus_cell_types", "target_id"], ["nuclei", "id"]],
        suffixes={"nucleus_cell_types": "", "nuclei": "_ref"},
    )
    nuclei = client.materialize.query_table("nuclei").set_index("id")
    np.testing.assert_array_equal(
        joined["pt_root_id"].to_numpy(), nuclei.loc[joined["target_id"], "pt_root_id"].to_numpy()
    )
    now = datetime.now(UTC)
    live = client.materialize.live_live_query("synapses", now, limit=50, log_warning=False)
    svs = np.array([p for p in live["pre_pt_supervoxel_id"]], dtype=np.uint64)
    roots = deployment.graph.get_roots(svs, timestamp=now.timestamp()).astype(np.int64)
    np.testing.assert_array_equal(live["pre_pt_root_id"].to_numpy(dtype=np.int64), roots)
    assert isinstance(live["pre_pt_position"].to_numpy()[0], np.ndarray)
    assert np.asarray(live["pre_pt_position"].iloc[0]).shape == (3,)


async def test_async_client_gives_the_same_rows(aclient: Any, client: Any) -> None:
    frame = await aclient.materialize.query_table("functional_coreg")
    expected = client.materialize.query_table("functional_coreg")
    pd.testing.assert_frame_equal(frame, expected)


def test_views_and_string_values(
    client: Any, http: httpx.Client, versions: tuple[int, int]
) -> None:
    views = client.materialize.get_views()
    assert views == http.get(f"{V3}/version/{versions[1]}/views").json()
    metadata = client.materialize.get_view_metadata("synapse_graph")
    assert metadata["voxel_resolution"] == [8.0, 8.0, 40.0]
    schema = client.materialize.get_view_schema("synapse_graph")
    assert client.materialize.get_view_schemas() == {"synapse_graph": schema}
    synapses = client.materialize.query_table("synapses")
    crossing = synapses[synapses["pre_pt_root_id"] != synapses["post_pt_root_id"]]
    big = client.materialize.query_view("synapse_graph", filter_greater_dict={"size": 300.0})
    assert big["id"].tolist() == crossing[crossing["size"] > 300.0]["id"].tolist()
    assert np.stack(list(big["ctr_pt_position"].to_numpy())).shape == (len(big), 3)
    values = client.materialize.get_unique_string_values("cell_types")
    assert set(values["cell_type"]) == set(
        client.materialize.query_table("cell_types")["cell_type"]
    )
