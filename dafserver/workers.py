"""One deployment served by several uvicorn worker processes (``dafclient serve --workers N``).

Every worker opens the deployment itself (the parent process has built it) and keeps its own
in-memory copies (the chunkedgraph's arrays, the L2 cache's rows); the database is the source of
truth, so it must be a database server: PostgreSQL. How the copies stay correct is described in
:mod:`dafserver.services.chunkedgraph_access` (edits and reads of the chunkedgraph) and
:mod:`dafserver.l2cache.store`; everything else reads the database on every request. Each answer
names the process that served it in an ``X-Dafserver-Worker`` header.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

WORKER_SETTINGS_ENV = "DAFSERVER_WORKER_SETTINGS"
WORKER_HEADER = b"x-dafserver-worker"


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker process opens (passed to it in the environment)."""

    data_dir: str
    database_url: str
    size: str | None
    seed: int


class WorkerHeader:
    """Adds ``X-Dafserver-Worker: <process id>`` to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.pid = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (WORKER_HEADER, self.pid)]
            await send(message)

        await self.app(scope, receive, send_with_header)


def create_worker_app() -> ASGIApp:
    """The application of one worker process (uvicorn's factory)."""
    from dafserver.app import create_app
    from dafserver.deployment import Deployment

    settings = WorkerSettings(**json.loads(os.environ[WORKER_SETTINGS_ENV]))
    deployment = Deployment.open(
        Path(settings.data_dir),
        database_url=settings.database_url,
        size=settings.size,
        seed=settings.seed,
    )
    return WorkerHeader(create_app(deployment))


def serve_workers(
    settings: WorkerSettings, *, host: str, port: int, workers: int, log_level: str = "info"
) -> None:
    """Serve the (already built) deployment of ``settings`` from ``workers`` processes."""
    import uvicorn

    if settings.database_url.startswith("sqlite"):
        raise ValueError(
            "several workers need a database server: pass --database-url "
            "postgresql+psycopg://... (SQLite is served by one process)"
        )
    os.environ[WORKER_SETTINGS_ENV] = json.dumps(asdict(settings))
    uvicorn.run(
        "dafserver.workers:create_worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        lifespan="off",
    )
