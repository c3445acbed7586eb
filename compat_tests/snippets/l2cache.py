"""client.l2cache: features of level-2 nodes."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import Fixtures, snippet


@snippet(
    "l2cache.has_cache", "l2cache.attributes", "l2cache.cache_metadata", "l2cache.table_mapping"
)
def l2cache_facts(client: Any, fx: Fixtures) -> Any:
    return {
        "has_cache": client.l2cache.has_cache(),
        "attributes": sorted(client.l2cache.attributes),
        "metadata": client.l2cache.cache_metadata(),
        "mapping_keys": sorted(client.l2cache.table_mapping()),
    }


@snippet("l2cache.get_l2data", "chunkedgraph.get_leaves")
def l2_features_as_dict(client: Any, fx: Fixtures) -> Any:
    root = int(client.chunkedgraph.get_root_id(fx.supervoxels[0]))
    l2 = np.sort(client.chunkedgraph.get_leaves(root, stop_layer=2))[:5]
    data = client.l2cache.get_l2data(l2, attributes=["size_nm3", "area_nm2", "max_dt_nm"])
    first = data[str(l2[0])]
    return {"keys": sorted(data), "first": first, "sizes": [v["size_nm3"] for v in data.values()]}


@snippet("l2cache.get_l2data_table", "chunkedgraph.get_leaves")
def l2_features(client: Any, fx: Fixtures) -> Any:
    root = int(client.chunkedgraph.get_root_id(fx.supervoxels[0]))
    l2 = np.sort(client.chunkedgraph.get_leaves(root, stop_layer=2))[:5]
    table = client.l2cache.get_l2data_table(l2, attributes=["size_nm3", "pca"], split_columns=True)
    table = table.sort_index()
    return {
        "columns": sorted(table.columns),
        "index": table.index.tolist(),
        "size": table["size_nm3"].tolist(),
    }
