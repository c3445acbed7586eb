"""Annotation models: the dumped schemas, the overrides and the generated pydantic dataclasses."""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
from types import ModuleType
from typing import Any

import numpy as np
import pydantic
import pytest

from dafclient.annotations.schema_overrides import (
    OVERRIDES,
    apply_overrides,
    fired_overrides,
    load_schemas,
    root_definition,
)
from tests.paths import REPO

ROOT = REPO
SCHEMAS_DIR = ROOT / "specs" / "annotation_schemas"
LOCK_FILE = ROOT / "specs" / "annotation_schemas.lock.json"
RAW = load_schemas(SCHEMAS_DIR)
CORRECTED = {name: apply_overrides(schema, name) for name, schema in RAW.items()}
UINT64_MAX = 2**64 - 1


@pytest.fixture(scope="module")
def models() -> ModuleType:
    """The committed generated annotation model package."""
    return importlib.import_module("dafclient._wire.annotation_models")


# --- building valid documents from the corrected schemas -------------------------------------


def _example(prop: dict[str, Any], definitions: dict[str, Any]) -> Any:
    """A valid value for one property schema: the first enum value, the minimum, and so on."""
    if "$ref" in prop:
        return _document(definitions[prop["$ref"].rsplit("/", 1)[1]], definitions)
    if "enum" in prop:
        return prop["enum"][0]
    kind = prop["type"][0] if isinstance(prop["type"], list) else prop["type"]
    if kind == "array":
        return [1.5] * prop["minItems"]
    if kind == "integer":
        return prop.get("minimum", 7)
    return {"number": 2.5, "string": "text", "boolean": True}[kind]


def _document(definition: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """A document holding only the required properties of ``definition``."""
    props = definition["properties"]
    return {name: _example(props[name], definitions) for name in definition.get("required", [])}


def _minimal(type_name: str) -> dict[str, Any]:
    schema = CORRECTED[type_name]
    definitions = schema["definitions"]
    return _document(definitions[root_definition(schema)], definitions)


def _validate(models: ModuleType, type_name: str, document: dict[str, Any]) -> Any:
    return pydantic.TypeAdapter(models.MODELS[type_name]).validate_python(document)


def _synapse(**pre_pt: Any) -> dict[str, Any]:
    return {
        "pre_pt": {"position": [1, 2, 3], **pre_pt},
        "post_pt": {"position": [4, 5, 6]},
        "ctr_pt": {"position": [2, 3, 4]},
    }


# --- the dumped schemas ------------------------------------------------------------------------


def test_committed_schema_files_match_the_lock() -> None:
    lock = json.loads(LOCK_FILE.read_text(encoding="utf-8"))
    on_disk = {path.name: path.read_bytes() for path in SCHEMAS_DIR.glob("*.json")}
    assert set(on_disk) == set(lock["files"])
    for name, data in on_disk.items():
        assert hashlib.sha256(data).hexdigest() == lock["files"][name], name
    index = json.loads(on_disk["index.json"])
    assert lock["type_count"] == len(index) == len(set(index))
    assert {f"{name}.json" for name in index} == set(on_disk) - {"index.json"}
    assert set(lock["packages"]) == {"emannotationschemas", "marshmallow", "marshmallow-jsonschema"}


def test_committed_schema_files_are_canonical_json() -> None:
    for path in SCHEMAS_DIR.glob("*.json"):
        text = path.read_text(encoding="utf-8")
        assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n", path.name


def test_each_schema_names_its_class_through_a_top_level_ref() -> None:
    for type_name, schema in RAW.items():
        assert root_definition(schema) in schema["definitions"], type_name


# --- overrides ---------------------------------------------------------------------------------


@pytest.mark.parametrize("type_name", list(RAW))
def test_overrides_do_not_mutate_their_input(type_name: str) -> None:
    schema = RAW[type_name]
    before = copy.deepcopy(schema)
    result = apply_overrides(schema, type_name)
    assert schema == before
    assert result != schema
    assert apply_overrides(result, type_name) == result, "applying twice changes more"


def test_every_override_has_a_reason_and_fires_somewhere() -> None:
    names = [override.name for override in OVERRIDES]
    assert len(names) == len(set(names))
    fired = {name for t, s in RAW.items() for name in fired_overrides(s, t)}
    for override in OVERRIDES:
        assert override.reason.strip(), override.name
        assert override.name in fired, f"{override.name} changes no schema"


def test_removed_titles_only_repeated_the_property_name() -> None:
    for schema in RAW.values():
        for definition in schema["definitions"].values():
            for prop_name, prop in definition["properties"].items():
                assert prop.get("title", prop_name) == prop_name


NUMBER = "_runtime.Number"


def test_every_position_is_three_numbers_and_every_number_has_a_runtime_type() -> None:
    for type_name, schema in CORRECTED.items():
        for def_name, definition in schema["definitions"].items():
            for prop_name, prop in definition["properties"].items():
                where = f"{type_name}: {def_name}.{prop_name}"
                kind = prop.get("type")
                assert prop.get("format") != "integer", where
                if prop_name == "position":
                    assert prop["items"] == {"type": "number", "customTypePath": NUMBER}, where
                    assert prop["minItems"] == prop["maxItems"] == 3, where
                if kind == "integer" and "enum" not in prop:
                    assert "customTypePath" in prop, where
                base = [k for k in kind if k != "null"] if isinstance(kind, list) else [kind]
                if base == ["number"] and "enum" not in prop:
                    assert prop["customTypePath"] == NUMBER, where
                if prop_name.endswith(("root_id", "supervoxel_id")):
                    assert (prop["minimum"], prop["maximum"]) == (0, UINT64_MAX), where


# --- generated models --------------------------------------------------------------------------


def test_every_listed_type_has_a_model(models: ModuleType) -> None:
    index = json.loads((SCHEMAS_DIR / "index.json").read_text(encoding="utf-8"))
    assert list(models.MODELS) == index
    for type_name, cls in models.MODELS.items():
        assert cls.__name__ == root_definition(RAW[type_name])
        assert getattr(models, cls.__name__) is cls


@pytest.mark.parametrize("type_name", list(RAW))
def test_minimal_document_validates_and_each_required_field_is_required(
    models: ModuleType, type_name: str
) -> None:
    document = _minimal(type_name)
    instance = _validate(models, type_name, document)
    assert isinstance(instance, models.MODELS[type_name])
    for field in document:
        incomplete = {k: v for k, v in document.items() if k != field}
        with pytest.raises(pydantic.ValidationError) as info:
            _validate(models, type_name, incomplete)
        assert any(
            err["type"] == "missing" and err["loc"] == (field,) for err in info.value.errors()
        )


def test_synapse_constructs_from_point_instances(models: ModuleType) -> None:
    pre = models.BoundSpatialPoint(position=[1, 2, 3], root_id=UINT64_MAX)
    synapse = models.SynapseSchema(
        pre_pt=pre,
        post_pt=models.BoundSpatialPoint(position=[4, 5, 6]),
        ctr_pt=models.SpatialPoint(position=[2, 3, 4]),
    )
    assert synapse.pre_pt.root_id == UINT64_MAX
    assert synapse.post_pt.position == [4, 5, 6]


@pytest.mark.parametrize("position", [[1, 2], [1, 2, 3, 4], [], np.array([1, 2])])
def test_synapse_rejects_a_position_that_is_not_xyz(models: ModuleType, position: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        models.BoundSpatialPoint(position=position)
    document = _synapse()
    document["pre_pt"]["position"] = position
    with pytest.raises(pydantic.ValidationError):
        _validate(models, "synapse", document)


def test_synapse_accepts_numpy_ids_and_positions_exactly(models: ModuleType) -> None:
    root_id = np.int64(2**53 + 1)  # above 2**53 a float round trip would change the value
    supervoxel_id = np.uint64(UINT64_MAX)
    position = np.array([10, 20, 30], dtype=np.int64)
    document = _synapse(root_id=root_id, supervoxel_id=supervoxel_id)
    document["pre_pt"]["position"] = position
    synapse = _validate(models, "synapse", document)
    assert synapse.pre_pt.root_id == int(root_id)
    assert type(synapse.pre_pt.root_id) is int
    assert synapse.pre_pt.supervoxel_id == int(supervoxel_id)
    assert synapse.pre_pt.position == position.tolist()


@pytest.mark.parametrize(
    ("value", "accepted"),
    [(0, True), (UINT64_MAX, True), (np.uint64(UINT64_MAX), True), (-1, False), (2**64, False)],
)
def test_segment_ids_are_uint64(models: ModuleType, value: Any, accepted: bool) -> None:
    for field in ("root_id", "supervoxel_id"):
        if accepted:
            point = models.BoundSpatialPoint(position=[1, 2, 3], **{field: value})
            assert getattr(point, field) == int(value)
        else:
            with pytest.raises(pydantic.ValidationError):
                models.BoundSpatialPoint(position=[1, 2, 3], **{field: value})
    document = _minimal("proofread_status")
    document["valid_id"] = value
    if accepted:
        assert _validate(models, "proofread_status", document).valid_id == int(value)
    else:
        with pytest.raises(pydantic.ValidationError):
            _validate(models, "proofread_status", document)


def test_points_reject_unknown_keys_and_annotations_keep_them(models: ModuleType) -> None:
    with pytest.raises(pydantic.ValidationError):
        _validate(models, "synapse", _synapse(colour="red"))
    document = {**_synapse(), "comment": "kept"}
    assert _validate(models, "synapse", document).comment == "kept"


def _enum_properties() -> list[tuple[str, str, list[Any]]]:
    found = []
    for type_name, schema in CORRECTED.items():
        root = schema["definitions"][root_definition(schema)]
        for prop_name, prop in root["properties"].items():
            if "enum" in prop:
                found.append((type_name, prop_name, prop["enum"]))
    return found


@pytest.mark.parametrize(
    ("type_name", "prop_name", "allowed"), _enum_properties(), ids=lambda v: str(v)
)
def test_enum_fields_accept_only_listed_values(
    models: ModuleType, type_name: str, prop_name: str, allowed: list[Any]
) -> None:
    document = _minimal(type_name)
    for value in allowed:
        document[prop_name] = value
        assert getattr(_validate(models, type_name, document), prop_name) == value
    outside = 1 + max(allowed) if isinstance(allowed[0], int) else "-".join(map(str, allowed))
    document[prop_name] = outside
    with pytest.raises(pydantic.ValidationError):
        _validate(models, type_name, document)


def test_enum_checks_cover_the_documented_fields() -> None:
    names = {(t, p) for t, p, _ in _enum_properties()}
    assert ("postsynaptic_compartment", "compartment") in names
    assert ("proofread_status", "status") in names


def test_point_classes_are_shared_between_types(models: ModuleType) -> None:
    point = models.BoundSpatialPoint(position=[1, 2, 3], root_id=5)
    for type_name in ("cell_type_local", "bound_tag", "proofread_status"):
        document = {**_minimal(type_name), "pt": point}
        assert _validate(models, type_name, document).pt is point
    derived = models.MODELS["derived_spatial_point"](position=[1, 2, 3], dependent_chunk=9)
    tagged = _validate(models, "derived_tag", {**_minimal("derived_tag"), "pt": derived})
    assert tagged.pt is derived


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("size", float("inf")),
        ("size", float("nan")),
        ("size", "nan"),
        ("size", True),
        ("size", np.True_),
        ("pre_pt", {"position": [True, 1, 2]}),
        ("pre_pt", {"position": [float("nan"), 1, 2]}),
        ("pre_pt", {"position": [1, 2, 3], "root_id": True}),
        ("pre_pt", {"position": [1, 2, 3], "root_id": "3.0"}),
    ],
)
def test_models_refuse_what_marshmallow_refuses(field: str, value: object) -> None:
    """Booleans, NaN and infinities as numbers, and non-integer strings as integers (pydantic's
    lax mode takes them; the AnnotationEngine's marshmallow does not)."""
    from dafclient._wire.annotation_models import SynapseSchema

    point = {"position": [1, 2, 3]}
    fields: dict[str, object] = {"pre_pt": point, "ctr_pt": point, "post_pt": point}
    fields[field] = value
    with pytest.raises(pydantic.ValidationError):
        SynapseSchema(**fields)  # type: ignore[arg-type]


def test_models_take_numeric_strings_and_numpy_numbers_like_marshmallow() -> None:
    from dafclient._wire.annotation_models import SynapseSchema

    point = {"position": [np.int32(1), np.float32(2.5), "3"]}
    bound = {"position": [1, 2, 3], "root_id": "864691135000000001"}
    model = SynapseSchema(pre_pt=bound, ctr_pt=point, post_pt=point, size=np.float64(4))  # type: ignore[arg-type]
    assert model.ctr_pt.position == [1.0, 2.5, 3.0]
    assert model.pre_pt.root_id == 864691135000000001
    assert model.size == 4.0
