"""AnnotationStage: rows added as keywords, models, dicts and DataFrames become the JSON the
generated models would produce; resolutions are converted; a failed add changes nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter

from dafclient import FrameworkClient
from dafclient._wire.annotation_models import (
    MODELS,
    NucleusDetection,
    PlasticSynapse,
    SynapseSchema,
)
from dafclient._wire.annotation_models.shared import BoundSpatialPoint, SpatialPoint
from dafclient.annotations import AnnotationStage, AnnotationValidationError
from dafclient.annotations.wire import encode_body
from dafclient.errors import InputError

UINT64_MAX = 2**64 - 1


def model_json(model: Any) -> dict[str, Any]:
    """What the generated model says the annotation engine receives for ``model``."""
    dumped: dict[str, Any] = TypeAdapter(type(model)).dump_python(
        model, mode="json", exclude_none=True
    )
    return dumped


def synapse_fields(i: int = 0) -> dict[str, Any]:
    """Nested synapse fields with numpy scalars and arrays, ids above 2**63."""
    return {
        "pre_pt": {
            "position": np.array([10 + i, 20, 30]),
            "root_id": np.uint64(UINT64_MAX - i),
            "supervoxel_id": np.uint64(2**63 + i),
        },
        "post_pt": {"position": [np.int64(11), np.float64(21.5), 31], "root_id": np.int64(7)},
        "ctr_pt": {"position": (12, 22, 32)},
        "size": np.float32(2.5) + i,
        "valid": np.bool_(True),
    }


def flat(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, dict):
            out.update({f"{key}_{sub}": v for sub, v in value.items()})
        else:
            out[key] = value
    return out


def synapse_stage(**kw: Any) -> AnnotationStage[Any]:
    return AnnotationStage.for_type("synapse", **kw)


# -- offline ----------------------------------------------------------------------------------


def test_for_type_offline() -> None:
    stage = synapse_stage(table_resolution=(4, 4, 40))
    assert stage.schema_type == "synapse" and stage.model is SynapseSchema
    assert len(stage) == 0 and stage.table_name is None and stage.update is False
    assert stage.table_resolution is not None
    assert stage.table_resolution.tolist() == [4.0, 4.0, 40.0]
    assert stage.records() == []
    with pytest.raises(InputError, match="unknown annotation type"):
        AnnotationStage.for_type("no_such_type")


def test_every_way_of_adding_gives_the_models_json() -> None:
    fields = synapse_fields()
    expected = model_json(SynapseSchema(**fields))
    # The ids survived exactly on the model side too (they are above 2**53).
    assert expected["pre_pt"]["root_id"] == UINT64_MAX
    assert expected["pre_pt"]["supervoxel_id"] == 2**63

    frame = pd.DataFrame({k: pd.Series([v], dtype=object) for k, v in flat(fields).items()})
    ways = {
        "kwargs": lambda s: s.add(**fields),
        "model": lambda s: s.add(SynapseSchema(**fields)),
        "nested dict": lambda s: s.add(fields),
        "flat dict": lambda s: s.add(flat(fields)),
        "records": lambda s: s.add_records([fields]),
        "dataframe": lambda s: s.add_dataframe(frame),
    }
    for way, add in ways.items():
        stage = synapse_stage()
        add(stage)
        assert len(stage) == 1, way
        assert stage.records() == [expected], way


def test_records_match_model_json_for_many_rows_and_types() -> None:
    stage = synapse_stage()
    models = [SynapseSchema(**synapse_fields(i)) for i in range(5)]
    stage.add(*models)
    assert stage.records() == [model_json(m) for m in models]
    assert stage.records(1, 3) == [model_json(m) for m in models[1:3]]

    plastic = AnnotationStage.for_type("plastic_synapse")
    plastic_fields = {k: v for k, v in synapse_fields().items() if k != "valid"}
    models_p = [PlasticSynapse(**plastic_fields, plasticity=p) for p in (0, np.int64(3), 4)]
    plastic.add(*models_p)
    assert plastic.records() == [model_json(m) for m in models_p]
    assert [r["plasticity"] for r in plastic.records()] == [0, 3, 4]

    nucleus = AnnotationStage.for_type("nucleus_detection")
    with_box = NucleusDetection(
        pt={"position": [1, 2, 3], "root_id": np.uint64(2**63 + 5)},
        bb_start={"position": np.array([0.5, 0, 0])},
        bb_end={"position": [9, 9, 9]},
        volume=np.float64(12.25),
    )
    without_box = NucleusDetection(pt={"position": [4, 5, 6]})
    nucleus.add(with_box, without_box)
    assert nucleus.records() == [model_json(with_box), model_json(without_box)]
    assert "bb_start" not in nucleus.records()[1]


def test_points_given_as_their_models() -> None:
    stage = synapse_stage()
    stage.add(
        pre_pt=BoundSpatialPoint(position=[1, 2, 3], root_id=np.uint64(UINT64_MAX)),
        post_pt={"position": [4, 5, 6]},
        ctr_pt=SpatialPoint(position=[7, 8, 9]),
    )
    assert stage.records() == [
        {
            "pre_pt": {"position": [1, 2, 3], "root_id": UINT64_MAX},
            "post_pt": {"position": [4, 5, 6]},
            "ctr_pt": {"position": [7, 8, 9]},
        }
    ]


def test_model_extra_fields_are_refused_not_dropped() -> None:
    fields = synapse_fields()
    model = SynapseSchema(**fields, sise=3.0)  # a misspelled field: the model allows extras
    stage = synapse_stage()
    with pytest.raises(InputError, match="sise"):
        stage.add(model)
    with pytest.raises(InputError, match="sise"):
        stage.add({**fields, "sise": 3.0})
    assert len(stage) == 0


def test_ignored_keys_of_records_are_left_out() -> None:
    stage = synapse_stage()
    stage.add_records([{**synapse_fields(), "note": "x"}], ignore_columns=["note"])
    assert "note" not in stage.records()[0] and len(stage) == 1


def test_a_type_key_must_name_the_rows_type_and_is_not_sent() -> None:
    stage = synapse_stage()
    stage.add_records([{"type": "synapse", **synapse_fields()}, {"type": None, **synapse_fields()}])
    frame = pd.DataFrame(
        {"type": ["synapse"], **{k: [v] for k, v in flat(synapse_fields()).items()}}
    )
    stage.add_dataframe(frame)
    assert len(stage) == 3 and all("type" not in record for record in stage.records())
    rows = [
        {"type": "synapse", **synapse_fields()},
        {"type": "cell_type_local", **synapse_fields()},
    ]
    with pytest.raises(AnnotationValidationError) as info:
        stage.add_records(rows)
    assert [(e.row, e.field, e.value) for e in info.value.errors] == [
        (1, "type", "cell_type_local")
    ]
    assert len(stage) == 3


def test_unknown_point_field_is_reported_with_its_row() -> None:
    stage = synapse_stage()
    rows = [synapse_fields(0), synapse_fields(1)]
    rows[1]["pre_pt"]["rootid"] = 5
    with pytest.raises(AnnotationValidationError) as info:
        stage.add_records(rows)
    assert [(e.row, e.field, e.reason) for e in info.value.errors] == [
        (1, "pre_pt.rootid", "unknown field")
    ]


def test_kwargs_and_rows_together_are_refused() -> None:
    with pytest.raises(InputError, match="not both"):
        synapse_stage().add(synapse_fields(), size=1.0)


def test_large_integral_positions_keep_their_values() -> None:
    # Whole numbers are sent as integers, but only where int64 holds them exactly.
    positions = [[1e20, 2.0**63, -1e19], [1, 2**53, -3], [0.5, 1, 2]]
    stage = AnnotationStage.for_type("cell_type_local")
    models = [
        MODELS["cell_type_local"](cell_type="x", classification_system="y", pt={"position": p})
        for p in positions
    ]
    for model in models:
        stage.add(model)
    records = stage.records()
    assert records == [model_json(m) for m in models]
    assert [r["pt"]["position"] for r in records] == positions
    for row in range(len(positions)):
        body = json.loads(encode_body(stage.table(), slice(row, row + 1)))
        assert body == {"annotations": [records[row]]}


# -- resolution -------------------------------------------------------------------------------


def test_positions_are_converted_to_the_table_resolution() -> None:
    stage = synapse_stage(table_resolution=(4, 4, 40))
    fields = synapse_fields()
    stage.add_records([fields], resolution=(8, 8, 40))
    stage.add_records([fields])  # the table's own resolution
    stage.add_records([fields], resolution=(4, 4, 40))
    converted, same, explicit = stage.records()
    for point in ("pre_pt", "post_pt", "ctr_pt"):
        given = [float(v) for v in fields[point]["position"]]
        assert converted[point]["position"] == [given[0] * 2, given[1] * 2, given[2]]
        assert same[point]["position"] == given == explicit[point]["position"]
    # Only positions change.
    assert converted["pre_pt"]["root_id"] == UINT64_MAX
    assert converted["size"] == same["size"]


def test_dataframe_resolution_with_xyz_columns() -> None:
    stage = synapse_stage(table_resolution=(4, 4, 40))
    frame = pd.DataFrame({"ctr_pt_position": [[1, 1, 1]] * 2, "post_pt_position": [[2, 2, 2]] * 2})
    frame["pre_pt_position_x"] = [1.5, 3]
    frame["pre_pt_position_y"] = [2, 4]
    frame["pre_pt_position_z"] = [5, 6]
    stage.add_dataframe(frame, resolution=(2, 8, 80))
    assert [r["pre_pt"]["position"] for r in stage.records()] == [[0.75, 4, 10], [1.5, 8, 12]]
    assert [r["ctr_pt"]["position"] for r in stage.records()] == [[0.5, 2, 2]] * 2


@pytest.mark.parametrize("resolution", [(0, 4, 40), (4, 4), (4, 4, np.nan), (-4, 4, 40)])
def test_bad_resolution_is_refused_and_changes_nothing(resolution: Any) -> None:
    stage = synapse_stage(table_resolution=(4, 4, 40))
    stage.add(**synapse_fields())
    before = stage.records()
    with pytest.raises(InputError, match="resolution"):
        stage.add_records([synapse_fields(1)], resolution=resolution)
    assert len(stage) == 1 and stage.records() == before


def test_resolution_needs_a_table_resolution() -> None:
    with pytest.raises(InputError, match="no table resolution"):
        synapse_stage().add_records([synapse_fields()], resolution=(8, 8, 40))
    with pytest.raises(InputError, match="table_resolution"):
        synapse_stage(table_resolution=(4, 4, 0))


# -- a failed add changes nothing -------------------------------------------------------------


def test_invalid_add_leaves_the_stage_unchanged() -> None:
    stage = synapse_stage()
    stage.add(**synapse_fields(0))
    stage.add_dataframe(pd.DataFrame({k: [v] for k, v in flat(synapse_fields(1)).items()}))
    before_records, before_frame = stage.records(), stage.to_dataframe()
    assert len(stage) == 2

    good, bad = synapse_fields(2), synapse_fields(3)
    bad["pre_pt"]["root_id"] = -1
    attempts = [
        lambda: stage.add_records([good, bad]),
        lambda: stage.add(good, bad),
        lambda: stage.add(SynapseSchema(**good), {"pre_pt": {"position": [1, 2]}}),
        lambda: stage.add_dataframe(pd.DataFrame([flat(good), flat(bad)])),
        lambda: stage.add_dataframe(pd.DataFrame([flat(good)]).assign(extra=1)),
        lambda: stage.add(pre_pt={"position": [1, 2, 3]}),  # required points missing
        lambda: stage.add_dataframe([flat(good)]),  # type: ignore[arg-type]
    ]
    for attempt in attempts:
        with pytest.raises(InputError):
            attempt()
        assert len(stage) == 2
        assert stage.records() == before_records
        pd.testing.assert_frame_equal(stage.to_dataframe(), before_frame)


def test_stage_keeps_its_rows_when_the_source_frame_changes() -> None:
    frame = pd.DataFrame({k: [v] for k, v in flat(synapse_fields()).items()})
    frame["size"] = [1.5]
    frame["valid"] = [True]
    stage = synapse_stage()
    stage.add_dataframe(frame)
    before = stage.records()
    frame.loc[0, "size"] = 99.0
    frame.loc[0, "valid"] = False
    assert stage.records() == before


def test_to_dataframe_round_trips() -> None:
    stage = synapse_stage()
    stage.add(*(SynapseSchema(**synapse_fields(i)) for i in range(3)))
    stage.add(
        pre_pt={"position": [1, 2, 3]},
        post_pt={"position": [4, 5, 6]},
        ctr_pt={"position": [7, 8, 9]},
    )
    frame = stage.to_dataframe()
    assert frame["pre_pt_root_id"].tolist() == [UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 2, None]
    again = synapse_stage()
    again.add_dataframe(frame)
    assert again.records() == stage.records()
    assert len(again) == 4


# -- updates ----------------------------------------------------------------------------------


def test_update_stage_requires_ids() -> None:
    stage = synapse_stage(update=True)
    fields = synapse_fields()
    with pytest.raises(InputError, match="'id'"):
        stage.add(fields)
    with pytest.raises(InputError, match="'id'"):
        stage.add_dataframe(pd.DataFrame({k: [v] for k, v in flat(fields).items()}))
    with pytest.raises(AnnotationValidationError) as info:
        stage.add_records([{**fields, "id": 4}, fields])
    assert [(e.row, e.field, e.reason) for e in info.value.errors] == [
        (1, "id", "missing (required)")
    ]
    with pytest.raises(AnnotationValidationError, match="outside"):
        stage.add({**fields, "id": np.uint64(2**63)})
    assert len(stage) == 0

    stage.add({**fields, "id": np.int64(41)}, {**fields, "id": 2**63 - 1})
    stage.add_dataframe(pd.DataFrame({"id": [5], **{k: [v] for k, v in flat(fields).items()}}))
    expected = model_json(SynapseSchema(**fields))
    assert stage.records() == [
        {**expected, "id": 41},
        {**expected, "id": 2**63 - 1},
        {**expected, "id": 5},
    ]
    assert stage.to_dataframe()["id"].tolist() == [41, 2**63 - 1, 5]


def test_post_stage_refuses_an_id_column() -> None:
    fields = synapse_fields()
    with pytest.raises(InputError, match="ignore_columns"):
        synapse_stage().add({**fields, "id": 3})
    stage = synapse_stage()
    stage.add_dataframe(
        pd.DataFrame({"id": [3], **{k: [v] for k, v in flat(fields).items()}}),
        ignore_columns=["id"],
    )
    assert "id" not in stage.records()[0]


# -- against dafserver ------------------------------------------------------------------------


def test_stage_of_a_seeded_table_matches_its_metadata(daf_client: FrameworkClient) -> None:
    from dafserver.seed import ANNOTATION_TABLES

    table_name = ANNOTATION_TABLES["synapse"]
    metadata = daf_client.annotation.get_table_metadata(table_name)
    stage = daf_client.annotation.stage(table_name)
    assert stage.schema_type == metadata.schema_type == "synapse"
    assert stage.table_name == table_name and stage.update is False
    assert stage.model is MODELS[metadata.schema_type]
    assert stage.table_resolution is not None
    assert stage.table_resolution.tolist() == [
        metadata.voxel_resolution_x,
        metadata.voxel_resolution_y,
        metadata.voxel_resolution_z,
    ]
    assert daf_client.annotation.stage(table_name, update=True).update is True
    live = daf_client.annotation.stage(table_name, live_schema=True)
    assert live.layout.columns == stage.layout.columns


def test_stage_converts_to_a_new_tables_resolution(daf_client: FrameworkClient) -> None:
    name = f"stage_cells_{uuid.uuid4().hex[:10]}"
    daf_client.annotation.create_table(name, "cell_type_local", voxel_resolution=(8, 8, 40))
    try:
        stage = daf_client.annotation.stage(name)
        assert stage.schema_type == "cell_type_local"
        assert stage.table_resolution is not None
        assert stage.table_resolution.tolist() == [8.0, 8.0, 40.0]
        stage.add_records(
            [
                {
                    "cell_type": "L5 ET",
                    "classification_system": "aibs",
                    "pt": {"position": [800, 1600, 20]},
                },
                {
                    "cell_type": "SST",
                    "classification_system": "aibs",
                    "pt_position": np.array([4, 8, 30]),
                },
            ],
            resolution=(4, 4, 40),
        )
        records = stage.records()
        assert [r["pt"]["position"] for r in records] == [[400, 800, 20], [2, 4, 30]]
        ids = daf_client.annotation.post_annotation(name, records)
        stored = {row["id"]: row for row in daf_client.annotation.get_annotation(name, ids)}
        assert [list(stored[i]["pt_position"]) for i in ids] == [[400, 800, 20], [2, 4, 30]]
        assert [stored[i]["cell_type"] for i in ids] == ["L5 ET", "SST"]
    finally:
        daf_client.annotation.delete_table(name)
