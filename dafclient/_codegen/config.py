"""The declarative codegen configuration (``config.toml`` beside this module)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dafclient._codegen.headers import HEADER

CONFIG_FILE = Path(__file__).with_name("config.toml")
PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_SPECS = PACKAGE_DIR / "specs"
"""Where the wheel puts a copy of ``specs/`` (``dafclient/_codegen/specs``); absent in a source
checkout."""


def specs_root() -> Path:
    """The folder the spec paths of ``config.toml`` are relative to.

    Installed from a wheel, the specs ship inside this package (``dafclient/_codegen/specs``); in a
    source checkout they are in ``specs/`` at the repository root.
    """
    return PACKAGE_DIR if BUNDLED_SPECS.is_dir() else PACKAGE_DIR.parents[1]


@dataclass(frozen=True)
class ServiceTarget:
    """One (service, API version) OpenAPI document and the package it compiles to."""

    service: str
    version: str
    spec: Path
    module: str


@dataclass(frozen=True)
class AnnotationModelsTarget:
    """The folder of annotation JSONSchemas and the package of models it compiles to."""

    schemas: Path
    module: str


@dataclass(frozen=True)
class CodegenConfig:
    """Everything ``python -m dafclient._codegen`` needs to know, with paths resolved against ``root``."""

    root: Path
    package: str
    output: Path
    services: tuple[ServiceTarget, ...]
    annotation_models: AnnotationModelsTarget
    generator_options: dict[str, Any] = field(default_factory=dict)
    header: str = HEADER
    """The comment stamped on every generated Python file."""


def load_config(root: Path, config_file: Path = CONFIG_FILE) -> CodegenConfig:
    """Read ``config_file`` and resolve its paths against the repository ``root``."""
    raw = tomllib.loads(config_file.read_text(encoding="utf-8"))
    services = tuple(
        ServiceTarget(
            service=str(entry["service"]),
            version=str(entry["version"]),
            spec=root / str(entry["spec"]),
            module=str(entry["module"]),
        )
        for entry in raw["services"]
    )
    modules = [s.module for s in services] + [str(raw["annotation_models"]["module"])]
    if len(set(modules)) != len(modules):
        raise ValueError(f"{config_file}: output module names must be unique, got {modules}")
    return CodegenConfig(
        root=root,
        package=str(raw["package"]),
        output=root / str(raw["output"]),
        services=services,
        annotation_models=AnnotationModelsTarget(
            schemas=root / str(raw["annotation_models"]["schemas"]),
            module=str(raw["annotation_models"]["module"]),
        ),
        generator_options=dict(raw.get("generator", {})),
    )
