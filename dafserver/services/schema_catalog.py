"""The annotation type catalog the schema service serves: the committed EMAnnotationSchemas dump."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

_PACKAGED = "data/annotation_schemas"
_SOURCE_TREE = Path(__file__).resolve().parents[2] / "specs" / "annotation_schemas"


def schemas_dir() -> Path:
    """Where the JSONSchema files are: packaged in the wheel, or ``specs/`` in a source checkout."""
    packaged = Path(str(resources.files("dafserver").joinpath(_PACKAGED)))
    return packaged if packaged.is_dir() else _SOURCE_TREE


class SchemaCatalog:
    """Annotation type names (in the real service's order) and their JSONSchema documents."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._names: list[str] = json.loads((directory / "index.json").read_text("utf-8"))
        self._schemas: dict[str, dict[str, Any]] = {
            name: json.loads((directory / f"{name}.json").read_text("utf-8"))
            for name in self._names
        }
        lock_file = directory.parent / "annotation_schemas.lock.json"
        packaged_lock = directory / "lock.json"
        lock_path = packaged_lock if packaged_lock.is_file() else lock_file
        lock = json.loads(lock_path.read_text("utf-8")) if lock_path.is_file() else {}
        self.version: str = str(lock.get("packages", {}).get("emannotationschemas", "unknown"))

    def names(self) -> list[str]:
        return list(self._names)

    def get(self, name: str) -> dict[str, Any] | None:
        return self._schemas.get(name)


@cache
def load_catalog() -> SchemaCatalog:
    """The catalog shipped with dafserver (loaded once per process)."""
    return SchemaCatalog(schemas_dir())
