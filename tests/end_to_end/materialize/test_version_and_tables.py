"""Pinning a version on the framework client, and typed queries by table name."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from dafclient import AsyncFrameworkClient, FrameworkClient
from dafclient.errors import ConfigurationError, InputError, NotFoundError
from dafserver.runner import LocalServer
from dafserver.seed import DATASTACK


def test_version_pins_queries_and_the_chunkedgraph(daf_server: LocalServer, versions: Any) -> None:
    old = versions[0]
    with FrameworkClient(
        DATASTACK, daf_server.base_url, auth_token=daf_server.admin_token, version=old
    ) as client:
        assert client.version == old
        frame = client.materialize.query_table("synapses", limit=3, log_warning=False)
        assert frame.attrs["materialization_version"] == old
        stamp = client.materialize.get_timestamp(old)
        assert client.timestamp == stamp
        assert client.chunkedgraph.timestamp == stamp
        client.version = versions[1]
        assert client.chunkedgraph.timestamp == client.materialize.get_timestamp(versions[1])
        assert client.materialize.version == versions[1]
        with pytest.raises(InputError, match="not available"):
            client.version = 9999
        client.version = None
        assert client.timestamp is None and client.chunkedgraph.timestamp is None


async def test_async_version_is_resolved_by_set_version(
    daf_server: LocalServer, versions: Any
) -> None:
    async with AsyncFrameworkClient(
        DATASTACK, daf_server.base_url, auth_token=daf_server.admin_token, version=versions[0]
    ) as client:
        frame = await client.materialize.query_table("synapses", limit=3, log_warning=False)
        assert frame.attrs["materialization_version"] == versions[0]
        with pytest.raises(ConfigurationError, match="set_version"):
            _ = client.chunkedgraph
        await client.set_version(versions[0])
        assert client.chunkedgraph.timestamp == client.timestamp
        assert client.timestamp == await client.materialize.get_timestamp(versions[0])


def test_typed_queries(client: Any) -> None:
    whole = client.materialize.query_table("synapses")
    roots = whole["pre_pt_root_id"].unique()[:4]
    query = client.materialize.tables.synapses(pre_pt_root_id=roots)
    frame = query.query()
    expected = client.materialize.query_table("synapses", filter_in_dict={"pre_pt_root_id": roots})
    assert sorted(frame["id"].tolist()) == sorted(expected["id"].tolist())
    one = client.materialize.tables.synapses(
        pre_pt_root_id=int(roots[0]), size=float(whole["size"].iloc[0])
    )
    assert set(one.query()["pre_pt_root_id"].tolist()) <= {int(roots[0])}
    lo = np.stack(list(whole["ctr_pt_position"].to_numpy())).min(axis=0)
    box = client.materialize.tables.synapses(ctr_pt_bbox=[lo.tolist(), (lo + 40).tolist()]).query()
    inside = np.stack(list(box["ctr_pt_position"].to_numpy()))
    assert ((inside >= lo) & (inside <= lo + 40)).all()
    kinds = client.materialize.query_table("nucleus_cell_types", merge_reference=False)["cell_type"]
    cells = client.materialize.tables["nucleus_cell_types"](cell_type=[kinds.iloc[0]]).query()
    assert "pt_root_id" in cells.columns and set(cells["cell_type"]) == {kinds.iloc[0]}


def test_typed_query_errors(client: Any) -> None:
    with pytest.raises(InputError, match="has no column 'pre_root'"):
        client.materialize.tables.synapses(pre_root=[1]).query()
    with pytest.raises(InputError, match="integer"):
        client.materialize.tables.synapses(pre_pt_root_id="12").query()
    with pytest.raises(InputError, match="uint64"):
        client.materialize.tables.synapses(pre_pt_root_id=[-1]).query()
    with pytest.raises(InputError, match="box"):
        client.materialize.tables.synapses(ctr_pt_position=[1, 2, 3]).query()
    with pytest.raises(NotFoundError):
        client.materialize.tables.no_such_table(id=1).query()


async def test_async_typed_queries(aclient: Any, client: Any) -> None:
    roots = client.materialize.query_table("synapses", limit=10, log_warning=False)[
        "post_pt_root_id"
    ].unique()
    frame = await aclient.materialize.tables.synapses(post_pt_root_id=roots).query()
    sync = client.materialize.tables.synapses(post_pt_root_id=roots).query()
    assert sorted(frame["id"].tolist()) == sorted(sync["id"].tolist())
