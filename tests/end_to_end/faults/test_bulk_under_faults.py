"""A bulk upload while a fifth of requests fail lands every row exactly once after resuming."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import ClassVar

import httpx
import numpy as np
import pandas as pd
import pytest

from dafclient import FrameworkClient
from dafclient.annotations import RowState
from dafclient.config import RetrySettings, Timeouts
from dafserver.faults import ALL_KINDS, FaultConfig, Phase
from dafserver.seed import DATASTACK
from tests.end_to_end.faults.conftest import Serve
from tests.end_to_end.faults.test_client_under_faults import CountingTransport

TABLE = "bulk_under_faults"
ROWS = 20_000
BATCH = 250
FAULTS = FaultConfig(rate=0.2, seed=11, kinds=ALL_KINDS, phase="both", hang_seconds=3.0)
"""Every kind, on the posts and on every read of the job and of its resumes (a hang outlasts the
client's 1 s read timeout)."""


def _synapses(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            f"{point}_position_{axis}": rng.integers(0, 4_000, n)
            for point in ("pre_pt", "ctr_pt", "post_pt")
            for axis in "xyz"
        }
    )
    frame["size"] = np.arange(n, dtype=np.float64)  # a unique value per row
    return frame


def _client(base_url: str, token: str) -> FrameworkClient:
    return FrameworkClient(
        DATASTACK,
        server_address=base_url,
        auth_token=token,
        retries=RetrySettings(max_retries=10, backoff=0.0),
        timeouts=Timeouts(connect=5.0, read=1.0, total=60.0),
    )


@pytest.mark.parametrize(
    ("faults", "rows", "batch"),
    [(FAULTS, ROWS, BATCH), (dataclasses.replace(FAULTS, seed=3), 4_000, 50)],
    ids=["every-kind", "every-kind-other-seed"],
)
def test_bulk_post_under_faults_lands_each_row_once(
    serve: Serve, monkeypatch: pytest.MonkeyPatch, faults: FaultConfig, rows: int, batch: int
) -> None:
    frame = _synapses(rows)
    table = f"{TABLE}_{faults.seed}"
    with serve(None) as server, _client(server.base_url, server.admin_token) as client:
        client.annotation.create_table(table, "synapse", voxel_resolution=(4, 4, 40))
        before = client.annotation.get_annotation_count(table)

    monkeypatch.setattr(httpx, "HTTPTransport", CountingTransport)
    monkeypatch.setattr(CountingTransport, "outcomes", [])
    resumes = 0
    unknown_seen = 0
    with serve(faults) as server, _client(server.base_url, server.admin_token) as client:
        result = client.annotation.bulk_post(table, frame, batch_size=batch, concurrency=4)
        while not result.complete and resumes < 40:
            unknown_seen += result.count(RowState.UNKNOWN)
            assert result.count(RowState.FAILED) == 0, result.summary()
            result = client.annotation.resume(result, batch_size=batch)
            resumes += 1
        assert server.faults is not None
        by_kind = Counter(kind for kind, _phase in server.faults.injected.elements())
    assert result.complete, result.summary()
    print(f"{rows} rows: faults {dict(sorted(by_kind.items()))}, {resumes} resumes, ", end="")
    print(f"{unknown_seen} rows unknown on the way, {len(CountingTransport.outcomes)} attempts")
    assert set(by_kind) == set(ALL_KINDS), f"not every kind was injected: {by_kind}"
    injected = [
        o
        for o in CountingTransport.outcomes
        if o in faults.kinds or o.endswith(("Error", "Timeout"))
    ]
    assert len(injected) >= 0.05 * len(CountingTransport.outcomes)
    assert resumes > 0 and unknown_seen > 0, "the faults never made an outcome unknown"

    with serve(None) as server, _client(server.base_url, server.admin_token) as client:
        assert client.annotation.get_annotation_count(table) == before + rows
        ids = result.ids.tolist()
        assert len(set(ids)) == rows
        rows = client.annotation.get_annotation(table, ids)
    by_id = {row["id"]: row for row in rows}
    assert Counter(row["size"] for row in rows) == Counter(frame["size"].tolist())
    for position, annotation_id in enumerate(ids):
        row = by_id[annotation_id]
        assert row["size"] == frame["size"].iat[position]
        assert row["pre_pt_position"] == frame.iloc[position, 0:3].tolist()


class PostCounter(httpx.HTTPTransport):
    """Counts the POST requests that went out."""

    posts: ClassVar[list[int]] = [0]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts[0] += 1
        return super().handle_request(request)


@pytest.mark.parametrize("phase", ["after", "before"])
def test_unknown_posts_are_read_back_before_any_resend(
    serve: Serve, monkeypatch: pytest.MonkeyPatch, phase: Phase
) -> None:
    """502 after the insert: every unknown batch is found in the table and none is re-sent;
    502 before it: none is found and each is re-sent once."""
    frame = _synapses(3_000)
    table = f"{TABLE}_verify_{phase}"
    with serve(None) as server, _client(server.base_url, server.admin_token) as client:
        client.annotation.create_table(table, "synapse", voxel_resolution=(4, 4, 40))
    faults = FaultConfig(rate=0.3, seed=21, kinds=("502",), methods=("POST",), phase=phase)
    monkeypatch.setattr(httpx, "HTTPTransport", PostCounter)
    monkeypatch.setattr(PostCounter, "posts", [0])
    with serve(faults) as server, _client(server.base_url, server.admin_token) as client:
        result = client.annotation.bulk_post(table, frame, batch_size=100)
        unknown = result.rows(RowState.UNKNOWN)
        assert len(unknown) > 0 and result.count(RowState.PENDING) == 0
        unknown_batches = len(result.unknown)
        sent_before = PostCounter.posts[0]
        while result.resumable:
            result = client.annotation.resume(result, batch_size=100)
        resent = PostCounter.posts[0] - sent_before
    assert result.complete
    if phase == "after":
        assert resent == 0
    else:
        assert resent >= unknown_batches
    with serve(None) as server, _client(server.base_url, server.admin_token) as client:
        assert client.annotation.get_annotation_count(table) == len(frame)
        rows = client.annotation.get_annotation(table, result.ids[unknown].tolist())
    size_of = {r["id"]: r["size"] for r in rows}
    assert [size_of[i] for i in result.ids[unknown].tolist()] == frame["size"].iloc[
        unknown
    ].tolist()
