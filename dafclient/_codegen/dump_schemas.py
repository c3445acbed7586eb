"""Dump the EMAnnotationSchemas annotation types to JSON Schema files.

Runs in its own virtualenv holding ``emannotationschemas`` (which pins old marshmallow,
marshmallow-jsonschema and SQLAlchemy 1.4), never in the project environment. Only the
standard library is imported at module level, so the file also type-checks without those
packages installed.

For every type in ``get_types()`` it writes ``<type>.json`` holding exactly
``JSONSchema().dump(get_schema(type)())``, the body the schema service answers on
``/schema/api/v2/type/{type}``, plus ``index.json`` with the type names in service order.
The lock file records the installed package versions and the sha256 of every written file.
Output is deterministic: sorted keys, two-space indent, trailing newline, no timestamps.

Usage::

    python dafclient/_codegen/dump_schemas.py --out specs/annotation_schemas \\
        --lock specs/annotation_schemas.lock.json
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import platform
import sys
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

INDEX_FILE = "index.json"
LOCKED_PACKAGES = ("emannotationschemas", "marshmallow", "marshmallow-jsonschema")


def serialize(value: Any) -> bytes:
    """Serialize JSON deterministically: sorted keys, indent 2, trailing newline."""
    text = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def dump_all() -> tuple[list[str], dict[str, Any]]:
    """Return the type names in service order and the JSON Schema of each type."""
    with warnings.catch_warnings():
        # marshmallow-jsonschema 0.10.0 imports pkg_resources, which warns on import.
        warnings.simplefilter("ignore")
        emas = importlib.import_module("emannotationschemas")
        mm_jsonschema = importlib.import_module("marshmallow_jsonschema")
    names: list[str] = list(emas.get_types())
    schemas: dict[str, Any] = {}
    for name in names:
        schema_cls = emas.get_schema(name)
        schemas[name] = mm_jsonschema.JSONSchema().dump(schema_cls())
    return names, schemas


def write_dump(out_dir: Path, lock_path: Path) -> dict[str, Any]:
    """Write one file per type, ``index.json`` and the lock file; return the lock data."""
    names, schemas = dump_all()
    if len(set(names)) != len(names):
        raise SystemExit("get_types() returned duplicate names")
    out_dir.mkdir(parents=True, exist_ok=True)

    contents: dict[str, bytes] = {f"{name}.json": serialize(schemas[name]) for name in names}
    if INDEX_FILE in contents:
        raise SystemExit(f"an annotation type is named like the index file: {INDEX_FILE}")
    contents[INDEX_FILE] = serialize(names)

    # Files of types that no longer exist would otherwise linger in the folder.
    for stale in sorted(out_dir.glob("*.json")):
        if stale.name not in contents:
            stale.unlink()
    for file_name in sorted(contents):
        (out_dir / file_name).write_bytes(contents[file_name])

    lock: dict[str, Any] = {
        "packages": {pkg: metadata.version(pkg) for pkg in LOCKED_PACKAGES},
        "python": platform.python_version(),
        "type_count": len(names),
        "files": {
            file_name: hashlib.sha256(data).hexdigest()
            for file_name, data in sorted(contents.items())
        },
    }
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path.write_bytes(serialize(lock))
    return lock


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Dump EMAnnotationSchemas types to JSON Schema.")
    parser.add_argument("--out", type=Path, required=True, help="folder for <type>.json files")
    parser.add_argument("--lock", type=Path, required=True, help="provenance lock file to write")
    args = parser.parse_args(argv)
    lock = write_dump(args.out, args.lock)
    packages = ", ".join(f"{k} {v}" for k, v in lock["packages"].items())
    print(f"wrote {lock['type_count']} annotation schemas to {args.out} ({packages})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
