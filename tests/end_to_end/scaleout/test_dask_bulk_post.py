"""bulk_post of a Dask DataFrame: partitions computed on a LocalCluster, streamed in order into
one BulkResult that equals the in-memory post, and resumable."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import httpx
import numpy as np
import pandas as pd
import pytest
from distributed import Client

from dafclient import AsyncFrameworkClient, FrameworkClient
from dafclient.annotations import RowState
from dafclient.config import RetrySettings, Timeouts
from dafclient.errors import InputError
from dafserver.faults import FaultConfig
from dafserver.seed import DATASTACK

_names = itertools.count()


def _table(client: FrameworkClient) -> str:
    name = f"dask_bulk_{next(_names)}_{np.random.default_rng().integers(1 << 30)}"
    client.annotation.create_table(name, "synapse", voxel_resolution=(4, 4, 40))
    return name


def synapses(n: int, seed: int = 0, start: int = 0) -> pd.DataFrame:
    """Synapse rows with x/y/z columns; ``size`` is unique per row."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            f"{point}_position_{axis}": rng.integers(0, 10_000, n)
            for point in ("pre_pt", "ctr_pt", "post_pt")
            for axis in "xyz"
        }
    )
    frame["size"] = np.arange(start, start + n, dtype=np.float64)
    return frame.set_index(pd.RangeIndex(start, start + n))


def _stored(client: FrameworkClient, table: str, ids: np.ndarray) -> list[tuple[Any, ...]]:
    """The rows' stored content, in the order of ``ids``."""
    rows = {r["id"]: r for r in client.annotation.get_annotation(table, ids.tolist())}
    return [
        (rows[i]["size"], *rows[i]["pre_pt_position"], *rows[i]["post_pt_position"])
        for i in ids.tolist()
    ]


def test_partitions_land_as_the_in_memory_post(
    dask_client: Client, daf_client: FrameworkClient
) -> None:
    frame = synapses(25_000)
    lazy = dd.from_pandas(frame, npartitions=6)
    in_memory, streamed = _table(daf_client), _table(daf_client)
    expected = daf_client.annotation.bulk_post(in_memory, frame, batch_size=3_000, progress=False)
    result = daf_client.annotation.bulk_post(streamed, lazy, batch_size=3_000, progress=False)

    assert result.complete and result.count(RowState.DONE) == len(frame) == len(expected)
    assert result.summary().replace(streamed, "t") == expected.summary().replace(in_memory, "t")
    assert result.labels is not None and result.labels.tolist() == frame.index.tolist()
    assert result.to_dataframe().index.dtype == frame.index.dtype
    assert daf_client.annotation.get_annotation_count(streamed) == len(frame)
    assert len(set(result.ids.tolist())) == len(frame)
    # every row's id holds that row, as for the in-memory post
    assert _stored(daf_client, streamed, result.ids) == _stored(daf_client, in_memory, expected.ids)
    assert result.to_dataframe()["state"].eq("done").all()
    # partitions are posted in order: ids rise from one partition to the next
    bounds = np.cumsum([0, *lazy.map_partitions(len).compute().tolist()])
    for a, b, c in zip(bounds, bounds[1:], bounds[2:], strict=False):
        assert result.ids[a:b].max() < result.ids[b:c].min()


def test_resume_settles_unknown_posts_by_reading_back(
    dask_client: Client, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """502 after the insert: the rows landed but the job does not know; resume reads them back
    and sends nothing again."""
    frame = synapses(6_000, seed=3)
    lazy = dd.from_pandas(frame, npartitions=4)
    faults = FaultConfig(rate=0.3, seed=21, kinds=("502",), methods=("POST",), phase="after")
    monkeypatch.setattr(httpx, "HTTPTransport", PostCounter)
    monkeypatch.setattr(PostCounter, "posts", [0])
    with serve(None) as server, _client(server) as client:
        table = _table(client)
    with serve(faults) as server, _client(server) as client:
        result = client.annotation.bulk_post(table, lazy, batch_size=200, progress=False)
        assert result.count(RowState.UNKNOWN) > 0 and result.count(RowState.PENDING) == 0
        assert result.resumable and not result.complete
        sent = PostCounter.posts[0]
        resumed = client.annotation.resume(result, batch_size=200, progress=False)
        assert PostCounter.posts[0] == sent  # every unknown batch was found: none re-sent
    assert resumed.complete, resumed.summary()
    with serve(None) as server, _client(server) as client:
        assert client.annotation.get_annotation_count(table) == len(frame)
        stored = _stored(client, table, resumed.ids)
    expected = [
        (s, *a, *b)
        for s, a, b in zip(
            frame["size"],
            frame.iloc[:, 0:3].to_numpy().tolist(),
            frame.iloc[:, 6:9].to_numpy().tolist(),
            strict=True,
        )
    ]
    assert stored == expected


def test_resume_after_a_partition_failed_to_compute(
    dask_client: Client, daf_client: FrameworkClient, tmp_path: Path
) -> None:
    """Reading stops at a partition that fails; the result says so, and resume goes on from
    there, computing no partition that already landed."""
    flag = tmp_path / "broken"
    flag.write_text("partition 2 fails")
    parts = [(n, 1_500, 9, flag) for n in range(5)]
    lazy = dd.from_map(_flaky_part, parts, meta=synapses(0))
    table = _table(daf_client)
    result = daf_client.annotation.bulk_post(table, lazy, progress=False)
    assert not result.complete and result.resumable
    assert len(result) == 3_000 and result.unread_partitions == 3
    assert "3 partitions not read" in result.summary() and "partition 2 fails" in result.summary()
    assert daf_client.annotation.get_annotation_count(table) == 3_000

    flag.unlink()
    (tmp_path / "computed").mkdir()
    resumed = daf_client.annotation.resume(result, progress=False)
    assert resumed.complete and len(resumed) == 7_500
    assert sorted(p.name for p in (tmp_path / "computed").iterdir()) == ["2", "3", "4"]
    sizes = [row[0] for row in _stored(daf_client, table, resumed.ids)]
    assert sizes == list(range(7_500))
    assert daf_client.annotation.get_annotation_count(table) == 7_500


def _flaky_part(args: tuple[int, int, int, Path]) -> pd.DataFrame:
    number, n, seed, flag = args
    if number == 2 and flag.exists():
        raise RuntimeError(flag.read_text())
    computed = flag.parent / "computed"
    if computed.exists():
        (computed / str(number)).touch()
    return synapses(n, seed + number, start=number * n)


def test_a_partition_with_invalid_rows_is_not_sent(
    dask_client: Client, daf_client: FrameworkClient
) -> None:
    frame = synapses(300)
    frame["ctr_pt_position_y"] = frame["ctr_pt_position_y"].astype(float)
    frame.loc[130, "ctr_pt_position_y"] = np.inf
    table = _table(daf_client)
    result = daf_client.annotation.bulk_post(table, dd.from_pandas(frame, npartitions=3))
    bad = result.rows(RowState.FAILED)
    assert bad.tolist() == list(range(100, 200))  # the second partition, whole
    assert "ctr_pt_position" in result.reasons[130] and result.reasons[130].startswith("invalid")
    assert result.reasons[101].startswith("not sent: partition 1")
    assert result.count(RowState.DONE) == 200
    assert daf_client.annotation.get_annotation_count(table) == 200


def test_wrong_inputs_are_refused_before_anything_is_sent(daf_client: FrameworkClient) -> None:
    table = _table(daf_client)
    lazy = dd.from_pandas(synapses(10), npartitions=2)
    with pytest.raises(InputError, match="batch_size"):
        daf_client.annotation.bulk_post(table, lazy, batch_size=0)
    with pytest.raises(InputError, match="bulk_update takes no Dask"):
        daf_client.annotation.bulk_update(table, lazy)
    lists = pd.DataFrame({"pt_position": [[1, 2, 3]] * 4, "cell_type": ["a"] * 4})
    with pytest.raises(InputError, match="convert-string"):
        daf_client.annotation.bulk_post(table, dd.from_pandas(lists, npartitions=2))
    assert daf_client.annotation.get_annotation_count(table) == 0


async def test_async_bulk_post_streams_partitions(
    dask_client: Client, daf_async_client: AsyncFrameworkClient
) -> None:
    name = f"dask_async_{np.random.default_rng().integers(1 << 30)}"
    await daf_async_client.annotation.create_table(name, "synapse", voxel_resolution=(4, 4, 40))
    frame = synapses(2_500, seed=4)
    result = await daf_async_client.annotation.bulk_post(
        name, dd.from_pandas(frame, npartitions=3), batch_size=400
    )
    assert result.complete and len(result) == 2_500
    rows = await daf_async_client.annotation.get_annotation(name, result.ids.tolist())
    assert Counter(r["size"] for r in rows) == Counter(frame["size"].tolist())
    by_id = {r["id"]: r["size"] for r in rows}
    assert [by_id[i] for i in result.ids.tolist()] == frame["size"].tolist()


class PostCounter(httpx.HTTPTransport):
    """Counts the POST requests that went out."""

    posts: list[int] = [0]  # noqa: RUF012 - shared on purpose, reset per test

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts[0] += 1
        return super().handle_request(request)


def _client(server: Any) -> FrameworkClient:
    return FrameworkClient(
        DATASTACK,
        server_address=server.base_url,
        auth_token=server.admin_token,
        retries=RetrySettings(max_retries=10, backoff=0.0),
        timeouts=Timeouts(connect=5.0, read=5.0, total=60.0),
    )


@pytest.fixture(scope="module")
def _faults_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dafserver.runner import running_server

    path = tmp_path_factory.mktemp("dask-faults-deployment")
    with running_server(path, size="tiny"):
        pass
    return path


@pytest.fixture
def serve(_faults_data: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Start the tiny deployment with the given faults."""
    from dafserver.runner import running_server

    monkeypatch.delenv("DAFSERVER_FAULTS", raising=False)

    def start(faults: FaultConfig | None) -> Any:
        return running_server(_faults_data, size="tiny", faults=faults)

    return start
