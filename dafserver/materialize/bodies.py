"""Request bodies of the query routes (``blueprints/client/schemas.py``), validated as marshmallow
3.5 does: unknown keys are refused, ``Dict`` fields are checked to be objects (their contents are
checked later, against the tables), ``Integer`` accepts ``"10"`` and truncates ``10.7``. Failures are
``{"schema_errors": {field: [messages]}}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

FILTER_KINDS = (
    "filter_in_dict",
    "filter_notin_dict",
    "filter_equal_dict",
    "filter_greater_dict",
    "filter_less_dict",
    "filter_greater_equal_dict",
    "filter_less_equal_dict",
    "filter_spatial_dict",
    "filter_regex_dict",
)
_COMMON = (*FILTER_KINDS, "offset", "limit", "desired_resolution")
SIMPLE_FIELDS = (*_COMMON, "select_columns")
JOIN_FIELDS = (*_COMMON, "tables", "select_columns", "select_column_map", "suffixes", "suffix_map")
LIVE_FIELDS = (*_COMMON, "table", "timestamp", "join_tables", "select_columns", "suffixes")


class SchemaErrors(Exception):
    def __init__(self, messages: dict[str, list[str]]) -> None:
        super().__init__(messages)
        self.messages = messages


@dataclass
class QueryBody:
    """A parsed body of any of the three schemas."""

    filters: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """Filter kind → table → column → value."""
    offset: int | None = None
    limit: int | None = None
    desired_resolution: tuple[float, float, float] | None = None
    select_columns: list[str] | None = None
    select_column_map: dict[str, list[str]] | None = None
    suffixes: list[str] | None = None
    suffix_map: dict[str, str] | None = None
    tables: list[list[str]] | None = None
    join_tables: list[list[str]] | None = None
    table: str | None = None
    timestamp: datetime | None = None


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value)) if "." in value else int(value)
        except ValueError:
            pass
    raise ValueError("Not a valid integer.")


def _str_list(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("Not a valid list of strings.")
    return list(value)


def _nested_lists(value: Any, length: int | None) -> list[list[str]]:
    if not isinstance(value, list):
        raise ValueError("Not a valid list.")
    out = []
    for item in value:
        items = _str_list(item)
        if length is not None and len(items) != length:
            raise ValueError(f"Length must be {length}.")
        out.append(items)
    return out


def _str_map(value: Any, inner: str) -> Any:
    if not isinstance(value, dict):
        raise ValueError("Not a valid mapping type.")
    if inner == "list":
        return {str(k): _str_list(v) for k, v in value.items()}
    if not all(isinstance(v, str) for v in value.values()):
        raise ValueError("Not a valid string.")
    return {str(k): str(v) for k, v in value.items()}


def _resolution(value: Any) -> tuple[float, float, float]:
    if not isinstance(value, list) or len(value) != 3:
        raise ValueError("Length must be 3.")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            raise ValueError("Not a valid number.")
        number = float(v)
        if not math.isfinite(number) or number <= 0:
            raise ValueError("Not a valid number.")
        out.append(number)
    return (out[0], out[1], out[2])


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("Not a valid datetime.")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("Not a valid datetime.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(tzinfo=None)


def parse_body(data: Any, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> QueryBody:
    """Validate ``data`` against the schema with ``allowed`` keys; :class:`SchemaErrors` if not."""
    if not isinstance(data, dict):
        raise SchemaErrors({"_schema": ["Invalid input type."]})
    errors: dict[str, list[str]] = {}
    for key in data:
        if key not in allowed:
            errors[str(key)] = ["Unknown field."]
    for key in required:
        if key not in data:
            errors[key] = ["Missing data for required field."]
    body = QueryBody()
    for key, value in data.items():
        if key not in allowed:
            continue
        if value is None:
            errors[key] = ["Field may not be null."]
            continue
        try:
            _assign(body, key, value, allowed)
        except ValueError as error:
            errors[key] = [str(error)]
    if errors:
        raise SchemaErrors(errors)
    return body


def _assign(body: QueryBody, key: str, value: Any, allowed: tuple[str, ...]) -> None:
    if key in FILTER_KINDS:
        if not isinstance(value, dict):
            raise ValueError("Not a valid mapping type.")
        body.filters[key] = value
    elif key in ("offset", "limit"):
        number = _integer(value)
        if number < 0:
            raise ValueError("Must be greater than or equal to 0.")
        setattr(body, key, number)
    elif key == "desired_resolution":
        body.desired_resolution = _resolution(value)
    elif key == "select_columns":
        if allowed is LIVE_FIELDS:
            body.select_column_map = _str_map(value, "list")
        else:
            body.select_columns = _str_list(value)
    elif key == "select_column_map":
        body.select_column_map = _str_map(value, "list")
    elif key == "suffixes":
        if allowed is LIVE_FIELDS:
            body.suffix_map = _str_map(value, "str")
        else:
            body.suffixes = _str_list(value)
    elif key == "suffix_map":
        body.suffix_map = _str_map(value, "str")
    elif key == "tables":
        tables = _nested_lists(value, 2)
        if len(tables) < 2:
            raise ValueError("Shorter than minimum length 2.")
        body.tables = tables
    elif key == "join_tables":
        body.join_tables = _nested_lists(value, 4)
    elif key == "table":
        if not isinstance(value, str):
            raise ValueError("Not a valid string.")
        body.table = value
    elif key == "timestamp":
        body.timestamp = _timestamp(value)
