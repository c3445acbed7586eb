"""The graph a chunkedgraph request addresses, guarded by a readers-writer lock.

Queries run in the thread pool (large id lists keep the event loop free) and may run side by
side; an edit holds its graph exclusively, since it updates several in-memory tables at once.

Several processes may serve one database (uvicorn workers on PostgreSQL): the database is the
source of truth. Before a query, a graph applies the operations other processes committed
(:func:`up_to_date`); an edit also holds the database's edit lock of its graph
(:meth:`ChunkedGraph.exclusive`), so edits are serialised across processes and each one starts
from the latest state.
Engine errors become PyChunkedGraph error bodies with the statuses the contract declares:
precondition and postcondition failures 400, unknown nodes and operations 404.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from dafserver.chunkedgraph.errors import (
    NodeNotFound,
    OperationNotFound,
    PostconditionError,
    PreconditionError,
)
from dafserver.chunkedgraph.graph import ChunkedGraph
from dafserver.deployment import Deployment
from dafserver.errors import ServiceError

T = TypeVar("T")


class ReadWriteLock:
    """Many readers or one writer; a waiting writer holds back new readers."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._condition:
            while self._writing or self._writers_waiting:
                self._condition.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                if self._readers == 0:
                    self._condition.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._condition:
            self._writers_waiting += 1
            while self._writing or self._readers:
                self._condition.wait()
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()


_LOCKS: weakref.WeakKeyDictionary[ChunkedGraph, ReadWriteLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def graph_lock(graph: ChunkedGraph) -> ReadWriteLock:
    """The lock of ``graph`` (created on first use)."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(graph)
        if lock is None:
            lock = _LOCKS[graph] = ReadWriteLock()
        return lock


def deployment_of(request: Request) -> Deployment:
    """The deployment the application serves."""
    deployment = request.app.state.deployment
    assert isinstance(deployment, Deployment)
    return deployment


def graph_of(request: Request, table_id: str) -> ChunkedGraph:
    """The graph called ``table_id`` (404 when the deployment has none)."""
    graph = deployment_of(request).graphs.get(table_id)
    if graph is None:
        raise ServiceError(404, f"Table {table_id} does not exist")
    return graph


@contextmanager
def engine_errors() -> Iterator[None]:
    """Translate the engine's typed errors into PyChunkedGraph error answers."""
    try:
        yield
    except (PreconditionError, PostconditionError) as err:
        raise ServiceError(400, str(err)) from None
    except (NodeNotFound, OperationNotFound) as err:
        raise ServiceError(404, str(err)) from None


def up_to_date(graph: ChunkedGraph) -> ChunkedGraph:
    """``graph`` with every operation committed to its store applied (blocking: call it from a
    worker thread). Costs one indexed query when nothing changed."""
    if graph.is_behind_store():
        with graph_lock(graph).writing():
            graph.catch_up()
    return graph


async def read(graph: ChunkedGraph, work: Callable[[], T]) -> T:
    """Run a query on an up-to-date ``graph`` in the thread pool, beside other queries."""

    def run() -> T:
        up_to_date(graph)
        with graph_lock(graph).reading(), engine_errors():
            return work()

    return await run_in_threadpool(run)


async def write(graph: ChunkedGraph, work: Callable[[], T]) -> T:
    """Run an edit on ``graph`` in the thread pool, alone in this process and, through the
    database's edit lock, in every process serving the same database."""

    def run() -> T:
        with graph_lock(graph).writing(), engine_errors(), graph.exclusive():
            return work()

    return await run_in_threadpool(run)
