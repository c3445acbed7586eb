"""Plans about the hierarchy under a node: leaves, children, edges, and paths through L2 nodes."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from dafclient import _generated as gen
from dafclient._plan import Plan
from dafclient._wire.chunkedgraph_v1.api.chunkedgraph import (
    find_path,
    get_children,
    get_leaves,
    get_leaves_many,
    get_lvl2_graph,
    get_subgraph,
)
from dafclient._wire.chunkedgraph_v1.models import NodeIdsRequest
from dafclient.errors import ResponseFormatError
from dafclient.ids import IdArray, IdsLike, as_id, as_id_array
from dafclient.services.chunkedgraph.base import ChunkedGraphLocation
from dafclient.services.chunkedgraph.results import FoundPath
from dafclient.services.chunkedgraph.wire import (
    Bounds,
    edit_points,
    ids_from_json,
    json_id,
    json_ids,
    optional_bounds,
    points_nm,
)


def _id_pairs(pairs: list[list[int | str]]) -> IdArray:
    return np.array([[json_id(a), json_id(b)] for a, b in pairs], dtype=np.uint64).reshape(-1, 2)


class HierarchyPlans(ChunkedGraphLocation):
    """Plans of the hierarchy queries; see :class:`ChunkedGraphClient`."""

    def _get_leaves(
        self, root_id: int, bounds: Bounds | None = None, stop_layer: int | None = None
    ) -> Plan[IdArray]:
        """Supervoxels (or nodes at ``stop_layer``) under a node, optionally within ``bounds``."""
        node = as_id(root_id, name="root_id")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_leaves.build_request(
                table_id=table,
                node_id=node,
                stop_layer=stop_layer if stop_layer is not None else 1,
                bounds=optional_bounds(bounds),
                int64_as_str=False,
            ),
        )
        reply = gen.read(get_leaves.parse_success, request, (yield request))
        return ids_from_json(reply.leaf_ids, what="leaf_ids", request=request)

    def _get_leaves_many(
        self, root_ids: IdsLike, bounds: Bounds | None = None, stop_layer: int | None = None
    ) -> Plan[dict[int, IdArray]]:
        """:meth:`get_leaves` for many nodes in one request."""
        ids = as_id_array(root_ids, name="root_ids")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_leaves_many.build_request(
                table_id=table,
                body=NodeIdsRequest(node_ids=json_ids(ids)),
                stop_layer=stop_layer if stop_layer is not None else 1,
                bounds=optional_bounds(bounds),
                int64_as_str=False,
            ),
            idempotent=True,
        )
        reply = gen.read(get_leaves_many.parse_success, request, (yield request))
        return {
            int(k): ids_from_json(v, what="leaf_ids", request=request)
            for k, v in reply.additional_properties.items()
        }

    def _get_children(self, node_id: int) -> Plan[IdArray]:
        """The immediate children of a node (possibly of several layers)."""
        node = as_id(node_id, name="node_id")
        server, table = yield from self._where()
        request = gen.call(
            server, get_children.build_request(table_id=table, node_id=node, int64_as_str=False)
        )
        reply = gen.read(get_children.parse_success, request, (yield request))
        return ids_from_json(reply.children_ids, what="children_ids", request=request)

    def _get_subgraph(
        self, root_id: int, bounds: Bounds | None = None
    ) -> Plan[tuple[IdArray, npt.NDArray[np.float32], npt.NDArray[np.uint64]]]:
        """Supervoxel edges of a node within ``bounds``: (edges N×2, affinities, areas)."""
        node = as_id(root_id, name="root_id")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_subgraph.build_request(
                table_id=table, node_id=node, bounds=optional_bounds(bounds), int64_as_str=False
            ),
        )
        reply = gen.read(get_subgraph.parse_success, request, (yield request))
        return (
            _id_pairs(reply.nodes),
            np.asarray(reply.affinities, dtype=np.float32),
            np.asarray([json_id(a) for a in reply.areas], dtype=np.uint64),
        )

    def _level2_chunk_graph(self, root_id: int, bounds: Bounds | None = None) -> Plan[IdArray]:
        """Edges between the L2 nodes of a root (N×2, each pair ascending)."""
        node = as_id(root_id, name="root_id")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_lvl2_graph.build_request(
                table_id=table, node_id=node, bounds=optional_bounds(bounds), int64_as_str=False
            ),
        )
        response = yield request
        if bounds is not None and response.headers.get("Used-Bounds", "").lower() != "true":
            raise ResponseFormatError(
                "the server ignored the bounds", method="GET", url=request.url
            )
        reply = gen.read(get_lvl2_graph.parse_success, request, response)
        return _id_pairs(reply.edge_graph)

    def _find_path(
        self,
        root_id: int,
        src_pt: Any,
        dst_pt: Any,
        precision_mode: bool = False,
    ) -> Plan[FoundPath]:
        """The shortest L2 path between two points (nm) of a root."""
        root = as_id(root_id, name="root_id")
        points = points_nm(
            np.vstack([np.asarray(src_pt, float), np.asarray(dst_pt, float)]), (1, 1, 1), "points"
        )
        server, table = yield from self._where()
        request = gen.call(
            server,
            find_path.build_request(
                table_id=table,
                body=edit_points([root, root], points),
                precision_mode=precision_mode,
                int64_as_str=False,
            ),
            idempotent=True,
        )
        reply = gen.read(find_path.parse_success, request, (yield request))
        return FoundPath(
            np.asarray(reply.centroids_list, dtype=np.float64).reshape(-1, 3),
            ids_from_json(reply.l2_path, what="l2_path", request=request),
            ids_from_json(reply.failed_l2_ids, what="failed_l2_ids", request=request),
        )
