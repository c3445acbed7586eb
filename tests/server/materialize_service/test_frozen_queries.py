"""Simple, join and view queries on frozen versions, checked against the rows, supervoxels and
roots computed from the deployment's own data."""

from __future__ import annotations

import gzip
import json
import re

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from materialize_support import V3, expected_table, frame_of, positions_of, query, version_time

from dafserver.deployment import Deployment

SYNAPSE_POINTS = ("pre_pt", "post_pt")


@pytest.fixture(scope="module")
def synapses(http: httpx.Client, versions: tuple[int, int]) -> dict[int, pd.DataFrame]:
    """Every synapse of each version, as served."""
    return {
        v: frame_of(query(http, f"{V3}/version/{v}/table/synapses/query", {}))
        .sort_values("id")
        .reset_index(drop=True)
        for v in versions
    }


def test_rows_supervoxels_and_roots_before_and_after_the_edits(
    http: httpx.Client,
    deployment: Deployment,
    versions: tuple[int, int],
    synapses: dict[int, pd.DataFrame],
) -> None:
    changed = 0
    for version in versions:
        served = synapses[version]
        expected = expected_table(
            deployment, "synapses", version_time(http, version), SYNAPSE_POINTS
        )
        assert served["id"].tolist() == expected["id"].tolist()
        for point in SYNAPSE_POINTS:
            np.testing.assert_array_equal(
                positions_of(served, f"{point}_position"),
                np.asarray(expected[f"{point}_position"].tolist()),
            )
            for column in (f"{point}_supervoxel_id", f"{point}_root_id"):
                np.testing.assert_array_equal(
                    served[column].to_numpy(), expected[column].to_numpy()
                )
        assert served["valid"].all()
    before, after = (synapses[v].set_index("id") for v in versions)
    common = before.index.intersection(after.index)
    changed = int(
        (before.loc[common, "pre_pt_root_id"] != after.loc[common, "pre_pt_root_id"]).sum()
    )
    assert changed > 0
    assert len(before) > len(after)


def test_arrow_types_headers_and_pandas_metadata(
    http: httpx.Client, versions: tuple[int, int]
) -> None:
    response = query(http, f"{V3}/version/{versions[1]}/table/synapses/query", {"limit": 5})
    assert response.headers["content-type"] == "data.arrow"
    table = pa.ipc.open_stream(response.content).read_all()
    types = dict(zip(table.schema.names, table.schema.types, strict=True))
    assert types["id"] == pa.int64() and types["pre_pt_root_id"] == pa.int64()
    assert types["pre_pt_position_x"] == pa.int32() and types["size"] == pa.float32()
    assert b"pandas" in table.schema.metadata
    names = table.schema.names
    start = names.index("pre_pt_position_x")
    assert names[start : start + 3] == [
        "pre_pt_position_x",
        "pre_pt_position_y",
        "pre_pt_position_z",
    ]
    assert response.headers.get_list("dataframe_resolution") == ["8.0", "8.0", "40.0"]
    column_names = response.headers["column_names"]
    assert column_names.startswith("{'synapses': {'id': 'id'")
    assert '201 - "Limited query to 5 rows' in response.headers.get_list("Warning")


@pytest.mark.parametrize(
    ("encoding", "codec"), [("lz4", "LZ4_FRAME"), ("zstd", "ZSTD"), ("", None)]
)
def test_ipc_compression_follows_accept_encoding(
    http: httpx.Client, versions: tuple[int, int], encoding: str, codec: str | None
) -> None:
    response = http.post(
        f"{V3}/version/{versions[1]}/table/synapses/query",
        json={"limit": 50},
        headers={"Accept-Encoding": encoding},
    )
    assert "content-encoding" not in response.headers
    reader = pa.ipc.open_stream(response.content)
    batch = reader.read_next_batch()
    assert batch.num_rows == 50
    body = response.content
    if codec is None:
        assert b"LZ4" not in body and b"ZSTD" not in body
    uncompressed = http.post(
        f"{V3}/version/{versions[1]}/table/synapses/query",
        params={"ipc_compress": "false"},
        json={"limit": 50},
        headers={"Accept-Encoding": encoding},
    )
    if codec is not None:
        assert len(uncompressed.content) > len(body)


def test_gzip_body_and_json_records(http: httpx.Client, versions: tuple[int, int]) -> None:
    path = f"{V3}/version/{versions[1]}/table/synapses/query"
    arrow = frame_of(query(http, path, {"limit": 20}))
    with http.stream(
        "POST",
        path,
        json={"limit": 20},
        params={"return_pyarrow": "false"},
        headers={"Accept-Encoding": "gzip"},
    ) as streamed:
        assert streamed.headers["content-encoding"] == "gzip"
        assert streamed.headers["content-type"] == "application/json"
        body = b"".join(streamed.iter_raw())
    records = pd.DataFrame(json.loads(gzip.decompress(body)))
    assert records["id"].tolist() == arrow["id"].tolist()
    np.testing.assert_array_equal(records["pre_pt_root_id"], arrow["pre_pt_root_id"])


def _served(
    http: httpx.Client, version: int, table: str, body: dict[str, object], **params: object
) -> pd.DataFrame:
    return frame_of(query(http, f"{V3}/version/{version}/table/{table}/query", body, **params))


def test_filters_against_pandas(
    http: httpx.Client, versions: tuple[int, int], synapses: dict[int, pd.DataFrame]
) -> None:
    version = versions[1]
    whole = synapses[version]
    root = int(whole["post_pt_root_id"].value_counts().index[0])
    median = float(whole["size"].median())
    cases = [
        (
            {"filter_in_dict": {"synapses": {"post_pt_root_id": [root]}}},
            whole["post_pt_root_id"] == root,
        ),
        (
            {"filter_equal_dict": {"synapses": {"post_pt_root_id": root}}},
            whole["post_pt_root_id"] == root,
        ),
        ({"filter_greater_dict": {"synapses": {"size": median}}}, whole["size"] > median),
        ({"filter_less_dict": {"synapses": {"size": median}}}, whole["size"] < median),
        ({"filter_greater_equal_dict": {"synapses": {"size": median}}}, whole["size"] >= median),
        ({"filter_less_equal_dict": {"synapses": {"size": median}}}, whole["size"] <= median),
        ({"filter_in_dict": {"synapses": {"id": []}}}, whole["id"] < 0),
    ]
    for body, mask in cases:
        assert (
            _served(http, version, "synapses", body)["id"].tolist() == whole[mask]["id"].tolist()
        ), body


def test_spatial_and_regex_filters(
    http: httpx.Client, versions: tuple[int, int], synapses: dict[int, pd.DataFrame]
) -> None:
    version = versions[1]
    whole = synapses[version]
    xyz = positions_of(whole, "ctr_pt_position")
    low = np.percentile(xyz, 25, axis=0).astype(int)
    high = np.percentile(xyz, 75, axis=0).astype(int) + 1
    inside = np.all((xyz >= low) & (xyz <= high), axis=1)
    box = {"filter_spatial_dict": {"synapses": {"ctr_pt_position": [low.tolist(), high.tolist()]}}}
    assert _served(http, version, "synapses", box)["id"].tolist() == whole["id"][inside].tolist()
    cells = _served(http, version, "cell_types", {})
    pattern = "^5P"
    regex = {"filter_regex_dict": {"cell_types": {"cell_type": pattern}}}
    matched = cells[cells["cell_type"].map(lambda t: re.search(pattern, t) is not None)]
    assert _served(http, version, "cell_types", regex)["id"].tolist() == matched["id"].tolist()


def test_notin_is_accepted_and_ignored_as_in_production(
    http: httpx.Client, versions: tuple[int, int], synapses: dict[int, pd.DataFrame]
) -> None:
    whole = synapses[versions[1]]
    body = {"filter_notin_dict": {"synapses": {"id": whole["id"].tolist()[:10]}}}
    assert _served(http, versions[1], "synapses", body)["id"].tolist() == whole["id"].tolist()


def test_select_columns_limit_offset_count_and_sample(
    http: httpx.Client, versions: tuple[int, int], synapses: dict[int, pd.DataFrame]
) -> None:
    version = versions[1]
    whole = synapses[version]
    picked = _served(
        http, version, "synapses", {"select_columns": ["id", "pre_pt_root_id", "size"]}
    )
    assert list(picked.columns) == ["id", "pre_pt_supervoxel_id", "pre_pt_root_id", "size"]
    page = _served(http, version, "synapses", {"offset": 10, "limit": 25})
    assert page["id"].tolist() == whole["id"].tolist()[10:35]
    capped = _served(http, version, "synapses", {"limit": 10_000_000})
    assert len(capped) == len(whole)
    counted = _served(
        http,
        version,
        "synapses",
        {"filter_greater_dict": {"synapses": {"size": 300.0}}},
        count="true",
    )
    assert counted["count"].tolist() == [int((whole["size"] > 300.0).sum())]
    sample = _served(http, version, "synapses", {}, random_sample=30)
    assert len(sample) == 30 and set(sample["id"]) <= set(whole["id"])


def test_desired_resolution_scales_positions(
    http: httpx.Client, versions: tuple[int, int], synapses: dict[int, pd.DataFrame]
) -> None:
    version = versions[1]
    whole = positions_of(synapses[version], "pre_pt_position")
    for resolution in ([4, 4, 40], [16, 16, 80], [3, 3, 40]):
        response = query(
            http, f"{V3}/version/{version}/table/synapses/query", {"desired_resolution": resolution}
        )
        assert response.headers.get_list("dataframe_resolution") == [
            repr(float(r)) for r in resolution
        ]
        scaled = positions_of(frame_of(response), "pre_pt_position")
        ratio = np.asarray([8.0, 8.0, 40.0]) / np.asarray(resolution, dtype=float)
        np.testing.assert_array_equal(scaled, np.trunc(whole * ratio).astype(np.int64))


def test_reference_join_and_suffixes(http: httpx.Client, versions: tuple[int, int]) -> None:
    version = versions[1]
    nuclei = _served(http, version, "nuclei", {}).set_index("id")
    cells = _served(http, version, "nucleus_cell_types", {})
    body = {
        "tables": [["nucleus_cell_types", "target_id"], ["nuclei", "id"]],
        "suffix_map": {"nucleus_cell_types": "", "nuclei": "_ref"},
    }
    joined = frame_of(query(http, f"{V3}/version/{version}/query", body))
    assert {"id", "id_ref", "valid", "valid_ref", "pt_root_id", "cell_type"} <= set(joined.columns)
    assert sorted(joined["id"]) == sorted(cells["id"])
    np.testing.assert_array_equal(
        joined["pt_root_id"].to_numpy(), nuclei.loc[joined["target_id"], "pt_root_id"].to_numpy()
    )
    default = frame_of(query(http, f"{V3}/version/{version}/query", {"tables": body["tables"]}))
    assert {"idx", "idy", "validx", "validy"} <= set(default.columns)
    selected = frame_of(
        query(
            http,
            f"{V3}/version/{version}/query",
            {
                **body,
                "select_column_map": {
                    "nucleus_cell_types": ["id", "cell_type"],
                    "nuclei": ["pt_root_id"],
                },
            },
        )
    )
    assert list(selected.columns) == ["id", "cell_type", "pt_supervoxel_id", "pt_root_id"]


def test_view_query_matches_its_definition(
    http: httpx.Client, versions: tuple[int, int], synapses: dict[int, pd.DataFrame]
) -> None:
    version = versions[1]
    whole = synapses[version]
    served = frame_of(query(http, f"{V3}/version/{version}/views/synapse_graph/query", {}))
    expected = whole[whole["pre_pt_root_id"] != whole["post_pt_root_id"]]
    assert served["id"].tolist() == expected["id"].tolist()
    np.testing.assert_array_equal(
        positions_of(served, "ctr_pt_position"), positions_of(expected, "ctr_pt_position")
    )
    filtered = frame_of(
        query(
            http,
            f"{V3}/version/{version}/views/synapse_graph/query",
            {"filter_greater_dict": {"synapse_graph": {"size": 300.0}}},
        )
    )
    assert filtered["id"].tolist() == expected[expected["size"] > 300.0]["id"].tolist()
    schemas = http.get(f"{V3}/version/{version}/views/schemas").json()
    assert schemas["synapse_graph"]["ctr_pt_position"] == {"type": "SpatialPoint"}
    assert schemas["synapse_graph"]["size"] == {"type": "float"}
