"""Differential test: dafclient's annotation validation against the real EMAnnotationSchemas.

The AnnotationEngine loads every posted annotation with the EMAnnotationSchemas class of the
table's type (marshmallow 3.5.1, ``context={"postgis": True}``, ``unknown=EXCLUDE``). dafclient
checks annotations before sending them in two ways: the generated pydantic models
(``dafclient._wire.annotation_models.MODELS``) and the columnar validator
(``dafclient.annotations.columnar.validate_frame``), which every write method runs before it
sends. Hypothesis generates documents, valid and invalid, for a set of types; each document gets
four verdicts and the dafclient verdicts must equal marshmallow's, except where a named predicate
below says dafclient deliberately differs. Every predicate is an entry of
``docs/annotation-validation.md``.

The fourth verdict is ``client.annotation.post_annotation`` itself: whether it sent the document.
The AnnotationEngine cannot run here (emannotationschemas pins SQLAlchemy 1.4, dafserver needs
2), so a transport plays it for one table: it answers the datastack record and the table's
metadata, and loads each posted annotation with the real marshmallow schema, as the service does.
What ``post_annotation`` sends must load, and load to what the document itself loads to.

Runs only in ``nox -s differential``: ``emannotationschemas`` pins old marshmallow and
SQLAlchemy 1.4, so it cannot be installed next to the main test environment.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticValidationError

with warnings.catch_warnings():
    # marshmallow-jsonschema (imported by the package) imports pkg_resources, which warns.
    warnings.simplefilter("ignore")
    import emannotationschemas
    from marshmallow import EXCLUDE
    from marshmallow import ValidationError as MarshmallowValidationError

from dafclient import FrameworkClient
from dafclient._wire.annotation_models import MODELS
from dafclient.annotations.columnar import validate_frame
from dafclient.annotations.frames import records_frame
from dafclient.annotations.layout import AnnotationLayout, FieldSpec, snapshot_layout
from dafclient.errors import InputError

SCHEMA_TYPES = (
    "synapse",
    "plastic_synapse",
    "fly_nt_synapse",
    "cell_type_local",
    "cell_type_reference",
    "bound_tag",
    "bound_double_tag",
    "bound_tag_bool",
    "nucleus_detection",
    "reference_tag",
    "reference_integer",
    "microns_func_coreg",
    "proofread_status",
)
EXAMPLES_PER_TYPE = 300

NAN = math.nan
INF = math.inf
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1
EXTRA_KEY = "not_a_field"
TYPE_KEY = "type"
"""A row's own name for its type, as the original client's documentation writes rows."""
ABSENT = object()
"""Marks a key left out of the document."""


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


# -- document generation -------------------------------------------------------------------------

SCALAR_EDGES: tuple[Any, ...] = (
    None,
    0,
    1,
    -1,
    3.0,
    3.5,
    -0.0,
    NAN,
    INF,
    -INF,
    "3",
    " 7 ",
    "3.5",
    "3.0",
    "1_000",
    "1e3",
    "nan",
    "inf",
    "x",
    "",
    "yes",
    "0",
    [1, 2, 3],
    {"a": 1},
    INT64_MAX,
    INT64_MAX + 1,
    UINT64_MAX,
    UINT64_MAX + 1,
    INT64_MIN,
    INT64_MIN - 1,
    float(2**53),
    float(2**53 + 2),
    1e20,
    10**400,
)


BOOLEANS = (True, False)
POSITION_EDGES: tuple[Any, ...] = (
    None,
    NAN,
    [1, 2],
    [1, 2, 3, 4],
    [],
    ["a", 1, 2],
    ["1", 2, 3],
    [None, 1, 2],
    [1.5, 2.5, -3.5],
    [True, 1, 2],
    [1.5, False, 2],
    [NAN, 1, 2],
    [1, INF, 2],
    [2**64, 1, 2],
    [10**400, 1, 2],
    "abc",
    "1,2,3",
    {"x": 1},
    7,
)
POINT_EDGES: tuple[Any, ...] = (None, NAN, "abc", [1, 2, 3], 5)


def valid_value(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Values marshmallow and dafclient both accept for ``spec``."""
    if spec.choices is not None:
        return st.sampled_from(spec.choices)
    if spec.kind == "position":
        coordinate = st.integers(-(10**6), 10**6) | st.floats(
            -1e9, 1e9, allow_nan=False, allow_infinity=False
        )
        return st.lists(coordinate, min_size=3, max_size=3)
    if spec.kind == "integer":
        low = INT64_MIN if spec.minimum is None else spec.minimum
        high = INT64_MAX if spec.maximum is None else spec.maximum
        return st.integers(low, high) | st.sampled_from(sorted({low, high, max(low, 0)}))
    if spec.kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53)
    if spec.kind == "boolean":
        return st.booleans()
    return st.text(max_size=8)


def edge_value(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Boundary and wrong-type values for ``spec`` (some of them valid)."""
    if spec.kind == "position":
        return st.sampled_from(POSITION_EDGES)
    extra: list[Any] = []
    extra += BOOLEANS
    for choice in spec.choices or ():
        if isinstance(choice, int):
            extra += [str(choice), float(choice), choice + 0.5]
        else:
            extra += [choice.upper(), f" {choice}", choice + "x"]
    if spec.choices and isinstance(spec.choices[0], int):
        extra += [max(spec.choices) + 1, -1]
    return st.sampled_from(SCALAR_EDGES + tuple(extra))


def _slots(layout: AnnotationLayout) -> list[tuple[str, ...]]:
    """Places a perturbation can hit: each field, each point as a whole, the top level."""
    slots: list[tuple[str, ...]] = [spec.path for spec in layout.fields]
    slots += [(point.name, "<point>") for point in layout.points]
    slots += [(point.name, "<extra>") for point in layout.points]
    slots.append(("<extra>",))
    slots.append(("<type>",))
    return slots


@st.composite
def documents(draw: st.DrawFn, layout: AnnotationLayout) -> dict[str, Any]:
    """A document of ``layout``'s type: valid, then up to three places perturbed."""
    present = {p.name for p in layout.points if p.required or draw(st.booleans())}
    doc: dict[str, Any] = {}
    for spec in layout.fields:
        if not spec.required and draw(st.booleans()):
            continue  # an optional field left out
        if spec.point is None:
            doc[spec.column] = draw(valid_value(spec))
        elif spec.point in present:
            doc.setdefault(spec.point, {})[spec.path[-1]] = draw(valid_value(spec))

    slots = _slots(layout)
    count = draw(st.sampled_from((0, 0, 1, 1, 1, 2, 3)))
    chosen = draw(st.lists(st.sampled_from(slots), min_size=count, max_size=count, unique=True))
    for slot in chosen:
        if slot == ("<extra>",):
            doc[EXTRA_KEY] = draw(st.sampled_from((1, "x", None)))
        elif slot == ("<type>",):
            doc[TYPE_KEY] = draw(st.sampled_from((layout.schema_type, "synapse", "x", None, 1)))
        elif slot[-1] == "<point>":
            doc[slot[0]] = draw(
                st.sampled_from((*POINT_EDGES, ABSENT, {}, {"position": None}, {"root_id": None}))
            )
        elif slot[-1] == "<extra>":
            point_value = doc.get(slot[0])
            if isinstance(point_value, dict):
                point_value[draw(st.sampled_from(("foo", "id", "x")))] = 1
        else:
            spec = next(s for s in layout.fields if s.path == slot)
            value = draw(st.one_of(edge_value(spec), st.just(ABSENT)))
            container = doc if len(slot) == 1 else doc.get(slot[0])
            if isinstance(container, dict):
                container[slot[-1]] = value
    return _drop_absent(doc)


def _drop_absent(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if value is ABSENT:
            continue
        out[key] = _drop_absent(value) if isinstance(value, dict) else value
    return out


# -- the three verdicts --------------------------------------------------------------------------


def marshmallow_accepts(schema_type: str, doc: Mapping[str, Any]) -> bool:
    """The AnnotationEngine's load; an exception other than ValidationError is a production 500."""
    schema = emannotationschemas.get_schema(schema_type)(context={"postgis": True})
    try:
        schema.load(doc, unknown=EXCLUDE)
    except MarshmallowValidationError:
        return False
    except Exception:  # a crash in post_load (e.g. a 2-element position): the request fails
        event("marshmallow crashed (production 500)")
        return False
    return True


def model_accepts(schema_type: str, doc: Mapping[str, Any]) -> bool:
    """The generated pydantic model."""
    try:
        MODELS[schema_type](**doc)
    except PydanticValidationError:
        return False
    return True


def columnar_accepts(layout: AnnotationLayout, doc: Mapping[str, Any]) -> bool:
    """The columnar validator over a one-row frame."""
    try:
        validate_frame(layout, records_frame(layout, [doc]))
    except InputError:
        return False
    return True


class EngineStandIn(httpx.BaseTransport):
    """Plays the AnnotationEngine for one table of ``schema_type``: the datastack record, the
    table's metadata, and posts, each annotation loaded with the real marshmallow schema."""

    TABLE = "differential"

    def __init__(self, schema_type: str) -> None:
        self.schema_type = schema_type
        self.posted: list[list[dict[str, Any]]] = []
        self.client = FrameworkClient(
            "ds",
            server_address="https://daf.test",
            auth_token="token",
            api_versions={"annotation": 2},
            transport=self,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/info/api/v2/datastack/full/ds":
            return httpx.Response(200, json=DATASTACK_RECORD)
        table = f"/annotation/api/v2/aligned_volume/av/table/{self.TABLE}"
        if request.method == "GET" and path == table:
            return httpx.Response(200, json=table_metadata(self.TABLE, self.schema_type))
        if request.method == "POST" and path == table + "/annotations":
            annotations = json.loads(request.read())["annotations"]
            self.posted.append(annotations)
            for annotation in annotations:
                try:
                    marshmallow_load(self.schema_type, annotation)
                except Exception as exc:  # what the service answers for every failure
                    return httpx.Response(500, json={"code": 500, "message": f"500: {exc}"})
            return httpx.Response(200, json=list(range(1, len(annotations) + 1)))
        return httpx.Response(404, json={"message": f"not played here: {request.method} {path}"})

    def post(self, doc: Mapping[str, Any]) -> dict[str, Any] | None:
        """What ``post_annotation`` sent for ``doc``, or None when it sent nothing."""
        before = len(self.posted)
        try:
            self.client.annotation.post_annotation(self.TABLE, [doc])
        except InputError:
            assert len(self.posted) == before, "an annotation refused by dafclient was sent"
            return None
        [[sent]] = self.posted[before:]
        return sent


DATASTACK_RECORD: dict[str, Any] = {
    "aligned_volume": {
        "id": 1,
        "name": "av",
        "display_name": None,
        "description": None,
        "image_source": "precomputed://daf.test/em",
    },
    "segmentation_source": None,
    "analysis_database": None,
    "viewer_site": None,
    "synapse_table": None,
    "soma_table": None,
    "local_server": "https://daf.test",
    "description": None,
    "viewer_resolution_x": 4.0,
    "viewer_resolution_y": 4.0,
    "viewer_resolution_z": 40.0,
    "proofreading_status_table": None,
    "cell_identification_table": None,
    "proofreading_review_table": None,
}


def table_metadata(table: str, schema_type: str) -> dict[str, Any]:
    return {
        "id": 1,
        "schema_type": schema_type,
        "table_name": table,
        "valid": True,
        "created": "2026-01-01T00:00:00",
        "deleted": None,
        "user_id": "1",
        "description": "",
        "notice_text": None,
        "reference_table": None,
        "flat_segmentation_source": None,
        "voxel_resolution_x": 4.0,
        "voxel_resolution_y": 4.0,
        "voxel_resolution_z": 40.0,
        "write_permission": "PRIVATE",
        "read_permission": "PUBLIC",
        "last_modified": "2026-01-01T00:00:00",
    }


def marshmallow_load(schema_type: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    schema = emannotationschemas.get_schema(schema_type)(context={"postgis": True})
    loaded: dict[str, Any] = schema.load(doc, unknown=EXCLUDE)
    return loaded


POINTZ = re.compile(r"POINTZ\((\S+) (\S+) (\S+)\)")


def stored_form(value: Any) -> Any:
    """A marshmallow load result compared by meaning: null fields are absent fields, and
    ``POINTZ(1 2 3)`` equals ``POINTZ(1.0 2.0 3.0)``."""
    if isinstance(value, Mapping):
        return {k: stored_form(v) for k, v in value.items() if v is not None}
    if isinstance(value, str) and (point := POINTZ.fullmatch(value)):
        return tuple(float(c) for c in point.groups())
    return value


# -- deliberate differences (docs/annotation-validation.md) --------------------------------------

Doc = Mapping[str, Any]


def _leaves(layout: AnnotationLayout, doc: Doc) -> Iterator[tuple[FieldSpec, Any]]:
    """(field, value) for every field present in ``doc`` (inside points that are mappings)."""
    for spec in layout.fields:
        container: Any = doc if spec.point is None else doc.get(spec.point)
        if isinstance(container, Mapping) and spec.path[-1] in container:
            yield spec, container[spec.path[-1]]


def _is_finite_number(value: Any) -> bool:
    """A number (not a boolean) that converts to a finite float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the float range
        return False


def marshmallow_int(value: Any) -> int | None:
    """What marshmallow 3.5.1's ``Int`` loads ``value`` as (``int(value)``), None if it refuses."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return int(value)
    except (ValueError, OverflowError):
        return None


def _loaded_ints(
    layout: AnnotationLayout, doc: Doc, keep: Callable[[FieldSpec], bool]
) -> Iterator[tuple[FieldSpec, Any, int]]:
    for spec, value in _leaves(layout, doc):
        if spec.kind == "integer" and keep(spec):
            loaded = marshmallow_int(value)
            if loaded is not None:
                yield spec, value, loaded


def _is_segment_id(spec: FieldSpec) -> bool:
    return spec.maximum == UINT64_MAX


def _coordinate(value: Any) -> bool:
    """A finite number, or a string ``float()`` reads as one (production's POINTZ takes it)."""
    if isinstance(value, str):
        try:
            return math.isfinite(float(value))
        except ValueError:
            return False
    return _is_finite_number(value)


def position_not_three_finite_numbers(layout: AnnotationLayout, doc: Doc) -> bool:
    """D1: a position that is not exactly 3 finite numbers (null is the point's business)."""
    return any(
        spec.kind == "position"
        and value is not None
        and not (isinstance(value, list) and len(value) == 3 and all(map(_coordinate, value)))
        for spec, value in _leaves(layout, doc)
    )


def fractional_float_for_integer(layout: AnnotationLayout, doc: Doc) -> bool:
    """D2: a float with a fractional part for an integer field (marshmallow truncates it)."""
    return any(
        isinstance(value, float) and math.isfinite(value) and not value.is_integer()
        for spec, value in _leaves(layout, doc)
        if spec.kind == "integer"
    )


def segment_id_outside_uint64(layout: AnnotationLayout, doc: Doc) -> bool:
    """D3: a root, supervoxel or other segment id outside 0..2**64-1."""
    return any(
        not 0 <= loaded <= UINT64_MAX for _, _, loaded in _loaded_ints(layout, doc, _is_segment_id)
    )


def target_id_outside_annotation_ids(layout: AnnotationLayout, doc: Doc) -> bool:
    """D4: a ``target_id`` outside 0..2**63-1, the range of annotation ids."""
    return any(
        not 0 <= loaded <= INT64_MAX
        for _, _, loaded in _loaded_ints(layout, doc, lambda s: s.column == "target_id")
    )


def integer_outside_int64(layout: AnnotationLayout, doc: Doc) -> bool:
    """D5 (columnar): any other integer outside the signed 64-bit range of its BIGINT column."""
    return any(
        not INT64_MIN <= loaded <= INT64_MAX
        for _, _, loaded in _loaded_ints(
            layout, doc, lambda s: not _is_segment_id(s) and s.column != "target_id"
        )
    )


def unknown_top_level_key(layout: AnnotationLayout, doc: Doc) -> bool:
    """D6 (columnar): a top-level key that is not a field of the type (``type`` is D12's)."""
    known = {spec.path[0] for spec in layout.fields}
    return any(key not in known and key != TYPE_KEY for key in doc)


def type_names_another_type(layout: AnnotationLayout, doc: Doc) -> bool:
    """D12 (columnar): a ``type`` key whose value is not the type's name (null is absent)."""
    return doc.get(TYPE_KEY) is not None and doc.get(TYPE_KEY) != layout.schema_type


def boolean_target_id(layout: AnnotationLayout, doc: Doc) -> bool:
    """D7 (both): a boolean ``target_id`` (marshmallow's reference field loads it as 0/1)."""
    return isinstance(doc.get("target_id"), bool)


def float_integer_above_2_53(layout: AnnotationLayout, doc: Doc) -> bool:
    """D8 (columnar): an integral float beyond 2**53 for an integer field (may be rounded)."""
    return any(
        isinstance(value, float)
        and math.isfinite(value)
        and abs(value) > 2**53
        and value.is_integer()
        for spec, value in _leaves(layout, doc)
        if spec.kind == "integer"
    )


def float_integer_outside_int64(layout: AnnotationLayout, doc: Doc) -> bool:
    """D11 (model): an integral float outside the signed 64-bit range for an integer field."""
    return any(
        isinstance(value, float)
        and math.isfinite(value)
        and value.is_integer()
        and not INT64_MIN <= value <= INT64_MAX
        for spec, value in _leaves(layout, doc)
        if spec.kind == "integer"
    )


Rule = Callable[[AnnotationLayout, Doc], bool]
BOTH_STRICTER: dict[str, Rule] = {
    "D1": position_not_three_finite_numbers,
    "D2": fractional_float_for_integer,
    "D3": segment_id_outside_uint64,
    "D4": target_id_outside_annotation_ids,
    "D7": boolean_target_id,
}
MODEL_STRICTER: dict[str, Rule] = {
    "D11": float_integer_outside_int64,
}
COLUMNAR_STRICTER: dict[str, Rule] = {
    "D5": integer_outside_int64,
    "D6": unknown_top_level_key,
    "D8": float_integer_above_2_53,
    "D12": type_names_another_type,
}


def nan_is_null(layout: AnnotationLayout, doc: Doc) -> dict[str, Any]:
    """D9 (columnar): NaN is pandas' missing value, so a NaN field reads as null.

    A NaN given for a whole point is not a point object and is refused, like marshmallow does.
    """
    points = {point.name for point in layout.points}
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in points:
            if isinstance(value, Mapping):
                value = {k: None if _is_nan(v) else v for k, v in value.items()}
            out[key] = value
        else:
            out[key] = None if _is_nan(value) else value
    return out


def null_point_is_absent(layout: AnnotationLayout, doc: Doc) -> dict[str, Any]:
    """D10 (columnar): an optional point whose given fields are all null is an absent point."""
    out = dict(doc)
    for point in layout.points:
        value = doc.get(point.name)
        fields = {column.removeprefix(point.name + "_") for column in point.columns}
        if (
            not point.required
            and isinstance(value, Mapping)
            and set(value) <= fields
            and all(v is None for v in value.values())
        ):
            del out[point.name]
    return out


def columnar_view(layout: AnnotationLayout, doc: Doc) -> dict[str, Any]:
    """The document as the columnar validator reads it (D9, then D10)."""
    return null_point_is_absent(layout, nan_is_null(layout, doc))


def broken_rules(rules: Mapping[str, Rule], layout: AnnotationLayout, doc: Doc) -> list[str]:
    """The names of the rules ``doc`` breaks."""
    return [f"{name} {rule.__name__}" for name, rule in rules.items() if rule(layout, doc)]


# -- the test ------------------------------------------------------------------------------------

TALLY: Counter[tuple[str, str]] = Counter()


def expected_verdicts(
    schema_type: str, layout: AnnotationLayout, doc: Doc
) -> dict[str, tuple[bool, Doc, list[str]]]:
    """Per dafclient validator: (expected verdict, the document it reads, rules that apply)."""
    model_rules = broken_rules({**BOTH_STRICTER, **MODEL_STRICTER}, layout, doc)
    model_expected = marshmallow_accepts(schema_type, doc) and not model_rules
    view = columnar_view(layout, doc)
    columnar_rules = broken_rules({**BOTH_STRICTER, **COLUMNAR_STRICTER}, layout, view)
    columnar_expected = marshmallow_accepts(schema_type, view) and not columnar_rules
    if view != doc:
        columnar_rules.append("D9/D10 read as null")
    return {
        "model": (model_expected, doc, model_rules),
        "columnar": (columnar_expected, view, columnar_rules),
    }


@pytest.mark.parametrize("schema_type", SCHEMA_TYPES)
def test_verdicts_agree_with_marshmallow(schema_type: str) -> None:
    layout = snapshot_layout(schema_type)
    engine = EngineStandIn(schema_type)

    @settings(
        max_examples=EXAMPLES_PER_TYPE,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(doc=documents(layout))
    def check(doc: dict[str, Any]) -> None:
        real = marshmallow_accepts(schema_type, doc)
        label = "valid" if real else "invalid"
        event(f"marshmallow: {label}")
        TALLY[schema_type, label] += 1
        sent = engine.post(doc)
        actual = {
            "model": model_accepts(schema_type, doc),
            "columnar": columnar_accepts(layout, doc),
            "post_annotation": sent is not None,
        }
        verdicts = expected_verdicts(schema_type, layout, doc)
        verdicts["post_annotation"] = verdicts["columnar"]  # the same validator, through the plan
        for name, (expected, view, rules) in verdicts.items():
            for rule in rules:
                event(f"{name}: {rule}")
            assert actual[name] == expected, (
                f"{name} {'accepts' if actual[name] else 'rejects'} {doc!r}; marshmallow "
                f"{'accepts' if real else 'rejects'} it (read as {view!r}); "
                f"deliberate differences: {rules}"
            )
        if sent is not None:  # it lands as the document would have: the same loaded values
            view = verdicts["columnar"][1]
            assert stored_form(marshmallow_load(schema_type, sent)) == stored_form(
                marshmallow_load(schema_type, view)
            ), f"post_annotation sent {sent!r} for {doc!r}"

    check()
    engine.client.close()
    valid, invalid = TALLY[schema_type, "valid"], TALLY[schema_type, "invalid"]
    print(f"{schema_type}: {valid + invalid} documents, {valid} valid, {invalid} invalid")
    assert valid >= EXAMPLES_PER_TYPE // 10 and invalid >= EXAMPLES_PER_TYPE // 10
