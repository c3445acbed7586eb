"""Generating the whole package tree (request packages, annotation models, ``__init__``)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dafclient._codegen.config import CodegenConfig
from dafclient._codegen.headers import stamp_headers
from dafclient._codegen.services import generate_service


def _package_init(config: CodegenConfig) -> str:
    lines = [
        '"""Typed request modules and annotation models generated from specs/."""',
        "",
        "# Service packages (one per OpenAPI document):",
    ]
    for target in config.services:
        spec = target.spec.relative_to(config.root).as_posix()
        name = f"{config.package}.{target.module}"
        lines.append(f"#   {name:<34} {target.service} API {target.version} ({spec})")
    models = f"{config.package}.{config.annotation_models.module}"
    lines.append(f"#   {models:<34} EMAnnotationSchemas annotation models")
    return "\n".join(lines) + "\n"


def build(config: CodegenConfig, destination: Path) -> None:
    """Generate the whole package tree into ``destination`` (created; must not exist)."""
    from dafclient._codegen.annotation_models import generate_annotation_models

    destination.mkdir(parents=True)
    workers = max(1, min(len(config.services), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(
                generate_service, target, destination / target.module, config.generator_options
            )
            for target in config.services
        ]
        for future in futures:
            future.result()
    generate_annotation_models(
        config.annotation_models.schemas, destination / config.annotation_models.module
    )
    (destination / "__init__.py").write_text(_package_init(config), encoding="utf-8")
    (destination / "py.typed").write_text("", encoding="utf-8")
    stamp_headers(destination, config.header)
