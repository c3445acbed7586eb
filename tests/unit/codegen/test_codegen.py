"""The codegen pipeline: specs validate, dafclient/_wire/ is complete and current, staleness shows."""

from __future__ import annotations

import importlib
import inspect
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_python_client.strings import snake_case
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from dafclient._codegen.config import ServiceTarget, load_config
from dafclient._codegen.headers import HEADER
from tests.paths import REPO

ROOT = REPO
CONFIG = load_config(ROOT)
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _operations(target: ServiceTarget) -> list[tuple[str, str, str]]:
    spec: dict[str, Any] = yaml.safe_load(target.spec.read_text(encoding="utf-8"))
    found = []
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                operation = item[method]
                found.append(
                    (f"{method.upper()} {path}", operation["tags"][0], operation["operationId"])
                )
    return found


@pytest.mark.parametrize("target", CONFIG.services, ids=lambda t: f"{t.service}-{t.version}")
def test_spec_is_valid_openapi_31(target: ServiceTarget) -> None:
    spec, _ = read_from_filename(str(target.spec))
    assert spec["openapi"].startswith("3.1")
    validate(spec)


@pytest.mark.parametrize("target", CONFIG.services, ids=lambda t: f"{t.service}-{t.version}")
def test_every_operation_has_sync_and_async_functions(target: ServiceTarget) -> None:
    operations = _operations(target)
    assert operations, f"{target.spec} declares no operations"
    ids = [operation_id for _, _, operation_id in operations]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for route, tag, operation_id in operations:
        name = f"{CONFIG.package}.{target.module}.api.{snake_case(tag)}.{snake_case(operation_id)}"
        module = importlib.import_module(name)
        assert callable(module.sync_detailed), f"{route}: no sync function in {name}"
        assert inspect.iscoroutinefunction(module.asyncio_detailed), f"{route}: no async in {name}"


def test_every_generated_python_file_has_the_header() -> None:
    files = sorted(CONFIG.output.rglob("*.py"))
    assert len(files) > 100
    unstamped = [str(p) for p in files if not p.read_text(encoding="utf-8").startswith(HEADER)]
    assert unstamped == []


def test_packages_ship_py_typed() -> None:
    import dafclient

    assert (Path(dafclient.__file__).parent / "py.typed").is_file()
    assert (CONFIG.output / "py.typed").is_file()


def _copy_project(destination: Path) -> Path:
    """The inputs and the committed output of codegen, at their places below ``destination``."""
    for source in (ROOT / "specs", CONFIG.output):
        relative = source.relative_to(ROOT)
        shutil.copytree(
            source, destination / relative, ignore=shutil.ignore_patterns("__pycache__")
        )
    return destination


def _run_check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dafclient._codegen", "--check", "--root", str(root)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )


def _reported(stderr: str) -> set[str]:
    return {
        line for line in stderr.splitlines() if line.startswith(("changed:", "missing", "stale ("))
    }


def test_codegen_check_fails_when_a_spec_changes_without_regeneration(tmp_path: Path) -> None:
    root = _copy_project(tmp_path)
    spec_path = root / "specs" / "state" / "legacy.yaml"
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    operation = spec["paths"]["/nglstate/{state_id}"]["get"]
    operation["summary"] = "A summary that the committed generated code has never seen."
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")

    stale = _run_check(root)
    assert stale.returncode == 1, stale.stderr
    assert "is stale" in stale.stderr
    # Exactly the regenerated module of the edited operation differs: the rest of the copy is
    # identical to what the committed specs compile to.
    module = f"state_legacy/api/state/{snake_case(operation['operationId'])}.py"
    assert _reported(stale.stderr) == {f"changed: {module}"}


def test_codegen_check_fails_when_generated_code_is_edited_by_hand(tmp_path: Path) -> None:
    root = _copy_project(tmp_path)
    package = root / CONFIG.output.relative_to(ROOT)
    victim = package / "info_v2" / "api" / "info" / "get_datastacks.py"
    victim.write_text(victim.read_text(encoding="utf-8") + "\n# hand edit\n", encoding="utf-8")
    extra = package / "info_v2" / "notes.py"
    extra.write_text("# not generated\n", encoding="utf-8")
    result = _run_check(root)
    assert result.returncode == 1
    assert _reported(result.stderr) == {
        "changed: info_v2/api/info/get_datastacks.py",
        "stale (would be removed): info_v2/notes.py",
    }


def test_a_generator_warning_fails_codegen(tmp_path: Path) -> None:
    """An operation the generator cannot express (here: an XML body) is a warning of
    openapi-python-client, which drops the operation; its own --fail-on-warning makes it fail."""
    from dafclient._codegen.services import CodegenError, generate_service

    spec = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/x": {
                "post": {
                    "operationId": "post_x",
                    "tags": ["t"],
                    "requestBody": {"content": {"application/xml": {"schema": {"type": "object"}}}},
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    spec_path = tmp_path / "broken.yaml"
    spec_path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    target = ServiceTarget(service="t", version="1", spec=spec_path, module="t_v1")
    with pytest.raises(CodegenError, match="application/xml"):
        generate_service(target, tmp_path / "out", {})
