"""Bulk posts of a table given in partitions (a Dask DataFrame): streamed in order, one
:class:`~dafclient.annotations.bulk.BulkResult` for the whole job, resumable.

Partitions are computed in order, a few ahead (:func:`dafclient.dask_support.partition_frames`);
each is validated and posted exactly as an in-memory ``bulk_post`` (a
:class:`~dafclient.annotations.bulk_run.BulkRun` with the same options) and its rows' outcomes go
into the job's result at the partition's offset. Only the partitions being worked on are in
memory. The job's result keeps, per row, its state and id (and, for rows whose outcome is
unknown, the fingerprint that settles them by reading the table back), so ``resume`` settles
unknown rows as for an in-memory job and then computes again only the partitions that still
have rows to send, plus any partition not read yet (reading stops at a partition that fails to
compute; the result says so).

A partition with invalid rows is not sent: its invalid rows end ``FAILED`` with their
validation errors and its other rows ``FAILED`` as "not sent"; the following partitions go on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pandas as pd

from dafclient._plan import Plan, adrive, drive
from dafclient.annotations.bulk import BulkResult, RowState, UnknownBatch, new_result
from dafclient.annotations.bulk_run import BulkOptions, BulkRun, run_async, run_blocking
from dafclient.annotations.columnar import AnnotationValidationError, ColumnTable
from dafclient.annotations.layout import AnnotationLayout
from dafclient.annotations.wire import Fingerprint, staged_fingerprints

PREFETCH = 2
"""Partitions computed ahead of the one being posted (on a distributed cluster)."""


@dataclass(eq=False)
class PartitionedRows:
    """Where a partitioned job's rows come from: the frame, each read partition's first row,
    and the fingerprints of rows whose outcome is unknown."""

    data: Any
    """The Dask DataFrame."""
    partitions: int
    layout: AnnotationLayout
    resolution: tuple[float, float, float] | None
    offsets: list[int] = field(default_factory=lambda: [0])
    """``offsets[p]``: the first row of partition ``p``; one more entry than partitions read."""
    fingerprints: dict[int, Fingerprint] = field(default_factory=dict)
    error: str | None = None
    """Why reading stopped before the last partition, if it did."""

    @property
    def unread(self) -> int:
        """Partitions not read yet."""
        return self.partitions - (len(self.offsets) - 1)

    def rows_of(self, partition: int) -> slice:
        return slice(self.offsets[partition], self.offsets[partition + 1])


StagePlan = Callable[[pd.DataFrame], Plan[ColumnTable]]
"""Validates one partition against the table's type (the plan of ``_staged(...).table()``)."""
RunMaker = Callable[[BulkResult, BulkOptions], BulkRun]


class PartitionedJob:
    """One ``bulk_post`` (or ``resume``) of a partitioned table: which partitions to read, and
    how their outcomes go into the job's result. Drive it with :func:`run_partitioned_blocking`
    or :func:`run_partitioned_async`."""

    def __init__(
        self,
        result: BulkResult,
        stage: StagePlan,
        make_run: RunMaker,
        options: BulkOptions,
    ) -> None:
        assert result.partitioned is not None
        self.result = result
        self.rows = result.partitioned
        self._stage = stage
        self._make_run = make_run
        self._options = options
        send = result.state == RowState.PENDING
        if options.retry_failed:
            send |= result.state == RowState.FAILED
        read = len(self.rows.offsets) - 1
        again = np.unique(np.searchsorted(self.rows.offsets, np.flatnonzero(send), "right") - 1)
        self.partitions = [int(p) for p in again if p < read]
        self.partitions += range(read, self.rows.partitions)
        self._new: list[BulkResult] = []
        self._floor = 0
        self._fresh: set[int] = set()
        """Partitions this job reads for the first time (their rows are in ``_new``)."""
        self.rows.error = None

    # -- reading ----------------------------------------------------------------------------
    def frames(self) -> Iterator[tuple[int, pd.DataFrame]]:
        """The partitions to work on, in order; stops (and records why) at one that fails."""
        from dafclient.dask_support import partition_frames

        found = partition_frames(self.rows.data, self.partitions, PREFETCH)
        while True:
            try:
                item = next(found)
            except StopIteration:
                return
            except Exception as exc:  # a partition failed to compute: the rest is resumable
                self.rows.error = f"{type(exc).__name__}: {exc}"[:500]
                return
            yield item

    def stage(self, frame: pd.DataFrame) -> Plan[ColumnTable | AnnotationValidationError]:
        try:
            return (yield from self._stage(frame))
        except AnnotationValidationError as error:
            return error

    # -- one partition ----------------------------------------------------------------------
    def partition_run(
        self, number: int, frame: pd.DataFrame, table: ColumnTable | AnnotationValidationError
    ) -> BulkRun | None:
        """The run that posts the partition's rows to send (None: nothing to send)."""
        first_read = number == len(self.rows.offsets) - 1
        if first_read:
            base = self.rows.offsets[-1]
            self.rows.offsets.append(base + len(frame))
            part = new_result(
                "post",
                self.result.table_name,
                self.result.aligned_volume_name,
                len(frame),
                labels=frame.index,
            )
            self._new.append(part)
            self._fresh.add(number)
        else:
            part = self._slice(number)
            part.labels = frame.index
        if isinstance(table, AnnotationValidationError):
            self._refuse(part, number, table)
            self._merge(number, part)
            return None
        if table.length != len(part):
            raise RuntimeError(
                f"partition {number} has {table.length} rows now, {len(part)} when first read"
            )
        part.source = table
        part.count_before = self.result.count_before
        # Ids the partition's batches get are above every id known before it is sent.
        self._floor = self._known_max()
        return self._make_run(part, self._options)

    def finish_partition(self, number: int, run: BulkRun) -> None:
        """Put a partition's outcomes into the job's result."""
        part = run.result
        floor = self._floor
        assert part.source is not None
        for batch in part.unknown:
            for row, fingerprint in zip(
                batch.rows.tolist(), staged_fingerprints(part.source, batch.rows), strict=True
            ):
                self.rows.fingerprints[self.rows.offsets[number] + row] = fingerprint
        part.unknown = [
            UnknownBatch(b.rows + self.rows.offsets[number], max(b.floor_id, floor))
            for b in part.unknown
        ]
        part.source = None
        self._merge(number, part)

    def finish(self) -> BulkResult:
        """The job's result, with every partition read so far."""
        result = self.result
        if self._new:
            result.state = np.concatenate([result.state, *(p.state for p in self._new)])
            result.ids = np.concatenate([result.ids, *(p.ids for p in self._new)])
            result.target_ids = np.full(len(result.state), -1, dtype=np.int64)
            labels = [p.labels for p in self._new if p.labels is not None]
            if result.labels is not None and len(result.labels):
                labels.insert(0, result.labels)
            if labels:
                result.labels = labels[0].append(labels[1:])
            self._new = []
        keep = {int(r) for b in result.unknown for r in b.rows.tolist()}
        self.rows.fingerprints = {r: f for r, f in self.rows.fingerprints.items() if r in keep}
        return result

    # -- internals --------------------------------------------------------------------------
    def _slice(self, number: int) -> BulkResult:
        rows = self.rows.rows_of(number)
        start = rows.start
        part = new_result(
            "post", self.result.table_name, self.result.aligned_volume_name, rows.stop - start
        )
        part.state[:] = self.result.state[rows]
        part.ids[:] = self.result.ids[rows]
        part.reasons = {
            r - start: why for r, why in self.result.reasons.items() if start <= r < rows.stop
        }
        return part

    def _merge(self, number: int, part: BulkResult) -> None:
        rows = self.rows.rows_of(number)
        self.result.unknown.extend(part.unknown)
        part.unknown = []
        reasons = self.result.reasons
        if number not in self._fresh:  # rows already in the job's arrays: write them back
            self.result.state[rows] = part.state
            self.result.ids[rows] = part.ids
            for r in [r for r in reasons if rows.start <= r < rows.stop]:
                del reasons[r]
        for r, why in part.reasons.items():
            reasons[rows.start + r] = why

    def _known_max(self) -> int:
        known = [self.result.ids[self.result.ids >= 0], *(p.ids[p.ids >= 0] for p in self._new)]
        return max((int(k.max()) for k in known if k.size), default=0)

    @staticmethod
    def _refuse(part: BulkResult, number: int, error: AnnotationValidationError) -> None:
        send = np.flatnonzero(part.state != RowState.DONE)
        part.state[send] = RowState.FAILED
        summary = str(error.args[0]).splitlines()[0]
        for row in send.tolist():
            part.reasons[row] = f"not sent: partition {number} has invalid rows ({summary})"
        by_row: dict[int, list[str]] = {}
        for row_error in error.errors:
            by_row.setdefault(_position(part, row_error.label), []).append(str(row_error))
        for row in error.bad_rows.tolist():
            found = by_row.get(row, ["see the partition's validation errors"])
            part.reasons[row] = "invalid: " + "; ".join(found)


def _position(part: BulkResult, label: Any) -> int:
    """The row position of a validation error's row label (-1 if not one row)."""
    if part.labels is None:
        return -1
    try:
        found = part.labels.get_loc(label)
    except (KeyError, TypeError):
        return -1
    return found if isinstance(found, int) else -1


def run_partitioned_blocking(job: PartitionedJob, http: httpx.Client) -> BulkResult:
    """Drive ``job``: partitions in order, each posted by a thread pool."""
    try:
        for number, frame in job.frames():
            table = drive(job.stage(frame), http)
            run = job.partition_run(number, frame, table)
            if run is not None:
                run_blocking(run, http)
                job.finish_partition(number, run)
    finally:
        job.finish()
    return job.result


async def run_partitioned_async(job: PartitionedJob, http: httpx.AsyncClient) -> BulkResult:
    """Drive ``job`` from asyncio (partitions are computed in a worker thread)."""
    frames = job.frames()
    try:
        while (item := await asyncio.to_thread(next, frames, None)) is not None:
            number, frame = item
            table = await adrive(job.stage(frame), http)
            run = job.partition_run(number, frame, table)
            if run is not None:
                await run_async(run, http)
                job.finish_partition(number, run)
    finally:
        job.finish()
    return job.result


def new_partitioned_result(
    table_name: str,
    aligned_volume_name: str,
    rows: PartitionedRows,
    count_before: int,
) -> BulkResult:
    """A job's result before any partition is read (no rows yet)."""
    result = new_result("post", table_name, aligned_volume_name, 0)
    result.partitioned = rows
    result.count_before = count_before
    return result
