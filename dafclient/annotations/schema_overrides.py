"""Declarative corrections applied to the dumped annotation JSON Schemas before model generation.

The files in ``specs/annotation_schemas/`` are exactly what the schema service serves and are
never edited. They are weak in places a typed client cares about: ``position`` is an untyped
array, uint64 segment ids are unbounded integers, marshmallow ``Int`` fields dump as
``number`` with ``format: integer``, and several marshmallow field options leak into the
output. :data:`OVERRIDES` lists every correction, with the reason for it, and
:func:`apply_overrides` applies them to one schema without touching its input.

Overrides run in table order; each one sees the result of the ones before it. An override
selects property schemas (or, with ``target="definition"``, whole definitions) by annotation
type, definition name and property name, then narrows the selection with ``when`` (key/value
pairs the schema must hold; ``type`` is compared with any ``"null"`` removed) and with
``when_present`` / ``when_absent`` (keys the schema must / must not hold). On each selected
schema it renames keys, removes keys, changes the base type while keeping ``"null"`` when the
schema was nullable (``retype``) and finally sets keys (``set``). String values in ``set``
may use ``{type}`` for the annotation type name.

``python -m dafclient.annotations.schema_overrides specs/annotation_schemas`` prints a Markdown table of
which overrides change which types.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

UINT64_MAX = 2**64 - 1
INT64_MAX = 2**63 - 1

POINT_DEFINITIONS = frozenset({"SpatialPoint", "BoundSpatialPoint", "DerivedSpatialPoint"})
"""Point classes nested in annotation types (``derived_spatial_point`` is also a type itself)."""

RUNTIME_MODULE = "_runtime"
"""Module of the generated package that defines the integer types in :data:`INTEGER_TYPES`."""

INTEGER_TYPES: dict[str, tuple[int | None, int | None, str]] = {
    "Integer": (None, None, "Any integer."),
    "Uint64": (0, UINT64_MAX, "A segmentation id (root, supervoxel, chunk): 0 .. 2**64-1."),
    "AnnotationId": (0, INT64_MAX, "The id of an annotation row: 0 .. 2**63-1."),
}
"""Custom integer types: name -> (minimum, maximum, docstring). All of them read numpy
integers exactly; ``dafclient._codegen.annotation_models`` writes them into the generated package."""

NUMBER_TYPE = "Number"
"""The custom float type: finite, and not a boolean (marshmallow's Float refuses both)."""


def runtime_type(name: str) -> dict[str, Any]:
    """Return the schema keys that make a property use one of :data:`INTEGER_TYPES`."""
    minimum, maximum, _ = INTEGER_TYPES[name]
    keys: dict[str, Any] = {"customTypePath": f"{RUNTIME_MODULE}.{name}"}
    if minimum is not None:
        keys["minimum"] = minimum
    if maximum is not None:
        keys["maximum"] = maximum
    return keys


@dataclass(frozen=True)
class Override:
    """One correction: where it applies, what it changes and why."""

    name: str
    reason: str
    target: Literal["property", "definition"] = "property"
    types: frozenset[str] | None = None
    """Annotation type names; ``None`` means every type."""
    definitions: frozenset[str] | None = None
    """Definition (class) names; ``None`` means every definition."""
    exclude_definitions: frozenset[str] = frozenset()
    root_only: bool = False
    """Only the definition the schema's top-level ``$ref`` names."""
    properties: frozenset[str] | None = None
    """Property names (ignored for definition targets); ``None`` means every property."""
    when: Mapping[str, Any] = field(default_factory=dict)
    when_present: frozenset[str] = frozenset()
    when_absent: frozenset[str] = frozenset()
    rename: Mapping[str, str] = field(default_factory=dict)
    remove: frozenset[str] = frozenset()
    retype: str | None = None
    set: Mapping[str, Any] = field(default_factory=dict)


OVERRIDES: tuple[Override, ...] = (
    # --- marshmallow-jsonschema artefacts -----------------------------------------------
    Override(
        name="drop-enum-names",
        reason=(
            "marshmallow-jsonschema writes an empty 'enumNames' list beside every OneOf enum; "
            "it is a form-rendering hint with no validation meaning"
        ),
        remove=frozenset({"enumNames"}),
    ),
    Override(
        name="drop-field-kwargs",
        reason=(
            "marshmallow field options 'order' (declaration order) and 'index' (database "
            "index flag) leak into the JSON Schema; they say nothing about the wire format"
        ),
        remove=frozenset({"order", "index"}),
    ),
    Override(
        name="drop-field-titles",
        reason=(
            "marshmallow-jsonschema copies each field name into 'title'; it only repeats the "
            "property name and adds noise to every generated field"
        ),
        remove=frozenset({"title"}),
    ),
    Override(
        name="fix-description-typo",
        reason=(
            "ReferenceTagFloat.value passes the misspelled kwarg 'desription', so its text "
            "is not a JSON Schema description; keep the text as one"
        ),
        rename={"desription": "description"},
    ),
    Override(
        name="bare-refs",
        reason=(
            "marshmallow-jsonschema writes 'type': 'object' beside each nested '$ref'; the "
            "referenced definition already says so, and with the sibling the generator "
            "turns a described field into its own copy of the point class (PrePt, PostPt, "
            "CtrPt, one Pt per description) instead of reusing the shared one"
        ),
        when={"type": "object"},
        when_present=frozenset({"$ref"}),
        remove=frozenset({"type"}),
    ),
    Override(
        name="drop-dump-defaults",
        reason=(
            "marshmallow 'default=' is the value used when *serializing*; loading a document "
            "without the key never fills it in (valid/validation load as null, hemisphere is "
            "required), and the AnnotationEngine sets valid=true itself on insert, so a client "
            "default would send values the user never chose"
        ),
        remove=frozenset({"default"}),
    ),
    # --- integers -----------------------------------------------------------------------
    Override(
        name="int-fields-are-integers",
        reason=(
            "marshmallow Int dumps as {'type': 'number', 'format': 'integer'}; the format is "
            "not standard JSON Schema and generators read it as float, but the service only "
            "accepts integral values"
        ),
        when={"type": "number", "format": "integer"},
        remove=frozenset({"format"}),
        retype="integer",
    ),
    Override(
        name="plasticity-member-names",
        reason=(
            "PlasticSynapse.plasticity is OneOf([0, 1, 2, 3, 4]); name the members after the "
            "states its description lists instead of number_0 … number_4"
        ),
        types=frozenset({"plastic_synapse"}),
        definitions=frozenset({"PlasticSynapse"}),
        properties=frozenset({"plasticity"}),
        when={"type": "integer"},
        set={"x-enum-varnames": ["not_synapse", "normal", "mild", "strong", "not_rated"]},
    ),
    Override(
        name="uint64-segment-ids",
        reason=(
            "root, supervoxel and chunk ids are uint64 in the segmentation (ids >= 2**63 "
            "exist), but NumericField/SegmentationField dump as a bare 'integer'; bound them "
            "to 0..2**64-1 and read numpy integers exactly"
        ),
        properties=frozenset(
            {
                "root_id",
                "supervoxel_id",
                "valid_id",
                "query_root_id",
                "match_root_id",
                "dependent_chunk",
            }
        ),
        when={"type": "integer"},
        when_absent=frozenset({"enum"}),
        set=runtime_type("Uint64"),
    ),
    Override(
        name="annotation-id-references",
        reason=(
            "target_id is a foreign key to the BIGINT 'id' of the referenced annotation "
            "table, so it is a non-negative int64 (not a segment id)"
        ),
        properties=frozenset({"target_id"}),
        when={"type": "integer"},
        set={**runtime_type("AnnotationId"), "description": "id of the annotation this references"},
    ),
    Override(
        name="exact-integers",
        reason=(
            "pydantic converts numpy integers to int through float in lax mode, silently "
            "changing values above 2**53; every other integer field uses a type that reads "
            "integer-like objects exactly"
        ),
        when={"type": "integer"},
        when_absent=frozenset({"enum", "customTypePath"}),
        set=runtime_type("Integer"),
    ),
    Override(
        name="finite-numbers",
        reason=(
            "marshmallow Float refuses NaN, infinities and booleans, which pydantic's float "
            "accepts in lax mode; number fields use a type that refuses them too"
        ),
        when={"type": "number"},
        when_absent=frozenset({"enum", "customTypePath"}),
        set={"customTypePath": f"{RUNTIME_MODULE}.{NUMBER_TYPE}"},
    ),
    # --- points -------------------------------------------------------------------------
    Override(
        name="position-xyz",
        reason=(
            "PostGISField dumps as an untyped array; the service builds POINTZ(x y z) from "
            "the first three items, so a position is exactly three numbers"
        ),
        definitions=POINT_DEFINITIONS,
        properties=frozenset({"position"}),
        when={"type": "array"},
        when_absent=frozenset({"items"}),
        set={
            "items": {"type": "number", "customTypePath": f"{RUNTIME_MODULE}.{NUMBER_TYPE}"},
            "minItems": 3,
            "maxItems": 3,
            "description": "x, y, z position in voxels",
        },
    ),
    Override(
        name="point-root-id-description",
        reason="SegmentationField drops its description; restore it for the point's root id",
        definitions=POINT_DEFINITIONS,
        properties=frozenset({"root_id"}),
        when_absent=frozenset({"description"}),
        set={"description": "root id of the segment at this point"},
    ),
    Override(
        name="point-supervoxel-id-description",
        reason="SegmentationField drops its description; restore it for the point's supervoxel id",
        definitions=POINT_DEFINITIONS,
        properties=frozenset({"supervoxel_id"}),
        when_absent=frozenset({"description"}),
        set={"description": "supervoxel id at this point"},
    ),
    # --- enums --------------------------------------------------------------------------
    Override(
        name="nullable-enum-as-string",
        reason=(
            "dendrite_class has type ['string', 'null'] but an enum without null, which makes "
            "the generator emit a plain Enum instead of a StrEnum; the field is optional, so "
            "the model still accepts None"
        ),
        types=frozenset({"postsynaptic_compartment"}),
        definitions=frozenset({"PostsynapticCompartment"}),
        properties=frozenset({"dendrite_class"}),
        set={"type": "string"},
    ),
    # --- definitions --------------------------------------------------------------------
    Override(
        name="annotation-type-docstring",
        reason=(
            "name the annotation type in the class docstring; it also keeps the generator "
            "from merging types whose fields are identical (bound_tag_user and "
            "braincircuits_annotation_user, reference_simple_group and "
            "reference_simple_group_indexed) into one class"
        ),
        target="definition",
        root_only=True,
        exclude_definitions=POINT_DEFINITIONS,
        when_absent=frozenset({"description"}),
        set={"description": "Annotation type '{type}'."},
    ),
)


def root_definition(schema: Mapping[str, Any]) -> str:
    """Return the definition name that the schema's top-level ``$ref`` points to."""
    ref = schema["$ref"]
    if not isinstance(ref, str) or not ref.startswith("#/definitions/"):
        raise ValueError(f"unexpected top-level $ref: {ref!r}")
    return ref.rsplit("/", 1)[1]


def _base_type(value: Any) -> Any:
    """Return a JSON Schema ``type`` with ``"null"`` removed (a single name when one is left)."""
    if isinstance(value, list):
        rest = [item for item in value if item != "null"]
        return rest[0] if len(rest) == 1 else rest
    return value


def _matches(override: Override, node: Mapping[str, Any]) -> bool:
    for key, expected in override.when.items():
        if key not in node:
            return False
        actual = _base_type(node[key]) if key == "type" else node[key]
        if actual != expected:
            return False
    if not all(key in node for key in override.when_present):
        return False
    return not any(key in node for key in override.when_absent)


def _fill(value: Any, type_name: str) -> Any:
    if isinstance(value, str):
        return value.replace("{type}", type_name)
    return copy.deepcopy(value)


def _edit(override: Override, node: dict[str, Any], type_name: str) -> dict[str, Any]:
    out = dict(node)
    for old, new in override.rename.items():
        if old in out:
            out[new] = out.pop(old)
    for key in override.remove:
        out.pop(key, None)
    if override.retype is not None:
        nullable = isinstance(out.get("type"), list) and "null" in out["type"]
        out["type"] = [override.retype, "null"] if nullable else override.retype
    for key, value in override.set.items():
        out[key] = _fill(value, type_name)
    return out


def _selected_definitions(
    override: Override, schema: Mapping[str, Any], type_name: str
) -> list[str]:
    if override.types is not None and type_name not in override.types:
        return []
    root = root_definition(schema)
    names = []
    for name in sorted(schema["definitions"]):
        if override.definitions is not None and name not in override.definitions:
            continue
        if name in override.exclude_definitions or (override.root_only and name != root):
            continue
        names.append(name)
    return names


def _apply(
    schema: Mapping[str, Any], type_name: str
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Return the corrected copy and the (override name, location) of every change."""
    out: dict[str, Any] = copy.deepcopy(dict(schema))
    fired: list[tuple[str, str]] = []
    definitions: dict[str, Any] = out["definitions"]
    for override in OVERRIDES:
        for def_name in _selected_definitions(override, out, type_name):
            definition = definitions[def_name]
            if override.target == "definition":
                if _matches(override, definition):
                    edited = _edit(override, definition, type_name)
                    if edited != definition:
                        definitions[def_name] = edited
                        fired.append((override.name, def_name))
                continue
            properties: dict[str, Any] = definition.get("properties", {})
            for prop_name in sorted(properties):
                if override.properties is not None and prop_name not in override.properties:
                    continue
                prop = properties[prop_name]
                if not _matches(override, prop):
                    continue
                edited = _edit(override, prop, type_name)
                if edited != prop:
                    properties[prop_name] = edited
                    fired.append((override.name, f"{def_name}.{prop_name}"))
    return out, fired


def apply_overrides(schema: dict[str, Any], type_name: str) -> dict[str, Any]:
    """Return a corrected copy of one annotation type's JSON Schema; the input is not changed."""
    return _apply(schema, type_name)[0]


def fired_overrides(schema: dict[str, Any], type_name: str) -> dict[str, list[str]]:
    """Map each override that changes this schema to the locations it changes."""
    result: dict[str, list[str]] = {}
    for name, location in _apply(schema, type_name)[1]:
        result.setdefault(name, []).append(location)
    return result


def load_schemas(schemas_dir: Path) -> dict[str, dict[str, Any]]:
    """Read the dumped schemas in ``index.json`` order, keyed by annotation type name."""
    names: list[str] = json.loads((schemas_dir / "index.json").read_text(encoding="utf-8"))
    return {
        name: json.loads((schemas_dir / f"{name}.json").read_text(encoding="utf-8"))
        for name in names
    }


def override_report(schemas: Mapping[str, dict[str, Any]]) -> str:
    """Return a Markdown table: each override, its reason and the types it changes."""
    changed: dict[str, list[str]] = {override.name: [] for override in OVERRIDES}
    for type_name, schema in schemas.items():
        for name in fired_overrides(schema, type_name):
            changed[name].append(type_name)
    lines = ["| override | reason | types changed |", "|---|---|---|"]
    for override in OVERRIDES:
        types = changed[override.name]
        shown = "all" if len(types) == len(schemas) else ", ".join(f"`{t}`" for t in types)
        lines.append(f"| `{override.name}` | {override.reason} | {shown or 'none'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the override report for a folder of dumped schemas."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(
            "usage: python -m dafclient.annotations.schema_overrides SCHEMAS_DIR", file=sys.stderr
        )
        return 2
    sys.stdout.write(override_report(load_schemas(Path(args[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
