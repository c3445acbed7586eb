"""Bulk writes of annotations: batches, outcomes per row, and safe resumption.

A bulk post, update or delete splits its rows into batches of at most 10,000, sends them with
bounded concurrency and records for **every input row** one state:

- ``DONE``: it landed; ``ids`` holds its annotation id (the new one, for posts and updates).
- ``FAILED``: the service refused it (e.g. 403, 404, 409); ``reasons`` says why. Not re-sent.
- ``UNKNOWN``: the request may or may not have taken effect (a timeout after sending, a reset
  connection, a 502/504 from a gateway). Never re-sent blindly.
- ``PENDING``: not sent yet, or certainly not processed (the connection was never made, or the
  service answered 429/503, which refuse before processing). Retried within the call.

Resuming (:meth:`~dafclient.services.annotation.AnnotationClient.resume`) first settles the
``UNKNOWN`` rows by reading the table back, then sends what did not land:

- posts: the AnnotationEngine inserts a batch in one transaction with ids from a sequence, so a
  batch that landed occupies ids above every id known when it was sent. The table's row count
  before the job and now says how many rows appeared beyond the known ones; the ids above the
  batch's floor are read back until that many are found, and the batch is matched by content,
  in order. Fully found: ``DONE`` with its ids. Not found after an exhaustive read: ``PENDING``.
  Anything else stays ``UNKNOWN`` (and is reported), so no row is ever posted twice.
  Exactness assumes no one else inserts into the table meanwhile; with other writers the read
  goes on to the end of the table instead and may take longer.
- updates: an updated row is superseded by its replacement; a superseded old row whose
  successor has the staged content is ``DONE``; one not superseded is ``PENDING``. Rows of
  reference tables (updated in place) are ``DONE`` when they hold the staged content.
- deletes: a row read back as deleted is ``DONE``; otherwise ``PENDING``.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from dafclient.annotations.columnar import ColumnTable
from dafclient.annotations.wire import (
    Fingerprint,
    batches,
    staged_fingerprints,
    stored_fingerprint,
)
from dafclient.errors import (
    DafError,
    DafHTTPError,
    DafTransportError,
    InputError,
    RateLimitedError,
    ResponseFormatError,
)

if TYPE_CHECKING:
    from dafclient.annotations.bulk_partitioned import PartitionedRows

Operation = Literal["post", "update", "delete"]
MAX_BATCH = 10_000
READ_BACK_CHUNK = 500
"""Ids per read-back GET: the ids travel in the query string, which proxies cap near 8 kB."""
NOT_PROCESSED_STATUSES = frozenset({429, 503})


class RowState(enum.IntEnum):
    """What happened to one input row of a bulk write."""

    PENDING = 0
    DONE = 1
    FAILED = 2
    UNKNOWN = 3


@dataclass(frozen=True)
class UnknownBatch:
    """Rows sent together whose outcome is unknown, and the highest annotation id known when
    they were sent (their ids, had they landed, are above it)."""

    rows: npt.NDArray[np.intp]
    floor_id: int


@dataclass(eq=False)
class BulkResult:
    """The outcome of a bulk write, row by row; pass it to ``resume`` to finish the job."""

    operation: Operation
    table_name: str
    aligned_volume_name: str
    source: ColumnTable | None
    """The staged rows (posts, updates)."""
    target_ids: npt.NDArray[np.int64]
    """Per row: the annotation id it is about (updates, deletes); -1 for posts."""
    state: npt.NDArray[np.int8]
    """Per row: its :class:`RowState` (done, failed, unknown or pending)."""
    ids: npt.NDArray[np.int64]
    """Per row: the annotation id it landed as; -1 if it has none (yet)."""
    reasons: dict[int, str] = field(default_factory=dict)
    """Row position → why the service refused it (failed rows)."""
    unknown: list[UnknownBatch] = field(default_factory=list)
    """The batches whose outcome is unknown, for :meth:`resume` to settle."""
    count_before: int | None = None
    """Posts: the table's row count before the first batch was sent."""
    labels: pd.Index | None = None
    """The input rows' labels (a DataFrame's index), for reports."""
    partitioned: PartitionedRows | None = None
    """Posts of a Dask DataFrame: its partitions, read again by ``resume`` (``source`` is None)."""

    def __len__(self) -> int:
        return len(self.state)

    def count(self, state: RowState) -> int:
        """How many rows are in ``state``."""
        return int(np.count_nonzero(self.state == state))

    @property
    def unread_partitions(self) -> int:
        """Partitions of a Dask DataFrame not read yet (0 for other inputs)."""
        return 0 if self.partitioned is None else self.partitioned.unread

    @property
    def complete(self) -> bool:
        """Whether every row landed."""
        return bool(np.all(self.state == RowState.DONE)) and not self.unread_partitions

    @property
    def resumable(self) -> bool:
        """Whether resuming could still change something (pending or unknown rows, or
        partitions not read)."""
        waiting = (self.state == RowState.PENDING) | (self.state == RowState.UNKNOWN)
        return bool(np.any(waiting)) or self.unread_partitions > 0

    def staged_fingerprints(self, rows: npt.NDArray[np.intp]) -> list[Fingerprint]:
        """What rows ``rows`` look like when read back from the table."""
        if self.partitioned is not None:
            return [self.partitioned.fingerprints[row] for row in rows.tolist()]
        assert self.source is not None
        return staged_fingerprints(self.source, rows)

    def stored_fingerprint(self, row: Mapping[str, Any]) -> Fingerprint:
        """The fingerprint of a row read back from the table."""
        if self.partitioned is not None:
            return stored_fingerprint(ColumnTable(self.partitioned.layout, 0, {}), row)
        assert self.source is not None
        return stored_fingerprint(self.source, row)

    def rows(self, state: RowState) -> npt.NDArray[np.intp]:
        """Positions of the rows in ``state``."""
        return np.flatnonzero(self.state == state)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per input row: ``state``, ``id`` (or <NA>) and ``reason``."""
        index = self.labels if self.labels is not None else pd.RangeIndex(len(self.state))
        ids = pd.array(self.ids, dtype="Int64")
        ids[self.ids < 0] = pd.NA
        reasons = [self.reasons.get(i) for i in range(len(self.state))]
        return pd.DataFrame(
            {
                "state": pd.Series(
                    [RowState(s).name.lower() for s in self.state.tolist()], index=index
                ),
                "id": pd.Series(ids, index=index),
                "reason": pd.Series(reasons, dtype=object, index=index),
            }
        )

    def summary(self) -> str:
        """``"post to synapses: 9,990 done, 10 failed, 0 unknown, 0 pending"``."""
        parts = ", ".join(f"{self.count(s):,} {s.name.lower()}" for s in RowState if s)
        text = f"{self.operation} to {self.table_name}: {parts}, {self.count(RowState.PENDING):,} pending"
        if self.unread_partitions:
            text += f", {self.unread_partitions:,} partitions not read"
            if self.partitioned is not None and self.partitioned.error:
                text += f" ({self.partitioned.error})"
        return text

    def raise_for_incomplete(self) -> None:
        """Raise :class:`BulkIncompleteError` unless every row landed."""
        if not self.complete:
            raise BulkIncompleteError(self)

    def __repr__(self) -> str:
        return f"BulkResult({self.summary()})"


class BulkIncompleteError(DafError):
    """A bulk write left rows that did not land; ``result`` has them, row by row."""

    def __init__(self, result: BulkResult) -> None:
        self.result = result
        examples = [
            f"row {i}: {RowState(int(result.state[i])).name.lower()}: {result.reasons.get(i, '')}"
            for i in np.flatnonzero(result.state != RowState.DONE)[:10].tolist()
        ]
        super().__init__(result.summary() + ("\n  " + "\n  ".join(examples) if examples else ""))


def new_result(
    operation: Operation,
    table_name: str,
    aligned_volume_name: str,
    length: int,
    *,
    source: ColumnTable | None = None,
    target_ids: npt.NDArray[np.int64] | None = None,
    labels: pd.Index | None = None,
) -> BulkResult:
    """A result with every row pending."""
    return BulkResult(
        operation=operation,
        table_name=table_name,
        aligned_volume_name=aligned_volume_name,
        source=source,
        target_ids=target_ids if target_ids is not None else np.full(length, -1, dtype=np.int64),
        state=np.zeros(length, dtype=np.int8),
        ids=np.full(length, -1, dtype=np.int64),
        labels=labels,
    )


# -- settling the outcome of one batch -------------------------------------------------------


def _reason(error: DafError) -> str:
    return str(error).splitlines()[0][:500]


def outcome_of_error(error: DafError) -> RowState:
    """Whether a failed request certainly did nothing (PENDING), may have (UNKNOWN), or was
    refused (FAILED)."""
    if isinstance(error, DafTransportError):
        return RowState.UNKNOWN if error.sent else RowState.PENDING
    if isinstance(error, RateLimitedError):
        return RowState.PENDING
    if isinstance(error, DafHTTPError):
        if error.status in NOT_PROCESSED_STATUSES:
            return RowState.PENDING
        if error.status >= 500 and error.intended_status >= 500:
            return RowState.UNKNOWN
        return RowState.FAILED
    return RowState.UNKNOWN  # a garbled success response: the write happened or not


class BatchLedger:
    """Applies batch outcomes to a :class:`BulkResult` (thread-safe) and tracks progress."""

    def __init__(self, result: BulkResult, on_rows: Callable[[int], None]) -> None:
        self.result = result
        self._lock = threading.Lock()
        self._on_rows = on_rows
        self.retry_after = 0.0

    def max_known_id(self) -> int:
        with self._lock:
            known = self.result.ids[self.result.ids >= 0]
            return int(known.max()) if known.size else 0

    def landed(self, rows: npt.NDArray[np.intp], ids: Sequence[int | None]) -> None:
        """A batch succeeded; ``ids[i]`` is row ``rows[i]``'s id, None if the service did not
        find it (deletes, updates)."""
        if len(ids) != len(rows):
            error = ResponseFormatError(
                f"the service answered {len(ids)} ids for {len(rows)} annotations",
                method="POST",
                url=self.result.table_name,
            )
            return self.refused(rows, error, 0)
        with self._lock:
            for row, annotation_id in zip(rows.tolist(), ids, strict=True):
                if annotation_id is None:
                    self.result.state[row] = RowState.FAILED
                    self.result.reasons[row] = "annotation not found"
                else:
                    self.result.state[row] = RowState.DONE
                    self.result.ids[row] = annotation_id
                    self.result.reasons.pop(row, None)
        self._on_rows(len(rows))
        return None

    def refused(self, rows: npt.NDArray[np.intp], error: DafError, floor_id: int) -> None:
        state = outcome_of_error(error)
        if self.result.operation == "update" and state == RowState.FAILED:
            # The AnnotationEngine commits updates one by one: an error part-way leaves the
            # earlier ones applied, so the batch's outcome is per row and unknown.
            state = RowState.UNKNOWN
        with self._lock:
            self.result.state[rows] = state
            reason = _reason(error)
            for row in rows.tolist():
                self.result.reasons[row] = reason
            if state == RowState.UNKNOWN:
                self.result.unknown.append(UnknownBatch(rows, floor_id))
            if isinstance(error, RateLimitedError) and error.retry_after:
                self.retry_after = max(self.retry_after, error.retry_after)
        if state != RowState.PENDING:
            self._on_rows(len(rows))


def pending_batches(
    result: BulkResult, batch_size: int, *, retry_failed: bool = False
) -> list[npt.NDArray[np.intp]]:
    """The rows to send next, in batches of at most ``batch_size``."""
    if not 1 <= batch_size <= MAX_BATCH:
        raise InputError(f"batch_size must be 1..{MAX_BATCH}, got {batch_size}")
    wanted = result.state == RowState.PENDING
    if retry_failed:
        wanted |= result.state == RowState.FAILED
    rows = np.flatnonzero(wanted)
    return [rows[part] for part in batches(len(rows), batch_size)]


# -- settling unknown outcomes by reading the table back -------------------------------------


def match_posts(result: BulkResult, found: dict[int, Fingerprint], exhaustive: bool) -> None:
    """Settle unknown post batches from rows read back (id → fingerprint)."""
    ordered = sorted(found)
    used: set[int] = set()
    still: list[UnknownBatch] = []
    for batch in result.unknown:
        wanted = result.staged_fingerprints(batch.rows)
        matched: list[int] = []
        position = 0
        for annotation_id in ordered:
            if position == len(wanted):
                break
            if annotation_id <= batch.floor_id or annotation_id in used:
                continue
            if found[annotation_id] == wanted[position]:
                matched.append(annotation_id)
                position += 1
        if position == len(wanted):
            used.update(matched)
            result.ids[batch.rows] = matched
            result.state[batch.rows] = RowState.DONE
            for row in batch.rows.tolist():
                result.reasons.pop(row, None)
        elif not matched and exhaustive:
            result.state[batch.rows] = RowState.PENDING
            for row in batch.rows.tolist():
                result.reasons[row] = "did not land (verified by reading the table); re-sent"
        else:
            still.append(batch)
            for row in batch.rows.tolist():
                result.reasons[row] = (
                    "outcome unknown and could not be verified "
                    f"({len(matched)} of {len(wanted)} rows of its batch found); not re-sent"
                )
    result.unknown = still


def settle_updates(
    result: BulkResult, read: dict[int, dict[str, Any]], successors: dict[int, dict[str, Any]]
) -> None:
    """Settle unknown update rows from the old rows and their successors read back."""
    assert result.source is not None
    for batch in result.unknown:
        wanted = staged_fingerprints(result.source, batch.rows)
        for row, fingerprint in zip(batch.rows.tolist(), wanted, strict=True):
            old_id = int(result.target_ids[row])
            old = read.get(old_id)
            if old is None:
                result.state[row] = RowState.FAILED
                result.reasons[row] = f"annotation {old_id} not found"
                continue
            successor_id = old.get("superceded_id")
            if successor_id is None:
                in_place = stored_fingerprint(result.source, old) == fingerprint
                if in_place and result.source.layout.is_reference:
                    result.state[row], result.ids[row] = RowState.DONE, old_id
                else:
                    result.state[row] = RowState.PENDING
                continue
            successor = successors.get(int(successor_id))
            if (
                successor is not None
                and stored_fingerprint(result.source, successor) == fingerprint
            ):
                result.state[row], result.ids[row] = RowState.DONE, int(successor_id)
                result.reasons.pop(row, None)
            else:
                result.state[row] = RowState.FAILED
                result.reasons[row] = (
                    f"annotation {old_id} was superseded by {successor_id} with other content"
                )
    result.unknown = []


def settle_deletes(result: BulkResult, read: dict[int, dict[str, Any]]) -> None:
    """Settle unknown delete rows: deleted rows are done, others pending."""
    for batch in result.unknown:
        for row in batch.rows.tolist():
            target = int(result.target_ids[row])
            old = read.get(target)
            if old is None:
                result.state[row] = RowState.FAILED
                result.reasons[row] = f"annotation {target} not found"
            elif old.get("deleted") not in (None, "None"):
                result.state[row], result.ids[row] = RowState.DONE, target
                result.reasons.pop(row, None)
            else:
                result.state[row] = RowState.PENDING
    result.unknown = []


def unknown_targets(result: BulkResult) -> list[int]:
    """Annotation ids the unknown update/delete rows are about."""
    rows = (
        np.concatenate([b.rows for b in result.unknown])
        if result.unknown
        else np.array([], dtype=np.intp)
    )
    return sorted(set(result.target_ids[rows].tolist()))
