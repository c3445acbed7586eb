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
fill-missing CloudVolume reads it. A first fill of many chunks runs in one process per core
(production: one ingest job per chunk).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.graph import ChunkedGraph, EditResult
from dafserver.chunkedgraph.meta import GraphMeta
from dafserver.l2cache.chunks import chunk_features
from dafserver.l2cache.features import NodeFeatures
from dafserver.l2cache.store import CacheConfig, L2CacheStore
from dafserver.services.supervoxel_lookup import open_watershed

UInt64Array = npt.NDArray[np.uint64]
log = logging.getLogger("dafserver.l2cache")

PARALLEL_MIN_CHUNKS = 64
"""A first fill of this many chunks or more runs in several processes (the medium dataset)."""
MAX_WORKERS = 8


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


@dataclass(frozen=True)
class ChunkJob:
    """The L2 nodes of one atomic chunk to compute, with their supervoxels as segment ids."""

    coords: tuple[int, int, int]
    first_supervoxel: int
    """The chunk's layer-1 chunk id: supervoxel ids of the chunk are it plus a segment id."""
    last_supervoxel: int
    nodes: UInt64Array
    children: list[npt.NDArray[np.uint64]]


def read_chunk(meta: GraphMeta, cloudpath: str, chunk: npt.ArrayLike) -> UInt64Array:
    """The supervoxel volume of one atomic chunk (full chunk shape, zeros outside the data)."""
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


def chunk_jobs(graph: ChunkedGraph, l2_ids: npt.ArrayLike) -> list[ChunkJob]:
    """The given L2 nodes grouped by chunk (ids not at layer 2 are skipped)."""
    layout = graph.layout
    ids = np.unique(np.asarray(l2_ids, dtype=np.uint64).reshape(-1))
    ids = ids[layout.get_layer(ids) == 2]
    chunks = layout.get_chunk_id(ids)
    jobs = []
    for chunk_id in np.unique(chunks):
        nodes = ids[chunks == chunk_id]
        kids, owner = graph.state.timeline.children_many(nodes)
        x, y, z = (int(c) for c in layout.get_chunk_coords(chunk_id)[0])
        first = int(layout.chunk_id(1, x, y, z)[0])
        jobs.append(
            ChunkJob(
                coords=(x, y, z),
                first_supervoxel=first,
                last_supervoxel=first + layout.segment_id_limit(1),
                nodes=nodes,
                children=[kids[owner == i] for i in range(len(nodes))],
            )
        )
    return jobs


def run_jobs(
    jobs: list[ChunkJob], meta: GraphMeta, cloudpath: str
) -> list[tuple[int, NodeFeatures]]:
    """Features of the nodes of ``jobs``; a chunk that fails gives failed nodes, never an error
    (production's worker stores ``{size_nm3: 0}`` for what it cannot compute)."""
    results: list[tuple[int, NodeFeatures]] = []
    for job in jobs:
        try:
            volume = read_chunk(meta, cloudpath, job.coords)
            labels = _segment_labels(volume, job.first_supervoxel, job.last_supervoxel)
            segments = [k - np.uint64(job.first_supervoxel) for k in job.children]
            values = chunk_features(labels, job.nodes, segments, meta.resolution)
        except Exception:
            log.exception("L2 features of chunk %s failed", list(job.coords))
            values = [NodeFeatures.failed()] * len(job.nodes)
        results.extend(zip((int(n) for n in job.nodes), values, strict=True))
    return results


def compute(
    graph: ChunkedGraph, cloudpath: str, l2_ids: npt.ArrayLike, workers: int = 1
) -> list[tuple[int, NodeFeatures]]:
    """Features of the given L2 nodes, read chunk by chunk, in ``workers`` processes when
    there are at least :data:`PARALLEL_MIN_CHUNKS` chunks."""
    jobs = chunk_jobs(graph, l2_ids)
    if workers <= 1 or len(jobs) < PARALLEL_MIN_CHUNKS:
        return run_jobs(jobs, graph.meta, cloudpath)
    slices = [jobs[i :: workers * 4] for i in range(workers * 4)]
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            parts = pool.map(run_jobs, slices, repeat(graph.meta), repeat(cloudpath))
            return [row for part in parts for row in part]
    except (BrokenProcessPool, OSError) as err:  # e.g. a __main__ that cannot be re-imported
        log.warning("L2 features in one process: the worker processes failed (%s)", err)
        return run_jobs(jobs, graph.meta, cloudpath)


def _segment_labels(volume: UInt64Array, first: int, last: int) -> npt.NDArray[np.int64]:
    """The chunk's supervoxel ids as their segment ids (0 stays 0)."""
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
    workers = min(os.cpu_count() or 1, MAX_WORKERS)
    store.put(config.l2cache_id, compute(graph, cloudpath, every_l2_node(graph), workers))
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
