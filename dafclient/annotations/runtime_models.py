"""Annotation models built at run time from a corrected annotation JSON Schema.

The generated package ``dafclient._wire.annotation_models`` covers the annotation types of one
EMAnnotationSchemas release. A live schema service can list types that release lacks;
:func:`model_for` turns such a type's JSON Schema into a pydantic dataclass that validates the
way the generated model of that type would: same class and field names, required fields without
a default and optional ones defaulting to ``None``, enums as ``StrEnum``/``IntEnum``, positions of
exactly three numbers, the exact integer types of ``dafclient._wire.annotation_models._runtime`` (chosen by
``customTypePath``), ``extra='forbid'`` where the schema says ``additionalProperties: false`` (the
point classes) and ``extra='allow'`` where it says ``true`` (the annotation classes), keyword-only
construction.

Classes of nested definitions (``BoundSpatialPoint`` and the like) are cached by name and content,
so every type built in one process shares them, as the generated types share ``shared.py``.
"""

from __future__ import annotations

import enum
import json
import keyword
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any

from pydantic import ConfigDict, Field
from pydantic.config import ExtraValues
from pydantic.dataclasses import dataclass as pydantic_dataclass

from dafclient._wire.annotation_models import _runtime
from dafclient.annotations.schema_overrides import (
    INTEGER_TYPES,
    NUMBER_TYPE,
    RUNTIME_MODULE,
    apply_overrides,
    root_definition,
)

_REF_PREFIX = "#/definitions/"
_PROPERTY_KEYS = frozenset(
    {
        "$ref",
        "type",
        "description",
        "enum",
        "x-enum-varnames",
        "customTypePath",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "items",
        "minItems",
        "maxItems",
    }
)
_DEFINITION_KEYS = frozenset(
    {"type", "properties", "required", "additionalProperties", "description"}
)
_NUMBER_FORMATS = frozenset({"float", "double"})
_SCALARS: dict[str, type] = {"string": str, "boolean": bool, "number": float, "integer": int}
_FIELD_BOUNDS = {
    "minimum": "ge",
    "maximum": "le",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
    "minItems": "min_length",
    "maxItems": "max_length",
}


class UnsupportedSchemaError(ValueError):
    """The schema uses a JSON Schema feature the annotation models do not translate."""


def model_for(schema_type: str, raw_schema: Mapping[str, Any]) -> type[Any]:
    """Return the model of ``schema_type`` from the JSON Schema the schema service serves.

    Applies :func:`~dafclient.annotations.schema_overrides.apply_overrides` first, as the
    generated models do.
    """
    return build_model(schema_type, apply_overrides(dict(raw_schema), schema_type))


def build_model(schema_type: str, schema: Mapping[str, Any]) -> type[Any]:
    """Return a pydantic dataclass validating like the generated model of ``schema_type``.

    ``schema`` is a *corrected* schema (the output of ``apply_overrides``): ``definitions`` plus
    a top-level ``$ref``. The class is named after the referenced definition and its docstring
    names the annotation type. Unsupported keywords raise :class:`UnsupportedSchemaError`.
    """
    definitions = schema.get("definitions")
    if not isinstance(definitions, Mapping):
        raise UnsupportedSchemaError(f"{schema_type}: the schema has no 'definitions' object")
    root = root_definition(schema)
    if root not in definitions:
        raise UnsupportedSchemaError(f"{schema_type}: $ref names a missing definition {root!r}")
    return _definition_class(
        root, _closure_key(root, definitions), _root_doc(schema_type, definitions[root])
    )


def _root_doc(schema_type: str, definition: Mapping[str, Any]) -> str:
    description = str(definition.get("description") or "").strip()
    if f"'{schema_type}'" in description:
        return description
    named = f"Annotation type '{schema_type}'."
    return f"{description}\n\n{named}" if description else named


def _ref_name(ref: Any) -> str:
    if not isinstance(ref, str) or not ref.startswith(_REF_PREFIX):
        raise UnsupportedSchemaError(f"unsupported $ref {ref!r} (only {_REF_PREFIX}<name>)")
    return ref[len(_REF_PREFIX) :]


def _refs(node: Any) -> list[str]:
    """Definition names referenced anywhere inside ``node``."""
    if isinstance(node, Mapping):
        found = [_ref_name(node["$ref"])] if "$ref" in node else []
        for value in node.values():
            found += _refs(value)
        return found
    if isinstance(node, list):
        return [name for item in node for name in _refs(item)]
    return []


def _closure_key(name: str, definitions: Mapping[str, Any]) -> str:
    """Canonical JSON of ``name`` and every definition it reaches: the cache key of its class."""
    reached: dict[str, Any] = {}
    pending = [name]
    while pending:
        current = pending.pop()
        if current in reached:
            continue
        if current not in definitions:
            raise UnsupportedSchemaError(f"$ref names a missing definition {current!r}")
        reached[current] = definitions[current]
        pending += _refs(definitions[current])
    return json.dumps(reached, sort_keys=True)


@cache
def _definition_class(name: str, closure: str, doc: str) -> type[Any]:
    """Build (once per name, content and docstring) the dataclass of one definition."""
    definitions: dict[str, Any] = json.loads(closure)
    definition = definitions[name]
    unknown = set(definition) - _DEFINITION_KEYS
    if unknown or definition.get("type", "object") != "object":
        raise UnsupportedSchemaError(f"{name}: unsupported definition keywords {sorted(unknown)}")
    properties: dict[str, Any] = definition.get("properties", {})
    required = set(definition.get("required", []))
    if not required <= set(properties):
        raise UnsupportedSchemaError(f"{name}: required names unknown properties")
    annotations: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    ordered = [p for p in properties if p in required] + [
        p for p in properties if p not in required
    ]
    for prop_name in ordered:
        if not prop_name.isidentifier() or keyword.iskeyword(prop_name):
            raise UnsupportedSchemaError(f"{name}: property {prop_name!r} is not a Python name")
        where = f"{name}.{prop_name}"
        annotation, nullable = _property_type(where, prop_name, properties[prop_name], definitions)
        if nullable or prop_name not in required:
            annotation = annotation | None
        field_args = _field_args(properties[prop_name])
        annotations[prop_name] = (
            Annotated[annotation, Field(**field_args)] if field_args else annotation
        )
        if prop_name not in required:
            defaults[prop_name] = None
    extra = _extra(name, definition.get("additionalProperties"))
    namespace: dict[str, Any] = {
        "__annotations__": annotations,
        "__doc__": doc,
        "__module__": __name__,
        "__qualname__": name,
        **defaults,
    }
    config = ConfigDict(extra=extra) if extra is not None else ConfigDict()
    cls = type(name, (), namespace)
    return pydantic_dataclass(kw_only=True, config=config)(cls)


def _extra(name: str, additional: Any) -> ExtraValues | None:
    if additional is None:
        return None
    if additional is True:
        return "allow"
    if additional is False:
        return "forbid"
    raise UnsupportedSchemaError(f"{name}: additionalProperties must be true or false")


def _field_args(prop: Mapping[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if "description" in prop:
        args["description"] = prop["description"]
    for key, arg in _FIELD_BOUNDS.items():
        if key in prop:
            args[arg] = prop[key]
    return args


def _base_types(where: str, prop: Mapping[str, Any]) -> tuple[str | None, bool]:
    """The property's JSON type without ``"null"``, and whether ``"null"`` was there."""
    kind = prop.get("type")
    if isinstance(kind, list):
        rest = [item for item in kind if item != "null"]
        if len(rest) > 1:
            raise UnsupportedSchemaError(f"{where}: union types {kind} are not supported")
        return (rest[0] if rest else None), len(rest) != len(kind)
    if kind is not None and not isinstance(kind, str):
        raise UnsupportedSchemaError(f"{where}: unsupported type {kind!r}")
    return kind, False


def _property_type(
    where: str, prop_name: str, prop: Mapping[str, Any], definitions: Mapping[str, Any]
) -> tuple[Any, bool]:
    """The Python type of one property (without the optional ``None``) and its nullability."""
    unknown = set(prop) - _PROPERTY_KEYS
    if unknown:
        raise UnsupportedSchemaError(f"{where}: unsupported keywords {sorted(unknown)}")
    kind, nullable = _base_types(where, prop)
    if "$ref" in prop:
        ref = _ref_name(prop["$ref"])
        ref_def = definitions[ref]
        doc = str(ref_def.get("description") or ref).strip()
        return _definition_class(ref, _closure_key(ref, definitions), doc), nullable
    if "enum" in prop:
        return _enum_class(where, prop_name, kind, prop), nullable
    if "customTypePath" in prop:
        return _runtime_type(where, prop["customTypePath"], kind), nullable
    if kind == "array":
        items = prop.get("items")
        if not isinstance(items, Mapping):
            raise UnsupportedSchemaError(f"{where}: an array needs an 'items' schema")
        item_type, item_nullable = _property_type(f"{where}[]", prop_name, items, definitions)
        element = item_type | None if item_nullable else item_type
        item_bounds = {k: v for k, v in _field_args(items).items() if k != "description"}
        if item_bounds:
            element = Annotated[element, Field(**item_bounds)]
        return list.__class_getitem__(element), nullable
    if kind not in _SCALARS:
        raise UnsupportedSchemaError(f"{where}: unsupported type {kind!r}")
    fmt = prop.get("format")
    if fmt is not None and not (kind == "number" and fmt in _NUMBER_FORMATS):
        raise UnsupportedSchemaError(f"{where}: unsupported format {fmt!r} for {kind}")
    return _SCALARS[kind], nullable


def _runtime_type(where: str, path: Any, kind: str | None) -> Any:
    module, _, name = str(path).rpartition(".")
    if module == RUNTIME_MODULE and name == NUMBER_TYPE and kind == "number":
        return getattr(_runtime, name)
    if module != RUNTIME_MODULE or name not in INTEGER_TYPES or kind != "integer":
        raise UnsupportedSchemaError(f"{where}: unknown customTypePath {path!r}")
    return getattr(_runtime, name)


def _enum_class(where: str, prop_name: str, kind: str | None, prop: Mapping[str, Any]) -> Any:
    values = [value for value in prop["enum"] if value is not None]
    class_name = "".join(part[:1].upper() + part[1:] for part in prop_name.split("_") if part)
    if kind == "string" and all(isinstance(v, str) for v in values):
        names = [
            v if v.isidentifier() and not v.startswith("_") else f"value_{i}"
            for i, v in enumerate(values)
        ]
        return _make_enum(enum.StrEnum, class_name, names, values, prop.get("description"))
    if kind == "integer" and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        varnames = prop.get("x-enum-varnames")
        if not (isinstance(varnames, list) and len(varnames) == len(values)):
            varnames = [f"number_{v}" if v >= 0 else f"number_minus_{-v}" for v in values]
        return _make_enum(
            enum.IntEnum, class_name, [str(n) for n in varnames], values, prop.get("description")
        )
    raise UnsupportedSchemaError(f"{where}: enums of type {kind!r} are not supported")


def _make_enum(
    base: type[enum.Enum], class_name: str, names: list[str], values: list[Any], doc: Any
) -> Any:
    factory: Any = base
    cls = factory(class_name, list(zip(names, values, strict=True)), module=__name__)
    if doc:
        cls.__doc__ = str(doc)
    # As the generated enums do (dafclient/_codegen/templates/Enum.jinja2): booleans are refused.
    cls.__get_pydantic_core_schema__ = classmethod(_refusing_booleans)
    return cls


def _refusing_booleans(cls: Any, source: Any, handler: Any) -> Any:
    return _runtime.refusing_booleans(source, handler)
