"""Plans about roots: the roots of supervoxels, whether roots are current, when they were made."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO

import numpy as np
import numpy.typing as npt

from dafclient import _generated as gen
from dafclient._plan import Plan
from dafclient._wire.chunkedgraph_v1.api.chunkedgraph import (
    get_minimal_covering_nodes,
    get_root,
    get_root_timestamps,
    get_roots_binary,
    get_valid_nodes,
    is_latest_roots,
)
from dafclient._wire.chunkedgraph_v1.models import NodeIdsRequest
from dafclient._wire.chunkedgraph_v1.types import File
from dafclient.errors import ResponseFormatError
from dafclient.ids import IdArray, IdsLike, as_id, as_id_array, encode_uint64
from dafclient.services.chunkedgraph.base import ChunkedGraphLocation
from dafclient.services.chunkedgraph.wire import binary_ids, ids_from_json, json_id, json_ids
from dafclient.timestamps import TimestampLike, from_epoch_seconds, optional_epoch

ROOTS_BATCH = 250_000
"""Ids per ``roots_binary`` request (what cloud-volume uses too)."""


class RootPlans(ChunkedGraphLocation):
    """Plans of the root lookups; see :class:`ChunkedGraphClient`."""

    def _get_roots(
        self,
        supervoxel_ids: IdsLike,
        timestamp: TimestampLike | None = None,
        stop_layer: int | None = None,
    ) -> Plan[IdArray]:
        """Root (or ``stop_layer``) ids of many supervoxels at ``timestamp``, in input order.

        Duplicates are looked up once and requests are batched; unknown ids map to 0.
        """
        ids = as_id_array(supervoxel_ids, name="supervoxel_ids")
        ts = self._ts(timestamp)
        server, table = yield from self._where()
        if ids.size == 0:
            return ids
        unique, inverse = np.unique(ids, return_inverse=True)
        out = np.empty(unique.size, dtype=np.uint64)
        for start in range(0, unique.size, ROOTS_BATCH):
            chunk = unique[start : start + ROOTS_BATCH]
            request = gen.call(
                server,
                get_roots_binary.build_request(
                    table_id=table,
                    body=File(payload=BytesIO(encode_uint64(chunk))),
                    timestamp=ts,
                    stop_layer=stop_layer,
                ),
                idempotent=True,
            )
            roots = binary_ids(request, (yield request))
            if roots.size != chunk.size:
                raise ResponseFormatError(
                    f"asked for {chunk.size} roots, got {roots.size}",
                    method="POST",
                    url=request.url,
                )
            out[start : start + chunk.size] = roots
        return out[inverse.ravel()]

    def _get_root_id(
        self, supervoxel_id: int, timestamp: TimestampLike | None = None, level2: bool = False
    ) -> Plan[int]:
        """The root (or, with ``level2``, the L2) id of one supervoxel at ``timestamp``."""
        node = as_id(supervoxel_id, name="supervoxel_id")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_root.build_request(
                table_id=table,
                node_id=node,
                timestamp=self._ts(timestamp),
                stop_layer=2 if level2 else None,
                int64_as_str=False,
            ),
        )
        reply = gen.read(get_root.parse_success, request, (yield request))
        return json_id(reply.root_id)

    def _is_latest_roots(
        self, root_ids: IdsLike, timestamp: TimestampLike | None = None
    ) -> Plan[npt.NDArray[np.bool_]]:
        """Whether each id is a root that is still current at ``timestamp``."""
        ids = as_id_array(root_ids, name="root_ids")
        server, table = yield from self._where()
        request = gen.call(
            server,
            is_latest_roots.build_request(
                table_id=table,
                body=NodeIdsRequest(node_ids=json_ids(ids)),
                timestamp=self._ts(timestamp),
                int64_as_str=False,
            ),
            idempotent=True,
        )
        reply = gen.read(is_latest_roots.parse_success, request, (yield request))
        latest = np.asarray(reply.is_latest, dtype=bool)
        if latest.shape != ids.shape:
            raise ResponseFormatError(
                f"asked about {ids.size} roots, got {latest.size} answers",
                method=request.method,
                url=request.url,
            )
        return latest

    def _get_root_timestamps(
        self, root_ids: IdsLike, latest: bool = False, timestamp: TimestampLike | None = None
    ) -> Plan[list[datetime]]:
        """When each root was created (or, with ``latest``, until when it was current)."""
        ids = as_id_array(root_ids, name="root_ids")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_root_timestamps.build_request(
                table_id=table,
                body=NodeIdsRequest(node_ids=json_ids(ids)),
                latest=latest,
                timestamp=self._ts(timestamp),
                int64_as_str=False,
            ),
            idempotent=True,
        )
        reply = gen.read(get_root_timestamps.parse_success, request, (yield request))
        return [from_epoch_seconds(float(t)) for t in reply.timestamp]

    def _get_minimal_covering_nodes(
        self, node_ids: IdsLike, timestamp: TimestampLike | None = None
    ) -> Plan[IdArray]:
        """The fewest highest-layer nodes covering exactly the given nodes."""
        ids = as_id_array(node_ids, name="node_ids")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_minimal_covering_nodes.build_request(
                table_id=table,
                body=NodeIdsRequest(node_ids=json_ids(ids)),
                as_array=True,
                timestamp=self._ts(timestamp),
            ),
            idempotent=True,
        )
        return binary_ids(request, (yield request))

    def _is_valid_nodes(
        self,
        node_ids: IdsLike,
        start_timestamp: TimestampLike | None = None,
        end_timestamp: TimestampLike | None = None,
    ) -> Plan[npt.NDArray[np.bool_]]:
        """Whether each id exists as a node in the time window."""
        ids = as_id_array(node_ids, name="node_ids")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_valid_nodes.build_request(
                table_id=table,
                body=NodeIdsRequest(node_ids=json_ids(ids)),
                start_timestamp=optional_epoch(start_timestamp, name="start_timestamp"),
                end_timestamp=optional_epoch(end_timestamp, name="end_timestamp"),
                int64_as_str=False,
            ),
        )
        reply = gen.read(get_valid_nodes.parse_success, request, (yield request))
        return np.isin(ids, ids_from_json(reply.valid_roots, what="valid_roots", request=request))
