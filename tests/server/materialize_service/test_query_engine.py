"""The query compiler on its own: a 1,000,000-row frozen table filters in well under a second, and
``limit`` is capped at 200,000 rows with production's warning."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dafserver.materialize.bodies import SIMPLE_FIELDS, parse_body
from dafserver.materialize.engine import QUERY_LIMIT_VARIABLE, query_limit_from_environment
from dafserver.materialize.layout import Column
from dafserver.materialize.query import QUERY_LIMIT, QueryPlan, Source, run_query

ROWS = 1_000_000
COLUMNS = (
    Column("id", "id"),
    Column("valid", "bool"),
    Column("pt_position", "position", "pt"),
    Column("pt_supervoxel_id", "supervoxel", "pt"),
    Column("pt_root_id", "root", "pt"),
    Column("size", "float"),
)


def _frozen(path: Path) -> tuple[Source, pa.Table]:
    rng = np.random.default_rng(7)
    table = pa.table(
        {
            "id": np.arange(1, ROWS + 1, dtype=np.int64),
            "valid": np.ones(ROWS, dtype=np.bool_),
            "pt_position_x": rng.integers(0, 10_000, ROWS).astype(np.int32),
            "pt_position_y": rng.integers(0, 10_000, ROWS).astype(np.int32),
            "pt_position_z": rng.integers(0, 1_000, ROWS).astype(np.int32),
            "pt_supervoxel_id": rng.integers(1, 2**40, ROWS),
            "pt_root_id": rng.integers(1, 5_000, ROWS).astype(np.int64),
            "size": rng.random(ROWS).astype(np.float32),
        }
    )
    pq.write_table(table, path)
    source = Source("big", f"read_parquet('{path}')", COLUMNS, (8.0, 8.0, 40.0), ROWS)
    return source, table


def test_million_rows_filter_fast_and_limit_is_capped(tmp_path: Path) -> None:
    source, table = _frozen(tmp_path / "big.parquet")
    roots = [17, 99, 1234]
    body = parse_body(
        {
            "filter_in_dict": {"big": {"pt_root_id": roots}},
            "filter_spatial_dict": {"big": {"pt_position": [[0, 0, 0], [5000, 5000, 500]]}},
        },
        SIMPLE_FIELDS,
    )
    with duckdb.connect() as connection:
        result = run_query(connection, QueryPlan([source], [], body))
        root = table["pt_root_id"].to_numpy()
        x, y, z = (table[f"pt_position_{a}"].to_numpy() for a in "xyz")
        mask = np.isin(root, roots) & (x <= 5000) & (y <= 5000) & (z <= 500)
        assert result.table["id"].to_pylist() == table["id"].to_numpy()[mask].tolist()
        capped = run_query(
            connection, QueryPlan([source], [], parse_body({"limit": 500_000}, SIMPLE_FIELDS))
        )
    assert capped.table.num_rows == QUERY_LIMIT
    assert capped.warnings == [f'201 - "Limited query to {QUERY_LIMIT} rows']


def test_a_deployment_sets_its_own_row_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, table = _frozen(tmp_path / "big.parquet")
    everything = QueryPlan([source], [], parse_body({}, SIMPLE_FIELDS))
    with duckdb.connect() as connection:
        whole = run_query(connection, everything, query_limit=2 * ROWS)
        capped = run_query(connection, everything, query_limit=1234)
    assert whole.table.num_rows == ROWS and whole.warnings == []
    assert capped.table["id"].to_pylist() == table["id"].to_pylist()[:1234]
    assert capped.warnings == ['201 - "Limited query to 1234 rows']

    monkeypatch.setenv(QUERY_LIMIT_VARIABLE, "5000000")
    assert query_limit_from_environment() == 5_000_000
    monkeypatch.delenv(QUERY_LIMIT_VARIABLE)
    assert query_limit_from_environment() == QUERY_LIMIT
    for junk in ("many", "0", "-5"):
        monkeypatch.setenv(QUERY_LIMIT_VARIABLE, junk)
        with pytest.raises(ValueError, match=QUERY_LIMIT_VARIABLE):
            query_limit_from_environment()
