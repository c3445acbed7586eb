"""client.materialize: versions, tables and a frozen query."""

from __future__ import annotations

from typing import Any

from . import Fixtures, snippet


@snippet("materialize.get_versions", "materialize.most_recent_version", "materialize.get_tables")
def versions_and_tables(client: Any, fx: Fixtures) -> Any:
    latest = client.materialize.most_recent_version()
    return {
        "versions": sorted(client.materialize.get_versions()),
        "latest": latest,
        "tables": sorted(client.materialize.get_tables(version=latest)),
    }


@snippet("materialize.get_annotation_count", "materialize.query_table")
def frozen_query(client: Any, fx: Fixtures) -> Any:
    latest = client.materialize.most_recent_version()
    df = client.materialize.query_table(
        "synapses", materialization_version=latest, limit=20, split_positions=True
    )
    df = df.sort_values("id").reset_index(drop=True)
    return {
        "count": client.materialize.get_annotation_count("synapses", version=latest),
        "columns": sorted(df.columns),
        "ids": df["id"].tolist(),
        "pre_roots": df["pre_pt_root_id"].tolist(),
        "x": df["pre_pt_position_x"].tolist(),
    }
