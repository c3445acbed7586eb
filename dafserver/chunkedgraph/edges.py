"""Atomic supervoxel edges: endpoints, affinities, areas and their time-versioned activity.

Edges are addressed by an integer index: the edges of the build come first, edges added by
merges between supervoxels that had no edge follow. Endpoints are kept as indices into the
sorted supervoxel ids. Whether an edge is active (part of the agglomeration) is its build
value, overridden by the latest change with a time <= T.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.arrays import gather_ranges, lookup, unique_indices

UInt64Array = npt.NDArray[np.uint64]
Int64Array = npt.NDArray[np.int64]
Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


class EdgeStore:
    """All atomic edges of one graph."""

    def __init__(
        self,
        supervoxel_ids: UInt64Array,
        u: Int64Array,
        v: Int64Array,
        affinities: Float32Array,
        areas: UInt64Array,
        active: BoolArray,
        n_base: int | None = None,
    ) -> None:
        self.supervoxel_ids = supervoxel_ids
        self._n_base = len(u) if n_base is None else n_base
        self._u = u
        self._v = v
        self._affinity = affinities
        self._area = areas
        self._base_active = active[: self._n_base].copy()
        self._active = active.copy()
        self._change_edge = np.zeros(0, dtype=np.int64)
        self._change_ms = np.zeros(0, dtype=np.int64)
        self._change_value = np.zeros(0, dtype=bool)
        self._adjacency: tuple[Int64Array, Int64Array] | None = None

    @property
    def n_edges(self) -> int:
        """Number of edges (build edges plus edges added by merges)."""
        return int(self._u.size)

    @property
    def n_base_edges(self) -> int:
        """Number of edges of the build."""
        return self._n_base

    def sv_index(self, ids: UInt64Array) -> tuple[Int64Array, BoolArray]:
        """Positions of supervoxel ids in the sorted supervoxel list, and which exist."""
        return lookup(self.supervoxel_ids, ids)

    def endpoints(self, edges: Int64Array) -> tuple[Int64Array, Int64Array]:
        """Supervoxel indices of both endpoints of the given edges."""
        return self._u[edges], self._v[edges]

    def endpoint_ids(self, edges: Int64Array) -> UInt64Array:
        """``uint64[E, 2]`` supervoxel ids of the given edges."""
        ids = self.supervoxel_ids
        return np.stack([ids[self._u[edges]], ids[self._v[edges]]], axis=1).reshape(-1, 2)

    def affinities(self, edges: Int64Array) -> Float32Array:
        """Affinity of each edge."""
        return self._affinity[edges]

    def areas(self, edges: Int64Array) -> UInt64Array:
        """Contact area of each edge."""
        return self._area[edges]

    def base_active(self) -> BoolArray:
        """Build-time activity of the build edges (a view, do not modify)."""
        return self._base_active

    def active_now(self, edges: Int64Array) -> BoolArray:
        """Current activity of each edge."""
        return self._active[edges]

    def active_at(self, edges: Int64Array, ms: int) -> BoolArray:
        """Activity of each edge as of ``ms`` (build value overridden by earlier changes)."""
        result = np.zeros(len(edges), dtype=bool)
        base = edges < self._n_base
        result[base] = self._base_active[edges[base]]
        if self._change_edge.size:
            valid = self._change_ms <= ms
            change_edge, change_value = self._change_edge[valid], self._change_value[valid]
            last = np.searchsorted(change_edge, edges, side="right").astype(np.int64) - 1
            hit = last >= 0
            hit[hit] = change_edge[last[hit]] == edges[hit]
            result[hit] = change_value[last[hit]]
        return result

    def _build_adjacency(self) -> tuple[Int64Array, Int64Array]:
        if self._adjacency is None:
            n_base = self._n_base
            ends = np.concatenate([self._u[:n_base], self._v[:n_base]])
            order = np.argsort(ends, kind="stable")
            edge_of = (order % max(n_base, 1)).astype(np.int64)
            counts = np.bincount(ends, minlength=len(self.supervoxel_ids))
            pointer = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            self._adjacency = (pointer, edge_of)
        return self._adjacency

    def incident(self, supervoxels: Int64Array) -> Int64Array:
        """Sorted unique indices of every edge touching one of the given supervoxels."""
        pointer, edge_of = self._build_adjacency()
        starts = pointer[supervoxels]
        flat, _ = gather_ranges(starts, pointer[supervoxels + 1] - starts)
        parts = [edge_of[flat]]
        if self.n_edges > self._n_base:
            extra_u = self._u[self._n_base :]
            extra_v = self._v[self._n_base :]
            touching = np.isin(extra_u, supervoxels) | np.isin(extra_v, supervoxels)
            parts.append(np.flatnonzero(touching) + self._n_base)
        return unique_indices(np.concatenate(parts), self.n_edges)

    def find(self, u: int, v: int) -> int:
        """Index of the edge between two supervoxel indices (either orientation), -1 if none."""
        candidates = self.incident(np.array([u], dtype=np.int64))
        a, b = self._u[candidates], self._v[candidates]
        match = candidates[((a == u) & (b == v)) | ((a == v) & (b == u))]
        return int(match[0]) if match.size else -1

    def add_edge(self, u: int, v: int, affinity: float, area: int) -> int:
        """Append a new (inactive) edge between two supervoxel indices; returns its index."""
        self._u = np.append(self._u, np.int64(u))
        self._v = np.append(self._v, np.int64(v))
        self._affinity = np.append(self._affinity, np.float32(affinity))
        self._area = np.append(self._area, np.uint64(area))
        self._active = np.append(self._active, False)
        return self.n_edges - 1

    def set_active(self, edges: Int64Array, value: bool, ms: int) -> None:
        """Change the activity of edges from ``ms`` on."""
        if edges.size == 0:
            return
        keys = np.sort(edges)
        self._active[keys] = value
        at = np.searchsorted(self._change_edge, keys, side="right")
        self._change_edge = np.insert(self._change_edge, at, keys)
        self._change_ms = np.insert(self._change_ms, at, np.full(len(keys), ms, dtype=np.int64))
        self._change_value = np.insert(self._change_value, at, np.full(len(keys), value))
