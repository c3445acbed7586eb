"""Filling a graph's L2 cache: once for every L2 node, then for the new L2 ids of each edit.

Production fills the cache with a bulk ingest (every atomic chunk, the L2 ids of one moment) and
then with workers that consume PyChunkedGraph's ``new_lvl2_ids`` messages after each edit. Here
:func:`fill_graph` computes every L2 node the graph has ever had (those of the build and those
the scripted edits created) the first time a deployment opens, and :func:`attach` registers an
edit listener that computes an edit's new L2 ids **synchronously**, before the edit answers, so
a client never sees an edit's L2 ids uncached (production: seconds later, asynchronously). A
node that cannot be computed is stored as ``{size_nm3: 0}``, as production's worker does.

Voxels come from the supervoxel volume at mip 0 (the graph's watershed), read one atomic chunk
at a time; the part of a chunk outside the dataset is zeros, as production's unbounded,
fill-missing CloudVolume reads it.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.graph import ChunkedGraph, EditResult
from dafserver.l2cache.chunks import chunk_features
from dafserver.l2cache.features import NodeFeatures
from dafserver.l2cache.store import CacheConfig, L2CacheStore
from dafserver.services.supervoxel_lookup import open_watershed

UInt64Array = npt.NDArray[np.uint64]
log = logging.getLogger("dafserver.l2cache")


def cache_id(graph_id: str) -> str:
    """The cache (production: Bigtable table) name of a graph's L2 cache."""
    return f"l2cache_{graph_id}"


def config_for(graph_id: str) -> CacheConfig:
    """The configuration entry of a graph served by this deployment."""
    return CacheConfig(
        graph_id=graph_id,
        l2cache_id=cache_id(graph_id),
        cv_path=f"graphene://{{server}}/segmentation/table/{graph_id}",
    )


def read_chunk(graph: ChunkedGraph, cloudpath: str, chunk: npt.ArrayLike) -> UInt64Array:
    """The supervoxel volume of one atomic chunk (full chunk shape, zeros outside the data)."""
    meta = graph.meta
    size = np.asarray(meta.chunk_size, dtype=np.int64)
    low = np.asarray(meta.voxel_offset, dtype=np.int64) + np.asarray(chunk, dtype=np.int64) * size
    volume = open_watershed(cloudpath)
    inside_low = np.maximum(low, volume.low)
    inside_high = np.minimum(low + size, volume.high)
    out = np.zeros(tuple(int(s) for s in size), dtype=np.uint64)
    if bool(np.all(inside_high > inside_low)):
        start = inside_low - low
        stop = inside_high - low
        out[start[0] : stop[0], start[1] : stop[1], start[2] : stop[2]] = volume.cutout(
            inside_low, inside_high
        )
    return out


def compute(
    graph: ChunkedGraph, cloudpath: str, l2_ids: npt.ArrayLike
) -> list[tuple[int, NodeFeatures]]:
    """Features of the given L2 nodes, read chunk by chunk (ids not at layer 2 are skipped)."""
    ids = np.unique(np.asarray(l2_ids, dtype=np.uint64).reshape(-1))
    ids = ids[graph.layout.get_layer(ids) == 2]
    timeline = graph.state.timeline
    chunks = graph.layout.get_chunk_id(ids)
    results: list[tuple[int, NodeFeatures]] = []
    for chunk_id in np.unique(chunks):
        nodes = ids[chunks == chunk_id]
        kids, owner = timeline.children_many(nodes)
        children = [kids[owner == i] for i in range(len(nodes))]
        coords = graph.layout.get_chunk_coords(chunk_id)[0]
        try:
            volume = read_chunk(graph, cloudpath, coords)
            labels = _segment_labels(graph, volume, coords)
            segments = [graph.layout.get_segment_id(k) for k in children]
            values = chunk_features(labels, nodes, segments, graph.meta.resolution)
        except Exception:  # a worker failure leaves {size_nm3: 0}, never an error
            log.exception("L2 features of chunk %s failed", coords.tolist())
            values = [NodeFeatures.failed()] * len(nodes)
        results.extend(zip((int(n) for n in nodes), values, strict=True))
    return results


def _segment_labels(
    graph: ChunkedGraph, volume: UInt64Array, coords: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """The chunk's supervoxel ids as their segment ids (0 stays 0)."""
    first = int(graph.layout.chunk_id(1, *(int(c) for c in coords))[0])
    last = first + graph.layout.segment_id_limit(1)
    labels = volume.astype(np.int64)
    labelled = volume != 0
    if labelled.any() and (int(volume[labelled].min()) < first or int(volume.max()) > last):
        raise ValueError("the chunk holds supervoxels of another chunk")
    labels[labelled] -= first
    return labels


def every_l2_node(graph: ChunkedGraph) -> UInt64Array:
    """Every L2 id the graph has ever had (build and edits), sorted."""
    timeline = graph.state.timeline
    ids = np.concatenate([timeline.base_node_ids, timeline.new_node_ids])
    return np.sort(ids[graph.layout.get_layer(ids) == 2])


def fill_graph(store: L2CacheStore, graph: ChunkedGraph, cloudpath: str) -> float:
    """Register the graph's cache and compute every L2 node once; returns the seconds spent
    (0 when the cache was already filled)."""
    config = config_for(graph.table_id)
    if store.config(graph.table_id) is not None and store.count(config.l2cache_id) > 0:
        return 0.0
    started = time.perf_counter()
    store.put(config.l2cache_id, compute(graph, cloudpath, every_l2_node(graph)))
    store.register(config)
    return time.perf_counter() - started


def attach(store: L2CacheStore, graph: ChunkedGraph, cloudpath: str) -> None:
    """Compute the new L2 ids of every later edit of ``graph`` as part of the edit."""
    cache = cache_id(graph.table_id)

    def on_edit(edited: ChunkedGraph, result: EditResult) -> None:
        if not result.new_lvl2_ids.size:
            return
        try:
            store.put(cache, compute(edited, cloudpath, result.new_lvl2_ids))
        except Exception:  # the edit is done: a cache failure must not turn it into an error
            log.exception("L2 cache of operation %s not written", result.operation_id)

    graph.edit_listeners.append(on_edit)
