"""Validation of posted annotations against the EMAnnotationSchemas JSONSchemas."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from annotation_service_support import Caller, ae_error, create_table, get_rows, post, synapse

from dafserver.services.annotation_validation import (
    PLANS,
    AnnotationPlan,
    Invalid,
    ValidationFailed,
    as_bool,
    as_float,
    as_int,
    compile_annotation_schema,
)
from tests.paths import REPO

SCHEMAS = REPO / "specs" / "annotation_schemas"


def _plan(schema_type: str) -> AnnotationPlan:
    return compile_annotation_schema(
        schema_type, json.loads((SCHEMAS / f"{schema_type}.json").read_text("utf-8"))
    )


def _messages(plan: AnnotationPlan, item: Any) -> dict[str, Any]:
    with pytest.raises(ValidationFailed) as failure:
        plan.load(item)
    return failure.value.messages


def test_every_catalog_schema_compiles_to_flat_columns() -> None:
    names: list[str] = json.loads((SCHEMAS / "index.json").read_text("utf-8"))
    assert len(names) >= 50
    for name in names:
        document = json.loads((SCHEMAS / f"{name}.json").read_text("utf-8"))
        plan = compile_annotation_schema(name, document)
        properties = document["definitions"][document["$ref"].split("/")[-1]]["properties"]
        assert plan.is_reference == ("target_id" in properties)
        assert "valid" not in plan.columns
        for prop, spec in properties.items():
            if "$ref" in spec:
                assert f"{prop}_position" in plan.columns, (name, prop)
                assert f"{prop}_supervoxel_id" not in plan.columns, (name, prop)
                assert f"{prop}_root_id" not in plan.columns, (name, prop)
            elif prop in ("supervoxel_id", "root_id") and "position" in properties:
                assert prop not in plan.columns, (name, prop)  # a point type itself
            elif prop != "valid":
                assert prop in plan.columns, (name, prop)


def test_synapse_columns() -> None:
    plan = _plan("synapse")
    assert set(plan.columns) == {"pre_pt_position", "ctr_pt_position", "post_pt_position", "size"}
    assert not plan.is_reference
    assert _plan("simple_reference").is_reference


def test_missing_required_fields() -> None:
    assert _messages(_plan("synapse"), {"size": 1.0}) == {
        "ctr_pt": ["Missing data for required field."],
        "post_pt": ["Missing data for required field."],
        "pre_pt": ["Missing data for required field."],
    }
    assert _messages(_plan("synapse"), {**synapse(1), "pre_pt": {}}) == {
        "pre_pt": {"position": ["Missing data for required field."]}
    }


def test_unknown_keys_raise_inside_points_and_are_dropped_at_the_top() -> None:
    plan = _plan("synapse")
    item = {**synapse(1), "pre_pt": {"position": [1, 2, 3], "foo": 1}}
    assert _messages(plan, item) == {"pre_pt": {"foo": ["Unknown field."]}}
    assert str(_messages(plan, item)) == "{'pre_pt': {'foo': ['Unknown field.']}}"
    loaded = plan.load({**synapse(1), "not_a_column": 5, "type": "synapse", "id": 3})
    assert set(loaded) == set(plan.columns)


def test_points_must_be_objects_with_three_finite_numbers() -> None:
    plan = _plan("synapse")
    assert _messages(plan, {**synapse(1), "ctr_pt": [1, 2, 3]}) == {
        "ctr_pt": {"_schema": ["Invalid input type."]}
    }
    for bad in ([1, 2], [1, 2, 3, 4], [1, "2", 3], [1, True, 3], [1, math.inf, 3], "1,2,3"):
        assert _messages(plan, {**synapse(1), "pre_pt": {"position": bad}}) == {
            "pre_pt": {"position": ["Must be a list of 3 finite numbers."]}
        }, bad
    loaded = plan.load({**synapse(1), "pre_pt": {"position": [1.9, 2.0, 3]}})
    assert loaded["pre_pt_position"] == [1, 2, 3]


def test_nulls_are_allowed_only_for_optional_fields() -> None:
    plan = _plan("synapse")
    loaded = plan.load({**synapse(1), "size": None, "valid": None})
    assert "size" not in loaded
    assert _messages(plan, {**synapse(1), "pre_pt": None}) == {"pre_pt": ["Field may not be null."]}
    nucleus = _plan("nucleus_detection")
    assert nucleus.load({"pt": {"position": [1, 2, 3]}, "bb_start": None}) == {
        "pt_position": [1, 2, 3]
    }


def test_integer_fields_accept_numeric_strings() -> None:
    plan = _plan("plastic_synapse")
    item = {**synapse(1), "plasticity": "3"}
    del item["size"]
    assert plan.load(item)["plasticity"] == 3
    assert _messages(plan, {**item, "plasticity": 3.5}) == {"plasticity": ["Not a valid integer."]}
    assert _messages(plan, {**item, "plasticity": True}) == {"plasticity": ["Not a valid integer."]}
    assert _messages(plan, {**item, "plasticity": 7}) == {
        "plasticity": ["Must be one of: 0, 1, 2, 3, 4."]
    }


def test_enums_strings_and_booleans() -> None:
    compartment = _plan("postsynaptic_compartment")
    base = {"target_id": 1, "compartment": "soma"}
    assert compartment.load({**base, "on_spine": "yes", "dendrite_class": None}) == {
        "target_id": 1,
        "compartment": "soma",
        "on_spine": True,
    }
    assert _messages(compartment, {**base, "compartment": "elbow"}) == {
        "compartment": ["Must be one of: soma, dendrite, axon."]
    }
    assert _messages(compartment, {**base, "on_spine": "perhaps"}) == {
        "on_spine": ["Not a valid boolean."]
    }
    tag = _plan("reference_tag")
    assert _messages(tag, {"target_id": 1, "tag": 5}) == {"tag": ["Not a valid string."]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3), ("3", 3), (" 12 ", 12), (4.0, 4), (-2, -2)],
)
def test_as_int_accepts(value: Any, expected: int) -> None:
    assert as_int(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (3.5, "Not a valid integer."),
        ("3.5", "Not a valid integer."),
        (True, "Not a valid integer."),
        ([1], "Not a valid integer."),
        ("x", "Not a valid integer."),
        (2**64, "Number too large."),
    ],
)
def test_as_int_rejects(value: Any, message: str) -> None:
    with pytest.raises(Invalid) as failure:
        as_int(value)
    assert failure.value.messages == [message]


def test_floats_and_booleans() -> None:
    assert as_float("2.5") == 2.5
    assert as_float(3) == 3.0
    special = ["Special numeric values (nan or infinity) are not permitted."]
    for bad, message in (
        ("nan", special),
        (float("inf"), special),
        (True, ["Not a valid number."]),
        ("x", ["Not a valid number."]),
        ([1.0], ["Not a valid number."]),
    ):
        with pytest.raises(Invalid) as failure:
            as_float(bad)
        assert failure.value.messages == message, bad
    assert [as_bool(v) for v in ("t", "YES", 1, 1.0, "on")] == [True] * 5
    assert [as_bool(v) for v in ("f", "No", 0, 0.0, "off")] == [False] * 5
    for not_bool in (2, "maybe", [True]):
        with pytest.raises(Invalid) as failure:
            as_bool(not_bool)
        assert failure.value.messages == ["Not a valid boolean."]


def test_plans_are_cached_per_document() -> None:
    document = json.loads((SCHEMAS / "synapse.json").read_text("utf-8"))
    first = PLANS.get("synapse", document)
    assert PLANS.get("synapse", document) is first
    assert PLANS.get("synapse", json.loads(json.dumps(document))) is not first


def test_validation_over_http(owner: Caller) -> None:
    target = create_table(owner)
    shapes = create_table(owner, "bouton_shape", table_metadata={"reference_table": target})
    ids = post(owner, target, [synapse(1)]).json()
    bad_enum = post(owner, shapes, [{"target_id": ids[0], "shape": "square"}])
    assert bad_enum.status_code == 422
    assert bad_enum.json() == ae_error(
        422,
        "Unprocessable Entity",
        "annotation 0: {'shape': ['Must be one of: pancake, basmati, potato.']}",
    )
    ok = post(owner, shapes, [{"target_id": str(ids[0]), "shape": "potato", "extra": 1}])
    assert ok.status_code == 200
    (row,) = get_rows(owner, shapes, ok.json())
    assert (row["target_id"], row["shape"]) == (ids[0], "potato")
    assert "extra" not in row
