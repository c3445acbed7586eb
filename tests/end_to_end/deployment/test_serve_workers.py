"""`dafclient serve --workers N` refuses SQLite: the chunkedgraph's edit lock needs a server."""

from __future__ import annotations

import pytest

from dafserver.workers import WorkerSettings, serve_workers


def test_several_workers_need_a_database_server() -> None:
    settings = WorkerSettings("/nonexistent", "sqlite:////nonexistent/dafserver.sqlite", None, 0)
    with pytest.raises(ValueError, match="several workers need a database server"):
        serve_workers(settings, host="127.0.0.1", port=0, workers=2)
