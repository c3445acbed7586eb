"""Dask DataFrames: lookups and bulk posts of tables larger than one machine.

Install with ``pip install "dafclient[dask]"``. Importing dafclient never imports dask: the
methods that accept a Dask DataFrame first call :func:`is_dask_dataframe`, which only looks at
the object's type, and import this module's dask parts when they get one.

- :meth:`LookupClient.lookup_dataframe` maps the in-memory lookup over the partitions
  (``map_partitions``): each partition's chunk reads are grouped and its roots batched exactly as
  in memory. Workers make their own clients from :class:`~dafclient.connection_settings.
  ConnectionSettings` (one per worker thread, kept for later tasks); the timestamp is fixed once
  on the calling side, so every partition's roots are of the same moment.
- :meth:`AnnotationClient.bulk_post` streams partitions in order, a few at a time (see
  :func:`partition_frames`), through :mod:`dafclient.annotations.bulk_partitioned`.
"""

from __future__ import annotations

import importlib.metadata
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy.typing as npt
import pandas as pd
from typing_extensions import TypeIs

from dafclient.chunked_reads import OutsidePolicy, resolution_triple
from dafclient.connection_settings import ConnectionSettings
from dafclient.errors import ConfigurationError, InputError
from dafclient.timestamps import TimestampLike

if TYPE_CHECKING:
    import dask.dataframe as dd

    from dafclient.lookup import LookupClient

EXTRA = "dafclient[dask]"
MIN_DASK_VERSION = (2024, 8)


def is_dask_dataframe(data: object) -> TypeIs[dd.DataFrame]:
    """Whether ``data`` is a Dask DataFrame (checked by its type's name: dask is not imported)."""
    kind = type(data)
    return kind.__name__ == "DataFrame" and kind.__module__.split(".")[0] in {"dask", "dask_expr"}


def require_dask() -> Any:
    """``dask.dataframe``, or a :class:`ConfigurationError` naming the extra to install."""
    try:
        import dask.dataframe as dd

        version = importlib.metadata.version("dask")
    except (ImportError, importlib.metadata.PackageNotFoundError) as exc:
        raise ConfigurationError(
            f"a Dask DataFrame needs dask: pip install '{EXTRA}' ({exc})"
        ) from None
    found = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if found < MIN_DASK_VERSION:
        wanted = ".".join(map(str, MIN_DASK_VERSION))
        raise ConfigurationError(
            f"dask {version} is too old for dafclient (needs {wanted} or newer): "
            f"pip install -U '{EXTRA}'"
        )
    return dd


# -- lookups ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LookupSettings:
    """What a worker needs to make the same LookupClient (hashable: workers keep one per key)."""

    connection: ConnectionSettings
    segmentation_mip: int
    voxel_resolution: tuple[float, float, float]
    segmentation_source: str | None
    outside: OutsidePolicy


@dataclass(frozen=True)
class PartitionLookup:
    """One ``lookup_dataframe`` call, applied to each partition."""

    settings: LookupSettings
    point_column: str | tuple[str, ...]
    mip: int | None
    timestamp: TimestampLike | None
    position_suffix: str
    supervoxel_suffix: str
    root_id_suffix: str

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        lookup = worker_lookup(self.settings)
        column = (
            self.point_column if isinstance(self.point_column, str) else list(self.point_column)
        )
        return lookup.lookup_dataframe(
            column,
            frame,
            self.mip,
            self.settings.voxel_resolution,
            self.timestamp,
            self.position_suffix,
            self.supervoxel_suffix,
            self.root_id_suffix,
            progress=False,
        )


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


def _fixed_timestamp(lookup: LookupClient, timestamp: TimestampLike | None) -> TimestampLike:
    """The moment every partition's roots are looked up at: the call's, the lookup client's,
    the pinned version's, or now."""
    if timestamp is not None:
        return timestamp
    if lookup.timestamp is not None:
        return lookup.timestamp
    pinned = lookup._client.timestamp
    return pinned if pinned is not None else datetime.now(UTC)


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
    """:meth:`LookupClient.lookup_dataframe` of a Dask DataFrame: a lazy Dask DataFrame with
    the same columns and dtypes as the in-memory answer, partition by partition."""
    require_dask()
    frame: Any = data
    empty: pd.DataFrame = frame._meta
    names = [point_column] if isinstance(point_column, str) else list(point_column)
    for name in names:
        for column in (name, f"{name}{position_suffix}"):
            if column in empty.columns and pd.api.types.is_string_dtype(empty[column].dtype):
                raise InputError(
                    f"point column {column!r} is a string column in the Dask DataFrame: dask "
                    "turns object columns into strings unless dask.config "
                    "'dataframe.convert-string' is False; give points as an Arrow "
                    "fixed_size_list column (as query_table returns them) or turn it off"
                )
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
    when = None if lookup.is_flat else _fixed_timestamp(lookup, timestamp)
    # The in-memory lookup of the empty frame checks the columns and gives the exact meta.
    meta = lookup.lookup_dataframe(
        point_column,
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
    job = PartitionLookup(
        settings=settings,
        point_column=point_column if isinstance(point_column, str) else tuple(point_column),
        mip=mip,
        timestamp=when,
        position_suffix=position_suffix,
        supervoxel_suffix=supervoxel_suffix,
        root_id_suffix=root_id_suffix,
    )
    result: dd.DataFrame = frame.map_partitions(job, meta=meta)
    return result


# -- streaming partitions -------------------------------------------------------------------


def _active_distributed_client() -> Any:
    """The distributed Client in use, if any (without importing distributed)."""
    import sys

    if "distributed" not in sys.modules:
        return None
    import distributed

    find: Any = distributed.default_client
    try:
        return find()
    except ValueError:
        return None


def partition_frames(
    data: dd.DataFrame, partitions: Sequence[int], prefetch: int = 2
) -> Iterator[tuple[int, pd.DataFrame]]:
    """``(partition number, pandas frame)`` for ``partitions``, in that order.

    With a distributed Client active, up to ``prefetch`` partitions are computed on the cluster
    ahead of the one handed out (each is released once handed out); otherwise each is computed
    here when it is needed. Never more than ``prefetch + 1`` partitions are in memory here.
    """
    require_dask()
    if prefetch < 0:
        raise InputError(f"prefetch must be at least 0, got {prefetch}")
    frame: Any = data
    pieces = frame.to_delayed()
    cluster = _active_distributed_client()
    if cluster is None:
        for number in partitions:
            yield number, _as_frame(pieces[number].compute(), number)
        return
    todo = iter(partitions)
    waiting: deque[tuple[int, Any]] = deque()

    def submit() -> None:
        number = next(todo, None)
        if number is not None:
            waiting.append((number, cluster.compute(pieces[number])))

    try:
        for _ in range(prefetch + 1):
            submit()
        while waiting:
            number, future = waiting[0]
            frame = future.result()
            waiting.popleft()
            future.release()
            submit()
            yield number, _as_frame(frame, number)
    finally:  # a failed partition is computed afresh next time: release every future
        for _, future in waiting:
            future.release()


def _as_frame(value: Any, number: int) -> pd.DataFrame:
    if not isinstance(value, pd.DataFrame):
        raise InputError(
            f"partition {number} computed to a {type(value).__name__}, not a DataFrame"
        )
    return value


def string_position_columns(data: dd.DataFrame) -> list[str]:
    """Columns of ``data`` named ``*_position`` whose dtype is a string (see
    :func:`lookup_dask_dataframe`)."""
    frame: Any = data
    empty: pd.DataFrame = frame._meta
    return [
        str(c)
        for c in empty.columns
        if str(c).endswith("_position") and pd.api.types.is_string_dtype(empty[c].dtype)
    ]


__all__ = [
    "EXTRA",
    "ConnectionSettings",
    "LookupSettings",
    "PartitionLookup",
    "is_dask_dataframe",
    "lookup_dask_dataframe",
    "partition_frames",
    "require_dask",
    "worker_lookup",
]
