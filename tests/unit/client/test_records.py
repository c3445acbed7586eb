"""The record types of :mod:`dafclient.records` say what the spec says: the same keys, the same
required ones, the same enumerations, so a TypedDict cannot drift from the wire contract."""

from __future__ import annotations

import typing
from functools import cache
from typing import Any, Literal

import pytest
import yaml

from dafclient import records
from tests.paths import REPO

SPECS = REPO / "specs"


@cache
def _schemas(spec: str) -> dict[str, Any]:
    document = yaml.safe_load((SPECS / f"{spec}.yaml").read_text(encoding="utf-8"))
    schemas: dict[str, Any] = document["components"]["schemas"]
    return schemas


# (record type, spec, schema, keys the client adds, optional keys the client always fills in)
RECORDS: list[tuple[Any, str, str, set[str], set[str]]] = [
    (records.VersionMetadata, "materialize/v3", "AnalysisVersion", set(), {"expires_on"}),
    (
        records.MaterializedTableMetadata,
        "materialize/v3",
        "TableMetadata",
        {"voxel_resolution"},
        set(),
    ),
    (records.ViewMetadata, "materialize/v3", "ViewMetadata", {"voxel_resolution"}, set()),
    (records.ViewListing, "materialize/v3", "ViewListing", set(), set()),
    (records.ViewColumn, "materialize/v3", "ViewColumnType", set(), set()),
    # "@type" is a key of the watershed info the spec leaves to additionalProperties.
    (records.SegmentationInfo, "chunkedgraph/v1", "GraphInfo", {"@type"}, set()),
    (records.ScaleInfo, "chunkedgraph/v1", "GraphInfoScale", set(), set()),
    (records.GraphGeometry, "chunkedgraph/v1", "GraphInfoGraph", set(), set()),
    (records.GraphApp, "chunkedgraph/v1", "GraphInfoApp", set(), set()),
    (records.MeshMetadata, "chunkedgraph/v1", "GraphInfoMeshMetadata", set(), set()),
    (records.L2CacheConfig, "l2cache/v1", "CacheConfig", set(), set()),
    (records.L2Features, "l2cache/v1", "L2Attributes", set(), set()),
]


def _name(record: Any) -> str:
    return str(record.__name__)


@pytest.mark.parametrize(
    "record, spec, schema, added, filled", RECORDS, ids=[_name(entry[0]) for entry in RECORDS]
)
def test_a_record_has_the_keys_of_its_schema(
    record: Any, spec: str, schema: str, added: set[str], filled: set[str]
) -> None:
    declared = _schemas(spec)[schema]
    properties = set(declared.get("properties", {}))
    required = set(declared.get("required", []))
    assert not (added & properties), "a key the client adds is already in the spec"
    assert filled <= properties - required
    optional_added = {key for key in added if key in record.__optional_keys__}
    assert set(record.__required_keys__) == required | filled | (added - optional_added)
    assert set(record.__optional_keys__) == (properties - required - filled) | optional_added


@pytest.mark.parametrize(
    "record, spec, schema, added, filled", RECORDS, ids=[_name(entry[0]) for entry in RECORDS]
)
def test_enumerations_are_those_of_the_spec(
    record: Any, spec: str, schema: str, added: set[str], filled: set[str]
) -> None:
    del added, filled
    properties = _schemas(spec)[schema].get("properties", {})
    hints = typing.get_type_hints(record)
    for key, hint in hints.items():
        literal = _literal(hint)
        if literal is None:
            continue
        assert set(properties[key]["enum"]) == literal, key


def _literal(hint: Any) -> set[Any] | None:
    """The values of a ``Literal`` in ``hint`` (through ``NotRequired``), or None."""
    if typing.get_origin(hint) is Literal:
        return set(typing.get_args(hint))
    for inner in typing.get_args(hint):
        found = _literal(inner)
        if found is not None:
            return found
    return None


def test_every_record_type_is_checked() -> None:
    checked = {_name(entry[0]) for entry in RECORDS}
    assert checked == set(records.__all__)
