"""Lookups of Dask DataFrames: each touched chunk read once in the whole job.

:func:`lookup_dask_dataframe` (what :meth:`LookupClient.lookup_dataframe` runs for a Dask DataFrame)
returns a lazy Dask DataFrame with the in-memory answer's columns and dtypes and the input's index
and partitions, built from Dask's own operations:

1. ``map_partitions`` (:class:`ChunkKeys`): each partition's points are checked (bad rows named by
   their index label) and turned into voxels of the segmentation mip, each with the number of its
   storage chunk, of its partition, and its place in the partition.
2. ``shuffle`` on the chunk number into :func:`group_count` partitions (about one per 4 input
   partitions): every point of a chunk lands in the same partition, so each touched chunk is read
   once in the whole job, however the points are spread over partitions (:func:`shuffle_method`
   says which of Dask's shuffles).
3. ``map_partitions`` (:class:`ChunkGroupLookup`): each shuffled partition reads its chunks
   (grouped and fetched in batches, as in memory) and looks its roots up in batched requests.
4. ``set_index`` on the partition number with divisions ``0, 1, ..., n``: every answer goes back
   to the partition it came from.
5. ``map_partitions`` of the input and the answers, partition by partition (:class:`Answers`):
   the answer frame, built as the in-memory lookup builds it.

A frame of one partition skips the shuffles: its in-memory lookup runs on a worker
(:class:`PartitionLookup`). Each input partition is computed once and kept by Dask until its ids
return (spilled to disk above a worker's memory target, as Dask does).

Client objects hold connection pools and are never pickled: tasks carry a frozen
:class:`LookupSettings` and each worker thread makes its own LookupClient once and keeps it
(:func:`worker_lookup`). The timestamp is fixed once on the calling side, so every partition's
roots are of the same moment.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dafclient.chunked_reads import (
    OutsidePolicy,
    VolumeGrid,
    group_by_chunk,
    read_labels_batched,
    resolution_triple,
    to_mip_voxels,
)
from dafclient.connection_settings import ConnectionSettings
from dafclient.dask_support import require_dask
from dafclient.errors import InputError
from dafclient.lookup_frames import PointColumns
from dafclient.timestamps import TimestampLike

if TYPE_CHECKING:
    import dask.dataframe as dd

    from dafclient.lookup import LookupClient


@dataclass(frozen=True)
class LookupSettings:
    """What a worker needs to make the same LookupClient (hashable: workers keep one per key)."""

    connection: ConnectionSettings
    segmentation_mip: int
    voxel_resolution: tuple[float, float, float]
    segmentation_source: str | None
    outside: OutsidePolicy


_worker_lock = threading.Lock()
_worker_lookups: dict[tuple[int, LookupSettings], LookupClient] = {}
"""Per worker thread and settings: the LookupClient its tasks use (made once, then reused)."""


def worker_lookup(settings: LookupSettings) -> LookupClient:
    """This thread's LookupClient for ``settings`` (made once, then reused by later tasks)."""
    key = (threading.get_ident(), settings)
    with _worker_lock:
        found = _worker_lookups.get(key)
    if found is None:
        client = settings.connection.connect()
        found = client.make_lookup_client(
            segmentation_mip=settings.segmentation_mip,
            voxel_resolution=settings.voxel_resolution,
            segmentation_source=settings.segmentation_source,
            outside=settings.outside,
            progress=False,
        )
        with _worker_lock:
            _worker_lookups[key] = found
    return found


# -- one partition: the in-memory lookup on a worker ----------------------------------------


@dataclass(frozen=True)
class PartitionLookup:
    """One ``lookup_dataframe`` call, applied to a partition as a whole."""

    settings: LookupSettings
    columns: PointColumns
    mip: int | None
    timestamp: TimestampLike | None

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        c = self.columns
        return worker_lookup(self.settings).lookup_dataframe(
            list(c.names),
            frame,
            self.mip,
            self.settings.voxel_resolution,
            self.timestamp,
            c.position_suffix,
            c.supervoxel_suffix,
            c.root_id_suffix,
            progress=False,
        )


# -- many partitions: points shuffled by chunk and back ---------------------------------------

KEYS_META = pd.DataFrame(
    {name: np.zeros(0, dtype=np.int64) for name in ("partition", "place", "x", "y", "z", "chunk")}
)
"""Step 1's frames: one row per point inside the volume."""
IDS_META = pd.DataFrame(
    {
        "partition": np.zeros(0, dtype=np.int64),
        "place": np.zeros(0, dtype=np.int64),
        "supervoxel": np.zeros(0, dtype=np.uint64),
        "root": np.zeros(0, dtype=np.uint64),
    }
)
"""Step 3's frames: the ids of each point, with where it came from."""


def chunk_numbers(voxels: npt.NDArray[np.int64], grid: VolumeGrid) -> npt.NDArray[np.int64]:
    """The number of the storage chunk each voxel (inside the grid) falls in."""
    chunks = (voxels - grid.chunk_origin) // grid.chunk_size
    counts = -(-(grid.upper - grid.chunk_origin) // grid.chunk_size)
    x, y, z = chunks[:, 0], chunks[:, 1], chunks[:, 2]
    found: npt.NDArray[np.int64] = (x * counts[1] + y) * counts[2] + z
    return found


@dataclass(frozen=True)
class ChunkKeys:
    """Step 1: a partition's points (inside the volume) as voxels with their chunk numbers."""

    columns: PointColumns
    point_resolution: tuple[float, float, float]
    grid: VolumeGrid
    outside: OutsidePolicy

    def __call__(self, frame: pd.DataFrame, partition_info: dict[str, Any] | None) -> pd.DataFrame:
        number = 0 if partition_info is None else int(partition_info["number"])
        points, labels = self.columns.points(frame)
        resolution = np.asarray(self.point_resolution, dtype=np.float64)
        voxels, valid = to_mip_voxels(
            points, resolution, self.grid, outside=self.outside, labels=labels
        )
        inside = voxels[valid]
        return pd.DataFrame(
            {
                "partition": np.full(len(inside), number, dtype=np.int64),
                "place": np.flatnonzero(valid).astype(np.int64),
                "x": inside[:, 0],
                "y": inside[:, 1],
                "z": inside[:, 2],
                "chunk": chunk_numbers(inside, self.grid),
            }
        )


@dataclass(frozen=True)
class ChunkGroupLookup:
    """Step 3: the supervoxel and root ids of the points of a shuffled partition."""

    settings: LookupSettings
    mip: int
    grid: VolumeGrid
    timestamp: TimestampLike | None
    flat: bool

    def __call__(self, keyed: pd.DataFrame) -> pd.DataFrame:
        lookup = worker_lookup(self.settings)
        voxels = keyed[["x", "y", "z"]].to_numpy(dtype=np.int64)
        supervoxels = np.zeros(len(voxels), dtype=np.uint64)
        if len(voxels):
            read = lookup.chunk_source(self.mip).read_blocks
            groups = group_by_chunk(voxels, self.grid)
            supervoxels = read_labels_batched(voxels, self.grid, read, groups=groups)
        roots = supervoxels if self.flat else lookup.lookup_root_ids(supervoxels, self.timestamp)
        return pd.DataFrame(
            {
                "partition": keyed["partition"].to_numpy(),
                "place": keyed["place"].to_numpy(),
                "supervoxel": supervoxels,
                "root": roots,
            }
        )


@dataclass(frozen=True)
class Answers:
    """Step 5: a partition of the input with its ids, as the in-memory lookup answers."""

    columns: PointColumns
    flat: bool

    def __call__(self, frame: pd.DataFrame, ids: pd.DataFrame) -> pd.DataFrame:
        size = len(frame) * len(self.columns.sources)
        places = ids["place"].to_numpy()
        supervoxels = np.zeros(size, dtype=np.uint64)
        roots = np.zeros(size, dtype=np.uint64)
        supervoxels[places] = ids["supervoxel"].to_numpy()
        roots[places] = ids["root"].to_numpy()
        return self.columns.answer(frame, supervoxels, roots, self.flat)


INPUTS_PER_GROUP = 4
"""The points of about this many input partitions are read in one partition after the shuffle by
chunk (but at least ``MIN_GROUPS`` partitions): fewer, larger tasks. 1M points in 20 partitions on
2 workers took 2.2-2.9 s (one run 7.2 s) so against 5.1-8.3 s with one group per input partition."""
MIN_GROUPS = 4
TASKS_SHUFFLE_MAX_PIECES = 128
"""Dask's task shuffle of ``inputs × outputs`` pieces up to this many, unless
``dataframe.shuffle.method`` says otherwise; Dask's default (P2P on a cluster) above. 1M points in
4 partitions took 2.0-3.2 s with the task shuffle against 3.1-4.1 s with P2P; in 20 partitions
shuffled into 20 (400 pieces) P2P was faster (5.6-6.5 s against 6.5-8.0 s)."""


def group_count(partitions: int) -> int:
    """How many partitions the points of ``partitions`` input partitions are shuffled into."""
    return min(partitions, max(MIN_GROUPS, -(-partitions // INPUTS_PER_GROUP)))


def shuffle_method(inputs: int, outputs: int) -> str | None:
    """The shuffle from ``inputs`` to ``outputs`` partitions: Dask's configured one, else
    ``"tasks"`` for few pieces, else Dask's default (``None``)."""
    import dask

    configured: str | None = dask.config.get("dataframe.shuffle.method", None)
    if configured is not None:
        return configured
    return "tasks" if inputs * outputs <= TASKS_SHUFFLE_MAX_PIECES else None


# -- the call -------------------------------------------------------------------------------


def _fixed_timestamp(lookup: LookupClient, timestamp: TimestampLike | None) -> TimestampLike:
    """The moment every partition's roots are looked up at: the call's, the lookup client's,
    the pinned version's, or now."""
    if timestamp is not None:
        return timestamp
    if lookup.timestamp is not None:
        return lookup.timestamp
    pinned = lookup._client.timestamp
    return pinned if pinned is not None else datetime.now(UTC)


def _refuse_string_points(empty: pd.DataFrame, columns: PointColumns) -> None:
    for column, _ in columns.sources:
        if pd.api.types.is_string_dtype(empty[column].dtype):
            raise InputError(
                f"point column {column!r} is a string column in the Dask DataFrame: dask "
                "turns object columns into strings unless dask.config "
                "'dataframe.convert-string' is False; give points as an Arrow "
                "fixed_size_list column (as query_table returns them) or turn it off"
            )


def lookup_dask_dataframe(
    lookup: LookupClient,
    point_column: str | Sequence[str],
    data: dd.DataFrame,
    mip: int | None,
    voxel_resolution: Sequence[float] | npt.ArrayLike | None,
    timestamp: TimestampLike | None,
    position_suffix: str,
    supervoxel_suffix: str,
    root_id_suffix: str,
    outside: OutsidePolicy | None,
) -> dd.DataFrame:
    """:meth:`LookupClient.lookup_dataframe` of a Dask DataFrame: a lazy Dask DataFrame with the
    in-memory answer's columns and dtypes, and the input's index and partitions."""
    dask_frames = require_dask()
    from dafclient.lookup import volume_grid

    frame: Any = data
    empty: pd.DataFrame = frame._meta
    columns = PointColumns.find(
        empty.columns, point_column, position_suffix, supervoxel_suffix, root_id_suffix
    )
    _refuse_string_points(empty, columns)
    resolution = (
        lookup.voxel_resolution
        if voxel_resolution is None
        else resolution_triple(voxel_resolution, "voxel_resolution")
    )
    policy = lookup.outside if outside is None else outside
    resolution_key = (float(resolution[0]), float(resolution[1]), float(resolution[2]))
    settings = LookupSettings(
        connection=ConnectionSettings.of(lookup._client),
        segmentation_mip=lookup.segmentation_mip,
        voxel_resolution=resolution_key,
        segmentation_source=lookup._source,
        outside=policy,
    )
    flat = lookup.is_flat
    when = None if flat else _fixed_timestamp(lookup, timestamp)
    # The in-memory lookup of the empty frame checks the arguments and gives the exact meta.
    meta = lookup.lookup_dataframe(
        list(columns.names),
        empty,
        mip,
        resolution,
        when,
        position_suffix,
        supervoxel_suffix,
        root_id_suffix,
        outside=policy,
        progress=False,
    )
    n = int(frame.npartitions)
    if n == 1:
        whole: dd.DataFrame = frame.map_partitions(
            PartitionLookup(settings, columns, mip, when), meta=meta
        )
        return whole
    m = lookup.segmentation_mip if mip is None else int(mip)
    grid = volume_grid(lookup.volume(m), m)
    keyed = frame.map_partitions(
        ChunkKeys(columns, resolution_key, grid, policy), meta=KEYS_META, clear_divisions=True
    )
    groups = group_count(n)
    method = shuffle_method(n, groups)
    by_chunk = keyed.shuffle(on="chunk", npartitions=groups, shuffle_method=method)
    ids = by_chunk.map_partitions(ChunkGroupLookup(settings, m, grid, when, flat), meta=IDS_META)
    back = ids.set_index("partition", divisions=tuple(range(n + 1)), shuffle_method=method)
    result: dd.DataFrame = dask_frames.map_partitions(
        Answers(columns, flat), frame, back, meta=meta, align_dataframes=False
    )
    return result


__all__ = [
    "Answers",
    "ChunkGroupLookup",
    "ChunkKeys",
    "LookupSettings",
    "PartitionLookup",
    "chunk_numbers",
    "group_count",
    "lookup_dask_dataframe",
    "shuffle_method",
    "worker_lookup",
]
