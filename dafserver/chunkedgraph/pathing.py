"""Shortest L2 path between two points of one object (PyChunkedGraph's ``find_path``)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.errors import NodeNotFound, PreconditionError
from dafserver.chunkedgraph.state import GraphState
from dafserver.chunkedgraph.subgraph import descend, lvl2_graph

UInt64Array = npt.NDArray[np.uint64]
Float32Array = npt.NDArray[np.float32]


def resolve_l2(state: GraphState, node_id: int, ms: int, voxel: npt.ArrayLike | None = None) -> int:
    """The L2 node of a supervoxel or L2 id; for higher nodes the L2 chunk nearest ``voxel``."""
    layout = state.layout
    layer = int(layout.get_layer(node_id)[0])
    if layer == 1:
        parent = int(state.timeline.parents_at([node_id], ms)[0])
        if parent == 0:
            raise NodeNotFound(f"Cannot find the L2 node of {node_id}")
        return parent
    if not bool(state.timeline.exists(np.array([node_id], dtype=np.uint64))[0]):
        raise NodeNotFound(f"Unknown node {node_id}")
    if layer == 2:
        return node_id
    if voxel is None:
        raise PreconditionError("A coordinate is needed to find a path from a node above layer 2")
    l2_ids, _ = descend(state, [node_id], 2)
    if l2_ids.size == 0:
        raise NodeNotFound(f"Node {node_id} has no L2 descendants")
    meta = state.meta
    centers = (layout.get_chunk_coords(l2_ids).reshape(-1, 3) + 0.5) * np.asarray(meta.chunk_size)
    centers += np.asarray(meta.voxel_offset)
    distance = np.linalg.norm(centers - np.asarray(voxel, dtype=np.float64), axis=1)
    return int(l2_ids[int(np.argmin(distance))])


def first_shared_parent(state: GraphState, first: int, second: int, ms: int) -> int:
    """Lowest common ancestor of two nodes of the same layer as of ``ms`` (0 if none)."""
    a, b = first, second
    for _ in range(state.layout.n_layers):
        if a == b:
            return a
        if a == 0 or b == 0:
            return 0
        a, b = (int(x) for x in state.timeline.parents_at([a, b], ms))
    return a if a == b else 0


def find_path(
    state: GraphState,
    source_id: int,
    target_id: int,
    ms: int,
    source_voxel: npt.ArrayLike | None = None,
    target_voxel: npt.ArrayLike | None = None,
) -> tuple[UInt64Array, Float32Array, UInt64Array]:
    """``(l2_path, centroids_nm, failed_l2_ids)``; centroids are L2 chunk centres."""
    source = resolve_l2(state, source_id, ms, source_voxel)
    target = resolve_l2(state, target_id, ms, target_voxel)
    shared = first_shared_parent(state, source, target, ms)
    if shared == 0:
        raise PreconditionError("Source and target do not belong to the same object.")
    if source == target:
        path = [source]
    else:
        graph = nx.Graph()
        graph.add_edges_from(lvl2_graph(state, shared, None).tolist())
        try:
            path = [int(n) for n in nx.shortest_path(graph, source, target)]
        except (nx.NetworkXNoPath, nx.NodeNotFound) as err:
            raise PreconditionError("No path found between source and target.") from err
    l2_path = np.asarray(path, dtype=np.uint64)
    coords = state.layout.get_chunk_coords(l2_path).reshape(-1, 3)
    centroids = state.meta.chunk_center_nm(coords).astype(np.float32)
    return l2_path, centroids, np.zeros(0, dtype=np.uint64)
