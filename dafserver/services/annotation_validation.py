"""Validating request bodies and posted annotations the way the AnnotationEngine's marshmallow does.

The AnnotationEngine loads every posted annotation with the EMAnnotationSchemas class of the table's
schema type (marshmallow 3.5.1, ``unknown=EXCLUDE``) and flattens the result into table columns.
dafserver works from the JSONSchema documents of those classes instead: each document is compiled
once into a :class:`AnnotationPlan` (a tuple of field checkers) and cached by schema type.

marshmallow 3.5.1 behaviour reproduced:

- Top level: unknown keys are dropped. Nested point objects keep ``RAISE``: an unknown key there is
  ``"Unknown field."``; a point that is not an object is ``{"_schema": ["Invalid input type."]}``.
- A missing required field is ``"Missing data for required field."``; ``null`` is accepted for
  fields that are not required (EMAnnotationSchemas sets ``allow_none`` on them) and is
  ``"Field may not be null."`` for required ones.
- Int accepts integers, integral floats (``3.0``) and strings that ``int()`` parses (``"3"``), not
  booleans (``"Not a valid integer."``). Float accepts numbers and strings that ``float()`` parses
  (``"Not a valid number."``), not NaN or infinities. Str needs a string (``"Not a valid string."``).
  Boolean accepts marshmallow's truthy and falsy sets (``"yes"``, ``"0"``, ``1``, …;
  ``"Not a valid boolean."``). An ``enum`` is ``"Must be one of: a, b."``.
- The messages of one annotation form a dict such as ``{'pre_pt': {'foo': ['Unknown field.']}}``,
  rendered with ``str()`` in the error message.
- ``supervoxel_id`` and ``root_id`` of points (segmentation columns) are validated and dropped; the
  schema's own ``valid`` field is validated and dropped (the row's ``valid`` is forced to true).

Deliberately stricter than production:

- A ``position`` must be a list of exactly 3 finite numbers (not booleans, not strings). Production
  does not check it: 2 elements crash with a 500, strings are passed on to PostGIS.
- Int rejects non-integral floats (``3.5``), which marshmallow 3.5.1 silently truncates to ``3``,
  and integers outside the signed 64-bit range, which the database would reject.
- ``target_id`` follows the Int rules; production converts it with a bare ``int()`` (so ``3.7`` is
  ``3`` and ``"x"`` a 500).
- When several fields fail, the keys of the messages dict follow the JSONSchema's (alphabetical)
  property order rather than the Python class's declaration order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

MISSING_REQUIRED = "Missing data for required field."
MAY_NOT_BE_NULL = "Field may not be null."
UNKNOWN_FIELD = "Unknown field."
INVALID_INPUT_TYPE = "Invalid input type."
NOT_AN_INTEGER = "Not a valid integer."
NOT_A_NUMBER = "Not a valid number."
NUMBER_TOO_LARGE = "Number too large."
SPECIAL_NUMBER = "Special numeric values (nan or infinity) are not permitted."
NOT_A_STRING = "Not a valid string."
NOT_A_BOOLEAN = "Not a valid boolean."
NOT_A_MAPPING = "Not a valid mapping type."
NOT_A_LIST = "Not a valid list."
BAD_POSITION = "Must be a list of 3 finite numbers."

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# As sets, 1 also matches True and 1.0, and 0 matches False and 0.0, as in marshmallow's sets.
TRUTHY: frozenset[Any] = frozenset(
    {"t", "T", "true", "True", "TRUE", "on", "On", "ON", "y", "Y", "yes", "Yes", "YES", "1", 1}
)
FALSY: frozenset[Any] = frozenset(
    {"f", "F", "false", "False", "FALSE", "off", "Off", "OFF", "n", "N", "no", "No", "NO", "0", 0}
)

SEGMENTATION_FIELDS = frozenset({"supervoxel_id", "root_id"})
"""Point fields that live in the segmentation table, never in the annotation table."""


class Invalid(Exception):
    """One field's value is invalid; ``messages`` is what marshmallow stores for the field."""

    def __init__(self, messages: Any) -> None:
        super().__init__(messages)
        self.messages = messages


class ValidationFailed(Exception):
    """A document failed validation; ``messages`` is the marshmallow messages dict."""

    def __init__(self, messages: dict[Any, Any]) -> None:
        super().__init__(str(messages))
        self.messages = messages


Converter = Callable[[Any], Any]

# -- scalar converters: return the loaded value or raise Invalid([message]) -----------------------


def as_int(value: Any) -> int:
    """marshmallow ``fields.Int`` (non-strict), without float truncation, within 64 bits."""
    if value is True or value is False:
        raise Invalid([NOT_AN_INTEGER])
    if isinstance(value, int):
        result = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise Invalid([NOT_AN_INTEGER])
        result = int(value)
    elif isinstance(value, str):
        try:
            result = int(value)
        except ValueError:
            raise Invalid([NOT_AN_INTEGER]) from None
    else:
        raise Invalid([NOT_AN_INTEGER])
    if not INT64_MIN <= result <= INT64_MAX:
        raise Invalid([NUMBER_TOO_LARGE])
    return result


def as_float(value: Any) -> float:
    """marshmallow ``fields.Float``: numbers and numeric strings, no NaN or infinity."""
    kind = type(value)
    if kind is float and math.isfinite(value):
        return value  # type: ignore[no-any-return]
    if kind is int and INT64_MIN <= value <= INT64_MAX:
        return float(value)
    if value is True or value is False or not isinstance(value, int | float | str):
        raise Invalid([NOT_A_NUMBER])
    try:
        result = float(value)
    except ValueError:
        raise Invalid([NOT_A_NUMBER]) from None
    except OverflowError:
        raise Invalid([NUMBER_TOO_LARGE]) from None
    if math.isnan(result) or math.isinf(result):
        raise Invalid([SPECIAL_NUMBER])
    return result


def as_str(value: Any) -> str:
    """marshmallow ``fields.Str``."""
    if not isinstance(value, str):
        raise Invalid([NOT_A_STRING])
    return value


def as_bool(value: Any) -> bool:
    """marshmallow ``fields.Bool`` with the default truthy and falsy sets."""
    try:
        if value in TRUTHY:
            return True
        if value in FALSY:
            return False
    except TypeError:  # unhashable (list, dict)
        pass
    raise Invalid([NOT_A_BOOLEAN])


def as_position(value: Any) -> list[int]:
    """A point position: exactly 3 finite numbers, stored as integers (truncated toward zero).

    Production reads positions back as ``uint64`` arrays, so only the integer part survives.
    """
    if type(value) is not list or len(value) != 3:
        raise Invalid([BAD_POSITION])
    x, y, z = value
    if type(x) is int and type(y) is int and type(z) is int:  # the common case
        return value
    out = []
    for coordinate in value:
        kind = type(coordinate)  # exact types: bool is not int here
        if kind is int:
            out.append(coordinate)
        elif kind is float and math.isfinite(coordinate):
            out.append(int(coordinate))
        else:
            raise Invalid([BAD_POSITION])
    return out


def as_raw(value: Any) -> Any:
    """``fields.Raw``: anything goes."""
    return value


def as_mapping(value: Any) -> dict[str, Any]:
    """``fields.Dict`` without key or value fields."""
    if not isinstance(value, dict):
        raise Invalid([NOT_A_MAPPING])
    return value


def list_of(inner: Converter) -> Converter:
    """``fields.List(inner)``: per-index messages, keyed by the integer index."""

    def convert(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise Invalid([NOT_A_LIST])
        result: list[Any] = []
        errors: dict[int, Any] = {}
        for index, item in enumerate(value):
            if item is None:
                errors[index] = [MAY_NOT_BE_NULL]
                continue
            try:
                result.append(inner(item))
            except Invalid as error:
                errors[index] = error.messages
        if errors:
            raise Invalid(errors)
        return result

    return convert


def one_of(convert: Converter, choices: Sequence[Any]) -> Converter:
    """A converter followed by marshmallow's ``OneOf`` validator."""
    allowed = tuple(choices)
    message = "Must be one of: " + ", ".join(str(choice) for choice in allowed) + "."

    def checked(value: Any) -> Any:
        result = convert(value)
        if result not in allowed:
            raise Invalid([message])
        return result

    return checked


# -- object schemas -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    """One field of an object schema: a scalar converter or a nested object plan."""

    name: str
    required: bool = False
    nullable: bool = False
    convert: Converter | None = None
    nested: ObjectPlan | None = None
    keep: bool = True
    """Whether the loaded value is part of the output (validated-only fields are not)."""
    key: str = ""
    """The flat column name (``pre_pt_position``) when loading flat; defaults to ``name``."""

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.name)


@dataclass(frozen=True, slots=True)
class ObjectPlan:
    """An object schema: its fields and what happens to unknown keys (``RAISE`` or ``EXCLUDE``)."""

    fields: tuple[Field, ...]
    raise_unknown: bool = True
    names: frozenset[str] = dataclass_field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", frozenset(f.name for f in self.fields))

    def load(self, data: Any) -> dict[str, Any]:
        """Load ``data`` into a nested dict; raise :class:`ValidationFailed` with all messages."""
        out: dict[str, Any] = {}
        errors = _load_nested(self, data, out)
        if errors:
            raise ValidationFailed(errors)
        return out


def _missing_or_null(field: Field, value: Any) -> list[str] | None:
    """The message for a missing or null value, or None when it is acceptable (and skipped)."""
    if value is _MISSING:
        return [MISSING_REQUIRED] if field.required else None
    return None if field.nullable else [MAY_NOT_BE_NULL]


def _load_nested(plan: ObjectPlan, data: Any, out: dict[str, Any]) -> dict[str, Any] | None:
    """Load ``data`` into ``out`` as nested dicts; the messages dict, or None when valid."""
    if type(data) is not dict:
        return {"_schema": [INVALID_INPUT_TYPE]}
    errors: dict[str, Any] | None = None
    for field in plan.fields:
        value = data.get(field.name, _MISSING)
        if value is _MISSING or value is None:
            message = _missing_or_null(field, value)
            if message is not None:
                errors = errors or {}
                errors[field.name] = message
            elif value is None and field.keep:
                out[field.name] = None
            continue
        if field.nested is not None:
            sub: dict[str, Any] = {}
            sub_errors = _load_nested(field.nested, value, sub)
            if sub_errors:
                errors = errors or {}
                errors[field.name] = sub_errors
            elif field.keep:
                out[field.name] = sub
            continue
        assert field.convert is not None
        try:
            converted = field.convert(value)
        except Invalid as error:
            errors = errors or {}
            errors[field.name] = error.messages
            continue
        if field.keep:
            out[field.name] = converted
    if plan.raise_unknown:
        errors = _unknown_keys(plan, data, errors)
    return errors


def _load_flat(plan: ObjectPlan, data: Any, flat: dict[str, Any]) -> dict[str, Any] | None:
    """Load ``data`` into ``flat`` under the fields' flat keys; the messages dict, or None.

    The hot loop of annotation posts (one call per annotation and per point), hence the inlining.
    """
    if type(data) is not dict:
        return {"_schema": [INVALID_INPUT_TYPE]}
    errors: dict[str, Any] | None = None
    get = data.get
    for field in plan.fields:
        value = get(field.name, _MISSING)
        if value is _MISSING:
            if field.required:
                errors = errors or {}
                errors[field.name] = [MISSING_REQUIRED]
            continue
        if value is None:  # a null column reads back as null, like an absent one
            if not field.nullable:
                errors = errors or {}
                errors[field.name] = [MAY_NOT_BE_NULL]
            continue
        nested = field.nested
        if nested is not None:
            sub_errors = _load_flat(nested, value, flat)
            if sub_errors:
                errors = errors or {}
                errors[field.name] = sub_errors
            continue
        try:
            converted = field.convert(value)  # type: ignore[misc]
        except Invalid as error:
            errors = errors or {}
            errors[field.name] = error.messages
            continue
        if field.keep:
            flat[field.key] = converted
    if plan.raise_unknown and not data.keys() <= plan.names:
        errors = _unknown_keys(plan, data, errors)
    return errors


def _unknown_keys(
    plan: ObjectPlan, data: dict[str, Any], errors: dict[str, Any] | None
) -> dict[str, Any] | None:
    names = plan.names
    for key in data:
        if key not in names:
            errors = errors or {}
            errors[key] = [UNKNOWN_FIELD]
    return errors


_MISSING: Any = object()


# -- annotation schemas ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnnotationPlan:
    """A compiled EMAnnotationSchemas type: how to load one posted annotation into flat columns."""

    schema_type: str
    plan: ObjectPlan
    columns: tuple[str, ...]
    """The flat annotation columns, e.g. ``pre_pt_position``, ``size`` (no segmentation columns)."""
    is_reference: bool
    """Whether the type references another table (it has ``target_id``)."""

    def load(self, item: Any) -> dict[str, Any]:
        """The flat annotation columns of ``item``; :class:`ValidationFailed` if it is invalid.

        Columns that the item does not give are absent (they read back as ``null``).
        """
        flat: dict[str, Any] = {}
        errors = _load_flat(self.plan, item, flat)
        if errors:
            raise ValidationFailed(errors)
        return flat


class SchemaDocumentError(ValueError):
    """The JSONSchema document is not an EMAnnotationSchemas dump this module understands."""


def compile_annotation_schema(schema_type: str, document: Mapping[str, Any]) -> AnnotationPlan:
    """Compile an EMAnnotationSchemas JSONSchema (draft-07, ``definitions`` + top-level ``$ref``)."""
    definitions = document.get("definitions")
    ref = document.get("$ref")
    if not isinstance(definitions, dict) or not isinstance(ref, str):
        raise SchemaDocumentError(f"{schema_type}: no definitions or $ref")
    top_name = _ref_name(ref)
    top = definitions.get(top_name)
    if not isinstance(top, dict):
        raise SchemaDocumentError(f"{schema_type}: unknown definition {top_name}")
    columns: list[str] = []
    plan = _compile_definition(definitions, top, "", columns, top_level=True, seen=(top_name,))
    properties = top.get("properties") or {}
    return AnnotationPlan(
        schema_type=schema_type,
        plan=plan,
        columns=tuple(columns),
        is_reference="target_id" in properties,
    )


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _compile_definition(
    definitions: dict[str, Any],
    definition: dict[str, Any],
    prefix: str,
    columns: list[str],
    *,
    top_level: bool,
    seen: tuple[str, ...],
) -> ObjectPlan:
    properties: dict[str, Any] = definition.get("properties") or {}
    required = set(definition.get("required") or ())
    is_point = _is_array(properties.get("position"))
    fields: list[Field] = []
    for name, spec in properties.items():
        is_required = name in required
        ref = spec.get("$ref") if isinstance(spec, dict) else None
        if isinstance(ref, str):
            target_name = _ref_name(ref)
            target = definitions.get(target_name)
            if not isinstance(target, dict) or target_name in seen:
                raise SchemaDocumentError(f"bad or recursive reference {ref}")
            nested = _compile_definition(
                definitions,
                target,
                prefix + name + "_",
                columns,
                top_level=False,
                seen=(*seen, target_name),
            )
            fields.append(
                Field(name, is_required, not is_required, nested=nested, key=prefix + name)
            )
            continue
        keep = not (is_point and name in SEGMENTATION_FIELDS) and not (
            top_level and name == "valid"
        )
        if keep:
            columns.append(prefix + name)
        fields.append(
            Field(
                name,
                is_required,
                not is_required,
                convert=_converter(spec),
                keep=keep,
                key=prefix + name,
            )
        )
    # Annotation classes INCLUDE unknown keys (they are lost when flattening), points RAISE; the
    # top level is loaded with EXCLUDE.
    raise_unknown = not top_level and definition.get("additionalProperties") is False
    return ObjectPlan(tuple(fields), raise_unknown)


def _types(spec: Mapping[str, Any]) -> set[str]:
    declared = spec.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)} - {"null"}
    return set()


def _is_array(spec: Any) -> bool:
    return isinstance(spec, dict) and "array" in _types(spec)


def _converter(spec: Any) -> Converter:
    if not isinstance(spec, dict):
        return as_raw
    types = _types(spec)
    convert: Converter
    if "array" in types:
        convert = as_position
    elif "integer" in types or ("number" in types and spec.get("format") == "integer"):
        convert = as_int
    elif "number" in types:
        convert = as_float
    elif "string" in types:
        convert = as_str
    elif "boolean" in types:
        convert = as_bool
    else:
        convert = as_raw
    choices = spec.get("enum")
    if isinstance(choices, list) and choices:
        convert = one_of(convert, choices)
    return convert


class PlanCache:
    """Compiled plans by schema type, recompiled if the catalog hands out a different document."""

    def __init__(self) -> None:
        self._plans: dict[str, tuple[Mapping[str, Any], AnnotationPlan]] = {}

    def get(self, schema_type: str, document: Mapping[str, Any]) -> AnnotationPlan:
        cached = self._plans.get(schema_type)
        if cached is not None and cached[0] is document:
            return cached[1]
        plan = compile_annotation_schema(schema_type, document)
        self._plans[schema_type] = (document, plan)
        return plan


PLANS = PlanCache()
"""The process-wide plan cache."""
