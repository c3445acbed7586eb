"""Root succession: FormerParent / NewParent links and the operation that retired each root."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.arrays import lookup
from dafserver.chunkedgraph.ids import as_ids

UInt64Array = npt.NDArray[np.uint64]
Int64Array = npt.NDArray[np.int64]

_EMPTY: UInt64Array = np.zeros(0, dtype=np.uint64)


class RootLineage:
    """Which roots replaced which, when and by which operation."""

    def __init__(self) -> None:
        self.former_parents: dict[int, UInt64Array] = {}
        self.new_parents: dict[int, UInt64Array] = {}
        self.retired_by: dict[int, int] = {}
        self._retired_ids = np.zeros(0, dtype=np.uint64)
        self._retired_ms = np.zeros(0, dtype=np.int64)

    def record(
        self, operation_id: int, ms: int, old_roots: UInt64Array, new_roots: UInt64Array
    ) -> None:
        """An operation at ``ms`` replaced ``old_roots`` by ``new_roots`` (all-to-all links)."""
        for root in new_roots.tolist():
            self.former_parents[root] = old_roots.copy()
        for root in old_roots.tolist():
            self.new_parents[root] = new_roots.copy()
            self.retired_by[root] = operation_id
        keys = np.sort(old_roots)
        at = np.searchsorted(self._retired_ids, keys)
        self._retired_ids = np.insert(self._retired_ids, at, keys)
        self._retired_ms = np.insert(self._retired_ms, at, np.full(len(keys), ms, np.int64))

    def retired_ms(self, roots: npt.ArrayLike) -> Int64Array:
        """Time each root was superseded, -1 if it never was."""
        queries = as_ids(roots)
        result = np.full(len(queries), -1, dtype=np.int64)
        position, found = lookup(self._retired_ids, queries)
        result[found] = self._retired_ms[position[found]]
        return result

    def formers(self, root: int) -> UInt64Array:
        """FormerParent of a root (empty for roots of the build)."""
        return self.former_parents.get(root, _EMPTY)

    def successors(self, root: int) -> UInt64Array:
        """NewParent of a root (empty while it is current)."""
        return self.new_parents.get(root, _EMPTY)
