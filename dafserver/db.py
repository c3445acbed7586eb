"""Database engine for dafserver: a SQLite file by default, any SQLAlchemy URL by option."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

DATABASE_FILE = "dafserver.sqlite"


def default_database_url(data_dir: Path) -> str:
    """The SQLite file inside ``data_dir`` that a deployment uses unless told otherwise."""
    return f"sqlite:///{(data_dir / DATABASE_FILE).resolve()}"


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and cross-thread use (uvicorn's thread pool)."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine
