"""Columnar validation: a DataFrame of annotations checked against a layout with numpy.

Numeric, boolean and categorical columns are checked with whole-column operations; only
``object`` columns holding mixed Python values are checked value by value. The result is a
:class:`ColumnTable` of canonical arrays (positions ``(N, 3) float64``, integers ``int64`` or
``uint64``, null masks) or an :class:`AnnotationValidationError` naming rows, fields and reasons.

Accepted input per kind (null = missing, ``None``, ``NaN``, ``pd.NA``):

- position: a ``{point}_position`` column of 3-sequences, or ``{point}_position_x/_y/_z``
  columns; 3 finite numbers (an all-null position means the point is absent).
- integer: integer columns, integral floats up to 2**53, decimal strings; within the field's
  bounds (uint64 for segment ids, int64 otherwise).
- number: numbers and numeric strings; NaN is null, infinities are errors.
- boolean: booleans, 0/1, marshmallow's words (``"true"``, ``"no"``...).
- string: strings; an enum must hold one of its values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dafclient.annotations.layout import AnnotationLayout, FieldSpec
from dafclient.annotations.positions import Read, axis_positions, read_positions
from dafclient.annotations.scalars import float_scalar, is_null_scalar
from dafclient.errors import InputError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1
FLOAT_EXACT = 2**53
TRUTHY = frozenset({"t", "true", "on", "y", "yes", "1"})
FALSY = frozenset({"f", "false", "off", "n", "no", "0"})
BOOKKEEPING_COLUMNS = frozenset({"created", "deleted", "superceded_id", "valid"})
"""Columns of rows read back from a table; ignored when the type has no such field."""
TYPE_COLUMN = "type"
"""A row's own name for its annotation type (``{"type": "synapse", ...}``, as in the original
client's documentation). When the type has no such field, the value must be the type's name and
is not sent; any other value is an error, so a row meant for another type is not posted."""
AXES = ("_x", "_y", "_z")
NUMERIC_INFERRED = frozenset({"integer", "floating", "mixed-integer-float"})
"""What pandas infers for object values that are all numbers (booleans make it "mixed-integer")."""

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class RowError:
    """One invalid value: its row (position and index label), field and the reason."""

    row: int
    label: Any
    field: str
    reason: str
    value: Any

    def __str__(self) -> str:
        shown = repr(self.value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return f"row {self.label!r}: {self.field}: {self.reason} (got {shown})"


class AnnotationValidationError(InputError):
    """Annotations failed validation; nothing was sent.

    Attributes:
        errors: the first errors, in row order (each a :class:`RowError`).
        error_count: how many invalid values there are in all.
        bad_rows: positions (0-based) of every invalid row, e.g. for ``df.iloc[bad_rows]``.
    """

    def __init__(
        self, schema_type: str, errors: Sequence[RowError], error_count: int, bad_rows: Any
    ) -> None:
        self.errors = tuple(errors)
        self.error_count = error_count
        self.bad_rows: npt.NDArray[np.intp] = np.asarray(bad_rows, dtype=np.intp)
        super().__init__(
            f"{len(self.bad_rows)} invalid {schema_type} row(s), {error_count} invalid value(s)",
            [str(error) for error in self.errors],
        )


@dataclass(slots=True)
class Column:
    """One canonical column: values and a null mask (values under the mask are filler)."""

    values: npt.NDArray[Any]
    null: Mask


@dataclass(slots=True)
class ColumnTable:
    """Validated annotations of one type, column by column."""

    layout: AnnotationLayout
    length: int
    columns: dict[str, Column]
    """The layout columns the input gave; absent ones are null in every row."""
    ids: npt.NDArray[np.int64] | None = None
    """Annotation ids (for updates), when the input had an ``id`` column."""

    def take(self, rows: npt.NDArray[np.intp] | slice) -> ColumnTable:
        """The rows ``rows`` as a new table."""
        columns = {
            name: Column(col.values[rows], col.null[rows]) for name, col in self.columns.items()
        }
        ids = None if self.ids is None else self.ids[rows]
        length = int(np.arange(self.length)[rows].size)
        return ColumnTable(self.layout, length, columns, ids)

    @staticmethod
    def concat(tables: Sequence[ColumnTable], layout: AnnotationLayout) -> ColumnTable:
        """Tables of the same layout, one after the other (missing columns become null)."""
        length = sum(t.length for t in tables)
        names = [c for c in layout.columns if any(c in t.columns for t in tables)]
        columns: dict[str, Column] = {}
        for name in names:
            spec = layout.field(name)
            parts = [t.columns.get(name) or _null_column(spec, t.length) for t in tables]
            columns[name] = Column(
                np.concatenate([p.values for p in parts]), np.concatenate([p.null for p in parts])
            )
        ids = None
        if tables and all(t.ids is not None for t in tables):
            ids = np.concatenate([t.ids for t in tables if t.ids is not None])
        return ColumnTable(layout, length, columns, ids)


def canonical_dtype(spec: FieldSpec) -> np.dtype[Any]:
    """The numpy dtype a field's values are stored in."""
    if spec.kind == "position" or spec.kind == "number":
        return np.dtype(np.float64)
    if spec.kind == "integer":
        unsigned = spec.maximum is not None and spec.maximum > INT64_MAX
        return np.dtype(np.uint64 if unsigned else np.int64)
    if spec.kind == "boolean":
        return np.dtype(np.bool_)
    return np.dtype(object)


def _null_column(spec: FieldSpec, length: int) -> Column:
    shape = (length, 3) if spec.kind == "position" else (length,)
    values = np.zeros(shape, dtype=canonical_dtype(spec))
    if spec.kind == "position":
        values[:] = np.nan
    return Column(values, np.ones(length, dtype=bool))


# -- error collection ------------------------------------------------------------------------


@dataclass
class _Issues:
    """Invalid values found so far, as (mask, field, reason, source) per check."""

    length: int
    found: list[tuple[Mask, str, str, Callable[[int], Any]]] = field(default_factory=list)

    def add(self, mask: Mask, column: str, reason: str, source: Callable[[int], Any]) -> None:
        if mask.any():
            self.found.append((mask, column, reason, source))

    def flagged(self, column: str) -> Mask:
        """Rows already reported for ``column`` (so one bad value is reported once)."""
        out = np.zeros(self.length, dtype=bool)
        for mask, name, _, _ in self.found:
            if name == column:
                out |= mask
        return out

    def raise_if_any(self, schema_type: str, labels: pd.Index | None, max_errors: int) -> None:
        if not self.found:
            return
        bad = np.zeros(self.length, dtype=bool)
        candidates: list[tuple[int, int, str, str, Callable[[int], Any]]] = []
        total = 0
        for order, (mask, column, reason, source) in enumerate(self.found):
            bad |= mask
            rows = np.flatnonzero(mask)
            total += len(rows)
            candidates.extend((int(r), order, column, reason, source) for r in rows[:max_errors])
        candidates.sort(key=lambda c: (c[0], c[1]))
        errors = [
            RowError(
                row=row,
                label=row if labels is None else _plain_label(labels[row]),
                field=column,
                reason=reason,
                value=source(row),
            )
            for row, _, column, reason, source in candidates[:max_errors]
        ]
        raise AnnotationValidationError(schema_type, errors, total, np.flatnonzero(bad))


def _plain_label(label: Any) -> Any:
    """An index label as a plain Python value (``55``, not ``np.int64(55)``, in messages)."""
    return label.item() if isinstance(label, np.generic) else label


# -- per-kind conversion ---------------------------------------------------------------------


def _loop(
    series: pd.Series,
    convert: Callable[[Any], Any],
    dtype: np.dtype[Any],
    filler: Any,
) -> tuple[npt.NDArray[Any], Mask, Mask]:
    """Convert an object column value by value: (values, null, invalid)."""
    n = len(series)
    null = np.zeros(n, dtype=bool)
    invalid = np.zeros(n, dtype=bool)
    out: list[Any] = [filler] * n
    for i, value in enumerate(series.tolist()):
        if is_null_scalar(value):
            null[i] = True
            continue
        try:
            out[i] = convert(value)
        except (TypeError, ValueError, OverflowError):
            invalid[i] = True
    values = np.array(out, dtype=dtype)
    return values, null, invalid


def _int_scalar(value: Any) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("bool")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if not number.is_integer() or abs(number) > FLOAT_EXACT:
            raise ValueError("not an exact integer")
        return int(number)
    if isinstance(value, str):
        return int(value.strip())
    raise TypeError(type(value).__name__)


def _bool_scalar(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer, float, np.floating)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUTHY:
            return True
        if word in FALSY:
            return False
    raise ValueError("not a boolean")


def _str_scalar(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _bounds(spec: FieldSpec) -> tuple[int, int]:
    low = INT64_MIN if spec.minimum is None else spec.minimum
    high = INT64_MAX if spec.maximum is None else spec.maximum
    return low, high


def _range_mask(values: npt.NDArray[Any], low: int, high: int) -> Mask:
    """Where integer ``values`` fall outside [low, high] (any integer dtype, no wrap-around)."""
    info = np.iinfo(values.dtype)
    out = np.zeros(len(values), dtype=bool)
    if low > info.min:
        out |= values < values.dtype.type(max(low, info.min)) if low <= info.max else True
    if high < info.max:
        out |= values > values.dtype.type(high) if high >= info.min else True
    return out


def _integers(
    series: pd.Series,
    spec: FieldSpec,
    issues: _Issues,
) -> Column:
    dtype = canonical_dtype(spec)
    low, high = _bounds(spec)
    source = series.iloc.__getitem__
    kind = series.dtype.kind
    if isinstance(series.dtype, pd.api.extensions.ExtensionDtype) and kind in "iu":
        null = series.isna().to_numpy()
        raw = series.to_numpy(dtype=series.dtype.numpy_dtype, na_value=0)  # type: ignore[attr-defined]
        kind = raw.dtype.kind
    elif kind in "iu":
        null = np.zeros(len(series), dtype=bool)
        raw = series.to_numpy()
    elif kind == "f":
        floats = series.to_numpy(dtype=np.float64, na_value=np.nan)
        null = np.isnan(floats)
        with np.errstate(invalid="ignore"):
            inexact = ~null & (~np.isfinite(floats) | (floats != np.trunc(floats)))
            too_big = ~null & ~inexact & (np.abs(floats) > FLOAT_EXACT)
        issues.add(inexact, spec.column, "not an integer", source)
        issues.add(too_big, spec.column, "a float above 2**53 may have lost precision", source)
        ok = ~(null | inexact | too_big)
        floats = np.where(ok, floats, 0.0)
        outside = ok & ((floats < low) | (floats > high))
        issues.add(outside, spec.column, f"outside {low}..{high}", source)
        values = np.where(outside, 0.0, floats).astype(dtype)
        return Column(values, null)
    elif kind == "b":
        issues.add(
            np.ones(len(series), dtype=bool), spec.column, "a boolean, not an integer", source
        )
        return _null_column(spec, len(series))
    elif (exact := _exact_integers(series)) is not None:
        raw, null = exact
    else:
        objects, null, invalid = _loop(series, _int_scalar, np.dtype(object), 0)
        imprecise = np.zeros(len(series), dtype=bool)
        for i in np.flatnonzero(invalid).tolist():
            value = source(i)
            imprecise[i] = isinstance(value, (float, np.floating)) and float(value).is_integer()
        issues.add(invalid & ~imprecise, spec.column, "not an integer", source)
        issues.add(imprecise, spec.column, "a float above 2**53 may have lost precision", source)
        big = np.fromiter(
            (not low <= v <= high for v in objects.tolist()), dtype=bool, count=len(objects)
        )
        issues.add(big & ~invalid & ~null, spec.column, f"outside {low}..{high}", source)
        objects[big | invalid | null] = 0
        return Column(objects.astype(dtype), null)
    outside = _range_mask(raw, low, high) & ~null
    issues.add(outside, spec.column, f"outside {low}..{high}", source)
    if outside.any():
        raw = np.where(outside, 0, raw)
    return Column(raw.astype(dtype), null)


def _exact_integers(series: pd.Series) -> tuple[npt.NDArray[Any], Mask] | None:
    """An object column of integers and nulls (as rows given as dicts give ids) as one int64 or
    uint64 array (0 where null) and its null mask; None when it holds anything else."""
    if series.dtype != object or pd.api.types.infer_dtype(series, skipna=True) != "integer":
        return None
    null = series.isna().to_numpy()
    ints = [0 if missing else int(v) for v, missing in zip(series.tolist(), null, strict=True)]
    low, high = min(ints, default=0), max(ints, default=0)
    if low >= INT64_MIN and high <= INT64_MAX:
        return np.array(ints, dtype=np.int64), null
    if low >= 0 and high <= UINT64_MAX:
        return np.array(ints, dtype=np.uint64), null
    return None


def _numbers(
    series: pd.Series,
    spec: FieldSpec,
    issues: _Issues,
) -> Column:
    source = series.iloc.__getitem__
    kind = series.dtype.kind
    if kind in "iuf":
        values = series.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        null = np.isnan(values)
        infinite = np.isinf(values)
        issues.add(infinite, spec.column, "not finite", source)
        return Column(values, null | infinite)
    if kind == "b":
        issues.add(np.ones(len(series), dtype=bool), spec.column, "a boolean, not a number", source)
        return _null_column(spec, len(series))
    if pd.api.types.infer_dtype(series, skipna=True) in NUMERIC_INFERRED:
        # Python numbers (and nulls) only, as rows given as dicts give them: at once.
        try:
            numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
        except OverflowError:  # an integer beyond the float range: found one by one below
            pass
        else:
            infinite = np.isinf(numbers)
            issues.add(infinite, spec.column, "not a finite number", source)
            return Column(np.where(infinite, 0.0, numbers), np.isnan(numbers))
    values, null, invalid = _loop(series, float_scalar, np.dtype(np.float64), 0.0)
    issues.add(invalid, spec.column, "not a finite number", source)
    return Column(values, null)


def _booleans(
    series: pd.Series,
    spec: FieldSpec,
    issues: _Issues,
) -> Column:
    source = series.iloc.__getitem__
    kind = series.dtype.kind
    if kind == "b":
        null = series.isna().to_numpy()
        # A copy: the table must not share memory with the caller's DataFrame (``copy=True``
        # alone still returns a view of a numpy bool column).
        return Column(np.array(series.to_numpy(dtype=bool, na_value=False), copy=True), null)
    if kind in "iuf":
        numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
        null = np.isnan(numbers)
        invalid = ~null & (numbers != 0) & (numbers != 1)
        issues.add(invalid, spec.column, "not a boolean", source)
        return Column(numbers == 1, null)
    values, null, invalid = _loop(series, _bool_scalar, np.dtype(np.bool_), False)
    issues.add(invalid, spec.column, "not a boolean", source)
    return Column(values, null)


def _strings(
    series: pd.Series,
    spec: FieldSpec,
    issues: _Issues,
) -> Column:
    source = series.iloc.__getitem__
    null = series.isna().to_numpy()
    if pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
        values = series.to_numpy(dtype=object, copy=True)
        values[null] = None
        return Column(values, null)
    values, null, invalid = _loop(series, _str_scalar, np.dtype(object), None)
    issues.add(invalid, spec.column, "not a string", source)
    return Column(values, null)


def _raw(series: pd.Series, spec: FieldSpec, issues: _Issues) -> Column:
    return Column(series.to_numpy(dtype=object, copy=True), series.isna().to_numpy())


CONVERTERS: dict[str, Callable[[pd.Series, FieldSpec, _Issues], Column]] = {
    "integer": _integers,
    "number": _numbers,
    "boolean": _booleans,
    "string": _strings,
    "raw": _raw,
}


def positions_from(
    read: Read, column: str, issues: _Issues, source: Callable[[int], Any]
) -> Column:
    """A position column from its read (:mod:`~dafclient.annotations.positions`)."""
    points, null, invalid = read
    issues.add(invalid, column, "not 3 finite numbers", source)
    return Column(points, null)


# -- tables ----------------------------------------------------------------------------------


def _match_columns(
    layout: AnnotationLayout, names: Iterable[str], *, id_column: str | None, ignore: Iterable[str]
) -> tuple[dict[str, str | tuple[str, str, str]], list[str]]:
    """Map layout columns to input columns (one name, or x/y/z names); the unknown names."""
    available = list(names)
    used: set[str] = set(ignore)
    mapping: dict[str, str | tuple[str, str, str]] = {}
    for spec in layout.fields:
        if spec.column in available:
            mapping[spec.column] = spec.column
            used.add(spec.column)
        elif spec.kind == "position":
            split = tuple(spec.column + axis for axis in AXES)
            if all(name in available for name in split):
                mapping[spec.column] = split  # type: ignore[assignment]
                used.update(split)
    known = set(layout.columns)
    if id_column is not None:
        used.add(id_column)
    if TYPE_COLUMN not in known:
        used.add(TYPE_COLUMN)
    unknown = [
        name
        for name in available
        if name not in used and not (name in BOOKKEEPING_COLUMNS and name not in known)
    ]
    return mapping, unknown


def validate_frame(
    layout: AnnotationLayout,
    frame: pd.DataFrame,
    *,
    id_column: str | None = None,
    ignore_columns: Iterable[str] = (),
    max_errors: int = 20,
) -> ColumnTable:
    """Validate a DataFrame of flat annotations; raise :class:`AnnotationValidationError`.

    Columns are the flat names (``size``, ``pre_pt_position`` or ``pre_pt_position_x/_y/_z``,
    ``pre_pt_root_id``). Unknown columns are an :class:`InputError` (a misspelled column would
    otherwise be lost) unless listed in ``ignore_columns``. With ``id_column`` that column holds
    the annotation ids (required, for updates).
    """
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise InputError(
            f"duplicate column names: {sorted({n for n in names if names.count(n) > 1})}"
        )
    if names != list(frame.columns):
        frame = frame.set_axis(names, axis=1)  # pandas < 3 copies the frame: only when needed
    mapping, unknown = _match_columns(layout, names, id_column=id_column, ignore=ignore_columns)
    if unknown:
        hint = (
            "; an 'id' column is read only for updates: pass ignore_columns=['id'] to post "
            "these rows as new annotations"
            if "id" in unknown
            else ""
        )
        raise InputError(
            f"columns not in annotation type {layout.schema_type!r}: {unknown} "
            f"(its columns: {list(layout.columns)}; pass ignore_columns= to drop them{hint})"
        )
    missing = [
        spec.column
        for spec in layout.fields
        if spec.column not in mapping
        and spec.required
        and (spec.point is None or any(p.required for p in layout.points if p.name == spec.point))
    ]
    if missing:
        raise InputError(f"required columns missing for {layout.schema_type!r}: {missing}")
    n = len(frame)
    issues = _Issues(n)
    columns: dict[str, Column] = {}
    for spec in layout.fields:
        where = mapping.get(spec.column)
        if where is None:
            continue
        if isinstance(where, tuple):
            axes = [frame[c] for c in where]
            columns[spec.column] = positions_from(
                axis_positions(axes), spec.column, issues, _row_source(frame, where)
            )
        elif spec.kind == "position":
            series = frame[where]
            columns[spec.column] = positions_from(
                read_positions(series), spec.column, issues, series.iloc.__getitem__
            )
        else:
            columns[spec.column] = CONVERTERS[spec.kind](frame[where], spec, issues)
        column = columns[spec.column]
        if spec.choices is not None:
            bad = (
                ~column.null
                & ~issues.flagged(spec.column)
                & ~np.isin(
                    column.values,
                    np.asarray(spec.choices, dtype=object if spec.kind == "string" else None),
                )
            )
            shown = ", ".join(str(c) for c in spec.choices)
            issues.add(bad, spec.column, f"not one of: {shown}", frame[where].iloc.__getitem__)
    _check_required(layout, columns, n, issues, frame)
    if TYPE_COLUMN in frame.columns and TYPE_COLUMN not in layout.columns:
        _check_type_names(layout, frame[TYPE_COLUMN], issues)
    ids = None
    if id_column is not None:
        if id_column not in frame.columns:
            raise InputError(f"no {id_column!r} column: updates need each annotation's id")
        id_spec = FieldSpec(id_column, (id_column,), "integer", True, False, 0, INT64_MAX)
        id_col = _integers(frame[id_column], id_spec, issues)
        missing_id = id_col.null & ~issues.flagged(id_column)
        issues.add(missing_id, id_column, "missing (required)", frame[id_column].iloc.__getitem__)
        ids = id_col.values.astype(np.int64)
    issues.raise_if_any(layout.schema_type, frame.index, max_errors)
    return ColumnTable(layout, n, columns, ids)


def _check_type_names(layout: AnnotationLayout, series: pd.Series, issues: _Issues) -> None:
    """Rows that name their type (:data:`TYPE_COLUMN`) must name this one."""
    name = layout.schema_type
    wrong = np.fromiter(
        (not (is_null_scalar(v) or (isinstance(v, str) and v == name)) for v in series.tolist()),
        dtype=bool,
        count=len(series),
    )
    issues.add(wrong, TYPE_COLUMN, f"another type than {name!r}", series.iloc.__getitem__)


def _row_source(frame: pd.DataFrame, columns: Sequence[str]) -> Callable[[int], Any]:
    """A row's values in ``columns`` (the columns are taken only when an error is reported)."""

    def source(row: int) -> Any:
        return frame[list(columns)].iloc[row].tolist()

    return source


def _check_required(
    layout: AnnotationLayout,
    columns: Mapping[str, Column],
    n: int,
    issues: _Issues,
    frame: pd.DataFrame,
) -> None:
    present_points: dict[str, Mask] = {}
    for point in layout.points:
        given = [columns[c].null for c in point.columns if c in columns]
        present = np.zeros(n, dtype=bool) if not given else ~np.logical_and.reduce(given)
        present_points[point.name] = np.ones(n, dtype=bool) if point.required else present
    for spec in layout.fields:
        if not spec.required or spec.column not in columns:
            continue
        must = present_points[spec.point] if spec.point is not None else np.ones(n, dtype=bool)
        missing = must & columns[spec.column].null & ~issues.flagged(spec.column)
        issues.add(missing, spec.column, "missing (required)", lambda r: None)
