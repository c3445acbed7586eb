"""Answers that are dicts to users (dafclient.records) and scalar or array answers, read by plans
stepped by hand: well-formed bodies give CAVEclient's values (extra keys kept), malformed ones a
ResponseFormatError naming the method, the URL and what was wrong."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dafclient import FrameworkClient
from dafclient._plan import Plan
from dafclient.errors import ResponseFormatError
from dafclient.services.annotation import AnnotationClientBase
from dafclient.services.chunkedgraph import ChunkedGraphBase
from dafclient.services.l2cache import L2CacheBase
from dafclient.services.materialize import MaterializeBase
from tests.unit.client.conftest import DATASTACK, SERVER, answer, finish

MATERIALIZE = f"{SERVER}/materialize/api/v3/datastack/{DATASTACK}"

VERSION = {
    "id": 84,
    "datastack": DATASTACK,
    "version": 3,
    "time_stamp": "2024-09-01T10:10:01.203215",
    "valid": True,
    "expires_on": "2124-09-01T10:10:01.203215",
    "status": "AVAILABLE",
    "is_merged": True,
}
TABLE = {
    "id": 1,
    "aligned_volume": "av",
    "schema": "synapse",
    "table_name": "synapses",
    "voxel_resolution_x": 4.0,
    "voxel_resolution_y": 4,
    "voxel_resolution_z": 40.0,
    "reference_table": None,
    "row_count": 12,  # not in the spec: kept
}


@pytest.fixture
def materialize(framework: FrameworkClient) -> MaterializeBase:
    return MaterializeBase(framework._ctx, server_address=SERVER)


def refused(plan: Plan[Any], body: Any) -> ResponseFormatError:
    """The error the plan raises when its request is answered with ``body``."""
    call = next(plan)
    with pytest.raises(ResponseFormatError) as error:
        plan.send(answer(call, json=body))
    assert error.value.method == call.method
    assert error.value.url.startswith(call.url)
    return error.value


def test_a_version_record_has_utc_datetimes_and_every_key(materialize: MaterializeBase) -> None:
    plan = materialize._get_version_metadata(3)
    call = next(plan)
    assert call.url == f"{MATERIALIZE}/version/3"
    record = finish(plan, answer(call, json={**VERSION, "parent_version": None}))
    assert record["time_stamp"] == datetime(2024, 9, 1, 10, 10, 1, 203215, tzinfo=UTC)
    assert record["expires_on"] == datetime(2124, 9, 1, 10, 10, 1, 203215, tzinfo=UTC)
    assert record["parent_version"] is None
    assert {k: v for k, v in record.items() if k not in ("time_stamp", "expires_on")} == {
        **{k: v for k, v in VERSION.items() if k not in ("time_stamp", "expires_on")},
        "parent_version": None,
    }


def test_a_version_without_expiry_says_none(materialize: MaterializeBase) -> None:
    plan = materialize._get_version_metadata(3)
    call = next(plan)
    body = {k: v for k, v in VERSION.items() if k != "expires_on"}
    assert finish(plan, answer(call, json=body))["expires_on"] is None


def test_a_version_record_without_its_time_is_refused(materialize: MaterializeBase) -> None:
    body = {k: v for k, v in VERSION.items() if k != "time_stamp"}
    error = refused(materialize._get_version_metadata(3), body)
    assert "time_stamp" in error.reason


def test_table_metadata_keeps_the_service_values_and_adds_the_resolution(
    materialize: MaterializeBase,
) -> None:
    plan = materialize._get_table_metadata("synapses", 3)
    call = next(plan)
    record = finish(plan, answer(call, json=TABLE))
    assert record == {**TABLE, "voxel_resolution": [4.0, 4, 40.0]}
    assert type(record["voxel_resolution_y"]) is int  # the service's value, not a float copy
    # Kept: the second call asks nothing and returns an equal, separate dict.
    again = materialize._get_table_metadata("synapses", 3)
    with pytest.raises(StopIteration) as done:
        next(again)
    assert done.value.value == record and done.value.value is not record


def test_tables_metadata_without_a_required_key_is_refused(materialize: MaterializeBase) -> None:
    body = [TABLE, {k: v for k, v in TABLE.items() if k != "voxel_resolution_z"}]
    error = refused(materialize._get_tables_metadata(3), body)
    assert "voxel_resolution_z" in error.reason


def test_a_view_listing_must_be_objects(materialize: MaterializeBase) -> None:
    plan = materialize._get_views(3)
    call = next(plan)
    listing = {"synapse_graph": {"id": 1, "description": None}}
    assert finish(plan, answer(call, json=listing)) == listing
    refused(materialize._get_views(3), {"synapse_graph": [1, None]})


def test_view_schemas_of_a_version_without_views_are_empty(materialize: MaterializeBase) -> None:
    plan = materialize._get_view_schemas(3)
    call = next(plan)
    assert finish(plan, answer(call, 404, json={"message": "no views"})) == {}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([1, True], "item 1: expected int, got bool"),
        ([1, "2"], "item 1: expected int, got str"),
        ({"versions": [1]}, "expected a list"),
    ],
)
def test_version_numbers_are_integers(materialize: MaterializeBase, body: Any, reason: str) -> None:
    assert reason in refused(materialize._get_versions(), body).reason


@pytest.mark.parametrize(("body", "reason"), [(True, "got bool"), ("12", "got str")])
def test_an_annotation_count_is_an_integer(
    framework: FrameworkClient, body: Any, reason: str
) -> None:
    annotation = AnnotationClientBase(
        framework._ctx, server_address=SERVER, aligned_volume_name="av"
    )
    error = refused(annotation._get_annotation_count("synapses"), body)
    assert reason in error.reason and "expected int" in error.reason


def test_segmentation_info_is_the_graphene_info(framework: FrameworkClient) -> None:
    chunkedgraph = ChunkedGraphBase(framework._ctx, server_address=SERVER, table_name="g")
    info = {
        "@type": "neuroglancer_multiscale_volume",
        "type": "segmentation",
        "data_type": "uint64",
        "num_channels": 1,
        "scales": [
            {
                "key": "8_8_40",
                "resolution": [8, 8, 40],
                "size": [10, 10, 10],
                "voxel_offset": [0, 0, 0],
                "chunk_sizes": [[64, 64, 64]],
                "encoding": "raw",
            }
        ],
        "data_dir": "file:///ws",
        "chunks_start_at_voxel_offset": True,
        "graph": {
            "chunk_size": [64, 64, 64],
            "bounding_box": [2048, 2048, 512],
            "n_bits_for_layer_id": 8,
            "cv_mip": 0,
            "n_layers": 4,
            "spatial_bit_masks": {"1": 10},
        },
        "app": {"supported_api_versions": [0, 1]},
        "sharded_mesh": True,
        "verify_mesh": False,
    }
    plan = chunkedgraph._get_segmentation_info()
    call = next(plan)
    assert finish(plan, answer(call, json=info)) == info
    no_graph = {k: v for k, v in info.items() if k != "graph"}
    chunkedgraph._segmentation_info = None
    assert "graph" in refused(chunkedgraph._get_segmentation_info(), no_graph).reason


def test_the_l2_table_mapping_is_checked(framework: FrameworkClient) -> None:
    l2cache = L2CacheBase(framework._ctx, server_address=SERVER)
    mapping = {"g": {"cv_path": "graphene://x/segmentation/table/g", "l2cache_id": "c"}}
    plan = l2cache._table_mapping()
    call = next(plan)
    assert finish(plan, answer(call, json=mapping)) == mapping
    l2cache._table_mapping_cache = None
    error = refused(l2cache._table_mapping(), {"g": {"cv_path": "graphene://x"}})
    assert "l2cache_id" in error.reason
