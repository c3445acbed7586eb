"""Compile one OpenAPI document into a typed request package with openapi-python-client."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from dafclient._codegen.config import ServiceTarget

TEMPLATES = Path(__file__).parent / "templates" / "openapi"
"""Templates replacing openapi-python-client's own of the same name: ``endpoint_module.py.jinja``
adds the public typed request builder and success parser of every endpoint module;
``property_templates/list_property.py.jinja`` makes a model refuse a non-list where a list belongs."""


class CodegenError(RuntimeError):
    """A generator failed or reported a problem that would leave generated code incomplete."""


def _generator_config(options: dict[str, Any]) -> dict[str, Any]:
    python = shlex.quote(sys.executable)
    return {
        **options,
        # Run the pinned ruff from this interpreter's environment, never whatever is on PATH.
        "post_hooks": [
            f"{python} -P -m ruff check . --isolated --fix-only --extend-select=I --quiet",
            f"{python} -P -m ruff format . --isolated --quiet",
        ],
    }


def generate_service(target: ServiceTarget, out_dir: Path, options: dict[str, Any]) -> None:
    """Generate the package for ``target`` into ``out_dir`` (which must not exist yet)."""
    if not target.spec.is_file():
        raise CodegenError(f"spec not found: {target.spec}")
    with tempfile.TemporaryDirectory(prefix="wire-config-") as tmp:
        config_path = Path(tmp) / "generator.json"
        config_path.write_text(json.dumps(_generator_config(options)), encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(target.spec),
            "--meta",
            "none",
            "--output-path",
            str(out_dir),
            "--config",
            str(config_path),
            "--custom-template-path",
            str(TEMPLATES),
            # A warning means an operation or a model was dropped: the package would not cover
            # the whole spec, so the generator itself fails.
            "--fail-on-warning",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        raise CodegenError(f"openapi-python-client failed for {target.spec}:\n{output}")
    if not (out_dir / "api").is_dir():
        raise CodegenError(f"openapi-python-client produced no api/ package for {target.spec}")
