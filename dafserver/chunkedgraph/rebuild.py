"""Recomputing the hierarchy of the objects touched by an edit.

Given the supervoxels whose edges change, the L2 nodes holding them and all their ancestors up
to the roots are replaced: at each layer the children of the replaced nodes (with replaced
children swapped for the new ones) are regrouped into connected components of the edited
supervoxel graph, and every component becomes a new node. Untouched siblings keep their ids and
get a new parent version; supervoxels keep their ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.arrays import unique, unique_inverse
from dafserver.chunkedgraph.components import connected_components
from dafserver.chunkedgraph.errors import NodeNotFound
from dafserver.chunkedgraph.hierarchy import layer_chunk_ids
from dafserver.chunkedgraph.state import GraphState

UInt64Array = npt.NDArray[np.uint64]
Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class HierarchyDelta:
    """New nodes and parent versions an edit writes."""

    new_node_ids: UInt64Array
    new_children: list[UInt64Array]
    version_nodes: UInt64Array
    version_parents: UInt64Array
    old_root_ids: UInt64Array
    new_root_ids: UInt64Array
    new_lvl2_ids: UInt64Array


@dataclass(frozen=True)
class _Object:
    """Supervoxels under the old roots, their ancestors per layer and the active edges."""

    supervoxels: UInt64Array
    ancestors: dict[int, UInt64Array]
    edge_u: Int64Array
    edge_v: Int64Array


def old_ancestors(state: GraphState, supervoxels: UInt64Array, ms: int) -> dict[int, UInt64Array]:
    """Sorted ancestors per layer (2..n) of the given supervoxels as of ``ms``."""
    chain: dict[int, UInt64Array] = {}
    current = supervoxels
    for layer in range(2, state.layout.n_layers + 1):
        current = unique(state.timeline.parents_at(current, ms))
        if current.size == 0 or bool(np.any(current == 0)):
            raise NodeNotFound(f"nodes without a layer {layer} parent at {ms} ms")
        chain[layer] = current
    return chain


def _describe_object(
    state: GraphState,
    roots: UInt64Array,
    removed_edges: Int64Array,
    added_pairs: Int64Array,
) -> _Object:
    n_layers = state.layout.n_layers
    nodes: dict[int, UInt64Array] = {n_layers: roots}
    owners: dict[int, Int64Array] = {}
    for layer in range(n_layers - 1, 0, -1):
        nodes[layer], owners[layer] = state.timeline.children_many(nodes[layer + 1])
    supervoxels = nodes[1]
    ancestors: dict[int, UInt64Array] = {1: supervoxels}
    position = np.arange(len(supervoxels), dtype=np.int64)
    for layer in range(2, n_layers + 1):
        position = owners[layer - 1][position]
        ancestors[layer] = nodes[layer][position]
    edges = state.edges
    sv_index, _ = edges.sv_index(supervoxels)
    order = np.argsort(sv_index)
    sorted_index = sv_index[order]
    incident = edges.incident(sorted_index)
    active = edges.active_now(incident) & ~np.isin(incident, removed_edges)
    u, v = edges.endpoints(incident[active])
    if added_pairs.size:
        u = np.concatenate([u, added_pairs[:, 0]])
        v = np.concatenate([v, added_pairs[:, 1]])

    def local(indices: Int64Array) -> Int64Array:
        at = np.minimum(np.searchsorted(sorted_index, indices), len(sorted_index) - 1)
        found = sorted_index[at] == indices
        return np.where(found, order[at], -1).astype(np.int64)

    lu, lv = local(u), local(v)
    inside = (lu >= 0) & (lv >= 0)
    return _Object(supervoxels, ancestors, lu[inside], lv[inside])


def _group(
    state: GraphState,
    layer: int,
    member_ids: UInt64Array,
    member_chunks: UInt64Array,
    a: Int64Array,
    b: Int64Array,
) -> tuple[UInt64Array, Int64Array]:
    """Components of members linked by edges (a, b); returns (new ids, group of each member)."""
    labels = connected_components(len(member_ids), a, b)
    representatives, inverse = unique_inverse(labels)
    group_chunks = member_chunks[representatives]
    smallest = np.full(len(representatives), np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(smallest, inverse, member_ids)
    order = np.lexsort((smallest, group_chunks))
    new_ids = np.empty(len(representatives), dtype=np.uint64)
    new_ids[order] = state.counters.allocate(layer, group_chunks[order])
    return new_ids, inverse.astype(np.int64)


def recompute(
    state: GraphState,
    touched: UInt64Array,
    removed_edges: Int64Array,
    added_pairs: Int64Array,
    ms: int,
) -> HierarchyDelta:
    """New nodes for the objects of the ``touched`` supervoxels after an edge change.

    ``removed_edges`` are edge indices that become inactive and ``added_pairs`` are
    supervoxel index pairs that become active; the L2 nodes of every endpoint are rebuilt.
    Nothing in ``state`` is modified except the segment counters.
    """
    layout = state.layout
    n_layers = layout.n_layers
    removed_u, removed_v = state.edges.endpoints(removed_edges)
    endpoints = np.concatenate([removed_u, removed_v, added_pairs.reshape(-1)])
    touched = unique(np.concatenate([touched, state.edges.supervoxel_ids[endpoints]]))
    old = old_ancestors(state, touched, ms)
    obj = _describe_object(state, old[n_layers], removed_edges, added_pairs)
    current = obj.ancestors[2]
    new_ids: list[UInt64Array] = []
    new_children: list[UInt64Array] = []
    version_nodes: list[UInt64Array] = []
    version_parents: list[UInt64Array] = []

    scope = np.flatnonzero(np.isin(obj.ancestors[2], old[2]))
    members = obj.supervoxels[scope]
    coords = layout.get_chunk_coords(members).reshape(-1, 3)
    member_chunks = layer_chunk_ids(layout, 2, coords)
    lookup_member = np.full(len(obj.supervoxels), -1, dtype=np.int64)
    lookup_member[scope] = np.arange(len(scope), dtype=np.int64)
    new_lvl2 = np.zeros(0, dtype=np.uint64)
    for layer in range(2, n_layers + 1):
        if layer > 2:
            scope = np.flatnonzero(np.isin(obj.ancestors[layer], old[layer]))
            members, member_of_sv = unique_inverse(current[scope])
            coords = layout.get_chunk_coords(members).reshape(-1, 3)
            member_chunks = layer_chunk_ids(layout, layer, coords)
            lookup_member = np.full(len(obj.supervoxels), -1, dtype=np.int64)
            lookup_member[scope] = member_of_sv
        a, b = lookup_member[obj.edge_u], lookup_member[obj.edge_v]
        linked = (a >= 0) & (b >= 0) & (a != b)
        a, b = a[linked], b[linked]
        same_chunk = member_chunks[a] == member_chunks[b]
        ids, group = _group(state, layer, members, member_chunks, a[same_chunk], b[same_chunk])
        by_group = np.lexsort((members, group))
        bounds = np.searchsorted(group[by_group], np.arange(len(ids) + 1))
        sorted_members = members[by_group]
        new_children.extend(sorted_members[bounds[i] : bounds[i + 1]] for i in range(len(ids)))
        new_ids.append(ids)
        version_nodes.append(members)
        version_parents.append(ids[group])
        current = obj.ancestors[layer].copy()
        current[scope] = ids[group][lookup_member[scope]]
        if layer == 2:
            new_lvl2 = ids
    return HierarchyDelta(
        new_node_ids=np.concatenate(new_ids),
        new_children=new_children,
        version_nodes=np.concatenate(version_nodes),
        version_parents=np.concatenate(version_parents),
        old_root_ids=old[n_layers],
        new_root_ids=new_ids[-1],
        new_lvl2_ids=new_lvl2,
    )
