"""CAVEclient's start-up and its most common reads work against dafserver unchanged, and give the
answers dafclient gives against the same deployment."""

from __future__ import annotations

from typing import Any

import numpy as np

from dafclient import FrameworkClient
from dafserver.runner import LocalServer
from dafserver.seed import DATASTACK


def test_datastack_info_and_segmentation_source(cave: Any) -> None:
    info = cave.info.get_datastack_info()
    assert info["segmentation_source"].startswith("graphene://")
    assert cave.info.segmentation_source() == info["segmentation_source"]


def test_roots_and_leaves_match_dafclient(cave: Any, daf_server: LocalServer) -> None:
    manifest = daf_server.deployment.manifest
    assert manifest is not None
    supervoxels = np.asarray(manifest.edits[0].supervoxel_ids, dtype=np.uint64)
    with FrameworkClient(
        DATASTACK, server_address=daf_server.base_url, auth_token=daf_server.admin_token
    ) as daf:
        expected = daf.chunkedgraph.get_roots(supervoxels)
        root = int(expected[0])
        leaves = np.sort(daf.chunkedgraph.get_leaves(root))
    roots = cave.chunkedgraph.get_roots(supervoxels)
    assert roots.dtype == np.uint64
    np.testing.assert_array_equal(roots, expected)
    np.testing.assert_array_equal(np.sort(cave.chunkedgraph.get_leaves(root)), leaves)
