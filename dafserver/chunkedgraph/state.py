"""The in-memory state of one graph and the per-chunk segment id counters."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.edges import EdgeStore
from dafserver.chunkedgraph.hierarchy import rank_within_groups
from dafserver.chunkedgraph.ids import IdLayout
from dafserver.chunkedgraph.lineage import RootLineage
from dafserver.chunkedgraph.meta import GraphMeta
from dafserver.chunkedgraph.oplog import OperationRecord
from dafserver.chunkedgraph.timeline import Timeline

UInt64Array = npt.NDArray[np.uint64]


class SegmentCounters:
    """Highest segment id used in every chunk; new ids continue from there.

    PyChunkedGraph spreads root ids over 256 counters; here roots are numbered sequentially
    like every other chunk.
    """

    def __init__(self, layout: IdLayout) -> None:
        self.layout = layout
        self._highest: dict[int, int] = {}

    def observe(self, node_ids: UInt64Array) -> None:
        """Account for existing node ids (of layer >= 2)."""
        if node_ids.size == 0:
            return
        chunks = self.layout.get_chunk_id(node_ids)
        segments = self.layout.get_segment_id(node_ids)
        order = np.argsort(chunks, kind="stable")
        chunks, segments = chunks[order], segments[order]
        starts = np.flatnonzero(np.r_[True, chunks[1:] != chunks[:-1]])
        highest = np.maximum.reduceat(segments, starts)
        for chunk, top in zip(chunks[starts].tolist(), highest.tolist(), strict=True):
            self._highest[chunk] = max(self._highest.get(chunk, 0), top)

    def allocate(self, layer: int, chunk_ids: UInt64Array) -> UInt64Array:
        """New node ids, one per entry of ``chunk_ids`` (same order), numbered per chunk."""
        if chunk_ids.size == 0:
            return np.zeros(0, dtype=np.uint64)
        order = np.argsort(chunk_ids, kind="stable")
        sorted_chunks = chunk_ids[order]
        rank = rank_within_groups(sorted_chunks)
        base = np.array([self._highest.get(c, 0) for c in sorted_chunks.tolist()], np.int64)
        segments = base + rank + 1
        if int(segments.max()) > self.layout.segment_id_limit(layer):
            raise ValueError(f"segment ids exhausted in a layer {layer} chunk")
        for chunk, top in zip(sorted_chunks.tolist(), segments.tolist(), strict=True):
            self._highest[chunk] = max(self._highest.get(chunk, 0), top)
        result = np.empty(len(chunk_ids), dtype=np.uint64)
        result[order] = sorted_chunks | segments.astype(np.uint64)
        return result


@dataclass
class GraphState:
    """Everything a graph knows; the engine modules read and update it."""

    meta: GraphMeta
    timeline: Timeline
    edges: EdgeStore
    counters: SegmentCounters
    lineage: RootLineage = field(default_factory=RootLineage)
    operations: dict[int, OperationRecord] = field(default_factory=dict)

    @property
    def layout(self) -> IdLayout:
        """The id layout of the graph."""
        return self.meta.layout

    @property
    def build_ms(self) -> int:
        """Build time in milliseconds."""
        return self.timeline.build_ms

    @property
    def last_operation_ms(self) -> int:
        """Time of the latest operation (the build time if there is none)."""
        if not self.operations:
            return self.timeline.build_ms
        return self.operations[max(self.operations)].timestamp_ms
