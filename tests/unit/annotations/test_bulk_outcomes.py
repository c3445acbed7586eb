"""How bulk writes classify failures, and how read-back rows settle unknown post batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dafclient.annotations import AnnotationStage, RowState
from dafclient.annotations.bulk import (
    UnknownBatch,
    match_posts,
    new_result,
    outcome_of_error,
)
from dafclient.annotations.wire import staged_fingerprints
from dafclient.errors import (
    ConnectionFailedError,
    DafError,
    RequestTimeoutError,
    ResponseFormatError,
    error_class,
)

URL = "http://daf.example/annotation/api/v2/aligned_volume/v/table/t/annotations"


def _http(status: int, intended: int | None = None) -> DafError:
    return error_class(status)(
        method="POST", url=URL, status=status, message="m", intended_status=intended
    )


@pytest.mark.parametrize(
    ("error", "state"),
    [
        (ConnectionFailedError("refused", method="POST", url=URL, sent=False), RowState.PENDING),
        (ConnectionFailedError("reset", method="POST", url=URL, sent=True), RowState.UNKNOWN),
        (RequestTimeoutError("read timeout", method="POST", url=URL), RowState.UNKNOWN),
        (_http(429), RowState.PENDING),
        (_http(503), RowState.PENDING),
        (_http(502), RowState.UNKNOWN),
        (_http(504), RowState.UNKNOWN),
        (_http(500), RowState.UNKNOWN),
        (_http(500, intended=400), RowState.FAILED),  # the AnnotationEngine's 500 for a 400
        (_http(403), RowState.FAILED),
        (_http(413), RowState.FAILED),
        (ResponseFormatError("truncated", method="POST", url=URL), RowState.UNKNOWN),
    ],
)
def test_failures_are_classified_by_what_may_have_happened(
    error: DafError, state: RowState
) -> None:
    assert outcome_of_error(error) == state


def _staged(n: int) -> AnnotationStage:
    stage = AnnotationStage.for_type("synapse", table_resolution=(4, 4, 40))
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            f"{p}_position_{a}": rng.integers(0, 100, n)
            for p in ("pre_pt", "ctr_pt", "post_pt")
            for a in "xyz"
        }
    )
    frame["size"] = np.arange(n, dtype=float)
    stage.add_dataframe(frame)
    return stage


def test_a_landed_batch_is_found_above_its_floor_in_order() -> None:
    source = _staged(6).table()
    result = new_result("post", "t", "v", 6, source=source)
    result.state[:3], result.ids[:3] = RowState.DONE, [10, 11, 12]
    result.state[3:] = RowState.UNKNOWN
    result.unknown = [UnknownBatch(np.arange(3, 6), floor_id=12)]
    prints = staged_fingerprints(source, np.arange(6))
    # Another writer's row with the same content as row 3 sits *below* the floor: never taken.
    found = {9: prints[3], 20: prints[3], 21: ("someone", "else"), 22: prints[4], 23: prints[5]}
    match_posts(result, found, exhaustive=True)
    assert result.complete
    assert result.ids.tolist() == [10, 11, 12, 20, 22, 23]
    assert result.unknown == []


def test_a_batch_not_found_is_resent_only_after_an_exhaustive_read() -> None:
    source = _staged(4).table()
    for exhaustive, state in ((False, RowState.UNKNOWN), (True, RowState.PENDING)):
        result = new_result("post", "t", "v", 4, source=source)
        result.state[:] = RowState.UNKNOWN
        result.unknown = [UnknownBatch(np.arange(4), floor_id=0)]
        match_posts(result, {5: ("other",)}, exhaustive=exhaustive)
        assert result.state.tolist() == [state] * 4


def test_a_partly_found_batch_stays_unknown() -> None:
    source = _staged(3).table()
    prints = staged_fingerprints(source, np.arange(3))
    result = new_result("post", "t", "v", 3, source=source)
    result.state[:] = RowState.UNKNOWN
    result.unknown = [UnknownBatch(np.arange(3), floor_id=0)]
    match_posts(result, {1: prints[0], 2: prints[1]}, exhaustive=True)
    assert result.state.tolist() == [RowState.UNKNOWN] * 3
    assert "2 of 3 rows" in result.reasons[0]
    assert not result.complete and result.resumable
