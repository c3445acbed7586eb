"""CAVEclient 8.2.1's ``client.materialize`` works against dafserver unchanged: versions, tables,
metadata, frozen and live queries, reference-table merging and views. Expected values are computed
from the deployment's own data (annotation rows, the segmentation volume, the chunkedgraph)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from cloudvolume import CloudVolume

from dafserver.deployment import Deployment
from dafserver.runner import LocalServer
from dafserver.seed import ALIGNED_VOLUME


def _deployment(server: LocalServer) -> Deployment:
    return server.deployment


def _version_time(cave: Any, version: int) -> datetime:
    stamp = cave.materialize.get_timestamp(version=version)
    assert isinstance(stamp, datetime)
    return stamp


def _expected_roots(deployment: Deployment, positions: np.ndarray, when: datetime) -> np.ndarray:
    """Roots at ``when`` of the supervoxels under ``positions`` (read from the volume itself)."""
    manifest = deployment.manifest
    assert manifest is not None
    volume = CloudVolume(manifest.segmentation_cloudpath, mip=0, progress=False)
    svs = np.array(
        [
            int(np.asarray(volume[x : x + 1, y : y + 1, z : z + 1]).ravel()[0])
            for x, y, z in positions
        ],
        dtype=np.uint64,
    )
    return np.asarray(deployment.graph.get_roots(svs, timestamp=when.timestamp()), dtype=np.int64)


def test_versions_tables_and_metadata(cave: Any) -> None:
    versions = cave.materialize.get_versions()
    assert versions and all(isinstance(v, int) for v in versions)
    expired = cave.materialize.get_versions(expired=True)
    assert set(versions) < set(expired)
    latest = cave.materialize.most_recent_version()
    assert latest == max(versions)
    metadata = cave.materialize.get_version_metadata(version=latest)
    assert metadata["status"] == "AVAILABLE" and metadata["time_stamp"].tzinfo is not None
    tables = cave.materialize.get_tables(version=latest)
    assert {"synapses", "nuclei", "nucleus_cell_types"} <= set(tables)
    table_meta = cave.materialize.get_table_metadata("synapses", version=latest)
    assert table_meta["schema_type"] == "synapse"
    assert len(table_meta["voxel_resolution"]) == 3
    count = cave.materialize.get_annotation_count("synapses", version=latest)
    frame = cave.materialize.query_table("synapses", materialization_version=latest)
    assert count == len(frame)


def test_query_table_roots_match_the_graph_at_each_version(
    cave: Any, daf_server: LocalServer
) -> None:
    deployment = _deployment(daf_server)
    first, last = sorted(cave.materialize.get_versions())[:2]
    for version in (first, last):
        frame = cave.materialize.query_table(
            "synapses", materialization_version=version, limit=40, desired_resolution=None
        )
        positions = np.stack(frame["pre_pt_position"].to_numpy())
        expected = _expected_roots(deployment, positions, _version_time(cave, version))
        np.testing.assert_array_equal(frame["pre_pt_root_id"].to_numpy(dtype=np.int64), expected)


def test_filters_and_reference_merge(cave: Any) -> None:
    version = cave.materialize.most_recent_version()
    whole = cave.materialize.query_table("synapses", materialization_version=version)
    root = int(whole["post_pt_root_id"].value_counts().index[0])
    some = cave.materialize.query_table(
        "synapses",
        materialization_version=version,
        filter_in_dict={"post_pt_root_id": [root]},
        filter_greater_dict={"size": 100},
    )
    expected = whole[(whole["post_pt_root_id"] == root) & (whole["size"] > 100)]
    assert sorted(some["id"]) == sorted(expected["id"])
    merged = cave.materialize.query_table("nucleus_cell_types", materialization_version=version)
    nuclei = cave.materialize.query_table("nuclei", materialization_version=version)
    assert "pt_root_id" in merged.columns and "id_ref" in merged.columns
    lookup = nuclei.set_index("id")["pt_root_id"]
    np.testing.assert_array_equal(
        merged["pt_root_id"].to_numpy(), lookup.loc[merged["target_id"]].to_numpy()
    )


def test_live_query_reflects_a_new_annotation_and_roots_at_the_timestamp(
    cave: Any, daf_server: LocalServer
) -> None:
    deployment = _deployment(daf_server)
    table = deployment.annotation.table(ALIGNED_VOLUME, "functional_coreg")
    assert table is not None
    version = cave.materialize.most_recent_version()
    frozen = cave.materialize.query_table("functional_coreg", materialization_version=version)
    position = [int(v) for v in frozen["pt_position"].iloc[0]]
    cave.annotation.post_annotation(
        "functional_coreg", [{"pt": {"position": position}, "func_id": 999_001}]
    )
    now = datetime.now(UTC) + timedelta(seconds=1)
    live = cave.materialize.live_live_query(
        "functional_coreg", now, filter_equal_dict={"functional_coreg": {"func_id": 999_001}}
    )
    assert len(live) == 1
    assert int(live["pt_root_id"].iloc[0]) == int(
        _expected_roots(deployment, np.array([position]), now)[0]
    )
    client_side = cave.materialize.query_table("functional_coreg", timestamp=now)
    assert isinstance(client_side, pd.DataFrame) and len(client_side) == len(frozen)


def test_views(cave: Any) -> None:
    version = cave.materialize.most_recent_version()
    views = cave.materialize.get_views(version=version)
    assert "synapse_graph" in views
    metadata = cave.materialize.get_view_metadata("synapse_graph", materialization_version=version)
    assert metadata["table_name"] == "synapse_graph"
    schema = cave.materialize.get_view_schema("synapse_graph", materialization_version=version)
    assert schema["ctr_pt_position"]["type"] == "SpatialPoint"
    frame = cave.materialize.query_view("synapse_graph", materialization_version=version)
    synapses = cave.materialize.query_table("synapses", materialization_version=version)
    expected = synapses[synapses["pre_pt_root_id"] != synapses["post_pt_root_id"]]
    assert sorted(frame["id"]) == sorted(expected["id"])
