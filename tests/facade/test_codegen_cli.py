"""``dafclient codegen``: typed models and request packages generated from a live deployment."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from dafgen.annotation_models import MODELS as SNAPSHOT_MODELS
from pydantic import ValidationError
from typer.testing import CliRunner

from codegen.config import load_config, specs_root
from dafclient import FrameworkClient
from dafclient.annotations.runtime_models import model_for
from dafclient.cli import app
from dafserver.runner import LocalServer, running_server
from dafserver.services.schema_catalog import SchemaCatalog, schemas_dir

VERSION_ROUTES = {
    "info": "/info/api/versions",
    "schema": "/schema/versions",
    "annotation": "/annotation/api/versions",
    "segmentation": "/segmentation/api/versions",
}
"""The services' versions routes (their specs); auth and nglstate have none."""
NEW_TYPE = "spine_count"


@dataclass(frozen=True)
class Generated:
    """One run of the command: its output and the imported package."""

    output: str
    package: ModuleType
    server: LocalServer


def _run_codegen(server: LocalServer, out: Path) -> Generated:
    result = CliRunner().invoke(
        app,
        ["codegen", "--server", server.base_url, "--out", str(out), "--token", server.admin_token],
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    sys.path.insert(0, str(out.parent))
    return Generated(result.output, importlib.import_module(out.name), server)


def _forget(out: Path) -> None:
    sys.path.remove(str(out.parent))
    for name in [m for m in sys.modules if m == out.name or m.startswith(out.name + ".")]:
        del sys.modules[name]


def _synapse_doc(position: list[float]) -> dict[str, Any]:
    return {
        "pre_pt": {"position": position, "root_id": 2**64 - 1},
        "post_pt": {"position": [4.0, 5.0, 6.0]},
        "ctr_pt": {"position": [7.0, 8.0, 9.0]},
        "size": 12.5,
    }


def _accepts(model: type[Any], doc: dict[str, Any]) -> bool:
    try:
        model(**copy.deepcopy(doc))
    except ValidationError:
        return False
    return True


@pytest.fixture(scope="module")
def live(daf_server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    out = tmp_path_factory.mktemp("codegen") / "livetypes"
    generated = _run_codegen(daf_server, out)
    yield generated
    _forget(out)


def test_models_cover_every_live_type(live: Generated) -> None:
    models = importlib.import_module(f"{live.package.__name__}.annotation_models")
    with FrameworkClient(
        server_address=live.server.base_url, auth_token=live.server.admin_token
    ) as client:
        names = client.schema.get_schemas()
    assert list(models.MODELS) == names


def test_synapse_model_validates_like_the_snapshot(live: Generated) -> None:
    models = importlib.import_module(f"{live.package.__name__}.annotation_models")
    fresh, snapshot = models.MODELS["synapse"], SNAPSHOT_MODELS["synapse"]
    assert fresh is not snapshot
    valid, short = _synapse_doc([1.0, 2.0, 3.0]), _synapse_doc([1.0, 2.0])
    assert _accepts(fresh, valid) and _accepts(snapshot, valid)
    assert not _accepts(fresh, short) and not _accepts(snapshot, short)
    assert fresh(**valid).pre_pt.root_id == snapshot(**valid).pre_pt.root_id == 2**64 - 1


def test_service_packages_follow_the_reported_versions(live: Generated) -> None:
    bundled = load_config(specs_root()).services
    headers = {"Authorization": f"Bearer {live.server.admin_token}"}
    with httpx.Client(base_url=live.server.base_url, headers=headers) as http:
        reported = {
            s: http.get(path).raise_for_status().json() for s, path in VERSION_ROUTES.items()
        }
    expected = {
        t.module
        for t in bundled
        if t.service not in reported or int(t.version.lstrip("v")) in reported[t.service]
    }
    root = Path(live.package.__file__ or "").parent
    written = {p.name for p in root.iterdir() if (p / "api").is_dir()}
    assert written == expected
    for module in expected:
        api = importlib.import_module(f"{live.package.__name__}.{module}.api")
        assert api.__name__.endswith(f"{module}.api")
    for service, served in reported.items():
        for version in served:
            lacking = f"v{version}" not in {t.version for t in bundled if t.service == service}
            message = f"{service}: the server reports API version {version}; no bundled spec"
            assert (message in live.output) is lacking, message


def test_a_folder_it_did_not_write_is_left_alone(live: Generated, tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["codegen", "--server", live.server.base_url, "--out", str(foreign)]
    )
    assert result.exit_code != 0
    assert (foreign / "notes.txt").read_text(encoding="utf-8") == "keep"


def test_missing_codegen_extra_names_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        return None if name == "datamodel_code_generator" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    out = tmp_path / "types"
    result = CliRunner().invoke(
        app, ["codegen", "--server", "http://127.0.0.1:9", "--out", str(out)]
    )
    assert result.exit_code == 1
    assert 'pip install "dafclient[codegen]"' in result.output
    assert "datamodel_code_generator" in result.output
    assert not out.exists()


def _new_type_schema() -> dict[str, Any]:
    """A raw schema in the schema service's style for a type the snapshot lacks."""
    synapse = json.loads((schemas_dir() / "synapse.json").read_text("utf-8"))
    point = synapse["definitions"]["BoundSpatialPoint"]
    return {
        "$schema": synapse["$schema"],
        "$ref": "#/definitions/SpineCount",
        "definitions": {
            "BoundSpatialPoint": point,
            "SpineCount": {
                "type": "object",
                "additionalProperties": True,
                "required": ["pt", "count"],
                "properties": {
                    "pt": {"$ref": "#/definitions/BoundSpatialPoint", "type": "object"},
                    "count": {"type": "number", "format": "integer", "title": "count"},
                    "shape": {
                        "type": "string",
                        "enum": ["thin", "stubby", "mushroom"],
                        "enumNames": [],
                    },
                    "valid": {"type": ["boolean", "null"], "default": None},
                },
            },
        },
    }


@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    """The command run against a deployment whose schema service lists one extra type."""
    catalog_dir = tmp_path_factory.mktemp("catalog") / "annotation_schemas"
    shutil.copytree(schemas_dir(), catalog_dir)
    names = json.loads((catalog_dir / "index.json").read_text("utf-8"))
    (catalog_dir / "index.json").write_text(json.dumps([*names, NEW_TYPE]), "utf-8")
    (catalog_dir / f"{NEW_TYPE}.json").write_text(json.dumps(_new_type_schema()), "utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("dafserver.deployment.load_catalog", lambda: SchemaCatalog(catalog_dir))
        with running_server(tmp_path_factory.mktemp("bare"), size=None) as server:
            out = tmp_path_factory.mktemp("codegen") / "extendedtypes"
            generated = _run_codegen(server, out)
    yield generated
    _forget(out)


def test_a_type_missing_from_the_snapshot_becomes_a_model(extended: Generated) -> None:
    assert NEW_TYPE not in SNAPSHOT_MODELS
    models = importlib.import_module(f"{extended.package.__name__}.annotation_models")
    model = models.MODELS[NEW_TYPE]
    runtime = model_for(NEW_TYPE, _new_type_schema())
    assert model.__name__ == runtime.__name__ == "SpineCount"
    valid = {"pt": {"position": [1, 2, 3], "root_id": 5}, "count": 4, "shape": "thin"}
    damaged = [
        {**valid, "count": 1.5},
        {**valid, "shape": "round"},
        {**valid, "pt": {"position": [1, 2]}},
        {**valid, "pt": {"position": [1, 2, 3], "root_id": -1}},
        {key: value for key, value in valid.items() if key != "count"},
    ]
    assert _accepts(model, valid) and _accepts(runtime, valid)
    for doc in damaged:
        assert not _accepts(model, doc), doc
        assert not _accepts(runtime, doc), doc
    assert model(**valid).valid is None
