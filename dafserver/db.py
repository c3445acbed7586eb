"""Database engine for dafserver: a SQLite file by default, PostgreSQL (or any SQLAlchemy URL)
by option.

A data folder's default database is the SQLite file ``dafserver.sqlite`` inside it. When
``DAFSERVER_DATABASE_SERVER`` names a PostgreSQL server (a SQLAlchemy URL of a database the user
may create databases from, e.g. ``postgresql+psycopg://postgres@/postgres?host=/run/pg``), every
data folder opened without an explicit URL gets a database of its own on that server instead: it
is created on first use under a fresh name, which the folder remembers in ``dafserver.database``.
The test suite runs against PostgreSQL this way (``nox -s tests_postgres``).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

DATABASE_FILE = "dafserver.sqlite"
DATABASE_SERVER_ENV = "DAFSERVER_DATABASE_SERVER"
DATABASE_NAME_FILE = "dafserver.database"
"""In a data folder whose database lives on ``DAFSERVER_DATABASE_SERVER``: the database's name."""

POOL_SIZE = 8
"""Connections each process keeps open to a database server (uvicorn runs handlers in a thread
pool of 40, but a request holds a connection only for its statements)."""
POOL_OVERFLOW = 16


def default_database_url(data_dir: Path) -> str:
    """The database that a deployment in ``data_dir`` uses unless told otherwise."""
    server = os.environ.get(DATABASE_SERVER_ENV)
    if server:
        return folder_database_url(server, data_dir)
    return f"sqlite:///{(data_dir / DATABASE_FILE).resolve()}"


def folder_database_url(server_url: str, data_dir: Path) -> str:
    """The URL of ``data_dir``'s own database on the server ``server_url``, created if needed."""
    name_file = data_dir / DATABASE_NAME_FILE
    if name_file.is_file():
        name = name_file.read_text(encoding="utf-8").strip()
    else:
        name = f"dafserver_{uuid.uuid4().hex[:16]}"
        create_database(server_url, name)
        data_dir.mkdir(parents=True, exist_ok=True)
        name_file.write_text(name + "\n", encoding="utf-8")
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def create_database(server_url: str, name: str) -> None:
    """``CREATE DATABASE name`` on the server (outside a transaction, as PostgreSQL needs)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {name!r}")
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()


def make_engine(url: str) -> Engine:
    """Create an engine: SQLite gets WAL, foreign keys and cross-thread use (uvicorn's thread
    pool); a server database gets a bounded pool whose connections are checked before use."""
    if not url.startswith("sqlite"):
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            pool_recycle=3600,
        )
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def is_sqlite(engine: Engine) -> bool:
    """Whether ``engine`` is an embedded SQLite database (one process serves it)."""
    return engine.dialect.name == "sqlite"
