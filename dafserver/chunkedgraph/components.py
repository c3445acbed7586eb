"""Connected components of an undirected graph given as index arrays (pure numpy).

Union-find by "hooking": each round, every root with an edge to a smaller root is attached to
the smallest such root, then all pointers are compressed. Labels are therefore the smallest
node index of each component, which makes the result deterministic.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]


def connected_components(n_nodes: int, u: npt.ArrayLike, v: npt.ArrayLike) -> Int64Array:
    """Component label (smallest member index) of each of ``n_nodes`` nodes."""
    parent = np.arange(n_nodes, dtype=np.int64)
    a = np.asarray(u, dtype=np.int64)
    b = np.asarray(v, dtype=np.int64)
    keep = a != b
    a, b = a[keep], b[keep]
    while a.size:
        ra = parent[a]
        rb = parent[b]
        differ = ra != rb
        if not differ.any():
            break
        a, b, ra, rb = a[differ], b[differ], ra[differ], rb[differ]
        low = np.minimum(ra, rb)
        high = np.maximum(ra, rb)
        np.minimum.at(parent, high, low)
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
    return parent
