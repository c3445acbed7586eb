"""Annotation types by name: the generated snapshot, or models built from a live schema."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from dafclient._wire.annotation_models import MODELS
from dafclient.annotations.layout import AnnotationLayout, compile_layout, snapshot_layout
from dafclient.annotations.schema_overrides import apply_overrides
from dafclient.errors import InputError

AnnotationType = tuple[AnnotationLayout, type[Any]]
"""An annotation type's layout and model class."""


def snapshot_type(schema_type: str) -> AnnotationType:
    """The generated model and layout of ``schema_type``; :class:`InputError` if unknown."""
    model = MODELS.get(schema_type)
    if model is None:
        raise InputError(
            f"unknown annotation type {schema_type!r} (the installed snapshot has "
            f"{len(MODELS)} types; a live schema service may know more)"
        )
    return snapshot_layout(schema_type), model


@cache
def _live_type(schema_type: str, schema_text: str) -> AnnotationType:
    from dafclient.annotations.runtime_models import build_model

    corrected = apply_overrides(json.loads(schema_text), schema_type)
    return compile_layout(schema_type, corrected), build_model(schema_type, corrected)


def live_type(schema_type: str, raw_schema: Mapping[str, Any]) -> AnnotationType:
    """Layout and a run-time model of a type, from the JSON Schema a schema service serves
    (the same corrections as the generated models are applied first)."""
    return _live_type(schema_type, json.dumps(raw_schema, sort_keys=True))
