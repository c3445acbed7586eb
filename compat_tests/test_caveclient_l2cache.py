"""CAVEclient 8.2.1's ``l2cache`` works unchanged against dafserver and gives dafclient's answers."""

from __future__ import annotations

from typing import Any

import numpy as np

from dafclient import FrameworkClient
from dafserver.runner import LocalServer
from dafserver.seed import DATASTACK


def _largest_root_l2(daf: FrameworkClient, server: LocalServer) -> np.ndarray:
    roots = server.deployment.graph.get_latest_roots()
    leaves = [daf.chunkedgraph.get_leaves(int(r), stop_layer=2) for r in roots]
    return max(leaves, key=len)


def test_l2data_dict_and_table_match_dafclient(cave: Any, daf_server: LocalServer) -> None:
    with FrameworkClient(
        DATASTACK, server_address=daf_server.base_url, auth_token=daf_server.admin_token
    ) as daf:
        l2_ids = _largest_root_l2(daf, daf_server)
        expected = daf.l2cache.get_l2data(l2_ids, as_dict=True)
        frame = daf.l2cache.get_l2data_table(l2_ids)
        metadata = daf.l2cache.cache_metadata()
        mapping = daf.l2cache.table_mapping()
    assert cave.l2cache.has_cache()
    assert cave.l2cache.attributes == list(metadata)
    assert cave.l2cache.cache_metadata() == metadata
    assert cave.l2cache.table_mapping() == mapping
    data = cave.l2cache.get_l2data(l2_ids)
    assert data == expected
    subset = cave.l2cache.get_l2data([int(i) for i in l2_ids[:5]], attributes=["size_nm3"])
    assert subset == {k: {"size_nm3": v["size_nm3"]} for k, v in list(expected.items())[:5]}
    table = cave.l2cache.get_l2data_table(l2_ids)
    assert sorted(table.index.tolist()) == sorted(int(i) for i in l2_ids)
    # CAVEclient fills missing pca values with np.empty garbage: compare where dafclient has them.
    for column in frame.columns:
        present = frame[column].notna()
        np.testing.assert_array_equal(
            table.loc[frame.index[present].astype(int), column].to_numpy(dtype=np.float64),
            frame.loc[present, column].to_numpy(),
        )
