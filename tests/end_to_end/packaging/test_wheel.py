"""The built wheel: what a user gets from ``pip install dafclient``.

The wheel is built from this checkout (``uv build --wheel``) and installed with its base
dependencies only (no extras) into a fresh virtualenv; the checks run that virtualenv's
interpreter and console script from outside the checkout, so nothing resolves to the sources.
About 15 s with uv's cache warm (CI's earlier sessions fill it), so it runs with the fast tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.paths import REPO

ROOT = REPO


@dataclass(frozen=True)
class Installed:
    wheel: Path
    python: Path
    scripts: Path
    workdir: Path
    """An empty folder outside the checkout, the working directory of every check."""

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        return subprocess.run(
            [str(a) for a in args],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def _uv() -> str:
    uv = shutil.which("uv")
    assert uv is not None, "the wheel test needs uv on PATH (CI installs it with nox)"
    return uv


def _checked(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{result.args}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    uv = _uv()
    base = tmp_path_factory.mktemp("wheel")
    dist, venv, workdir = base / "dist", base / "venv", base / "work"
    workdir.mkdir()
    build = [uv, "build", "--wheel", "--out-dir", str(dist), str(ROOT)]
    _checked(subprocess.run(build, capture_output=True, text=True, check=False, timeout=600))
    (wheel,) = dist.glob("dafclient-*.whl")
    _checked(
        subprocess.run(
            [uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
            capture_output=True,
            text=True,
            check=False,
        )
    )
    scripts = venv / ("Scripts" if os.name == "nt" else "bin")
    python = scripts / ("python.exe" if os.name == "nt" else "python")
    install = [uv, "pip", "install", "--quiet", "--python", str(python), str(wheel)]
    _checked(subprocess.run(install, capture_output=True, text=True, check=False, timeout=600))
    yield Installed(wheel=wheel, python=python, scripts=scripts, workdir=workdir)


def _record(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        (record,) = [n for n in archive.namelist() if n.endswith(".dist-info/RECORD")]
        lines = archive.read(record).decode("utf-8").splitlines()
    return [line.rsplit(",", 2)[0] for line in lines if line]


def test_the_wheel_exposes_only_dafclient_and_dafserver(installed: Installed) -> None:
    top_level = {
        path.split("/", 1)[0]
        for path in _record(installed.wheel)
        if not path.split("/", 1)[0].endswith((".dist-info", ".data"))
    }
    assert top_level == {"dafclient", "dafserver"}


def test_the_wheel_ships_type_information_and_the_codegen_inputs(installed: Installed) -> None:
    files = set(_record(installed.wheel))
    assert {"dafclient/py.typed", "dafserver/py.typed", "dafclient/_wire/py.typed"} <= files
    assert "dafclient/_codegen/config.toml" in files
    assert "dafclient/_codegen/templates/Enum.jinja2" in files
    assert "dafclient/_codegen/specs/chunkedgraph/v1.yaml" in files


def test_dafclient_imports_from_the_installed_wheel_without_extras(installed: Installed) -> None:
    probe = """
import importlib.util, json
from importlib import resources
import dafclient
import dafclient.services.info
from dafclient._wire.annotation_models import MODELS
from dafclient._codegen.config import load_config, specs_root
config = load_config(specs_root())
schemas = json.loads(
    resources.files("dafclient._wire.annotation_models").joinpath("schemas.json").read_text("utf-8")
)
print(json.dumps({
    "file": dafclient.__file__,
    "models": len(MODELS),
    "schemas": len(schemas),
    "specs": sorted(str(t.spec.relative_to(config.root)) for t in config.services if t.spec.is_file()),
    "fastapi": importlib.util.find_spec("fastapi") is not None,
}))
"""
    result = _checked(installed.run(installed.python, "-c", probe))
    found = json.loads(result.stdout)
    assert Path(found["file"]).is_relative_to(installed.python.parent.parent)
    assert found["models"] == found["schemas"] > 50
    assert len(found["specs"]) == 12 and "specs/chunkedgraph/v1.yaml" in found["specs"]
    assert found["fastapi"] is False, "the base install must not pull in the server extra"


def test_serve_without_the_server_extra_names_the_extra(installed: Installed) -> None:
    data = installed.workdir / "data"
    result = installed.run(installed.scripts / "dafclient", "serve", "--data", data)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'pip install "dafclient[server]"' in result.stderr
    assert "Traceback" not in result.stderr
    assert not data.exists()
