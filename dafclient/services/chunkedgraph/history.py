"""Plans about the past: change logs, the lineage graph and what it tells (latest, original and
past roots), roots made or retired between two times, and operation details."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, cast

import numpy as np
import numpy.typing as npt

from dafclient import _generated as gen
from dafclient._plan import Plan
from dafclient._wire.chunkedgraph_v1.api.chunkedgraph import (
    get_change_log,
    get_delta_roots,
    get_lineage_graph_multiple,
    get_merge_log,
    get_oldest_timestamp,
    get_operation_details,
    get_past_id_mapping,
    get_tabular_change_log_many,
)
from dafclient._wire.chunkedgraph_v1.models import RootIdsRequest
from dafclient.ids import IdArray, IdsLike, as_id, as_id_array
from dafclient.services.chunkedgraph.hierarchy import HierarchyPlans
from dafclient.services.chunkedgraph.lineage import adjacency, links_within, walk_ends
from dafclient.services.chunkedgraph.results import (
    ChangeLog,
    LineageGraph,
    MergeLog,
    OperationDetails,
    PastIds,
)
from dafclient.services.chunkedgraph.roots import RootPlans
from dafclient.services.chunkedgraph.wire import ids_from_json, json_id, json_ids
from dafclient.timestamps import (
    TimestampLike,
    optional_epoch,
    parse_server_datetime,
    to_epoch_seconds,
)

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

SuggestedRoots = int | tuple[int, float] | IdArray | tuple[IdArray, npt.NDArray[np.float64]]
"""What :meth:`suggest_latest_roots` returns, depending on its flags."""


class HistoryPlans(RootPlans, HierarchyPlans):
    """Plans of the history queries; see :class:`ChunkedGraphClient`."""

    def _get_change_log(self, root_id: int, filtered: bool = True) -> Plan[ChangeLog]:
        """Merges and splits in a root's past: counts, operation ids, past ids, per user."""
        root = as_id(root_id, name="root_id")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_change_log.build_request(
                table_id=table, root_id=root, filtered=filtered, int64_as_str=False
            ),
        )
        reply = gen.read(get_change_log.parse_success, request, (yield request))
        return ChangeLog(
            n_mergers=int(reply.n_mergers),
            n_splits=int(reply.n_splits),
            operations_ids=ids_from_json(reply.operations_ids, request=request),
            past_ids=ids_from_json(reply.past_ids, request=request),
            user_info={
                str(user): ChangeLog(n_mergers=int(c.n_mergers), n_splits=int(c.n_splits))
                for user, c in reply.user_info.additional_properties.items()
            },
        )

    def _get_merge_log(self, root_id: int) -> Plan[MergeLog]:
        """The merges in a root's past: edges and their coordinates."""
        root = as_id(root_id, name="root_id")
        server, table = yield from self._where()
        request = gen.call(
            server, get_merge_log.build_request(table_id=table, root_id=root, int64_as_str=False)
        )
        reply = gen.read(get_merge_log.parse_success, request, (yield request))
        return MergeLog(
            merge_edges=[
                np.array([[json_id(a), json_id(b)] for a, b in e], dtype=np.uint64).reshape(-1, 2)
                for e in reply.merge_edges
            ],
            merge_edge_coords=list(reply.merge_edge_coords),
        )

    def _get_tabular_change_log(
        self, root_ids: IdsLike, filtered: bool = True
    ) -> Plan[dict[int, pd.DataFrame]]:
        """One DataFrame of operations per root (timestamps as UTC datetimes)."""
        ids = as_id_array(root_ids, name="root_ids")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_tabular_change_log_many.build_request(
                table_id=table, body=RootIdsRequest(root_ids=json_ids(ids)), filtered=filtered
            ),
        )
        logs = gen.read(get_tabular_change_log_many.parse_success, request, (yield request))
        import pandas as pd  # only here: importing dafclient does not load pandas

        frames: dict[int, pd.DataFrame] = {}
        for key, text in logs.additional_properties.items():
            columns = json.loads(text) if isinstance(text, str) else text
            frame = pd.DataFrame(columns)
            if "timestamp" in frame:
                frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
            if "operation_id" in frame:
                frame["operation_id"] = frame["operation_id"].astype(np.int64)
            frames[int(key)] = frame.reset_index(drop=True)
        return frames

    def _lineage(
        self,
        root_ids: IdArray,
        past: float | None,
        future: float | None,
    ) -> Plan[LineageGraph]:
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_lineage_graph_multiple.build_request(
                table_id=table,
                body=RootIdsRequest(root_ids=json_ids(root_ids)),
                timestamp_past=past if past is not None else 0.0,
                timestamp_future=future,
                int64_as_str=False,
            ),
            idempotent=True,
        )
        graph = gen.read_dict(get_lineage_graph_multiple.parse_success, request, (yield request))
        return cast(LineageGraph, graph)

    def _get_lineage_graph(
        self,
        root_id: IdsLike,
        timestamp_past: TimestampLike | None = None,
        timestamp_future: TimestampLike | None = None,
        as_nx_graph: bool = False,
        exclude_links_to_future: bool = False,
        exclude_links_to_past: bool = False,
    ) -> Plan[LineageGraph | nx.DiGraph]:
        """The lineage of roots: a node-link dict, or a networkx DiGraph with ``as_nx_graph``."""
        ids = as_id_array(root_id, name="root_id")
        past = optional_epoch(timestamp_past, name="timestamp_past")
        future = optional_epoch(timestamp_future, name="timestamp_future")
        graph = yield from self._lineage(ids, past, future)
        if exclude_links_to_future or exclude_links_to_past:
            graph["links"] = links_within(
                graph["nodes"],
                graph["links"],
                past=past,
                future=future,
                exclude_links_to_future=exclude_links_to_future,
                exclude_links_to_past=exclude_links_to_past,
            )
        if not as_nx_graph:
            return graph
        import networkx as nx

        return nx.node_link_graph(graph, directed=True, multigraph=False, edges="links")

    def _get_latest_roots(
        self, root_id: int, timestamp: TimestampLike | None = None
    ) -> Plan[IdArray]:
        """The roots that ``root_id`` became by ``timestamp`` (itself if still current)."""
        root = as_id(root_id, name="root_id")
        future = self._ts(timestamp, "timestamp")
        graph = yield from self._lineage(np.array([root], dtype=np.uint64), None, future)
        candidates = walk_ends(root, adjacency(graph["links"], "forward"))
        latest = yield from self._is_latest_roots(candidates, timestamp=future)
        return candidates[latest]

    def _get_original_roots(
        self, root_id: int, timestamp_past: TimestampLike | None = None
    ) -> Plan[IdArray]:
        """The earliest ancestors of ``root_id`` (since ``timestamp_past``)."""
        root = as_id(root_id, name="root_id")
        past = optional_epoch(timestamp_past, name="timestamp_past")
        graph = yield from self._lineage(np.array([root], dtype=np.uint64), past, None)
        return walk_ends(root, adjacency(graph["links"], "backward"))

    def _suggest_latest_roots(
        self,
        root_id: int,
        timestamp: TimestampLike | None = None,
        stop_layer: int | None = None,
        return_all: bool = False,
        return_fraction_overlap: bool = False,
    ) -> Plan[SuggestedRoots]:
        """The current root that best continues ``root_id``: the one holding most of its L2 nodes
        (or nodes at ``stop_layer``). ``return_all`` gives every candidate, best first;
        ``return_fraction_overlap`` adds the fraction of ``root_id`` each one holds."""
        root = as_id(root_id, name="root_id")
        layer = 2 if stop_layer is None else stop_layer
        latest = yield from self._is_latest_roots([root], timestamp=timestamp)
        if latest[0]:
            candidates, fractions = np.array([root], dtype=np.uint64), np.array([1.0])
        else:
            nodes = yield from self._get_leaves(root, stop_layer=layer)
            roots = yield from self._get_roots(nodes, timestamp=timestamp)
            candidates, counts = np.unique(roots[roots != 0], return_counts=True)
            order = np.argsort(-counts, kind="stable")
            candidates, fractions = candidates[order], counts[order] / max(1, nodes.size)
        if return_all:
            return (candidates, fractions) if return_fraction_overlap else candidates
        best = int(candidates[0]) if candidates.size else 0
        if return_fraction_overlap:
            return best, float(fractions[0]) if fractions.size else 0.0
        return best

    def _get_past_ids(
        self,
        root_ids: IdsLike,
        timestamp_past: TimestampLike | None = None,
        timestamp_future: TimestampLike | None = None,
    ) -> Plan[PastIds]:
        """For each root, its ids at ``timestamp_past`` (``past_id_map``), and the reverse."""
        ids = as_id_array(root_ids, name="root_ids")
        server, table = yield from self._where()
        past = optional_epoch(timestamp_past, name="timestamp_past")
        request = gen.call(
            server,
            get_past_id_mapping.build_request(
                table_id=table,
                body=RootIdsRequest(root_ids=json_ids(ids)),
                timestamp_past=past if past is not None else 0.0,
                timestamp_future=optional_epoch(timestamp_future, name="timestamp_future"),
                int64_as_str=False,
            ),
        )
        reply = gen.read(get_past_id_mapping.parse_success, request, (yield request))
        return PastIds(
            past_id_map={
                int(k): ids_from_json(v, what="past ids", request=request)
                for k, v in reply.past_id_map.additional_properties.items()
            },
            future_id_map={
                int(k): json_id(v) for k, v in reply.future_id_map.additional_properties.items()
            },
        )

    def _get_delta_roots(
        self, timestamp_past: TimestampLike, timestamp_future: TimestampLike | None = None
    ) -> Plan[tuple[IdArray, IdArray]]:
        """Roots retired and roots created between two times: ``(old_roots, new_roots)``."""
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_delta_roots.build_request(
                table_id=table,
                timestamp_past=to_epoch_seconds(timestamp_past, name="timestamp_past"),
                timestamp_future=optional_epoch(timestamp_future, name="timestamp_future"),
                int64_as_str=False,
            ),
        )
        reply = gen.read(get_delta_roots.parse_success, request, (yield request))
        return (
            ids_from_json(reply.old_roots, what="old_roots", request=request),
            ids_from_json(reply.new_roots, what="new_roots", request=request),
        )

    def _get_oldest_timestamp(self) -> Plan[datetime]:
        """The earliest time the graph has data for."""
        server, table = yield from self._where()
        request = gen.call(server, get_oldest_timestamp.build_request(table_id=table))
        reply = gen.read(get_oldest_timestamp.parse_success, request, (yield request))
        return parse_server_datetime(str(reply.iso))

    def _get_operation_details(self, operation_ids: Iterable[int] | int) -> Plan[OperationDetails]:
        """What each operation did (edges, coordinates, user, time, new roots), by operation
        id: string keys as in the service's JSON (CAVEclient's), ``int`` ids answer too."""
        ids = as_id_array(operation_ids, name="operation_ids")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_operation_details.build_request(
                table_id=table,
                operation_ids="[" + ",".join(str(i) for i in ids.tolist()) + "]",
                int64_as_str=False,
            ),
        )
        found = gen.read(get_operation_details.parse_success, request, (yield request))
        details = OperationDetails()
        for key, value in found.additional_properties.items():
            record = value.to_dict()
            for name in ("operation_ts", "timestamp"):
                if isinstance(record.get(name), str):
                    record[name] = parse_server_datetime(record[name])
            details[str(int(key))] = record
        return details
