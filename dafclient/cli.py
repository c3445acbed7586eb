"""The ``dafclient`` command line."""

from __future__ import annotations

import typer

from dafclient import __version__

app = typer.Typer(help="dafclient: a typed client for the Dynamic Annotation Framework (CAVE).")


@app.command()
def version() -> None:
    """Print the dafclient version."""
    typer.echo(__version__)
