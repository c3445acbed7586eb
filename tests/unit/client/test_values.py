"""Input conversion: timestamps, ids, server addresses, cloud paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from dafclient.config import normalize_server
from dafclient.errors import ConfigurationError, InputError
from dafclient.format_utils import format_source, table_id_from_source
from dafclient.ids import as_id, as_id_array, decode_uint64, encode_uint64
from dafclient.timestamps import from_epoch_seconds, parse_server_datetime, to_epoch_seconds

EPOCH = 1_546_595_253.0  # 2019-01-04T09:47:33Z, the original client's documentation example


@pytest.mark.parametrize(
    "value",
    [
        datetime(2019, 1, 4, 9, 47, 33),
        datetime(2019, 1, 4, 9, 47, 33, tzinfo=UTC),
        datetime(2019, 1, 4, 10, 47, 33, tzinfo=timezone(timedelta(hours=1))),
        pd.Timestamp("2019-01-04T09:47:33"),
        pd.Timestamp("2019-01-04T04:47:33", tz="US/Eastern"),
        np.datetime64("2019-01-04T09:47:33"),
        EPOCH,
        int(EPOCH),
    ],
)
def test_every_timestamp_form_means_the_same_utc_instant(value: object) -> None:
    assert to_epoch_seconds(value) == EPOCH


def test_naive_datetimes_are_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        assert to_epoch_seconds(datetime(2019, 1, 4, 9, 47, 33)) == EPOCH
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize("bad", [True, "yesterday", float("nan"), -1.0, pd.NaT, object()])
def test_bad_timestamps_name_the_parameter(bad: object) -> None:
    with pytest.raises(InputError, match=r"^when"):
        to_epoch_seconds(bad, name="when")


def test_times_out_are_aware_utc() -> None:
    stamp = from_epoch_seconds(EPOCH)
    assert stamp.tzinfo is UTC and stamp.timestamp() == EPOCH
    assert parse_server_datetime("2019-01-04 09:47:33").timestamp() == EPOCH
    assert parse_server_datetime("2019-01-04T10:47:33+01:00").timestamp() == EPOCH


def test_ids_keep_the_full_uint64_range() -> None:
    big = 2**64 - 1
    assert as_id(np.uint64(big)) == big
    array = as_id_array([big, "864691135968943211", np.int64(5)])
    assert array.dtype == np.uint64
    assert array.tolist() == [big, 864691135968943211, 5]
    assert decode_uint64(encode_uint64(array)).tolist() == array.tolist()


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ([1, -2], "item 1: -2 is outside"),
        ([2**64], "outside 0..2\\*\\*64-1"),
        (["12a"], "is not an integer id"),
        ([True], "is a bool"),
        ([float(2**60)], "above 2\\*\\*53"),
        (np.array([3, -1]), "item 1: -1 is negative"),
    ],
)
def test_bad_ids_say_which_item_and_why(bad: object, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        as_id_array(bad, name="supervoxel_ids")


def test_binary_payload_must_be_whole_uint64s() -> None:
    with pytest.raises(ValueError, match="not a multiple of 8"):
        decode_uint64(b"\x00" * 12)


def test_plain_http_only_to_loopback_unless_allowed() -> None:
    assert normalize_server("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert normalize_server("http://localhost:9") == "http://localhost:9"
    with pytest.raises(ConfigurationError, match="unencrypted"):
        normalize_server("http://daf.example.org")
    assert (
        normalize_server("http://daf.example.org", allow_insecure_http=True)
        == "http://daf.example.org"
    )
    with pytest.raises(ConfigurationError):
        normalize_server("ftp://daf.example.org")


@pytest.mark.parametrize(
    ("source", "fmt", "expected"),
    [
        ("gs://bucket/em", "cloudvolume", "precomputed://https://storage.googleapis.com/bucket/em"),
        (
            "precomputed://gs://bucket/em",
            "cloudvolume",
            "precomputed://https://storage.googleapis.com/bucket/em",
        ),
        ("s3://bucket/em", "cloudvolume", "precomputed://https://s3.amazonaws.com/bucket/em"),
        (
            "precomputed://https://storage.googleapis.com/bucket/em",
            "neuroglancer",
            "precomputed://gs://bucket/em",
        ),
        (
            "https://storage.googleapis.com/bucket/em",
            "neuroglancer",
            "precomputed://gs://bucket/em",
        ),
        (
            "https://data.example.org/em",
            "neuroglancer",
            "precomputed://https://data.example.org/em",
        ),
        ("https://data.example.org/em", "cloudvolume", "precomputed://https://data.example.org/em"),
        ("precomputed://file:///data/em", "cloudvolume", "precomputed://file:///data/em"),
        (
            "graphene://https://local.example.org/segmentation/table/t",
            "neuroglancer",
            "graphene://https://local.example.org/segmentation/table/t",
        ),
        (
            "graphene://middleauth+https://h.org/segmentation/table/t",
            "cloudvolume",
            "graphene://https://h.org/segmentation/table/t",
        ),
        ("gs://bucket/em", "raw", "gs://bucket/em"),
    ],
)
def test_format_for_keeps_bucket_and_host(source: str, fmt: str, expected: str) -> None:
    assert format_source(source, fmt) == expected


def test_unknown_format_is_an_error_and_table_ids_come_from_sources() -> None:
    with pytest.raises(InputError, match="format_for"):
        format_source("gs://b/p", "precomputed")
    assert format_source(None, "cloudvolume") is None
    assert (
        table_id_from_source("graphene://https://h/segmentation/table/minnie3_v1/") == "minnie3_v1"
    )


@pytest.mark.parametrize("fmt", ["cave_explorer", "cave-explorer", "spelunker"])
def test_cave_explorer_formats_as_caveclient_does(fmt: str) -> None:
    # CAVEclient's names for CAVE Explorer: graphene through middle_auth, buckets gs-style.
    assert (
        format_source("graphene://https://h.org/segmentation/table/t", fmt)
        == "graphene://middleauth+https://h.org/segmentation/table/t"
    )
    assert (
        format_source("graphene://middleauth+https://h.org/segmentation/table/t", fmt)
        == "graphene://middleauth+https://h.org/segmentation/table/t"
    )
    assert format_source("precomputed://gs://b/em", fmt) == "precomputed://gs://b/em"
