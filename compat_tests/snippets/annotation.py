"""client.annotation: tables, rows, and writes (each side writes to its own new table)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from . import Fixtures, snippet

SYNAPSES = "synapses"


def _row_content(row: Any) -> dict[str, Any]:
    """A row without what the service assigns (id, times, validity)."""
    skip = {"id", "created", "deleted", "superceded_id", "valid"}
    return {k: v for k, v in dict(row).items() if k not in skip}


@snippet("annotation.get_tables", "annotation.aligned_volume_name")
def tables(client: Any, fx: Fixtures) -> Any:
    return {
        "tables": sorted(client.annotation.get_tables()),
        "volume": client.annotation.aligned_volume_name,
    }


@snippet("annotation.get_table_metadata")
def table_metadata(client: Any, fx: Fixtures) -> Any:
    md = client.annotation.get_table_metadata(SYNAPSES)
    keys = (
        "schema_type",
        "table_name",
        "description",
        "voxel_resolution",
        "reference_table",
        "read_permission",
        "write_permission",
        "user_id",
        "valid",
    )
    return {k: md[k] for k in keys}


@snippet("annotation.get_annotation_count", "annotation.get_annotation")
def rows_by_id(client: Any, fx: Fixtures) -> Any:
    return {
        "count": client.annotation.get_annotation_count(SYNAPSES),
        "rows": sorted(
            client.annotation.get_annotation(SYNAPSES, [1, 2, 3]), key=lambda r: r["id"]
        ),
    }


@snippet(
    "annotation.create_table",
    "annotation.post_annotation",
    "annotation.get_annotation",
    "annotation.update_annotation",
    "annotation.delete_annotation",
    "annotation.update_metadata",
    "annotation.delete_table",
)
def table_life(client: Any, fx: Fixtures) -> Any:
    table = f"compat_cells_{fx.side}"
    client.annotation.create_table(
        table_name=table,
        schema_name="cell_type_local",
        description="cells for the compatibility corpus",
        voxel_resolution=[4, 4, 40],
    )
    ids = client.annotation.post_annotation(
        table,
        [
            {"cell_type": "basket", "classification_system": "x", "pt": {"position": [10, 20, 30]}},
            {
                "cell_type": "chandelier",
                "classification_system": "x",
                "pt": {"position": [11, 21, 31]},
            },
        ],
    )
    updated = client.annotation.update_annotation(
        table,
        [
            {
                "id": ids[0],
                "cell_type": "martinotti",
                "classification_system": "x",
                "pt": {"position": [10, 20, 30]},
            }
        ],
    )
    new_id = updated[str(ids[0])]  # the service's JSON keys
    deleted = client.annotation.delete_annotation(table, [ids[1]])
    metadata = client.annotation.update_metadata(table, description="changed")
    rows = client.annotation.get_annotation(table, [new_id])
    removed = client.annotation.delete_table(table)
    return {
        "ids": [i - ids[0] for i in ids],
        "update_keys": [int(k) - ids[0] for k in updated],
        "key_types": [type(k).__name__ for k in updated],
        "new_after": new_id > ids[1],
        "deleted": [d - ids[0] for d in deleted],
        "metadata": {k: metadata[k] for k in ("description", "schema_type")},
        "rows": [_row_content(r) for r in rows],
        "removed": removed,
    }


@snippet(
    "annotation.create_table",
    "annotation.post_annotation_df",
    "annotation.update_annotation_df",
    "annotation.process_position_columns",
    "annotation.get_annotation",
)
def dataframe_writes(client: Any, fx: Fixtures) -> Any:
    table = f"compat_frame_{fx.side}"
    client.annotation.create_table(table, "cell_type_local", "frames", [4, 4, 40])
    df = pd.DataFrame(
        {
            "cell_type": ["a", "b"],
            "classification_system": ["s", "s"],
            "soma_xyz": [[1, 2, 3], [4, 5, 6]],
        }
    )
    processed = client.annotation.process_position_columns(df, {"soma_xyz": "pt"})
    ids = client.annotation.post_annotation_df(table, df, position_columns={"soma_xyz": "pt"})
    listed = client.annotation.post_annotation_df(
        table, df.rename(columns={"soma_xyz": "pt_position"}), position_columns=["pt_position"]
    )
    update = pd.DataFrame(
        {
            "id": [ids[0]],
            "cell_type": ["c"],
            "classification_system": ["s"],
            "pt_position": [[7, 8, 9]],
        }
    )
    mapping = client.annotation.update_annotation_df(
        table, update, position_columns=["pt_position"]
    )
    rows = client.annotation.get_annotation(table, [mapping[str(ids[0])], ids[1]])
    return {
        "processed": processed,
        "ids": [i - ids[0] for i in ids + listed],
        "rows": sorted((_row_content(r) for r in rows), key=lambda r: r["cell_type"]),
    }


@snippet(
    "annotation.create_table",
    "annotation.stage_annotations",
    "annotation.upload_staged_annotations",
    "annotation.get_annotation",
)
def staged_upload(client: Any, fx: Fixtures) -> Any:
    table = f"compat_staged_{fx.side}"
    client.annotation.create_table(table, "cell_type_local", "staged", [4, 4, 40])
    stage = client.annotation.stage_annotations(table, annotation_resolution=[8, 8, 40])
    stage.add(cell_type="basket", classification_system="s", pt_position=[10, 20, 30])
    stage.add(cell_type="chandelier", classification_system="s", pt_position=[2, 4, 6])
    ids = client.annotation.upload_staged_annotations(stage, progress=False)
    rows = client.annotation.get_annotation(table, ids)
    return {
        "n": len(ids),
        "rows": sorted((_row_content(r) for r in rows), key=lambda r: r["cell_type"]),
    }
