"""Descending the hierarchy: leaves, supervoxel subgraphs, L2 graphs and chunk contents.

Bounds are voxel boxes ``[[x0,y0,z0],[x1,y1,z1]]`` at mip 0. As in PyChunkedGraph they are
turned into an atomic chunk box (floor / ceil) and a node is kept when its chunk overlaps the
box scaled to its layer; the children of an L2 node are never filtered.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.arrays import unique_rows
from dafserver.chunkedgraph.errors import PreconditionError
from dafserver.chunkedgraph.ids import IdLayout, as_ids
from dafserver.chunkedgraph.state import GraphState

UInt64Array = npt.NDArray[np.uint64]
Int64Array = npt.NDArray[np.int64]
Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


def overlaps_chunk_box(layout: IdLayout, nodes: UInt64Array, chunk_box: Int64Array) -> BoolArray:
    """Whether each node's chunk overlaps an atomic chunk box (scaled to the node's layer)."""
    coords = layout.get_chunk_coords(nodes).reshape(-1, 3).astype(np.float64)
    scale = np.float64(layout.fan_out) ** np.maximum(layout.get_layer(nodes) - 2, 0)
    low = chunk_box[0][None, :] / scale[:, None]
    high = chunk_box[1][None, :] / scale[:, None]
    return np.asarray(np.all(coords < high, axis=1) & np.all(coords + 1 > low, axis=1))


def descend(
    state: GraphState,
    node_ids: npt.ArrayLike,
    stop_layer: int = 1,
    chunk_box: Int64Array | None = None,
) -> tuple[UInt64Array, Int64Array]:
    """Descendants exactly at ``stop_layer`` of each node, with the input position they came from.

    A node already at ``stop_layer`` yields itself; unknown ids yield nothing.
    """
    layout = state.layout
    frontier = as_ids(node_ids)
    origin = np.arange(len(frontier), dtype=np.int64)
    found: list[UInt64Array] = []
    found_origin: list[Int64Array] = []
    while frontier.size:
        layers = layout.get_layer(frontier)
        done = layers == stop_layer
        found.append(frontier[done])
        found_origin.append(origin[done])
        expand = np.flatnonzero(layers > stop_layer)
        if expand.size == 0:
            break
        parents = frontier[expand]
        children, owner = state.timeline.children_many(parents)
        if chunk_box is not None and children.size:
            keep = overlaps_chunk_box(layout, children, chunk_box)
            keep |= layout.get_layer(parents)[owner] == 2
            children, owner = children[keep], owner[keep]
        frontier = children
        origin = origin[expand][owner]
    ids = np.concatenate(found) if found else np.zeros(0, np.uint64)
    origins = np.concatenate(found_origin) if found_origin else np.zeros(0, np.int64)
    order = np.lexsort((ids, origins))
    return ids[order], origins[order]


def leaves_many(
    state: GraphState,
    node_ids: npt.ArrayLike,
    stop_layer: int = 1,
    chunk_box: Int64Array | None = None,
) -> dict[int, UInt64Array]:
    """``{node: sorted descendants at stop_layer}`` for every (distinct) input node."""
    queries = as_ids(node_ids)
    ids, origins = descend(state, queries, stop_layer, chunk_box)
    bounds = np.searchsorted(origins, np.arange(len(queries) + 1))
    return {int(queries[i]): ids[bounds[i] : bounds[i + 1]] for i in range(len(queries))}


def subgraph_edges(
    state: GraphState,
    node_id: int,
    chunk_box: Int64Array | None,
    only_internal_edges: bool,
) -> tuple[UInt64Array, Float32Array, UInt64Array]:
    """Supervoxel edges (any activity) of the node's supervoxels inside the box.

    With ``only_internal_edges`` both endpoints must be among those supervoxels, otherwise one
    is enough.
    """
    supervoxels, _ = descend(state, [node_id], 1, chunk_box)
    edges = state.edges
    index, _ = edges.sv_index(supervoxels)
    incident = edges.incident(np.sort(index))
    if only_internal_edges and incident.size:
        u, v = edges.endpoints(incident)
        incident = incident[np.isin(u, index) & np.isin(v, index)]
    return edges.endpoint_ids(incident), edges.affinities(incident), edges.areas(incident)


def lvl2_graph(state: GraphState, node_id: int, chunk_box: Int64Array | None) -> UInt64Array:
    """Unique sorted pairs of the node's L2 ids linked by an active supervoxel edge."""
    l2_ids, _ = descend(state, [node_id], 2, chunk_box)
    supervoxels, owner = state.timeline.children_many(l2_ids)
    if supervoxels.size == 0:
        return np.zeros((0, 2), dtype=np.uint64)
    created = int(state.timeline.created_ms([node_id])[0])
    edges = state.edges
    index, _ = edges.sv_index(supervoxels)
    order = np.argsort(index)
    sorted_index = index[order]
    incident = edges.incident(sorted_index)
    incident = incident[edges.active_at(incident, created)]
    u, v = edges.endpoints(incident)
    pos_u = np.minimum(np.searchsorted(sorted_index, u), len(sorted_index) - 1)
    pos_v = np.minimum(np.searchsorted(sorted_index, v), len(sorted_index) - 1)
    inside = (sorted_index[pos_u] == u) & (sorted_index[pos_v] == v)
    l2_of = l2_ids[owner[order]]
    a, b = l2_of[pos_u[inside]], l2_of[pos_v[inside]]
    different = a != b
    pairs = np.stack([np.minimum(a, b)[different], np.maximum(a, b)[different]], axis=1)
    return unique_rows(pairs).reshape(-1, 2).astype(np.uint64)


def l2_chunk_children(
    state: GraphState, chunk_id: int, ms: int, only_current: bool = False
) -> UInt64Array:
    """Interleaved ``[l2, sv, l2, sv, ...]`` for every L2 node of the chunk created by ``ms``.

    Like PyChunkedGraph this lists superseded L2 nodes too; ``only_current`` keeps only the
    nodes that are the parent of their supervoxels at ``ms``.
    """
    layer = int(state.layout.get_layer(chunk_id)[0])
    if layer != 2:
        raise PreconditionError(
            "This function only accepts level 2 chunks, "
            f"the chunk requested is a level {layer} chunk"
        )
    chunk = int(state.layout.get_chunk_id(chunk_id)[0])
    nodes = state.timeline.nodes_in_chunk(chunk)
    nodes = nodes[state.timeline.created_ms(nodes) <= ms]
    children, owner = state.timeline.children_many(nodes)
    parents = nodes[owner]
    if only_current and children.size:
        current = state.timeline.parents_at(children, ms) == parents
        children, parents = children[current], parents[current]
    return np.stack([parents, children], axis=1).reshape(-1).astype(np.uint64)
