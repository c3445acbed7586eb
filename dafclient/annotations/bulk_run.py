"""Running a bulk write: rounds of batch plans, driven by threads (sync) or tasks (async).

:class:`BulkRun` is the I/O-free part shared by both clients: it hands out one plan per batch,
records outcomes in the :class:`~dafclient.annotations.bulk.BulkResult` and decides whether
another round is needed (rows that certainly were not processed are retried up to
``attempts`` times, after any ``Retry-After``). :func:`run_blocking` and :func:`run_async`
only differ in how they wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from dafclient._plan import Plan, adrive, drive
from dafclient.annotations.bulk import BatchLedger, BulkResult, RowState, pending_batches
from dafclient.errors import DafError, InputError

PROGRESS_MIN_ROWS = 20_000
"""With ``progress=None`` a bar is shown only for writes of more rows than this."""

BatchPlan = Callable[[npt.NDArray[np.intp]], Plan[list[int | None]]]
"""Makes the plan that writes one batch and returns the annotation id of each of its rows."""


@dataclass(frozen=True)
class BulkOptions:
    """How a bulk write is sent (see ``bulk_post``)."""

    batch_size: int
    concurrency: int
    attempts: int
    progress: bool | None
    retry_failed: bool = False


@dataclass(frozen=True)
class BatchWork:
    rows: npt.NDArray[np.intp]
    floor_id: int
    plan: Plan[list[int | None]]


class BulkRun:
    """One call's worth of rounds over a :class:`BulkResult`."""

    def __init__(self, result: BulkResult, batch_plan: BatchPlan, options: BulkOptions) -> None:
        if options.concurrency < 1:
            raise InputError(f"concurrency must be at least 1, got {options.concurrency}")
        if options.attempts < 1:
            raise InputError(f"attempts must be at least 1, got {options.attempts}")
        pending_batches(result, options.batch_size)  # checks batch_size before anything is sent
        self.result = result
        self.concurrency = options.concurrency
        self._batch_plan = batch_plan
        self._batch_size = options.batch_size
        self._attempts_left = options.attempts
        self._retry_failed = options.retry_failed
        todo = result.count(RowState.PENDING)
        if options.retry_failed:
            todo += result.count(RowState.FAILED)
        show = todo > PROGRESS_MIN_ROWS if options.progress is None else options.progress
        self._bar = tqdm(total=todo, disable=not show, unit="row", desc=result.operation)
        self.ledger = BatchLedger(result, self._advance)

    def _advance(self, rows: int) -> None:
        self._bar.update(rows)

    def next_round(self) -> list[BatchWork]:
        """The batches to send now (empty when done or out of attempts)."""
        if self._attempts_left == 0:
            return []
        self._attempts_left -= 1
        rows = pending_batches(self.result, self._batch_size, retry_failed=self._retry_failed)
        self._retry_failed = False
        floor = self.ledger.max_known_id()
        return [BatchWork(r, floor, self._batch_plan(r)) for r in rows]

    def pause(self) -> float:
        """Seconds to wait before the next round (a server's Retry-After)."""
        seconds, self.ledger.retry_after = self.ledger.retry_after, 0.0
        return seconds

    def settle(self, work: BatchWork, outcome: list[int | None] | DafError) -> None:
        if isinstance(outcome, DafError):
            self.ledger.refused(work.rows, outcome, work.floor_id)
        else:
            self.ledger.landed(work.rows, outcome)

    def close(self) -> BulkResult:
        self._bar.close()
        return self.result


def run_blocking(run: BulkRun, http: httpx.Client) -> BulkResult:
    """Drive ``run`` with a thread pool of ``run.concurrency`` workers."""

    def attempt(work: BatchWork) -> None:
        try:
            outcome: list[int | None] | DafError = drive(work.plan, http)
        except DafError as error:
            outcome = error
        run.settle(work, outcome)

    try:
        with ThreadPoolExecutor(max_workers=run.concurrency) as pool:
            while work := run.next_round():
                list(pool.map(attempt, work))
                if seconds := run.pause():
                    time.sleep(seconds)
    finally:
        run.close()
    return run.result


async def run_async(run: BulkRun, http: httpx.AsyncClient) -> BulkResult:
    """Drive ``run`` with at most ``run.concurrency`` requests in flight."""
    gate = asyncio.Semaphore(run.concurrency)

    async def attempt(work: BatchWork) -> None:
        async with gate:
            try:
                outcome: list[int | None] | DafError = await adrive(work.plan, http)
            except DafError as error:
                outcome = error
        run.settle(work, outcome)

    try:
        while work := run.next_round():
            await asyncio.gather(*(attempt(w) for w in work))
            if seconds := run.pause():
                await asyncio.sleep(seconds)
    finally:
        run.close()
    return run.result


def ids_of(value: Any, what: str) -> list[int]:
    """The id list a batch write returned."""
    if not isinstance(value, list):
        raise DafError(f"{what}: expected a list of ids, got {type(value).__name__}")
    return [int(v) for v in value]
