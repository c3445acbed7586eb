"""The flat column layout of an annotation type, compiled from its corrected JSON Schema.

An EMAnnotationSchemas type is a top-level object whose fields are scalars or *points*
(``SpatialPoint``, ``BoundSpatialPoint``, ``DerivedSpatialPoint``: a ``position`` and optional
segment ids). Flattened, every scalar is one column: ``size``, ``pre_pt_position``,
``pre_pt_root_id``. The layout is what the columnar validator, the staging builder and the wire
encoder all work from, so the three agree on names, kinds, bounds and required-ness.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from dafclient.errors import InputError

FieldKind = Literal["integer", "number", "string", "boolean", "position", "raw"]

POSITION = "position"
SEGMENT_ID_FIELDS = frozenset({"root_id", "supervoxel_id"})
"""Point fields the AnnotationEngine validates and then drops (they belong to segmentation)."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One flat column of an annotation type."""

    column: str
    """Flat name: ``size``, ``pre_pt_position``, ``pre_pt_root_id``."""
    path: tuple[str, ...]
    """Where it lives in the nested JSON: ``("size",)``, ``("pre_pt", "position")``."""
    kind: FieldKind
    required: bool
    """Must be present and not null (for a point's field: whenever the point is present)."""
    nullable: bool
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[Any, ...] | None = None
    description: str = ""

    @property
    def point(self) -> str | None:
        """The point this field belongs to, or None for a top-level field."""
        return self.path[0] if len(self.path) == 2 else None


@dataclass(frozen=True, slots=True)
class PointSpec:
    """A nested point of an annotation type."""

    name: str
    definition: str
    required: bool
    columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AnnotationLayout:
    """Every column of one annotation type, top-level fields and points' fields alike."""

    schema_type: str
    class_name: str
    fields: tuple[FieldSpec, ...]
    points: tuple[PointSpec, ...]

    def field(self, column: str) -> FieldSpec:
        """The field of flat column ``column``."""
        for spec in self.fields:
            if spec.column == column:
                return spec
        raise KeyError(column)

    @property
    def columns(self) -> tuple[str, ...]:
        """All flat column names, in schema order."""
        return tuple(spec.column for spec in self.fields)

    @property
    def is_reference(self) -> bool:
        """Whether rows reference another table's annotations (``target_id``)."""
        return any(spec.column == "target_id" for spec in self.fields)


def _types(spec: Mapping[str, Any]) -> tuple[set[str], bool]:
    declared = spec.get("type")
    names = {declared} if isinstance(declared, str) else set(declared or ())
    return names - {"null"}, "null" in names


def _kind(spec: Mapping[str, Any]) -> FieldKind:
    names, _ = _types(spec)
    if "array" in names:
        return "position"
    for kind in ("integer", "number", "string", "boolean"):
        if kind in names:
            return kind
    return "raw"


def _leaf(name: str, spec: Mapping[str, Any], path: tuple[str, ...], required: bool) -> FieldSpec:
    _, null_allowed = _types(spec)
    kind = _kind(spec)
    if kind == "position" and path[-1] != POSITION:
        raise InputError(f"{'.'.join(path)}: array fields other than a point's position")
    choices = spec.get("enum")
    minimum = spec.get("minimum")
    maximum = spec.get("maximum")
    return FieldSpec(
        column="_".join(path),
        path=path,
        kind=kind,
        required=required,
        nullable=null_allowed or not required,
        minimum=int(minimum) if kind == "integer" and minimum is not None else None,
        maximum=int(maximum) if kind == "integer" and maximum is not None else None,
        choices=tuple(choices) if isinstance(choices, list) and choices else None,
        description=str(spec.get("description", "")),
    )


def compile_layout(schema_type: str, schema: Mapping[str, Any]) -> AnnotationLayout:
    """Compile a corrected annotation JSON Schema (``definitions`` + top-level ``$ref``)."""
    definitions = schema.get("definitions")
    ref = schema.get("$ref")
    if not isinstance(definitions, Mapping) or not isinstance(ref, str):
        raise InputError(f"{schema_type}: not an annotation schema (no definitions or $ref)")
    root_name = ref.rsplit("/", 1)[-1]
    root = definitions.get(root_name)
    if not isinstance(root, Mapping):
        raise InputError(f"{schema_type}: $ref names an unknown definition {root_name!r}")
    required = set(root.get("required") or ())
    fields: list[FieldSpec] = []
    points: list[PointSpec] = []
    for name, spec in (root.get("properties") or {}).items():
        nested_ref = spec.get("$ref") if isinstance(spec, Mapping) else None
        if not isinstance(nested_ref, str):
            fields.append(_leaf(name, spec, (name,), name in required))
            continue
        definition_name = nested_ref.rsplit("/", 1)[-1]
        definition = definitions.get(definition_name)
        sub_properties = definition.get("properties") if isinstance(definition, Mapping) else None
        if not isinstance(sub_properties, Mapping) or any(
            isinstance(sub, Mapping) and "$ref" in sub for sub in sub_properties.values()
        ):
            raise InputError(f"{schema_type}.{name}: unsupported nested definition")
        assert isinstance(definition, Mapping)
        point_required = set(definition.get("required") or ())
        point_fields = [
            _leaf(sub, sub_spec, (name, sub), sub in point_required)
            for sub, sub_spec in sub_properties.items()
        ]
        fields.extend(point_fields)
        points.append(
            PointSpec(
                name=name,
                definition=definition_name,
                required=name in required,
                columns=tuple(f.column for f in point_fields),
            )
        )
    return AnnotationLayout(schema_type, root_name, tuple(fields), tuple(points))


@cache
def snapshot_schemas() -> Mapping[str, Mapping[str, Any]]:
    """The corrected JSON Schemas of the annotation types the generated models were built from."""
    text = (
        resources.files("dafclient._wire.annotation_models")
        .joinpath("schemas.json")
        .read_text("utf-8")
    )
    schemas: dict[str, Mapping[str, Any]] = json.loads(text)
    return schemas


@cache
def snapshot_layout(schema_type: str) -> AnnotationLayout:
    """The layout of a snapshot annotation type; ``KeyError`` if the snapshot lacks it."""
    return compile_layout(schema_type, snapshot_schemas()[schema_type])
