"""Minimal covering nodes: compress a set of nodes into the fewest highest-layer nodes.

Let S be the descendants, at the lowest layer among the inputs, of all input nodes. Starting
from the inputs, a node is replaced by its parent (as of T) whenever every descendant of the
parent at that layer is in S; nodes that cannot be lifted are part of the answer.
PyChunkedGraph follows the same procedure but never reports nodes that reach the root layer;
here they are reported.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.arrays import unique
from dafserver.chunkedgraph.ids import as_ids
from dafserver.chunkedgraph.state import GraphState
from dafserver.chunkedgraph.subgraph import descend

UInt64Array = npt.NDArray[np.uint64]


def minimal_covering_nodes(state: GraphState, node_ids: npt.ArrayLike, ms: int) -> UInt64Array:
    """Sorted minimal covering nodes of ``node_ids`` as of ``ms``."""
    layout = state.layout
    inputs = unique(as_ids(node_ids))
    inputs = inputs[state.timeline.exists(inputs)]
    if inputs.size == 0:
        return np.zeros(0, dtype=np.uint64)
    layers = layout.get_layer(inputs)
    base_layer = int(layers.min())
    covered_set, _ = descend(state, inputs, base_layer)
    covered_set = unique(covered_set)
    queue = {layer: inputs[layers == layer] for layer in unique(layers).tolist()}
    result: list[UInt64Array] = []
    for layer in range(base_layer, layout.n_layers):
        nodes = unique(queue.pop(layer, np.zeros(0, np.uint64)))
        if nodes.size == 0:
            continue
        parents = state.timeline.parents_at(nodes, ms)
        orphan = parents == 0
        result.append(nodes[orphan])
        nodes, parents = nodes[~orphan], parents[~orphan]
        unique_parents = unique(parents)
        leaves, owner = descend(state, unique_parents, base_layer)
        outside = ~np.isin(leaves, covered_set)
        incomplete = np.zeros(len(unique_parents), dtype=bool)
        incomplete[owner[outside]] = True
        complete = unique_parents[~incomplete]
        result.append(nodes[~np.isin(parents, complete)])
        lifted = queue.get(layer + 1, np.zeros(0, np.uint64))
        queue[layer + 1] = np.concatenate([lifted, complete])
    result.append(queue.get(layout.n_layers, np.zeros(0, np.uint64)))
    return unique(np.concatenate(result)).astype(np.uint64)
