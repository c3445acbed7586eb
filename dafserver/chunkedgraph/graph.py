"""``ChunkedGraph``: the engine's public face (build, load, edit, query).

Timestamps are float unix seconds (``None`` = now) and are truncated to milliseconds. Queries
"as of T" see every parent version with a time <= T. Coordinates passed to edits are voxel
coordinates at mip 0 (the HTTP layer divides nanometres by the resolution, as PyChunkedGraph
does); bounds are voxel boxes ``[[x0, y0, z0], [x1, y1, z1]]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Connection

from dafserver.chunkedgraph import covering, edits, history, pathing, subgraph
from dafserver.chunkedgraph.arrays import lookup, unique
from dafserver.chunkedgraph.clock import now_ms, to_ms, to_seconds
from dafserver.chunkedgraph.components import connected_components
from dafserver.chunkedgraph.edges import EdgeStore
from dafserver.chunkedgraph.errors import NodeNotFound, PreconditionError
from dafserver.chunkedgraph.hierarchy import BaseHierarchy, build_hierarchy
from dafserver.chunkedgraph.ids import IdLayout, IdsLike, as_ids
from dafserver.chunkedgraph.meta import GraphMeta
from dafserver.chunkedgraph.oplog import DEFAULT_BB_OFFSET
from dafserver.chunkedgraph.rebuild import recompute
from dafserver.chunkedgraph.state import GraphState, SegmentCounters
from dafserver.chunkedgraph.store import BuildData, GraphStore, NewEdges, OperationWrite
from dafserver.chunkedgraph.timeline import Timeline

UInt64Array = npt.NDArray[np.uint64]
Int64Array = npt.NDArray[np.int64]
Float32Array = npt.NDArray[np.float32]
Float64Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Coords = npt.ArrayLike | None
Bounds = npt.ArrayLike | None


@dataclass(frozen=True)
class EditResult:
    """Outcome of an edit. ``operation_id`` is 0 when an undo/redo had nothing to change."""

    operation_id: int
    new_root_ids: UInt64Array
    old_root_ids: UInt64Array
    new_lvl2_ids: UInt64Array


@dataclass(frozen=True)
class SplitPreview:
    """Split preview: whether the cut is illegal and the supervoxel components after it.

    ``components[0]`` holds the most sources, ``components[1]`` the most sinks.
    """

    illegal_split: bool
    components: list[UInt64Array]


_EMPTY = np.zeros(0, dtype=np.uint64)


def _apply_write(state: GraphState, write: OperationWrite) -> None:
    record = write.record
    ms = record.timestamp_ms
    state.timeline.add_nodes(write.new_node_ids, write.new_children, ms, record.operation_id)
    state.timeline.add_parent_versions(write.version_nodes, write.version_parents, ms)
    for value in (False, True):
        state.edges.set_active(write.edge_changes[write.edge_values == value], value, ms)
    state.lineage.record(record.operation_id, ms, record.old_root_ids, record.new_root_ids)
    state.operations[record.operation_id] = record
    state.counters.observe(write.new_node_ids)


class ChunkedGraph:
    """A versioned PyChunkedGraph-style hierarchy over a supervoxel graph."""

    def __init__(self, state: GraphState, store: GraphStore | None = None) -> None:
        self.state = state
        self.store = store
        self.edit_listeners: list[Callable[[ChunkedGraph, EditResult], None]] = []
        """Called after every edit that changed the graph (PyChunkedGraph's edit messages)."""
        self._transaction: Connection | None = None
        self._committed_edits: list[EditResult] | None = None

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        meta: GraphMeta,
        supervoxel_ids: npt.ArrayLike,
        edges: npt.ArrayLike,
        affinities: npt.ArrayLike,
        areas: npt.ArrayLike,
        active: npt.ArrayLike,
        timestamp: float,
        store: GraphStore | None = None,
        *,
        overwrite: bool = False,
    ) -> ChunkedGraph:
        """Build the hierarchy from the active edges; the graph exists from ``timestamp`` on."""
        layout = meta.layout
        supervoxels = np.sort(as_ids(supervoxel_ids))
        if supervoxels.size and bool(np.any(layout.get_layer(supervoxels) != 1)):
            raise ValueError("supervoxel ids must be layer 1 ids")
        if bool(np.any(supervoxels[1:] == supervoxels[:-1])):
            raise ValueError("supervoxel ids must be unique")
        coords = layout.get_chunk_coords(supervoxels).reshape(-1, 3)
        if coords.size and bool(np.any(coords >= np.asarray(meta.chunks_per_dim))):
            raise ValueError("a supervoxel lies in a chunk outside the volume")
        pairs = np.asarray(edges, dtype=np.uint64).reshape(-1, 2)
        affinity = np.asarray(affinities, dtype=np.float32).reshape(-1)
        area = np.asarray(areas).astype(np.uint64).reshape(-1)
        is_active = np.asarray(active, dtype=bool).reshape(-1)
        if not len(pairs) == len(affinity) == len(area) == len(is_active):
            raise ValueError("edges, affinities, areas and active must have the same length")
        u, found_u = lookup(supervoxels, pairs[:, 0])
        v, found_v = lookup(supervoxels, pairs[:, 1])
        if not (found_u.all() and found_v.all()):
            raise ValueError("edges refer to unknown supervoxels")
        if bool(np.any(u == v)):
            raise ValueError("edges must join two different supervoxels")
        build_ms = to_ms(timestamp)
        base = build_hierarchy(layout, supervoxels, u[is_active], v[is_active])
        state = _new_state(meta, base, build_ms, supervoxels, u, v, affinity, area, is_active)
        if store is not None:
            data = BuildData(
                meta=meta,
                build_ms=build_ms,
                node_ids=base.node_ids,
                parent_ids=base.parent_ids,
                edge_a=pairs[:, 0],
                edge_b=pairs[:, 1],
                affinities=affinity,
                areas=area,
                active=is_active,
                n_base_edges=len(pairs),
            )
            store.save_build(data, overwrite=overwrite)
        return cls(state, store)

    @classmethod
    def load(cls, store: GraphStore, table_id: str | None = None) -> ChunkedGraph:
        """Restore a graph (build and every edit) from a store."""
        if table_id is None:
            tables = store.table_ids()
            if len(tables) != 1:
                raise ValueError(f"the store holds {len(tables)} graphs; name the table_id")
            table_id = tables[0]
        data = store.load_build(table_id)
        layout = data.meta.layout
        supervoxels = data.node_ids[layout.get_layer(data.node_ids) == 1]
        u, _ = lookup(supervoxels, data.edge_a)
        v, _ = lookup(supervoxels, data.edge_b)
        base = BaseHierarchy(data.node_ids, data.parent_ids)
        state = _new_state(
            data.meta,
            base,
            data.build_ms,
            supervoxels,
            u,
            v,
            data.affinities,
            data.areas,
            data.active,
            n_base=data.n_base_edges,
        )
        for write in store.load_operations(table_id):
            _apply_write(state, write)
        return cls(state, store)

    # -- properties -------------------------------------------------------------------------
    @property
    def meta(self) -> GraphMeta:
        """Volume geometry and id layout."""
        return self.state.meta

    @property
    def layout(self) -> IdLayout:
        """Id layout (bitmasks, layers)."""
        return self.state.layout

    @property
    def table_id(self) -> str:
        """Graph table name."""
        return self.state.meta.table_id

    @property
    def n_layers(self) -> int:
        """Number of layers (roots live on the last one)."""
        return self.state.layout.n_layers

    @property
    def build_timestamp(self) -> float:
        """Build time in float unix seconds."""
        return to_seconds(self.state.build_ms)

    @property
    def supervoxel_ids(self) -> UInt64Array:
        """Sorted ids of every supervoxel."""
        return self.state.edges.supervoxel_ids

    @property
    def max_operation_id(self) -> int:
        """Highest operation id so far (0 before the first edit)."""
        # Operations are added in id order, so the last key is the highest.
        return next(reversed(self.state.operations), 0)

    # -- several processes, one store -------------------------------------------------------
    def is_behind_store(self) -> bool:
        """Whether the store holds operations this graph has not applied (another process's)."""
        if self.store is None:
            return False
        return self.store.max_operation_id(self.table_id) > self.max_operation_id

    def catch_up(self) -> int:
        """Apply the operations the store holds beyond this graph's; returns how many.

        The caller keeps other threads of this process away from the graph meanwhile.
        """
        if self.store is None:
            return 0
        conn = self._transaction
        writes = self.store.load_operations(self.table_id, self.max_operation_id, conn)
        if not writes:
            return 0
        state = self.state
        appended = self.store.load_edges(self.table_id, state.edges.n_edges, conn)
        if appended.edge_index.size:
            u, _ = state.edges.sv_index(appended.sv_a)
            v, _ = state.edges.sv_index(appended.sv_b)
            for a, b, affinity in zip(
                u.tolist(), v.tolist(), appended.affinities.tolist(), strict=True
            ):
                state.edges.add_edge(a, b, affinity, 0)
        for write in writes:
            _apply_write(state, write)
        return len(writes)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Edit in the block as the only editor of this graph in any process sharing its store.

        Holds the store's edit lock (:meth:`GraphStore.exclusive`), first applies what other
        processes committed, and writes the block's edits in the lock's transaction; the edit
        listeners run once it has committed. If the transaction fails after an edit changed the
        graph in memory, the graph is loaded again from the store. The caller keeps other
        threads of this process away from the graph meanwhile.
        """
        if self.store is None:
            yield
            return
        committed: list[EditResult] = []
        try:
            with self.store.exclusive(self.table_id) as conn:
                self._transaction, self._committed_edits = conn, committed
                try:
                    self.catch_up()
                    yield
                finally:
                    self._transaction, self._committed_edits = None, None
        except BaseException:
            if committed:
                self.state = ChunkedGraph.load(self.store, self.table_id).state
            raise
        for result in committed:
            self._notify(result)

    def _notify(self, result: EditResult) -> None:
        for listener in self.edit_listeners:
            listener(self, result)

    # -- roots and hierarchy ----------------------------------------------------------------
    def _stop_layer(self, stop_layer: int | None) -> int:
        layer = self.n_layers if stop_layer is None else int(stop_layer)
        if not 1 <= layer <= self.n_layers:
            raise PreconditionError(f"stop_layer must be between 1 and {self.n_layers}")
        return layer

    def get_roots(
        self,
        node_ids: IdsLike,
        timestamp: float | None = None,
        stop_layer: int | None = None,
        fail_to_zero: bool = True,
    ) -> UInt64Array:
        """Root (or first ancestor at a layer >= ``stop_layer``) of each id as of ``timestamp``."""
        ms = to_ms(timestamp)
        layer = self._stop_layer(stop_layer)
        return self.state.timeline.roots_at(node_ids, ms, layer, fail_to_zero)

    def get_root(
        self, node_id: int, timestamp: float | None = None, stop_layer: int | None = None
    ) -> int:
        """Root of one node; raises ``NodeNotFound`` if it has none at that time."""
        roots = self.get_roots([node_id], timestamp, stop_layer, fail_to_zero=False)
        return int(roots[0])

    def get_latest_roots(self, timestamp: float | None = None) -> UInt64Array:
        """Every root that exists and is not superseded as of ``timestamp``."""
        ms = to_ms(timestamp)
        roots = self.state.timeline.nodes_in_chunk(self.layout.root_chunk_id)
        return roots[self.is_latest_roots(roots, to_seconds(ms))]

    def get_children(self, node_id: int) -> UInt64Array:
        """Immediate children (empty for supervoxels and unknown ids)."""
        return self.state.timeline.children_of(int(node_id))

    def _chunk_box(self, bounds: Bounds) -> Int64Array | None:
        return None if bounds is None else self.meta.bounds_to_chunks(bounds)

    def get_leaves(self, node_id: int, stop_layer: int = 1, bounds: Bounds = None) -> UInt64Array:
        """Sorted descendants exactly at ``stop_layer`` whose chunks overlap ``bounds``."""
        layer = self._stop_layer(stop_layer)
        return subgraph.descend(self.state, [node_id], layer, self._chunk_box(bounds))[0]

    def get_leaves_many(
        self, node_ids: IdsLike, stop_layer: int = 1, bounds: Bounds = None
    ) -> dict[int, UInt64Array]:
        """``get_leaves`` for several nodes: ``{node: leaves}``."""
        layer = self._stop_layer(stop_layer)
        return subgraph.leaves_many(self.state, node_ids, layer, self._chunk_box(bounds))

    def get_subgraph(
        self, node_id: int, bounds: Bounds = None, only_internal_edges: bool = True
    ) -> tuple[UInt64Array, Float32Array, UInt64Array]:
        """``(edges uint64[E, 2], affinities, areas)`` of the node's supervoxels."""
        box = self._chunk_box(bounds)
        return subgraph.subgraph_edges(self.state, int(node_id), box, only_internal_edges)

    def get_lvl2_graph(self, node_id: int, bounds: Bounds = None) -> UInt64Array:
        """Sorted unique L2 id pairs linked by active edges inside the node."""
        return subgraph.lvl2_graph(self.state, int(node_id), self._chunk_box(bounds))

    def get_l2_chunk_children(
        self, chunk_id: int, timestamp: float | None = None, only_current: bool = False
    ) -> UInt64Array:
        """Interleaved ``[l2, sv, l2, sv, ...]`` of an L2 chunk as of ``timestamp``."""
        return subgraph.l2_chunk_children(self.state, int(chunk_id), to_ms(timestamp), only_current)

    def is_latest_roots(self, node_ids: IdsLike, timestamp: float | None = None) -> BoolArray:
        """True where the node exists at T and no operation superseded it by T."""
        ids = as_ids(node_ids)
        ms = to_ms(timestamp)
        created = self.state.timeline.created_ms(ids)
        exists = (created >= 0) & (created <= ms) & (self.layout.get_layer(ids) >= 2)
        retired = self.state.lineage.retired_ms(ids)
        return np.asarray(exists & ~((retired >= 0) & (retired <= ms)))

    def get_root_timestamps(
        self, node_ids: IdsLike, latest: bool = False, timestamp: float | None = None
    ) -> Float64Array:
        """Creation times (float s); with ``latest``, T for current roots else their retirement.

        Nodes that did not exist yet at T get 0.0 with ``latest``.
        """
        ids = as_ids(node_ids)
        created = self.state.timeline.created_ms(ids)
        missing = (created < 0) | (self.layout.get_layer(ids) < 2)
        if missing.any():
            raise NodeNotFound(f"Unknown node {int(ids[missing][0])}")
        if not latest:
            return created.astype(np.float64) / 1000.0
        ms = to_ms(timestamp)
        current = self.is_latest_roots(ids, to_seconds(ms))
        retired = self.state.lineage.retired_ms(ids)
        gone = (retired >= 0) & (retired <= ms)
        result = np.zeros(len(ids), dtype=np.float64)
        result[gone] = retired[gone] / 1000.0
        result[current] = ms / 1000.0
        return result

    def get_minimal_covering_nodes(
        self, node_ids: IdsLike, timestamp: float | None = None
    ) -> UInt64Array:
        """Fewest highest-layer nodes whose descendants are exactly covered by the inputs."""
        return covering.minimal_covering_nodes(self.state, node_ids, to_ms(timestamp))

    def get_valid_nodes(
        self,
        node_ids: IdsLike,
        start_timestamp: float | None = None,
        end_timestamp: float | None = None,
    ) -> UInt64Array:
        """Sorted input ids having a cell (creation, parent version, retirement) in the range."""
        ids = unique(as_ids(node_ids))
        low = np.iinfo(np.int64).min if start_timestamp is None else to_ms(start_timestamp)
        high = np.iinfo(np.int64).max if end_timestamp is None else to_ms(end_timestamp)
        created = self.state.timeline.created_ms(ids)
        valid = (created >= 0) & (created >= low) & (created <= high)
        retired = self.state.lineage.retired_ms(ids)
        valid |= (retired >= 0) & (retired >= low) & (retired <= high)
        nodes, times = self.state.timeline.version_times(ids)
        in_range = (times >= low) & (times <= high)
        valid |= np.isin(ids, nodes[in_range])
        return ids[valid]

    def get_oldest_timestamp(self) -> float:
        """First operation time minus 500 ms, clamped to the build time."""
        return to_seconds(history.oldest_ms(self.state))

    def find_path(
        self,
        source_id: int,
        target_id: int,
        *,
        timestamp: float | None = None,
        source_coords: Coords = None,
        target_coords: Coords = None,
        precision_mode: bool = False,
    ) -> tuple[UInt64Array, Float32Array, UInt64Array]:
        """``(l2_path, centroids_nm, failed_l2_ids)`` between two supervoxels or L2 nodes.

        Higher nodes need a voxel coordinate. Centroids are always L2 chunk centres (there are
        no meshes), so ``precision_mode`` changes nothing and nothing fails.
        """
        del precision_mode
        return pathing.find_path(
            self.state,
            int(source_id),
            int(target_id),
            to_ms(timestamp),
            source_coords,
            target_coords,
        )

    # -- history ----------------------------------------------------------------------------
    def get_delta_roots(
        self, timestamp_past: float, timestamp_future: float | None = None
    ) -> tuple[UInt64Array, UInt64Array]:
        """``(new_roots, old_roots)`` of the operations in [past, future]."""
        return history.delta_roots(self.state, to_ms(timestamp_past), to_ms(timestamp_future))

    def get_lineage_graph(
        self,
        root_ids: IdsLike,
        timestamp_past: float | None = None,
        timestamp_future: float | None = None,
    ) -> Any:
        """Lineage ``networkx.DiGraph`` (past defaults to the epoch, future to now)."""
        past = 0 if timestamp_past is None else to_ms(timestamp_past)
        return history.lineage_graph(self.state, root_ids, past, to_ms(timestamp_future))

    def get_past_id_mapping(
        self,
        root_ids: IdsLike,
        timestamp_past: float | None = None,
        timestamp_future: float | None = None,
    ) -> tuple[dict[int, UInt64Array], dict[int, int]]:
        """``(past_id_map, future_id_map)``."""
        past = 0 if timestamp_past is None else to_ms(timestamp_past)
        return history.past_future_id_mapping(self.state, root_ids, past, to_ms(timestamp_future))

    def get_change_log(
        self, root_id: int, filtered: bool = False, timestamp_past: float | None = None
    ) -> dict[str, Any]:
        """``{n_mergers, n_splits, operations_ids, past_ids, user_info}`` of a root."""
        past = None if timestamp_past is None else to_ms(timestamp_past)
        return history.change_log(self.state, int(root_id), filtered, now_ms(), past)

    def get_tabular_change_log(self, root_id: int, filtered: bool = True) -> pd.DataFrame:
        """Per-operation table of a root's past (timestamp in ms since the epoch)."""
        return history.tabular_change_log(self.state, int(root_id), filtered, now_ms())

    def get_tabular_change_logs(
        self, root_ids: IdsLike, filtered: bool = True
    ) -> dict[int, pd.DataFrame]:
        """``get_tabular_change_log`` for several roots."""
        return {int(r): self.get_tabular_change_log(int(r), filtered) for r in as_ids(root_ids)}

    def get_merge_log(self, root_id: int) -> dict[str, Any]:
        """``{merge_edges, merge_edge_coords}`` of the merges in a root's past."""
        return history.merge_log(self.state, int(root_id), now_ms())

    def get_operation_details(self, operation_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Log rows of existing operations, keyed by operation id (unknown ids are skipped)."""
        return {
            int(op): history.operation_details(self.state.operations[int(op)])
            for op in operation_ids
            if int(op) in self.state.operations
        }

    def get_user_operations(
        self,
        user_id: str,
        start_time: float | None = None,
        end_time: float | None = None,
        include_undone: bool = False,
    ) -> pd.DataFrame:
        """A user's operations in a time range (undone ones dropped unless asked)."""
        start = 0 if start_time is None else to_ms(start_time)
        return history.user_operations(
            self.state, str(user_id), start, to_ms(end_time), include_undone
        )

    def get_recent_operations(
        self, timestamp: float | None = None, timestamp_end: float | None = None
    ) -> pd.DataFrame:
        """Every operation in a time range (``tabular_change_log_recent``)."""
        start = 0 if timestamp is None else to_ms(timestamp)
        return history.recent_operations(self.state, start, to_ms(timestamp_end))

    # -- edits ------------------------------------------------------------------------------
    def _edit_ms(self, timestamp: float | None) -> int:
        last = self.state.last_operation_ms
        if timestamp is None:
            return max(now_ms(), last)
        ms = to_ms(timestamp)
        if ms < self.state.build_ms:
            raise ValueError("an edit cannot happen before the build")
        if ms < last:
            raise ValueError("edits must be applied in time order")
        return ms

    def _execute(self, plan: edits.EditPlan | None, ms: int, user_id: str) -> EditResult:
        if plan is None:
            return EditResult(0, _EMPTY, _EMPTY, _EMPTY)
        state = self.state
        activated = np.stack(state.edges.endpoints(plan.activate), axis=1).reshape(-1, 2)
        added = np.concatenate([activated, plan.new_pairs]).astype(np.int64)
        delta = recompute(state, plan.touched, plan.deactivate, added, ms)
        operation_id = self.max_operation_id + 1
        new_index = state.edges.n_edges + np.arange(len(plan.new_pairs), dtype=np.int64)
        supervoxels = state.edges.supervoxel_ids
        new_edges = NewEdges(
            edge_index=new_index,
            sv_a=supervoxels[plan.new_pairs[:, 0]],
            sv_b=supervoxels[plan.new_pairs[:, 1]],
            affinities=np.full(len(new_index), plan.new_affinity, dtype=np.float32),
        )
        changes = np.concatenate([plan.activate, new_index, plan.deactivate])
        values = np.concatenate(
            [
                np.ones(len(plan.activate) + len(new_index), bool),
                np.zeros(len(plan.deactivate), bool),
            ]
        )
        record = plan.record(
            operation_id,
            ms,
            str(user_id),
            delta.old_root_ids,
            delta.new_root_ids,
            delta.new_lvl2_ids,
        )
        write = OperationWrite(
            record=record,
            new_node_ids=delta.new_node_ids,
            new_children=delta.new_children,
            version_nodes=delta.version_nodes,
            version_parents=delta.version_parents,
            edge_changes=changes.astype(np.int64),
            edge_values=values,
            new_edges=new_edges,
        )
        if self.store is not None:
            self.store.save_operation(self.table_id, write, self._transaction)
        for a, b in plan.new_pairs.tolist():
            state.edges.add_edge(a, b, plan.new_affinity, 0)
        _apply_write(state, write)
        result = EditResult(
            operation_id, delta.new_root_ids, delta.old_root_ids, delta.new_lvl2_ids
        )
        if self._committed_edits is not None:
            self._committed_edits.append(result)  # listeners run after the commit
        else:
            self._notify(result)
        return result

    def merge(
        self,
        sv_a: int,
        sv_b: int,
        *,
        user_id: str,
        timestamp: float | None = None,
        source_coords: Coords = None,
        sink_coords: Coords = None,
        chebyshev_distance: int = 3,
        allow_same_segment_merge: bool = False,
        affinity: float | None = None,
    ) -> EditResult:
        """Merge the objects of two supervoxels by activating (or adding) their edge."""
        ms = self._edit_ms(timestamp)
        plan = edits.plan_merge(
            self.state,
            int(sv_a),
            int(sv_b),
            ms,
            source_coords=source_coords,
            sink_coords=sink_coords,
            chebyshev_distance=chebyshev_distance,
            allow_same_segment_merge=allow_same_segment_merge,
            affinity=affinity,
        )
        return self._execute(plan, ms, user_id)

    def split(
        self,
        source_svs: IdsLike,
        sink_svs: IdsLike,
        *,
        user_id: str,
        mincut: bool = True,
        timestamp: float | None = None,
        source_coords: Coords = None,
        sink_coords: Coords = None,
        bb_offset: Sequence[int] = DEFAULT_BB_OFFSET,
    ) -> EditResult:
        """Split sources from sinks: min-cut, or removal of the source[i]-sink[i] edges."""
        ms = self._edit_ms(timestamp)
        if mincut:
            plan = edits.plan_multicut(
                self.state,
                source_svs,
                sink_svs,
                ms,
                source_coords=source_coords,
                sink_coords=sink_coords,
                bb_offset=bb_offset,
            )
        else:
            plan = edits.plan_split(
                self.state,
                source_svs,
                sink_svs,
                ms,
                source_coords=source_coords,
                sink_coords=sink_coords,
            )
        return self._execute(plan, ms, user_id)

    def split_preview(
        self,
        source_svs: IdsLike,
        sink_svs: IdsLike,
        *,
        mincut: bool = True,
        timestamp: float | None = None,
        source_coords: Coords = None,
        sink_coords: Coords = None,
        bb_offset: Sequence[int] = DEFAULT_BB_OFFSET,
    ) -> SplitPreview:
        """What a split would produce, without writing anything."""
        ms = to_ms(timestamp)
        if mincut:
            illegal, components = edits.split_components(
                self.state,
                source_svs,
                sink_svs,
                ms,
                source_coords=source_coords,
                sink_coords=sink_coords,
                bb_offset=bb_offset,
            )
            return SplitPreview(illegal, components)
        return self._direct_split_preview(source_svs, sink_svs, ms)

    def _direct_split_preview(
        self, source_svs: IdsLike, sink_svs: IdsLike, ms: int
    ) -> SplitPreview:
        plan = edits.plan_split(self.state, source_svs, sink_svs, ms)
        sources, sinks = as_ids(source_svs), as_ids(sink_svs)
        root = int(self.state.timeline.roots_at(sources[:1], ms)[0])
        supervoxels = subgraph.descend(self.state, [root], 1)[0]
        edges = self.state.edges
        index, _ = edges.sv_index(supervoxels)
        incident = edges.incident(index)
        incident = incident[edges.active_at(incident, ms)]
        incident = incident[~np.isin(incident, plan.deactivate)]
        u, v = edges.endpoints(incident)
        inside = np.isin(u, index) & np.isin(v, index)
        labels = connected_components(
            len(index), np.searchsorted(index, u[inside]), np.searchsorted(index, v[inside])
        )
        groups = [supervoxels[labels == label] for label in unique(labels)]
        source_group = next(i for i, g in enumerate(groups) if np.isin(sources[0], g))
        sink_group = next(i for i, g in enumerate(groups) if np.isin(sinks[0], g))
        order = [source_group] + ([sink_group] if sink_group != source_group else [])
        order += [i for i in range(len(groups)) if i not in order]
        illegal = any(bool(np.isin(sources, g).any() and np.isin(sinks, g).any()) for g in groups)
        return SplitPreview(illegal, [groups[i] for i in order])

    def undo(
        self, operation_id: int, *, user_id: str, timestamp: float | None = None
    ) -> EditResult:
        """Write an operation that inverts ``operation_id`` (undo/redo chains are resolved)."""
        ms = self._edit_ms(timestamp)
        plan = edits.plan_undo_redo(self.state, int(operation_id), ms, undo=True)
        return self._execute(plan, ms, user_id)

    def redo(
        self, operation_id: int, *, user_id: str, timestamp: float | None = None
    ) -> EditResult:
        """Write an operation that re-applies ``operation_id``."""
        ms = self._edit_ms(timestamp)
        plan = edits.plan_undo_redo(self.state, int(operation_id), ms, undo=False)
        return self._execute(plan, ms, user_id)


def _new_state(
    meta: GraphMeta,
    base: BaseHierarchy,
    build_ms: int,
    supervoxels: UInt64Array,
    u: Int64Array,
    v: Int64Array,
    affinities: Float32Array,
    areas: UInt64Array,
    active: BoolArray,
    n_base: int | None = None,
) -> GraphState:
    layout = meta.layout
    timeline = Timeline(layout, base, build_ms)
    edge_store = EdgeStore(supervoxels, u, v, affinities, areas, active, n_base)
    counters = SegmentCounters(layout)
    counters.observe(base.node_ids[layout.get_layer(base.node_ids) >= 2])
    return GraphState(meta=meta, timeline=timeline, edges=edge_store, counters=counters)
