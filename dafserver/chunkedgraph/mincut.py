"""Minimum cut between source and sink supervoxels on a local supervoxel graph.

Edge capacities are the affinities. All sources hang off one super-source and all sinks off
one super-sink by edges of infinite capacity, and networkx computes the minimum s-t cut. The
checks and messages follow PyChunkedGraph's ``LocalMincutGraph``: components of the local
graph that lack sources or sinks are dropped first, and after the cut every component holding
a source must hold all sources and no sink (and the other way round).
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.arrays import unique
from dafserver.chunkedgraph.components import connected_components
from dafserver.chunkedgraph.errors import PostconditionError, PreconditionError

Int64Array = npt.NDArray[np.int64]
Float32Array = npt.NDArray[np.float32]

#: Affinities are turned into integer capacities (networkx flows are exact on integers).
CAPACITY_SCALE = 1_000_000
_SOURCE = -1
_SINK = -2

NOT_CONNECTED = (
    "Sinks and sources are not connected through the local graph. "
    "Please try a different set of vertices to perform the mincut."
)
NOT_ONE_COMPONENT = "Not all sinks and sources are within the same (local) connected component"
CUT_FAILED = (
    "Failed to find a cut that separated the sources from the sinks. "
    "Please try another cut that partitions the sets cleanly if possible. "
    "If there is a clear path between all the supervoxels in each set, "
    "that helps the mincut algorithm."
)
NOTHING_TO_REMOVE = "Mincut could not find any edges to remove."


@dataclass(frozen=True)
class CutResult:
    """Edges to remove (indices into the local edge list) and the components after the cut.

    ``components`` holds local node indices: the component with most sources first, the one
    with most sinks second, then the others.
    """

    cut_edges: Int64Array
    components: list[Int64Array]
    illegal: bool


def _relevant_nodes(
    n_nodes: int, u: Int64Array, v: Int64Array, sources: Int64Array, sinks: Int64Array
) -> Int64Array:
    labels = connected_components(n_nodes, u, v)
    both = np.intersect1d(labels[sources], labels[sinks])
    if both.size == 0:
        raise PreconditionError(NOT_CONNECTED)
    if both.size > 1:
        raise PreconditionError(NOT_ONE_COMPONENT)
    return np.flatnonzero(labels == both[0])


def _ordered_components(
    n_nodes: int,
    nodes: Int64Array,
    u: Int64Array,
    v: Int64Array,
    sources: Int64Array,
    sinks: Int64Array,
) -> tuple[list[Int64Array], bool]:
    labels = connected_components(n_nodes, u, v)
    groups = [nodes[labels[nodes] == label] for label in unique(labels[nodes])]
    illegal = False
    for group in groups:
        has_source = np.isin(sources, group)
        has_sink = np.isin(sinks, group)
        if has_source.any() and (not has_source.all() or has_sink.any()):
            illegal = True
        if has_sink.any() and (not has_sink.all() or has_source.any()):
            illegal = True
    n_sources = [int(np.isin(sources, g).sum()) for g in groups]
    n_sinks = [int(np.isin(sinks, g).sum()) for g in groups]
    first = int(np.argmax(n_sources))
    second = int(np.argmax(n_sinks))
    ordered = [groups[first]]
    if second != first:
        ordered.append(groups[second])
    ordered.extend(g for i, g in enumerate(groups) if i not in (first, second))
    return ordered, illegal


def local_mincut(
    n_nodes: int,
    u: Int64Array,
    v: Int64Array,
    affinities: Float32Array,
    sources: Int64Array,
    sinks: Int64Array,
    *,
    preview: bool = False,
) -> CutResult:
    """Cut the local graph (nodes ``0..n_nodes-1``, edges ``u``-``v``) between the labels.

    Raises ``PreconditionError`` when the labels are not connected or, unless ``preview``,
    when the cut does not separate them cleanly.
    """
    nodes = _relevant_nodes(n_nodes, u, v, sources, sinks)
    in_component = np.zeros(n_nodes, dtype=bool)
    in_component[nodes] = True
    local = np.flatnonzero(in_component[u] & in_component[v] & (u != v))
    scaled = np.round(np.clip(affinities[local], 0.0, 1e6) * CAPACITY_SCALE)
    capacities = scaled.astype(np.int64) + 1
    graph = nx.Graph()
    graph.add_nodes_from(nodes.tolist())
    for a, b, capacity in zip(
        u[local].tolist(), v[local].tolist(), capacities.tolist(), strict=True
    ):
        if graph.has_edge(a, b):
            graph[a][b]["capacity"] += capacity
        else:
            graph.add_edge(a, b, capacity=capacity)
    graph.add_edges_from((_SOURCE, int(s)) for s in sources)
    graph.add_edges_from((int(t), _SINK) for t in sinks)
    _, (source_side, _) = nx.minimum_cut(graph, _SOURCE, _SINK)
    on_source_side = np.zeros(n_nodes, dtype=bool)
    on_source_side[[n for n in source_side if n >= 0]] = True
    crossing = on_source_side[u[local]] != on_source_side[v[local]]
    cut = local[crossing]
    if cut.size == 0:
        raise PostconditionError(NOTHING_TO_REMOVE)
    kept = np.setdiff1d(local, cut)
    components, illegal = _ordered_components(n_nodes, nodes, u[kept], v[kept], sources, sinks)
    if illegal and not preview:
        raise PreconditionError(CUT_FAILED)
    return CutResult(cut_edges=cut, components=components, illegal=illegal)
