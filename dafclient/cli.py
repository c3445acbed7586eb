"""The ``dafclient`` command line: ``serve`` a local deployment, run the ``demo``, ``codegen``."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Annotated

import typer

from dafclient import __version__
from dafclient.tokens import server_token_file, write_token_file

app = typer.Typer(
    help="dafclient: a typed client for the Dynamic Annotation Framework (CAVE).",
    no_args_is_help=True,
)


SERVER_EXTRA = 'pip install "dafclient[server]"'
SERVER_MODULES = ("fastapi", "uvicorn", "sqlalchemy", "networkx", "cloudvolume", "duckdb", "scipy")
"""The import names of the ``server`` extra's distributions, which dafserver needs."""


def _require_server_extra(command: str) -> None:
    """Exit with status 1 and the install command if the ``server`` extra is missing."""
    missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        typer.echo(
            f"dafclient {command}: needs the server extra ({', '.join(missing)} not installed): "
            f"{SERVER_EXTRA}",
            err=True,
        )
        raise typer.Exit(1)


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
        str | None,
        typer.Option(
            help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db (the postgres extra) "
            "(default: a SQLite file in the data folder)."
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(min=1, help="Worker processes (more than one needs a PostgreSQL database)."),
    ] = 1,
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
    query_limit: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Most rows one materialization query answers (production's default: 200,000).",
        ),
    ] = None,
    new_version: Annotated[
        int | None,
        typer.Option(
            help="Before serving, make a materialization version of the current annotations "
            "that expires after this many days."
        ),
    ] = None,
) -> None:
    """Serve a local reference deployment of every DAF service (needs the ``server`` extra)."""
    _require_server_extra("serve")
    from dafserver.deployment import Deployment
    from dafserver.faults import parse_fields
    from dafserver.runner import serve_forever

    fault_config = None
    if faults is not None:
        fields = {"rate": str(faults), "seed": str(fault_seed), "phase": fault_phase}
        fields.update({"kinds": fault_kinds} if fault_kinds else {})
        fields.update({"routes": fault_routes} if fault_routes else {})
        try:
            fault_config = parse_fields(fields)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    if query_limit is not None:
        # Read by every process serving the deployment (production's QUERY_LIMIT_SIZE setting).
        os.environ["DAFSERVER_QUERY_LIMIT"] = str(query_limit)
    if workers > 1 and fault_config is not None:
        raise typer.BadParameter("faults are injected by one process: use --workers 1")
    deployment = Deployment.open(data, database_url=database_url, size=size, seed=seed)
    typer.echo(f"dafserver: data in {deployment.data_dir}")
    typer.echo(f"dafserver: admin token {deployment.admin_token}")
    if new_version is not None:
        from dafserver.materialize.engine import freeze_now

        for made in freeze_now(deployment, days_to_expire=new_version):
            typer.echo(f"dafserver: materialized {made.datastack} version {made.version}")
    if write_token:
        path = write_token_file(
            server_token_file(f"http://{host}:{port}"), deployment.admin_token, overwrite=True
        )
        typer.echo(f"dafserver: token saved to {path}")
    typer.echo(f"dafserver: listening on http://{host}:{port}")
    resolved_url = deployment.engine.url.render_as_string(hide_password=False)
    deployment.close()
    if workers > 1:
        from dafserver.workers import WorkerSettings, serve_workers

        settings = WorkerSettings(str(deployment.data_dir), resolved_url, size, seed)
        try:
            serve_workers(settings, host=host, port=port, workers=workers)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        return
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
    """Start a local deployment and walk through the client against it (needs the ``server`` extra)."""
    _require_server_extra("demo")
    from dafclient.demo import run_demo

    run_demo(data, echo=typer.echo, size=size)


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
    datastack: Annotated[
        str | None,
        typer.Option(help="Also write typed table classes of this datastack (tables_<name>.py)."),
    ] = None,
) -> None:
    """Generate typed annotation models and request packages from a live deployment.

    Every annotation type the server's schema service lists becomes a validating model; every API version the server reports that has a bundled OpenAPI spec becomes a typed request package (a service without a versions route gets every bundled version). Needs the codegen extra.

    OUT is written as one Python package named after the folder, laid out like dafclient._wire: put the parent folder of OUT on sys.path, then "from <name>.annotation_models import MODELS" (type name -> model class) or "import <name>.schema_v2".
    """
    from dafclient.live_codegen import LiveCodegenError, generate_from_server

    try:
        generate_from_server(server, out, token=token, echo=typer.echo, datastack=datastack)
    except LiveCodegenError as exc:
        if exc.param_hint:
            raise typer.BadParameter(str(exc), param_hint=exc.param_hint) from exc
        typer.echo(f"dafclient codegen: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from exc


if __name__ == "__main__":
    app()
