"""Run a deployment on a loopback port: in a background thread (tests, demo) or in the foreground."""

from __future__ import annotations

import gc
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from dafserver.app import create_app
from dafserver.deployment import Deployment
from dafserver.faults import FaultConfig, FaultInjector

STARTUP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class LocalServer:
    """A running deployment: where it listens and the admin token it was set up with."""

    base_url: str
    admin_token: str
    deployment: Deployment
    faults: FaultInjector | None = None
    """The fault injector when the server was started with faults (``faults.injected`` counts
    what it did, by kind and phase)."""


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


@contextmanager
def running_server(
    data_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    size: str | None = "small",
    seed: int = 0,
    database_url: str | None = None,
    faults: FaultConfig | None = None,
) -> Iterator[LocalServer]:
    """Open (building if needed) the deployment in ``data_dir`` and serve it until the block exits.

    ``port=0`` picks a free port; the base URL in the result says which. ``faults`` makes a share
    of requests fail (see :mod:`dafserver.faults`).
    """
    deployment = Deployment.open(data_dir, database_url=database_url, size=size, seed=seed)
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    app = create_app(deployment, faults=faults)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_keep_alive=30)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="dafserver", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("dafserver did not start")
        time.sleep(0.005)
    # The deployment's long-lived objects never need collecting; freezing them keeps the
    # collector from rescanning them while large request bodies are parsed.
    gc.freeze()
    try:
        yield LocalServer(
            base_url=f"http://{host}:{bound_port}",
            admin_token=deployment.admin_token,
            deployment=deployment,
            faults=app.state.fault_injector,
        )
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)
        sock.close()
        deployment.close()


def serve_forever(
    data_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    size: str | None = "small",
    seed: int = 0,
    database_url: str | None = None,
    faults: FaultConfig | None = None,
) -> None:
    """Serve the deployment in ``data_dir`` in the foreground until interrupted."""
    deployment = Deployment.open(data_dir, database_url=database_url, size=size, seed=seed)
    try:
        app = create_app(deployment, faults=faults)
        uvicorn.run(app, host=host, port=port, log_level="info", lifespan="off")
    finally:
        deployment.close()
