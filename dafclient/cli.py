"""The ``dafclient`` command line: ``serve`` a local deployment, run the ``demo``, ``codegen``."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dafclient import __version__
from dafclient.tokens import server_token_file, write_token_file

if TYPE_CHECKING:
    from codegen.config import ServiceTarget

app = typer.Typer(
    help="dafclient: a typed client for the Dynamic Annotation Framework (CAVE).",
    no_args_is_help=True,
)


@app.command()
def version() -> None:
    """Print the dafclient version."""
    typer.echo(__version__)


@app.command()
def serve(
    data: Annotated[Path, typer.Option(help="Data folder (created, with a dataset, if empty).")],
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    size: Annotated[
        str, typer.Option(help="Synthetic dataset size for a new data folder.")
    ] = "small",
    seed: Annotated[int, typer.Option(help="Seed of the synthetic dataset.")] = 0,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (default: a SQLite file in the data folder).")
    ] = None,
    write_token: Annotated[
        bool,
        typer.Option(
            help="Save the admin token where dafclient looks for this server's token "
            "({host}-cave-secret.json in the secrets folder)."
        ),
    ] = False,
    faults: Annotated[
        float | None, typer.Option(help="Share of requests (0..1) to fail on purpose.")
    ] = None,
    fault_seed: Annotated[int, typer.Option(help="Seed of the fault sequence.")] = 0,
    fault_kinds: Annotated[
        str | None,
        typer.Option(help="Fault kinds, e.g. 502+503+504+429+reset+hang+truncate (default: all)."),
    ] = None,
    fault_routes: Annotated[
        str | None, typer.Option(help="Path prefixes subject to faults, e.g. /segmentation/.")
    ] = None,
    fault_phase: Annotated[
        str, typer.Option(help="Fail before the handler, after it, or both.")
    ] = "both",
) -> None:
    """Serve a local reference deployment of every DAF service (needs the ``server`` extra)."""
    try:
        from dafserver.deployment import Deployment
        from dafserver.faults import parse_fields
        from dafserver.runner import serve_forever
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise typer.BadParameter(
            f"dafserver needs the server extra: pip install 'dafclient[server]' ({exc})"
        ) from exc
    fault_config = None
    if faults is not None:
        fields = {"rate": str(faults), "seed": str(fault_seed), "phase": fault_phase}
        fields.update({"kinds": fault_kinds} if fault_kinds else {})
        fields.update({"routes": fault_routes} if fault_routes else {})
        try:
            fault_config = parse_fields(fields)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    deployment = Deployment.open(data, database_url=database_url, size=size, seed=seed)
    typer.echo(f"dafserver: data in {deployment.data_dir}")
    typer.echo(f"dafserver: admin token {deployment.admin_token}")
    if write_token:
        path = write_token_file(
            server_token_file(f"http://{host}:{port}"), deployment.admin_token, overwrite=True
        )
        typer.echo(f"dafserver: token saved to {path}")
    typer.echo(f"dafserver: listening on http://{host}:{port}")
    deployment.close()
    if fault_config is not None:
        typer.echo(f"dafserver: injecting faults {fault_config}")
    serve_forever(
        data,
        host=host,
        port=port,
        size=size,
        seed=seed,
        database_url=database_url,
        faults=fault_config,
    )


@app.command()
def demo(
    data: Annotated[
        Path | None, typer.Option(help="Keep the deployment in this folder (default: temporary).")
    ] = None,
    size: Annotated[str, typer.Option(help="Synthetic dataset size.")] = "small",
) -> None:
    """Start a local deployment and walk through the client against it."""
    from dafclient.demo import run_demo

    run_demo(data, echo=typer.echo, size=size)


CODEGEN_EXTRA = 'pip install "dafclient[codegen]"'
_CODEGEN_MODULES = ("codegen", "openapi_python_client", "datamodel_code_generator")


@app.command("codegen")
def codegen_command(
    server: Annotated[
        str, typer.Option(help="Base URL of the deployment (its global server), e.g. https://host.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            help="Package folder to write (absent, empty, or written by this command before); "
            "its name is the import name."
        ),
    ],
    token: Annotated[
        str | None,
        typer.Option(help="Auth token (default: found the way FrameworkClient finds it)."),
    ] = None,
) -> None:
    """Generate typed annotation models and request packages from a live deployment.

    Every annotation type the server's schema service lists becomes a validating model; every API version the server reports that has a bundled OpenAPI spec becomes a typed request package (a service without a versions route gets every bundled version). Needs the codegen extra.

    OUT is written as one Python package named after the folder, laid out like dafgen: put the parent folder of OUT on sys.path, then "from <name>.annotation_models import MODELS" (type name -> model class) or "import <name>.schema_v2".
    """
    missing = [name for name in _CODEGEN_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        typer.echo(
            f"dafclient codegen needs the codegen extra ({', '.join(missing)} not installed): "
            f"{CODEGEN_EXTRA}",
            err=True,
        )
        raise typer.Exit(1)
    from codegen.__main__ import build
    from codegen.annotation_models import INIT_MARKER
    from codegen.config import AnnotationModelsTarget, load_config, specs_root

    out = out.resolve()
    if not out.name.isidentifier():
        raise typer.BadParameter(f"{out.name!r} is not a Python package name", param_hint="--out")
    config = load_config(specs_root())
    models_init = out / config.annotation_models.module / "__init__.py"
    ours = models_init.is_file() and INIT_MARKER in models_init.read_text(encoding="utf-8")
    if out.exists() and any(out.iterdir()) and not ours:
        raise typer.BadParameter(
            f"{out} is not empty and was not written by dafclient codegen", param_hint="--out"
        )
    names, schemas = _live_schemas(server, token)
    reported = _reported_versions(server, token, sorted({t.service for t in config.services}))
    targets = _served_targets(config.services, reported)
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
            services=tuple(targets),
            annotation_models=AnnotationModelsTarget(
                schemas=schemas_dir, module=config.annotation_models.module
            ),
        )
        fresh = Path(tmp) / out.name
        try:
            build(live, fresh)
        except (RuntimeError, ValueError) as exc:  # codegen's CodegenError is a RuntimeError
            typer.echo(f"dafclient codegen: {exc}", err=True)
            raise typer.Exit(2) from exc
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(fresh, out)
    typer.echo(f"{out.name}.{config.annotation_models.module}: {len(names)} annotation types")
    for target in targets:
        typer.echo(f"{out.name}.{target.module}: {target.service} API {target.version}")
    typer.echo(f"import with {out.parent} on sys.path: import {out.name}")


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
    server: str, token: str | None, services: Sequence[str]
) -> dict[str, list[int] | None]:
    """API versions each service reports on its versions route; None where it has none."""
    import httpx

    from dafclient.config import normalize_server
    from dafclient.services.annotation import ANNOTATION_API
    from dafclient.services.auth import AUTH_API
    from dafclient.services.chunkedgraph import SEGMENTATION_API
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
        "segmentation": SEGMENTATION_API,
        "nglstate": STATE_API,
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
                typer.echo(f"{service}: {path} {problem}")
    return reported


def _served_targets(
    targets: Sequence[ServiceTarget], reported: dict[str, list[int] | None]
) -> list[ServiceTarget]:
    """The bundled specs of the versions the server reports; print the reported ones lacking one."""
    chosen: list[ServiceTarget] = []
    for service, versions in reported.items():
        bundled = [t for t in targets if t.service == service]
        if versions is None:
            typer.echo(f"{service}: no versions reported; using every bundled spec")
            chosen += bundled
            continue
        chosen += [t for t in bundled if t.version in {f"v{v}" for v in versions}]
        for version in versions:
            if f"v{version}" not in {t.version for t in bundled}:
                typer.echo(f"{service}: the server reports API version {version}; no bundled spec")
    return [t for t in targets if t in chosen]


if __name__ == "__main__":
    app()
