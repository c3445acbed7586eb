"""Bulk post, update and delete against dafserver: every row accounted for, ids mapped back."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from dafclient import AsyncFrameworkClient, FrameworkClient
from dafclient.annotations import AnnotationValidationError, BulkIncompleteError, RowState
from dafclient.errors import InputError

_names = itertools.count()


def _table(client: FrameworkClient, schema: str = "synapse") -> str:
    name = f"bulk_{schema}_{next(_names)}_{np.random.default_rng().integers(1 << 30)}"
    client.annotation.create_table(name, schema, voxel_resolution=(4, 4, 40))
    return name


def synapse_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            f"{point}_position_{axis}": rng.integers(0, 10_000, n)
            for point in ("pre_pt", "ctr_pt", "post_pt")
            for axis in "xyz"
        }
    )
    frame["size"] = rng.random(n)
    return frame


def _read(client: FrameworkClient, table: str, ids: np.ndarray) -> dict[int, dict]:
    return {row["id"]: row for row in client.annotation.get_annotation(table, ids.tolist())}


def test_100k_rows_land_once_with_ids_mapped_back(daf_client: FrameworkClient) -> None:
    table = _table(daf_client)
    frame = synapse_frame(100_000)
    result = daf_client.annotation.bulk_post(table, frame, progress=False)
    assert result.complete and result.count(RowState.DONE) == 100_000
    assert daf_client.annotation.get_annotation_count(table) == 100_000
    assert len(np.unique(result.ids)) == 100_000
    sample = np.random.default_rng(1).choice(100_000, 500, replace=False)
    rows = _read(daf_client, table, result.ids[sample])
    for position in sample.tolist():
        row = rows[int(result.ids[position])]
        assert row["size"] == frame["size"].iat[position]
        assert row["post_pt_position"] == frame.iloc[position, 6:9].tolist()
    report = result.to_dataframe()
    assert (report["state"] == "done").all()
    assert report["id"].tolist() == result.ids.tolist()


def test_invalid_rows_send_nothing(daf_client: FrameworkClient) -> None:
    table = _table(daf_client)
    frame = synapse_frame(50)
    frame["ctr_pt_position_y"] = frame["ctr_pt_position_y"].astype(float)
    frame.loc[7, "ctr_pt_position_y"] = np.inf
    with pytest.raises(AnnotationValidationError) as caught:
        daf_client.annotation.bulk_post(table, frame)
    assert caught.value.bad_rows.tolist() == [7]
    assert "ctr_pt_position" in str(caught.value)
    assert daf_client.annotation.get_annotation_count(table) == 0


def test_resolution_is_converted_to_the_table(daf_client: FrameworkClient) -> None:
    table = _table(daf_client)
    frame = synapse_frame(3)
    result = daf_client.annotation.bulk_post(table, frame, resolution=(8, 8, 40))
    rows = _read(daf_client, table, result.ids)
    for position, annotation_id in enumerate(result.ids.tolist()):
        x, y, z = frame.iloc[position, 0:3].tolist()
        assert rows[annotation_id]["pre_pt_position"] == [2 * x, 2 * y, z]


def test_update_maps_rows_to_new_ids(daf_client: FrameworkClient) -> None:
    table = _table(daf_client)
    posted = daf_client.annotation.bulk_post(table, synapse_frame(30))
    update = synapse_frame(30, seed=9)
    update.insert(0, "id", posted.ids)
    result = daf_client.annotation.bulk_update(table, update, batch_size=7)
    assert result.complete
    assert np.array_equal(result.target_ids, posted.ids)
    assert not set(result.ids.tolist()) & set(posted.ids.tolist())
    new_rows = _read(daf_client, table, result.ids)
    old_rows = _read(daf_client, table, posted.ids)
    for position in range(30):
        assert new_rows[int(result.ids[position])]["size"] == update["size"].iat[position]
        old = old_rows[int(posted.ids[position])]
        assert old["superceded_id"] == result.ids[position] and old["valid"] is False


def test_update_of_a_missing_id_is_reported_per_row(daf_client: FrameworkClient) -> None:
    table = _table(daf_client)
    posted = daf_client.annotation.bulk_post(table, synapse_frame(3))
    update = synapse_frame(3, seed=2)
    update.insert(0, "id", [int(posted.ids[0]), 987_654_321, int(posted.ids[2])])
    result = daf_client.annotation.bulk_update(table, update, batch_size=1)
    assert result.state.tolist() == [RowState.DONE, RowState.UNKNOWN, RowState.DONE]
    assert "987654321" in result.reasons[1]
    resumed = daf_client.annotation.resume(result)
    assert resumed.state[1] == RowState.FAILED
    assert "not found" in resumed.reasons[1]
    with pytest.raises(BulkIncompleteError, match="1 failed"):
        resumed.raise_for_incomplete()


def test_delete_reports_missing_ids(daf_client: FrameworkClient) -> None:
    table = _table(daf_client)
    posted = daf_client.annotation.bulk_post(table, synapse_frame(5))
    targets = [*posted.ids[:3].tolist(), 55_555_555]
    result = daf_client.annotation.bulk_delete(table, targets, batch_size=2)
    assert result.state.tolist() == [RowState.DONE] * 3 + [RowState.FAILED]
    rows = _read(daf_client, table, posted.ids)
    assert [rows[i]["deleted"] != "None" for i in posted.ids.tolist()] == [True] * 3 + [False] * 2


def test_a_stage_is_checked_against_its_table(daf_client: FrameworkClient) -> None:
    synapses = _table(daf_client)
    cells = _table(daf_client, "cell_type_local")
    stage = daf_client.annotation.stage(cells)
    stage.add(cell_type="pyramidal", classification_system="morphology", pt={"position": [1, 2, 3]})
    with pytest.raises(InputError, match="stage is for"):
        daf_client.annotation.bulk_post(synapses, stage)
    result = daf_client.annotation.bulk_post(cells, stage)
    (row,) = daf_client.annotation.get_annotation(cells, result.ids.tolist())
    assert row["cell_type"] == "pyramidal" and row["pt_position"] == [1, 2, 3]


def test_live_schema_stage_matches_the_snapshot(daf_client: FrameworkClient) -> None:
    table = _table(daf_client)
    snapshot = daf_client.annotation.stage(table)
    live = daf_client.annotation.stage(table, live_schema=True)
    assert live.layout == snapshot.layout
    assert live.model is not snapshot.model
    frame = synapse_frame(10)
    live.add_dataframe(frame)
    snapshot.add_dataframe(frame)
    assert live.records() == snapshot.records()


async def test_async_bulk_post(daf_async_client: AsyncFrameworkClient) -> None:
    name = f"bulk_async_{np.random.default_rng().integers(1 << 30)}"
    await daf_async_client.annotation.create_table(name, "synapse", voxel_resolution=(4, 4, 40))
    frame = synapse_frame(2_500)
    result = await daf_async_client.annotation.bulk_post(name, frame, batch_size=400)
    assert result.complete
    assert await daf_async_client.annotation.get_annotation_count(name) == 2_500
    rows = await daf_async_client.annotation.get_annotation(name, result.ids[:50].tolist())
    assert [r["size"] for r in rows] == frame["size"].iloc[:50].tolist()


def test_a_stage_can_be_typed_by_its_model(daf_client: FrameworkClient) -> None:
    from dafclient._wire.annotation_models import CellTypeLocal, SynapseSchema

    table = _table(daf_client)
    stage = daf_client.annotation.stage(table, SynapseSchema)
    assert stage.model is SynapseSchema
    point = {"position": [1, 2, 3]}
    stage.add(SynapseSchema(pre_pt=point, ctr_pt=point, post_pt=point, size=2.0))  # type: ignore[arg-type]
    assert daf_client.annotation.bulk_post(table, stage).complete
    with pytest.raises(InputError, match="holds 'synapse' annotations, not 'CellTypeLocal'"):
        daf_client.annotation.stage(table, CellTypeLocal)


def test_results_report_rows_by_the_frame_index(daf_client: FrameworkClient) -> None:
    table = _table(daf_client)
    frame = synapse_frame(4).set_axis(["a", "b", "c", "d"], axis=0)
    result = daf_client.annotation.bulk_post(table, frame)
    report = result.to_dataframe()
    assert report.index.tolist() == ["a", "b", "c", "d"]
    assert report.loc["c", "id"] == result.ids[2]
