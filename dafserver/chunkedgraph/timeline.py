"""Time-versioned parent pointers and immutable child lists, with vectorized as-of-T lookups.

Three tables make up the state:

* the base hierarchy of the build: sorted node ids with their parent (valid from the build
  time on) and the children of each node as a CSR array;
* nodes created by edits: sorted ids with creation time and their (immutable) children;
* parent versions written by edits: ``(node, time, parent)`` sorted by node, then by time.

The parent of a node as of T is its latest version with time <= T, else its base parent if the
build happened at or before T, else nothing (0). Edits are applied in time order, so the
versions of each node are already in time order.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.arrays import gather_ranges, lookup, unique, unique_inverse
from dafserver.chunkedgraph.errors import NodeNotFound
from dafserver.chunkedgraph.hierarchy import BaseHierarchy
from dafserver.chunkedgraph.ids import IdLayout, as_ids

UInt64Array = npt.NDArray[np.uint64]
Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_EMPTY_U64: UInt64Array = np.zeros(0, dtype=np.uint64)
_EMPTY_I64: Int64Array = np.zeros(0, dtype=np.int64)


class Timeline:
    """Parent pointers, children and creation times of every node, versioned in time."""

    def __init__(self, layout: IdLayout, base: BaseHierarchy, build_ms: int) -> None:
        self.layout = layout
        self.build_ms = build_ms
        self._base_ids = base.node_ids
        self._base_parent = base.parent_ids
        has_parent = np.flatnonzero(base.parent_ids != 0)
        parent_index = np.searchsorted(base.node_ids, base.parent_ids[has_parent])
        order = np.argsort(parent_index, kind="stable")
        counts = np.bincount(parent_index, minlength=len(base.node_ids))
        self._base_child_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._base_children = base.node_ids[has_parent[order]]
        self._new_ids = _EMPTY_U64
        self._new_created = _EMPTY_I64
        self._new_op = _EMPTY_I64
        self._new_children: dict[int, UInt64Array] = {}
        self._ver_node = _EMPTY_U64
        self._ver_ms = _EMPTY_I64
        self._ver_parent = _EMPTY_U64

    # -- inspection -------------------------------------------------------------------------
    @property
    def base_node_ids(self) -> UInt64Array:
        """Sorted ids of every node of the build."""
        return self._base_ids

    @property
    def base_parent_ids(self) -> UInt64Array:
        """Build-time parent of each base node (0 for roots)."""
        return self._base_parent

    @property
    def new_node_ids(self) -> UInt64Array:
        """Sorted ids of the nodes created by edits."""
        return self._new_ids

    @property
    def version_count(self) -> int:
        """Number of parent versions written by edits."""
        return int(self._ver_node.size)

    def exists(self, nodes: UInt64Array) -> BoolArray:
        """Whether each id is a node of the graph (at any time)."""
        return self.created_ms(nodes) >= 0

    def created_ms(self, nodes: npt.ArrayLike) -> Int64Array:
        """Creation time of each node (the build time for base nodes), -1 if unknown."""
        queries = as_ids(nodes)
        result = np.full(len(queries), -1, dtype=np.int64)
        _, in_base = lookup(self._base_ids, queries)
        result[in_base] = self.build_ms
        position, in_new = lookup(self._new_ids, queries)
        result[in_new] = self._new_created[position[in_new]]
        return result

    def created_by(self, nodes: npt.ArrayLike) -> Int64Array:
        """Operation that created each node (0 for base or unknown nodes)."""
        queries = as_ids(nodes)
        result = np.zeros(len(queries), dtype=np.int64)
        position, in_new = lookup(self._new_ids, queries)
        result[in_new] = self._new_op[position[in_new]]
        return result

    def version_times(self, nodes: npt.ArrayLike) -> tuple[UInt64Array, Int64Array]:
        """``(node, time)`` of every parent version written by edits for the given nodes."""
        queries = unique(as_ids(nodes))
        mask = np.isin(self._ver_node, queries)
        return self._ver_node[mask], self._ver_ms[mask]

    # -- parents ----------------------------------------------------------------------------
    def parents_at(self, nodes: npt.ArrayLike, ms: int) -> UInt64Array:
        """Parent of each node as of ``ms`` (0 where there is none)."""
        queries = as_ids(nodes)
        result = np.zeros(len(queries), dtype=np.uint64)
        if ms >= self.build_ms:
            position, in_base = lookup(self._base_ids, queries)
            result[in_base] = self._base_parent[position[in_base]]
        if self._ver_node.size:
            ver_node, ver_parent = self._ver_node, self._ver_parent
            if int(self._ver_ms.max()) > ms:
                valid = self._ver_ms <= ms
                ver_node, ver_parent = ver_node[valid], ver_parent[valid]
            if ver_node.size:
                last = np.searchsorted(ver_node, queries, side="right").astype(np.int64) - 1
                hit = last >= 0
                hit[hit] = ver_node[last[hit]] == queries[hit]
                result[hit] = ver_parent[last[hit]]
        return result

    def roots_at(
        self,
        nodes: npt.ArrayLike,
        ms: int,
        stop_layer: int | None = None,
        fail_to_zero: bool = True,
    ) -> UInt64Array:
        """First ancestor at a layer >= ``stop_layer`` (default: the root) as of ``ms``.

        Ids already at or above ``stop_layer`` are returned unchanged; ids without an ancestor
        at that time become 0, or raise ``NodeNotFound`` when ``fail_to_zero`` is false.
        """
        stop = self.layout.n_layers if stop_layer is None else int(stop_layer)
        queries = as_ids(nodes)
        result = queries.copy()
        layers = self.layout.get_layer(queries)
        pending = np.flatnonzero(layers < stop)
        if pending.size == 0:
            return result
        current, inverse = unique_inverse(queries[pending])
        for _ in range(self.layout.n_layers):
            open_ = (self.layout.get_layer(current) < stop) & (current != 0)
            if not open_.any():
                break
            stepped = current.copy()
            stepped[open_] = self.parents_at(current[open_], ms)
            current, step_inverse = unique_inverse(stepped)
            inverse = step_inverse[inverse]
        current = current.copy()
        current[self.layout.get_layer(current) < stop] = 0
        found = current[inverse]
        if not fail_to_zero and bool(np.any(found == 0)):
            missing = queries[pending][found == 0]
            raise NodeNotFound(f"Cannot find root id {int(missing[0])}")
        result[pending] = found
        return result

    # -- children ---------------------------------------------------------------------------
    def children_many(self, nodes: npt.ArrayLike) -> tuple[UInt64Array, Int64Array]:
        """All children of the given nodes and the position (in ``nodes``) of their parent."""
        queries = as_ids(nodes)
        position, in_base = lookup(self._base_ids, queries)
        base_rows = np.flatnonzero(in_base)
        starts = self._base_child_ptr[position[base_rows]]
        counts = self._base_child_ptr[position[base_rows] + 1] - starts
        flat, owner = gather_ranges(starts, counts)
        children = [self._base_children[flat]]
        owners = [base_rows[owner]]
        if self._new_children:
            _, in_new = lookup(self._new_ids, queries)
            for row in np.flatnonzero(in_new):
                kids = self._new_children[int(queries[row])]
                children.append(kids)
                owners.append(np.full(len(kids), row, dtype=np.int64))
        all_children = np.concatenate(children)
        all_owners = np.concatenate(owners)
        if len(owners) > 1:
            order = np.argsort(all_owners, kind="stable")
            all_children, all_owners = all_children[order], all_owners[order]
        return all_children, all_owners

    def children_of(self, node: int) -> UInt64Array:
        """Children of one node (empty for supervoxels and unknown ids)."""
        return self.children_many(np.array([node], dtype=np.uint64))[0]

    def nodes_in_chunk(self, chunk_id: int) -> UInt64Array:
        """Every node (base or created by an edit) of one chunk, sorted."""
        layer = int(self.layout.get_layer(chunk_id)[0])
        low = np.uint64(chunk_id)
        high = np.uint64(chunk_id + self.layout.segment_id_limit(layer))
        parts = []
        for ids in (self._base_ids, self._new_ids):
            first = np.searchsorted(ids, low, side="left")
            last = np.searchsorted(ids, high, side="right")
            parts.append(ids[first:last])
        return np.sort(np.concatenate(parts))

    # -- writing ----------------------------------------------------------------------------
    def add_nodes(
        self, node_ids: UInt64Array, children: list[UInt64Array], ms: int, operation_id: int
    ) -> None:
        """Register nodes created by an edit at ``ms`` with their children."""
        if node_ids.size == 0:
            return
        order = np.argsort(node_ids)
        ids = node_ids[order]
        at = np.searchsorted(self._new_ids, ids)
        self._new_ids = np.insert(self._new_ids, at, ids)
        self._new_created = np.insert(self._new_created, at, np.full(len(ids), ms))
        self._new_op = np.insert(self._new_op, at, np.full(len(ids), operation_id))
        for node, kids in zip(node_ids.tolist(), children, strict=True):
            self._new_children[node] = np.asarray(kids, dtype=np.uint64)

    def add_parent_versions(self, nodes: UInt64Array, parents: UInt64Array, ms: int) -> None:
        """Record new parents for ``nodes`` from ``ms`` on."""
        if nodes.size == 0:
            return
        order = np.argsort(nodes, kind="stable")
        keys = nodes[order]
        at = np.searchsorted(self._ver_node, keys, side="right")
        self._ver_node = np.insert(self._ver_node, at, keys)
        self._ver_ms = np.insert(self._ver_ms, at, np.full(len(keys), ms, dtype=np.int64))
        self._ver_parent = np.insert(self._ver_parent, at, parents[order])
