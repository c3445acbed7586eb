"""client.materialize queries against dafserver, checked against answers computed from the
deployment's own data (see expected.py)."""

from __future__ import annotations

import inspect
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from expected import by_id, naive, rows_alive

import dafclient
from dafclient import FrameworkClient
from dafclient.errors import InputError
from dafclient.services.materialize import MaterializeWarning
from dafserver.deployment import Deployment

SYNAPSE_POINTS = ("pre_pt", "post_pt")


def _xyz(frame: pd.DataFrame, column: str) -> np.ndarray:
    return np.stack(list(frame[column].to_numpy())).astype(np.int64)


def test_whole_table_at_a_version(client: Any, deployment: Deployment, versions: Any) -> None:
    version = versions[1]
    when = client.materialize.get_timestamp(version)
    frame = by_id(client.materialize.query_table("synapses", materialization_version=version))
    expected = rows_alive(deployment, "synapses", when, when, SYNAPSE_POINTS)
    assert frame["id"].tolist() == expected["id"].tolist()
    for column in ("id", "pre_pt_root_id", "post_pt_supervoxel_id"):
        assert frame[column].dtype == np.uint64
        np.testing.assert_array_equal(frame[column].to_numpy(), expected[column].to_numpy())
    for point in ("pre_pt_position", "post_pt_position", "ctr_pt_position"):
        np.testing.assert_array_equal(_xyz(frame, point), np.stack(expected[point].tolist()))
    assert frame.attrs["materialization_version"] == version
    assert frame.attrs["dataframe_resolution"] == [8.0, 8.0, 40.0]
    split = client.materialize.query_table(
        "synapses",
        materialization_version=version,
        split_positions=True,
        limit=10,
        log_warning=False,
    )
    assert {"pre_pt_position_x", "pre_pt_position_y", "pre_pt_position_z"} <= set(split.columns)


def test_desired_resolution_scales_positions(client: Any) -> None:
    native = client.materialize.query_table(
        "synapses", limit=20, log_warning=False, select_columns=["id", "ctr_pt_position"]
    )
    scaled = client.materialize.query_table(
        "synapses",
        limit=20,
        log_warning=False,
        select_columns=["id", "ctr_pt_position"],
        desired_resolution=[4, 4, 40],
    )
    merged = by_id(native).merge(by_id(scaled), on="id", suffixes=("", "_nm"))
    np.testing.assert_array_equal(
        _xyz(merged, "ctr_pt_position_nm"), _xyz(merged, "ctr_pt_position") * [2, 2, 1]
    )
    assert scaled.attrs["dataframe_resolution"] == [4.0, 4.0, 40.0]


def test_client_wide_desired_resolution_is_the_default(client: Any, daf_server: Any) -> None:
    columns = ["id", "ctr_pt_position"]
    explicit = client.materialize.query_table(
        "synapses",
        limit=20,
        log_warning=False,
        select_columns=columns,
        desired_resolution=[4, 4, 40],
    )
    with dafclient.CAVEclient(
        client.datastack_name,
        daf_server.base_url,
        auth_token=daf_server.admin_token,
        desired_resolution=[4, 4, 40],
    ) as scaled_client:
        assert scaled_client.desired_resolution == (4.0, 4.0, 40.0)
        by_default = scaled_client.materialize.query_table(
            "synapses", limit=20, log_warning=False, select_columns=columns
        )
        native = scaled_client.materialize.query_table(
            "synapses",
            limit=20,
            log_warning=False,
            select_columns=columns,
            desired_resolution=[8, 8, 40],
        )
    pd.testing.assert_frame_equal(by_id(by_default), by_id(explicit), check_like=True)
    assert by_default.attrs["dataframe_resolution"] == [4.0, 4.0, 40.0]
    assert native.attrs["dataframe_resolution"] == [8.0, 8.0, 40.0]
    np.testing.assert_array_equal(
        _xyz(by_id(by_default), "ctr_pt_position"),
        _xyz(by_id(native), "ctr_pt_position") * [2, 2, 1],
    )


@pytest.mark.parametrize("bad", [[4, 4], [4, 4, 0], [4, 4, float("nan")], [True, 4, 40], "4,4,40"])
def test_a_bad_client_wide_resolution_is_refused(daf_server: Any, bad: Any) -> None:
    with pytest.raises(InputError, match="desired_resolution"):
        FrameworkClient("synthetic", daf_server.base_url, auth_token="t", desired_resolution=bad)


def test_limit_warning_is_a_python_warning(client: Any) -> None:
    with pytest.warns(MaterializeWarning, match="Limited query to 5 rows"):
        frame = client.materialize.query_table("synapses", limit=5)
    assert len(frame) == 5 and frame.attrs["warnings"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = client.materialize.query_table("synapses", limit=5, log_warning=False)
        bare = client.materialize.query_table(
            "synapses", limit=5, metadata=False, log_warning=False
        )
    assert quiet.attrs["warnings"] and bare.attrs == {}


def test_a_reply_warning_names_the_callers_line(client: Any) -> None:
    """Filters keyed on the user's module (``warnings.filterwarnings(module=...)``) and the
    printed location need the warning attributed to the user's call, not to dafclient."""
    with pytest.warns(MaterializeWarning) as caught:
        client.materialize.query_table("synapses", limit=5)
    assert [w.filename for w in caught] == [__file__]
    assert caught[0].lineno == inspect.currentframe().f_lineno - 2  # type: ignore[union-attr]


async def test_an_async_reply_warning_names_the_callers_line(aclient: Any) -> None:
    with pytest.warns(MaterializeWarning) as caught:
        await aclient.materialize.query_table("synapses", limit=5)
    assert [w.filename for w in caught] == [__file__]
    assert caught[0].lineno == inspect.currentframe().f_lineno - 2  # type: ignore[union-attr]


def test_reference_tables_are_merged(client: Any) -> None:
    merged = client.materialize.query_table("nucleus_cell_types")
    plain = client.materialize.query_table("nucleus_cell_types", merge_reference=False)
    nuclei = client.materialize.query_table("nuclei").set_index("id")
    assert "pt_root_id" not in plain.columns and len(merged) == len(plain)
    assert merged.attrs["reference_table"] == "nuclei"
    np.testing.assert_array_equal(
        merged["pt_root_id"].to_numpy(), nuclei.loc[merged["target_id"], "pt_root_id"].to_numpy()
    )
    assert "id_ref" in merged.columns


def test_synapse_query(client: Any, deployment: Deployment, versions: Any) -> None:
    when = client.materialize.get_timestamp(versions[1])
    expected = rows_alive(deployment, "synapses", when, when, SYNAPSE_POINTS)
    pre = int(expected["pre_pt_root_id"].value_counts().index[0])
    frame = client.materialize.synapse_query(pre_ids=pre)
    want = expected[
        (expected["pre_pt_root_id"] == pre)
        & (expected["pre_pt_root_id"] != expected["post_pt_root_id"])
    ]
    assert sorted(frame["id"].tolist()) == sorted(want["id"].tolist())
    posts = expected["post_pt_root_id"].unique()[:5]
    both = client.materialize.synapse_query(post_ids=posts, remove_autapses=False)
    assert sorted(both["id"].tolist()) == sorted(
        expected[expected["post_pt_root_id"].isin(posts)]["id"].tolist()
    )
    no_zeros = client.materialize.synapse_query(post_ids=posts, include_zeros=False)
    assert not (no_zeros["pre_pt_root_id"] == 0).any()


def test_query_table_at_a_timestamp_updates_roots(
    client: Any, deployment: Deployment, versions: Any
) -> None:
    """Between the two versions (after some edits), rows are those of the older version and
    roots those at the time; a root-id filter valid at that time is mapped back."""
    first, second = (client.materialize.get_timestamp(v) for v in versions)
    when = first + (second - first) * 0.9
    frame = by_id(client.materialize.query_table("synapses", timestamp=when))
    expected = rows_alive(deployment, "synapses", first, when, SYNAPSE_POINTS)
    assert frame["id"].tolist() == expected["id"].tolist()
    np.testing.assert_array_equal(frame["post_pt_root_id"], expected["post_pt_root_id"])
    assert frame.attrs["live_query"] and frame.attrs["materialization_version"] == versions[0]
    changed = expected[
        ~np.isin(
            expected["post_pt_root_id"],
            rows_alive(deployment, "synapses", first, first, SYNAPSE_POINTS)["post_pt_root_id"],
        )
    ]
    root = int((changed if len(changed) else expected)["post_pt_root_id"].iloc[0])
    some = client.materialize.live_query(
        "synapses", when, filter_in_dict={"post_pt_root_id": [root]}
    )
    assert sorted(some["id"].tolist()) == sorted(
        expected[expected["post_pt_root_id"] == root]["id"].tolist()
    )


def test_live_query_refuses_roots_of_another_time(client: Any, versions: Any) -> None:
    from dafclient.errors import InputError

    first = client.materialize.get_timestamp(versions[0])
    old = client.materialize.query_table(
        "synapses", materialization_version=versions[0], limit=500, log_warning=False
    )
    now = datetime.now(UTC)
    current = client.chunkedgraph.is_latest_roots(old["post_pt_root_id"].unique(), timestamp=now)
    stale = old["post_pt_root_id"].unique()[~current]
    assert stale.size, "the dataset's edits retire some roots"
    with pytest.raises(InputError, match="expired"):
        client.materialize.live_query(
            "synapses", now, filter_in_dict={"post_pt_root_id": stale[:1]}
        )
    with pytest.raises(InputError, match="before every valid version"):
        client.materialize.query_table("synapses", timestamp=first - timedelta(days=400))


def test_live_live_query_matches_the_data(client: Any, deployment: Deployment) -> None:
    now = datetime.now(UTC)
    frame = by_id(client.materialize.live_live_query("synapses", now))
    expected = rows_alive(deployment, "synapses", now, now, SYNAPSE_POINTS)
    assert frame["id"].tolist() == expected["id"].tolist()
    np.testing.assert_array_equal(frame["pre_pt_root_id"], expected["pre_pt_root_id"])


def test_filters_at_a_version(client: Any, deployment: Deployment, versions: Any) -> None:
    when = client.materialize.get_timestamp(versions[1])
    expected = rows_alive(deployment, "synapses", when, when, SYNAPSE_POINTS)
    cut = float(np.median(expected["size"]))
    frame = client.materialize.query_table(
        "synapses",
        filter_greater_dict={"size": cut},
        filter_out_dict={"pre_pt_root_id": [int(expected["pre_pt_root_id"].iloc[0])]},
    )
    want = expected[
        (expected["size"] > cut)
        & (expected["pre_pt_root_id"] != expected["pre_pt_root_id"].iloc[0])
    ]
    assert sorted(frame["id"].tolist()) == sorted(want["id"].tolist())


def test_errors_are_typed(client: Any) -> None:
    from dafclient.errors import DafHTTPError, InputError, NotFoundError

    with pytest.raises(NotFoundError):
        client.materialize.query_table("no_such_table")
    with pytest.raises(NotFoundError):
        client.materialize.query_table("synapses", materialization_version=9999)
    # The client knows the columns of a table whose type it knows: refused before sending.
    with pytest.raises(InputError, match="has no column 'no_column'"):
        client.materialize.query_table("synapses", filter_in_dict={"no_column": [1]})
    with pytest.raises(InputError, match="integer"):
        client.materialize.query_table("synapses", filter_equal_dict={"pre_pt_root_id": "12"})
    with pytest.raises(InputError, match="string"):
        client.materialize.query_table("synapses", filter_regex_dict={"size": "1.*"})
    with pytest.raises(InputError, match="has no column 'nope'"):
        client.materialize.query_table("synapses", select_columns=["id", "nope"])
    # Without the table's metadata (merge_reference=False) the server judges: a 4xx.
    with pytest.raises(DafHTTPError) as bad:
        client.materialize.query_table(
            "synapses", filter_in_dict={"no_column": [1]}, merge_reference=False
        )
    assert bad.value.status < 500
    with pytest.raises(InputError):
        client.materialize.query_table("synapses", limit=0)
    with pytest.raises(InputError):
        client.materialize.query_table("synapses", filter_in_dict=[1, 2])


async def test_async_client_gives_the_same_answers(
    aclient: Any, client: Any, versions: Any
) -> None:
    first, second = (client.materialize.get_timestamp(v) for v in versions)
    when = first + (second - first) / 2
    sync = client.materialize.query_table("synapses", timestamp=when)
    pd.testing.assert_frame_equal(
        await aclient.materialize.query_table("synapses", timestamp=when), sync
    )
    posts = sync["post_pt_root_id"].unique()[:3]
    pd.testing.assert_frame_equal(
        await aclient.materialize.synapse_query(post_ids=posts),
        client.materialize.synapse_query(post_ids=posts),
    )
    assert (
        await aclient.materialize.get_tables_metadata() == client.materialize.get_tables_metadata()
    )
    assert naive(when) < naive(second)


def test_an_empty_result_is_an_empty_frame(client: Any) -> None:
    """A filter that matches nothing (string columns in the result) gives no row, not a 500."""
    plain = client.materialize.query_table(
        "nucleus_cell_types", filter_in_dict={"cell_type": ["nope"]}, merge_reference=False
    )
    merged = client.materialize.query_table(
        "nucleus_cell_types", filter_in_dict={"cell_type": ["nope"]}
    )
    assert len(plain) == 0 and len(merged) == 0 and "cell_type" in merged.columns
