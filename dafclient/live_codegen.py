"""Typed packages generated from a live deployment (``dafclient codegen --server``).

Every annotation type the deployment's schema service lists becomes a validating model; every API
version the deployment reports that has a bundled OpenAPI spec becomes a typed request package.
The work is done by :mod:`dafclient._codegen` (with the ``codegen`` extra), on the live inputs.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dafclient.errors import DafError

if TYPE_CHECKING:
    from dafclient._codegen.config import ServiceTarget

CODEGEN_EXTRA = 'pip install "dafclient[codegen]"'
CODEGEN_MODULES = ("openapi_python_client", "datamodel_code_generator")


class LiveCodegenError(DafError):
    """The packages could not be generated; ``param_hint`` names a bad option, if one is."""

    def __init__(self, message: str, *, exit_code: int = 2, param_hint: str | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.param_hint = param_hint


def generate_from_server(
    server: str,
    out: Path,
    *,
    token: str | None = None,
    echo: Callable[[str], Any] = print,
    datastack: str | None = None,
) -> None:
    """Write the package ``out`` (named after the folder) from the deployment at ``server``;
    with ``datastack``, also its typed table classes (``out/tables_<datastack>.py``)."""
    missing = [name for name in CODEGEN_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise LiveCodegenError(
            f"needs the codegen extra ({', '.join(missing)} not installed): {CODEGEN_EXTRA}",
            exit_code=1,
        )
    from dafclient._codegen.annotation_models import INIT_MARKER
    from dafclient._codegen.build import build
    from dafclient._codegen.config import AnnotationModelsTarget, load_config, specs_root
    from dafclient._codegen.headers import make_header

    out = out.resolve()
    if not out.name.isidentifier():
        raise LiveCodegenError(f"{out.name!r} is not a Python package name", param_hint="--out")
    config = load_config(specs_root())
    models_init = out / config.annotation_models.module / "__init__.py"
    ours = models_init.is_file() and INIT_MARKER in models_init.read_text(encoding="utf-8")
    if out.exists() and any(out.iterdir()) and not ours:
        raise LiveCodegenError(
            f"{out} is not empty and was not written by dafclient codegen", param_hint="--out"
        )
    names, schemas = _live_schemas(server, token)
    reported = _reported_versions(server, token, sorted({t.service for t in config.services}), echo)
    targets = _served_targets(config.services, reported, echo)
    with tempfile.TemporaryDirectory(prefix="dafclient-codegen-") as tmp:
        schemas_dir = Path(tmp) / "schemas"
        schemas_dir.mkdir()
        (schemas_dir / "index.json").write_text(json.dumps(names, indent=1) + "\n", "utf-8")
        for name in names:
            text = json.dumps(schemas[name], indent=1, sort_keys=True) + "\n"
            (schemas_dir / f"{name}.json").write_text(text, "utf-8")
        live = dataclasses.replace(
            config,
            package=out.name,
            header=make_header(
                f"the deployment at {server}",
                f"`dafclient codegen --server {server} --out {out.name}`",
            ),
            services=tuple(targets),
            annotation_models=AnnotationModelsTarget(
                schemas=schemas_dir, module=config.annotation_models.module
            ),
        )
        fresh = Path(tmp) / out.name
        try:
            build(live, fresh)
        except (RuntimeError, ValueError) as exc:  # codegen's CodegenError is a RuntimeError
            raise LiveCodegenError(str(exc), exit_code=2) from exc
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(fresh, out)
    echo(f"{out.name}.{config.annotation_models.module}: {len(names)} annotation types")
    for target in targets:
        echo(f"{out.name}.{target.module}: {target.service} API {target.version}")
    if datastack is not None:
        from dafclient.services.materialize_codegen import write_tables

        tables = write_tables(
            server,
            datastack,
            out,
            token=token,
            header=make_header(
                f"the deployment at {server}",
                f"`dafclient codegen --server {server} --out {out.name} --datastack {datastack}`",
            ),
        )
        echo(f"{out.name}.{tables.stem}: typed queries of the tables of {datastack}")
    echo(f"import with {out.parent} on sys.path: import {out.name}")


def _live_schemas(server: str, token: str | None) -> tuple[list[str], dict[str, Any]]:
    """Every annotation type name the schema service lists, and its raw JSON Schema."""
    from dafclient.framework import FrameworkClient

    with FrameworkClient(server_address=server, auth_token=token) as client:
        names = client.schema.get_schemas()
        schemas = client.schema.schema_definition_all()
        for name in names:
            if not isinstance(schemas.get(name), dict):
                schemas[name] = client.schema.schema_definition(name)
    return names, schemas


def _reported_versions(
    server: str, token: str | None, services: Sequence[str], echo: Callable[[str], Any]
) -> dict[str, list[int] | None]:
    """API versions each service reports on its versions route; None where it has none."""
    import httpx

    from dafclient.config import normalize_server
    from dafclient.services.annotation import ANNOTATION_API
    from dafclient.services.auth import AUTH_API
    from dafclient.services.chunkedgraph import CHUNKEDGRAPH_API
    from dafclient.services.info import INFO_API
    from dafclient.services.schema import SCHEMA_API
    from dafclient.services.state import STATE_API
    from dafclient.tokens import find_token
    from dafclient.transport import TokenAuth, TrustedServers

    apis = {
        "auth": AUTH_API,
        "info": INFO_API,
        "schema": SCHEMA_API,
        "annotation": ANNOTATION_API,
        "chunkedgraph": CHUNKEDGRAPH_API,
        "state": STATE_API,
    }
    base = normalize_server(server)
    auth = TokenAuth(find_token(base, auth_token=token).token, TrustedServers(base))
    reported: dict[str, list[int] | None] = {}
    with httpx.Client(auth=auth, timeout=30.0) as http:
        for service in services:
            path = apis[service].versions_path if service in apis else None
            reported[service] = None
            if path is None:
                continue
            try:
                response = http.get(base + path)
                versions = response.json() if response.status_code == 200 else None
                problem = f"answered {response.status_code}"
            except (httpx.HTTPError, ValueError) as exc:
                versions, problem = None, f"failed ({exc})"
            if isinstance(versions, list) and all(isinstance(v, int) for v in versions):
                reported[service] = versions
            else:
                echo(f"{service}: {path} {problem}")
    return reported


def _served_targets(
    targets: Sequence[ServiceTarget],
    reported: dict[str, list[int] | None],
    echo: Callable[[str], Any],
) -> list[ServiceTarget]:
    """The bundled specs of the versions the server reports; print the reported ones lacking one."""
    chosen: list[ServiceTarget] = []
    for service, versions in reported.items():
        bundled = [t for t in targets if t.service == service]
        if versions is None:
            echo(f"{service}: no versions reported; using every bundled spec")
            chosen += bundled
            continue
        chosen += [t for t in bundled if t.version in {f"v{v}" for v in versions}]
        for version in versions:
            if f"v{version}" not in {t.version for t in bundled}:
                echo(f"{service}: the server reports API version {version}; no bundled spec")
    return [t for t in targets if t in chosen]
