"""Run-time annotation models validate exactly like the generated ones, for every type."""

from __future__ import annotations

import dataclasses
import json
from importlib import resources
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from dafclient._wire.annotation_models import MODELS
from dafclient.annotations.runtime_models import UnsupportedSchemaError, build_model, model_for
from dafclient.annotations.schema_overrides import load_schemas
from tests.paths import REPO

SCHEMAS: dict[str, dict[str, Any]] = json.loads(
    resources.files("dafclient._wire.annotation_models").joinpath("schemas.json").read_text("utf-8")
)
RAW_DIR = REPO / "specs" / "annotation_schemas"
EXAMPLES_PER_TYPE = 40
UINT64_MAX = 2**64 - 1
INT64_MAX = 2**63 - 1
ABOVE_FLOAT = 2**53 + 1
"""The first integer a float cannot hold: numpy ids from here on must be read exactly."""

Definitions = dict[str, dict[str, Any]]


# --- a strategy of documents built from the corrected schema ---------------------------------


def _ref(prop: dict[str, Any]) -> str:
    return str(prop["$ref"]).rsplit("/", 1)[1]


def _kind(prop: dict[str, Any]) -> str | None:
    kind = prop.get("type")
    if isinstance(kind, list):
        rest = [k for k in kind if k != "null"]
        return rest[0] if rest else None
    return kind


def _nullable(prop: dict[str, Any]) -> bool:
    return isinstance(prop.get("type"), list) and "null" in prop["type"]


def _integer_values(prop: dict[str, Any]) -> st.SearchStrategy[Any]:
    low, high = prop.get("minimum"), prop.get("maximum")
    plain = st.integers(min_value=low, max_value=high)
    numpy_low = max(ABOVE_FLOAT, low if low is not None else ABOVE_FLOAT)
    numpy_signed = st.integers(numpy_low, min(INT64_MAX, high or INT64_MAX)).map(np.int64)
    options = [plain, numpy_signed]
    if high is None or high > INT64_MAX:
        options.append(st.integers(INT64_MAX + 1, high or UINT64_MAX).map(np.uint64))
    return st.one_of(options)


def _valid_value(prop: dict[str, Any], definitions: Definitions) -> st.SearchStrategy[Any]:
    if "$ref" in prop:
        value = _valid_document(definitions[_ref(prop)], definitions)
    elif "enum" in prop:
        value = st.sampled_from([v for v in prop["enum"] if v is not None])
    else:
        kind = _kind(prop)
        if kind == "integer":
            value = _integer_values(prop)
        elif kind == "array":
            element = st.floats(allow_nan=False, allow_infinity=False) | st.integers(
                -(10**6), 10**6
            )
            value = st.lists(element, min_size=prop["minItems"], max_size=prop["maxItems"])
        elif kind == "number":
            value = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**9), 10**9)
        elif kind == "string":
            value = st.text(max_size=8)
        else:
            assert kind == "boolean", prop
            value = st.booleans()
    return value | st.none() if _nullable(prop) else value


def _valid_document(
    definition: dict[str, Any], definitions: Definitions
) -> st.SearchStrategy[dict[str, Any]]:
    props, required = definition["properties"], set(definition["required"])
    return st.fixed_dictionaries(
        {name: _valid_value(props[name], definitions) for name in props if name in required},
        optional={
            name: _valid_value(props[name], definitions) | st.none()
            for name in props
            if name not in required
        },
    )


WRONG_ANYWHERE: list[Any] = [None, "text", [1, 2, 3], {}, {"x": 1}, 1.5, True]


def _wrong_values(prop: dict[str, Any]) -> list[Any]:
    """Values of the wrong type or outside the allowed range for one property."""
    extra: list[Any] = []
    if "enum" in prop:
        extra = ["not_a_member", 99, -1]
    elif "$ref" in prop:
        extra = [{"position": [1, 2]}]
    elif _kind(prop) == "integer":
        extra = [-1, 2**64, 2**63, np.uint64(UINT64_MAX), np.int64(-1), "12", 2.0, 2.5]
    elif _kind(prop) == "array":
        extra = [[1.0, 2.0], [1.0, 2.0, 3.0, 4.0], ["a", "b", "c"], [None, 1, 2], "1,2,3"]
    elif _kind(prop) == "boolean":
        extra = ["maybe", 2, "true", 0]
    elif _kind(prop) == "number":
        extra = ["abc", "1e3", np.float64(2.5), np.int64(ABOVE_FLOAT)]
    elif _kind(prop) == "string":
        extra = [12, b"bytes"]
    return WRONG_ANYWHERE + extra


def _mutate(
    draw: st.DrawFn, doc: dict[str, Any], definition: dict[str, Any], definitions: Definitions
) -> dict[str, Any]:
    """Apply one random damage to ``doc`` (or to a nested point inside it)."""
    props, required = definition["properties"], list(definition["required"])
    nested = [name for name in props if "$ref" in props[name] and isinstance(doc.get(name), dict)]
    kinds = ["wrong", "extra"] + (["drop"] if required else []) + (["nested"] if nested else [])
    kind = draw(st.sampled_from(kinds))
    out = dict(doc)
    if kind == "drop":
        out.pop(draw(st.sampled_from(required)), None)
    elif kind == "extra":
        out[draw(st.sampled_from(["unexpected", "note", "id_extra"]))] = draw(
            st.sampled_from([1, "x", None])
        )
    elif kind == "nested":
        name = draw(st.sampled_from(nested))
        out[name] = _mutate(draw, out[name], definitions[_ref(props[name])], definitions)
    else:
        name = draw(st.sampled_from(sorted(props)))
        out[name] = draw(st.sampled_from(_wrong_values(props[name])))
    return out


@st.composite
def documents(draw: st.DrawFn, schema: dict[str, Any]) -> dict[str, Any]:
    """A valid document of the schema's type, damaged zero, one or two times."""
    definitions: Definitions = schema["definitions"]
    root = definitions[str(schema["$ref"]).rsplit("/", 1)[1]]
    doc = draw(_valid_document(root, definitions))
    for _ in range(draw(st.integers(0, 2))):
        doc = _mutate(draw, doc, root, definitions)
    return doc


# --- comparing the two models -------------------------------------------------------------------


def _outcome(adapter: TypeAdapter[Any], doc: dict[str, Any]) -> tuple[bool, Any]:
    """(accepted, JSON dump) or (rejected, the locations and kinds of the errors)."""
    try:
        instance = adapter.validate_python(doc)
    except ValidationError as exc:
        return False, sorted((str(e["loc"]), e["type"]) for e in exc.errors())
    return True, adapter.dump_python(instance, mode="json")


@pytest.mark.parametrize("schema_type", list(MODELS))
def test_runtime_model_validates_like_generated(schema_type: str) -> None:
    generated = TypeAdapter(MODELS[schema_type])
    runtime = TypeAdapter(build_model(schema_type, SCHEMAS[schema_type]))
    seen: set[bool] = set()

    @settings(
        max_examples=EXAMPLES_PER_TYPE,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(documents(SCHEMAS[schema_type]))
    def check(doc: dict[str, Any]) -> None:
        expected = _outcome(generated, doc)
        assert _outcome(runtime, doc) == expected, doc
        seen.add(expected[0])

    check()
    assert seen == {True, False}, "the strategy should produce valid and invalid documents"


@pytest.mark.parametrize("schema_type", list(MODELS))
def test_runtime_model_shape_matches_generated(schema_type: str) -> None:
    generated, runtime = MODELS[schema_type], build_model(schema_type, SCHEMAS[schema_type])
    assert runtime.__name__ == generated.__name__
    assert f"'{schema_type}'" in (runtime.__doc__ or "")

    def shape(cls: type[Any]) -> dict[str, bool]:
        return {f.name: f.default is dataclasses.MISSING for f in dataclasses.fields(cls)}

    assert shape(runtime) == shape(generated)
    assert all(f.kw_only for f in dataclasses.fields(runtime))
    assert runtime.__pydantic_config__.get("extra") == generated.__pydantic_config__.get("extra")


def test_numpy_ids_above_float_precision_are_exact() -> None:
    model = build_model("synapse", SCHEMAS["synapse"])
    big = np.uint64(UINT64_MAX - 2)
    doc = {
        "pre_pt": {"position": [1, 2, 3], "root_id": big},
        "post_pt": {"position": [4, 5, 6], "supervoxel_id": np.int64(ABOVE_FLOAT)},
        "ctr_pt": {"position": [7, 8, 9]},
    }
    instance = model(**doc)
    assert instance.pre_pt.root_id == int(big)
    assert instance.post_pt.supervoxel_id == ABOVE_FLOAT


def test_point_classes_are_shared_between_types() -> None:
    synapse = build_model("synapse", SCHEMAS["synapse"])
    cell_type = build_model("cell_type_local", SCHEMAS["cell_type_local"])
    point = synapse.__pydantic_fields__["pre_pt"].annotation
    assert point.__name__ == "BoundSpatialPoint"
    assert cell_type.__pydantic_fields__["pt"].annotation is point
    assert synapse.__pydantic_fields__["post_pt"].annotation is point
    assert build_model("synapse", SCHEMAS["synapse"]) is synapse


def test_model_for_applies_the_overrides() -> None:
    raw = load_schemas(RAW_DIR)
    for schema_type in ("synapse", "plastic_synapse", "postsynaptic_compartment"):
        assert model_for(schema_type, raw[schema_type]) is build_model(
            schema_type, SCHEMAS[schema_type]
        )


def test_unsupported_keywords_are_refused() -> None:
    schema = json.loads(json.dumps(SCHEMAS["cell_type_local"]))
    schema["definitions"]["CellTypeLocal"]["properties"]["cell_type"]["pattern"] = "^[a-z]+$"
    with pytest.raises(UnsupportedSchemaError, match="pattern"):
        build_model("cell_type_local", schema)


@pytest.mark.parametrize(
    ("schema_type", "field", "good"),
    [("plastic_synapse", "plasticity", 1), ("bouton_shape", "shape", "potato")],
)
def test_enum_fields_refuse_booleans_like_marshmallow(
    schema_type: str, field: str, good: Any
) -> None:
    """pydantic takes ``True`` for an enum member ``1``; marshmallow's fields refuse booleans, and
    so do the generated and the run-time models, for integer and string enums alike."""
    point = {"position": [1, 2, 3]}
    generated = MODELS[schema_type]
    runtime = build_model(schema_type, SCHEMAS[schema_type])
    names = {f.name for f in dataclasses.fields(generated)}
    row: dict[str, Any] = {name: point for name in names if name.endswith("_pt")}
    if "target_id" in names:
        row["target_id"] = 1
    for model in (generated, runtime):
        assert getattr(model(**row, **{field: good}), field) == good
        with pytest.raises(ValidationError):
            model(**row, **{field: True})
