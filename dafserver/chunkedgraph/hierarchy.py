"""Building the layer hierarchy from the active supervoxel edges.

Layer 2 nodes are the connected components of active edges inside one atomic chunk; a layer L
node is a connected component of layer L-1 nodes inside one ``fan_out**3`` block, linked by the
active edges between their supervoxels; the top layer has the single root chunk. Every node's
parent is exactly one layer up (no skip connections). Segment ids are allocated per chunk from
1, components ordered by their smallest child id, so a build is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.arrays import unique, unique_inverse
from dafserver.chunkedgraph.components import connected_components
from dafserver.chunkedgraph.ids import IdLayout

UInt64Array = npt.NDArray[np.uint64]
Int64Array = npt.NDArray[np.int64]


@dataclass(frozen=True)
class BaseHierarchy:
    """Every node of a build with its parent (0 for roots), sorted by node id."""

    node_ids: UInt64Array
    parent_ids: UInt64Array


def rank_within_groups(keys: UInt64Array) -> Int64Array:
    """0-based position of each element inside its run of equal (sorted) keys."""
    if keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    lengths = np.diff(np.r_[starts, keys.size])
    first = np.repeat(starts, lengths)
    return np.arange(keys.size, dtype=np.int64) - first


def layer_chunk_ids(layout: IdLayout, layer: int, child_coords: Int64Array) -> UInt64Array:
    """Chunk ids at ``layer`` of nodes one layer below with chunk coordinates ``child_coords``."""
    if layer == layout.n_layers:
        return np.full(len(child_coords), layout.root_chunk_id, dtype=np.uint64)
    coords = child_coords if layer == 2 else layout.parent_chunk_coords(child_coords)
    return layout.chunk_id(layer, coords[:, 0], coords[:, 1], coords[:, 2])


def build_hierarchy(
    layout: IdLayout, supervoxel_ids: UInt64Array, edge_u: Int64Array, edge_v: Int64Array
) -> BaseHierarchy:
    """Hierarchy over sorted ``supervoxel_ids`` from active edges given as index pairs."""
    all_ids: list[UInt64Array] = [supervoxel_ids]
    all_parents: list[UInt64Array] = []
    current = supervoxel_ids
    coords = layout.get_chunk_coords(supervoxel_ids).reshape(-1, 3)
    u, v = edge_u, edge_v
    for layer in range(2, layout.n_layers + 1):
        chunks = layer_chunk_ids(layout, layer, coords)
        inside = chunks[u] == chunks[v]
        labels = connected_components(len(current), u[inside], v[inside])
        representatives, inverse = unique_inverse(labels)
        rep_chunks = chunks[representatives]
        order = np.lexsort((representatives, rep_chunks))
        sorted_chunks = rep_chunks[order]
        segments = rank_within_groups(sorted_chunks) + 1
        if segments.size and int(segments.max()) > layout.segment_id_limit(layer):
            raise ValueError(f"too many nodes in one layer {layer} chunk")
        new_ids = sorted_chunks | segments.astype(np.uint64)
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order), dtype=np.int64)
        node_position = position[inverse]
        all_parents.append(new_ids[node_position])
        all_ids.append(new_ids)
        coords = layout.get_chunk_coords(new_ids).reshape(-1, 3)
        u = node_position[u]
        v = node_position[v]
        between = u != v
        u, v = u[between], v[between]
        if u.size:
            key = unique(np.minimum(u, v) * len(new_ids) + np.maximum(u, v))
            u, v = key // len(new_ids), key % len(new_ids)
        current = new_ids
    all_parents.append(np.zeros(len(current), dtype=np.uint64))
    return BaseHierarchy(np.concatenate(all_ids), np.concatenate(all_parents))
