"""LookupClient: supervoxel and root ids under points, for a few thousand to a few million points.

Supervoxels come from the segmentation volume (for a chunkedgraph source, the watershed layer,
never agglomerated); the points are grouped by storage chunk and each touched chunk is read once:
its file fetched in concurrent batches and decoded directly where the format allows
(:mod:`dafclient.chunk_sources`), through cloud-volume otherwise. Roots come from the chunkedgraph in
batched binary requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import numpy.typing as npt
import pandas as pd
from tqdm import tqdm

from dafclient.chunk_sources import ChunkReads, ChunkSource, chunk_reads_mode, chunk_source
from dafclient.chunked_reads import (
    OutsidePolicy,
    VolumeGrid,
    as_points,
    group_by_chunk,
    read_labels_batched,
    resolution_triple,
    to_mip_voxels,
)
from dafclient.cloudvolumes import make_cloudvolume
from dafclient.dask_support import is_dask_dataframe
from dafclient.errors import ConfigurationError, InputError
from dafclient.ids import IdArray, IdsLike, as_id_array
from dafclient.lookup_frames import PointColumns
from dafclient.timestamps import TimestampLike

if TYPE_CHECKING:
    import dask.dataframe as dd

    from dafclient.framework import FrameworkClient

PROGRESS_MIN_CHUNKS = 100
"""With ``progress=None`` a bar is shown only for lookups touching more chunks than this."""


class LookupClient:
    """Look up the supervoxel and root ids under points of a datastack's segmentation.

    Made by :meth:`FrameworkClient.make_lookup_client`. Points are ``(N, 3)`` x, y, z in voxels of
    ``voxel_resolution`` nm (default: the datastack's viewer resolution); they are scaled to the
    voxels of segmentation mip ``segmentation_mip`` and floored. Every method takes per-call
    overrides of the mip, the voxel resolution and the timestamp.

    Args:
        client: the framework client (its info and chunkedgraph services are used).
        timestamp: when to look up roots (default: now, at each call).
        segmentation_mip: the mip whose supervoxels are read.
        voxel_resolution: nm per voxel of the input points.
        segmentation_source: a cloud path to read instead of the datastack's segmentation
            (``graphene://...`` or ``precomputed://...``); a non-graphene source is flat: its
            labels are the roots and there are no supervoxels.
        outside: ``"error"`` raises :class:`InputError` naming the rows outside the volume or not
            finite; ``"zero"`` gives those rows id 0.
        progress: show a progress bar over chunk reads; ``None`` shows it only when more than
            100 chunks are read.
        chunk_reads: ``"auto"`` reads chunk files directly (batched, concurrent, decoded here)
            where the volume's format allows and through cloud-volume otherwise; ``"direct"``
            raises :class:`ConfigurationError` where it cannot read directly; ``"cloud-volume"``
            always downloads through cloud-volume. :meth:`chunk_source` tells which one reads.
    """

    def __init__(
        self,
        client: FrameworkClient,
        *,
        timestamp: TimestampLike | None = None,
        segmentation_mip: int = 0,
        voxel_resolution: Sequence[float] | npt.ArrayLike | None = None,
        segmentation_source: str | None = None,
        outside: OutsidePolicy = "error",
        progress: bool | None = None,
        chunk_reads: ChunkReads = "auto",
    ) -> None:
        self._client = client
        self.timestamp = timestamp
        self.segmentation_mip = segmentation_mip
        self._voxel_resolution = (
            None
            if voxel_resolution is None
            else resolution_triple(voxel_resolution, "voxel_resolution")
        )
        self._source = segmentation_source
        self.outside: OutsidePolicy = _policy(outside)
        self.progress = progress
        self.chunk_reads: ChunkReads = chunk_reads_mode(chunk_reads)
        self._volumes: dict[int, Any] = {}
        self._sources: dict[int, ChunkSource] = {}

    # -- configuration -------------------------------------------------------------------
    @property
    def voxel_resolution(self) -> npt.NDArray[np.float64]:
        """nm per voxel of input points (fetched from the datastack's viewer resolution once)."""
        if self._voxel_resolution is None:
            value = np.asarray(self._client.info.viewer_resolution(), dtype=np.float64)
            if not np.isfinite(value).all():
                raise ConfigurationError(
                    "the datastack has no viewer resolution: pass voxel_resolution="
                )
            self._voxel_resolution = value
        return self._voxel_resolution

    @property
    def is_flat(self) -> bool:
        """True when the segmentation has no chunkedgraph (labels are roots)."""
        return not _is_graphene(self.volume(self.segmentation_mip))

    def volume(self, mip: int | None = None) -> Any:
        """The ``CloudVolume`` read at ``mip`` (created once per mip)."""
        m = self.segmentation_mip if mip is None else int(mip)
        if m not in self._volumes:
            if self._source is None:
                cv = self._client.info.segmentation_cloudvolume(mip=m)
            else:
                cv = make_cloudvolume(self._source, self._client._ctx, mip=m)
            self._volumes[m] = cv
        return self._volumes[m]

    def chunk_source(self, mip: int | None = None) -> ChunkSource:
        """What reads the chunks at ``mip``: its ``name`` (``"direct"`` or ``"cloud-volume"``)
        and ``reason`` (made once per mip)."""
        m = self.segmentation_mip if mip is None else int(mip)
        if m not in self._sources:
            self._sources[m] = chunk_source(self.volume(m), m, self.chunk_reads)
        return self._sources[m]

    # -- look-ups ------------------------------------------------------------------------
    def lookup_supervoxels(
        self,
        pts: Any,
        mip: int | None = None,
        voxel_resolution: Sequence[float] | npt.ArrayLike | None = None,
        *,
        outside: OutsidePolicy | None = None,
        progress: bool | None = None,
    ) -> IdArray:
        """Supervoxel ids (uint64) under ``pts``; for a flat segmentation, its labels."""
        return self._labels(pts, mip, voxel_resolution, outside, progress, None)

    def lookup_root_ids(
        self, supervoxel_ids: IdsLike, timestamp: TimestampLike | None = None
    ) -> IdArray:
        """Root ids (uint64) of ``supervoxel_ids`` at ``timestamp``; 0 stays 0.

        For a flat segmentation the ids are already roots and are returned as they are.
        """
        ids = as_id_array(supervoxel_ids, name="supervoxel_ids")
        if self.is_flat:
            return ids.copy()
        roots = np.zeros(ids.shape, dtype=np.uint64)
        nonzero = ids != 0
        if nonzero.any():
            ts = self.timestamp if timestamp is None else timestamp
            roots[nonzero] = self._client.chunkedgraph.get_roots(ids[nonzero], timestamp=ts)
        return roots

    def lookup_points(
        self,
        pts: Any,
        voxel_resolution: Sequence[float] | npt.ArrayLike | None = None,
        timestamp: TimestampLike | None = None,
        mip: int | None = None,
        *,
        outside: OutsidePolicy | None = None,
        progress: bool | None = None,
    ) -> tuple[IdArray, IdArray | None]:
        """``(root_ids, supervoxel_ids)`` under ``pts``; ``supervoxel_ids`` is ``None`` for a
        flat segmentation."""
        supervoxels = self.lookup_supervoxels(
            pts, mip, voxel_resolution, outside=outside, progress=progress
        )
        if self.is_flat:
            return supervoxels, None
        return self.lookup_root_ids(supervoxels, timestamp), supervoxels

    @overload
    def lookup_dataframe(
        self,
        point_column: str | Sequence[str],
        data: pd.DataFrame,
        mip: int | None = None,
        voxel_resolution: Sequence[float] | npt.ArrayLike | None = None,
        timestamp: TimestampLike | None = None,
        position_suffix: str = "_position",
        supervoxel_suffix: str = "_supervoxel_id",
        root_id_suffix: str = "_root_id",
        *,
        outside: OutsidePolicy | None = None,
        progress: bool | None = None,
    ) -> pd.DataFrame: ...
    @overload
    def lookup_dataframe(
        self,
        point_column: str | Sequence[str],
        data: dd.DataFrame,
        mip: int | None = None,
        voxel_resolution: Sequence[float] | npt.ArrayLike | None = None,
        timestamp: TimestampLike | None = None,
        position_suffix: str = "_position",
        supervoxel_suffix: str = "_supervoxel_id",
        root_id_suffix: str = "_root_id",
        *,
        outside: OutsidePolicy | None = None,
        progress: bool | None = None,
    ) -> dd.DataFrame: ...
    def lookup_dataframe(
        self,
        point_column: str | Sequence[str],
        data: pd.DataFrame | dd.DataFrame,
        mip: int | None = None,
        voxel_resolution: Sequence[float] | npt.ArrayLike | None = None,
        timestamp: TimestampLike | None = None,
        position_suffix: str = "_position",
        supervoxel_suffix: str = "_supervoxel_id",
        root_id_suffix: str = "_root_id",
        *,
        outside: OutsidePolicy | None = None,
        progress: bool | None = None,
    ) -> pd.DataFrame | dd.DataFrame:
        """A copy of ``data`` with ids for each point column.

        Each point column ``c`` (cells of x, y, z; or already named ``c{position_suffix}``) is
        renamed ``c{position_suffix}`` and followed by ``c{supervoxel_suffix}`` (omitted for a
        flat segmentation) and ``c{root_id_suffix}``. Other columns are kept in their order.
        All points of all columns are looked up together, so each chunk is read once.

        ``data`` may be a Dask DataFrame (``dafclient[dask]``): the answer is then a Dask
        DataFrame with the same columns, dtypes, index and partitions; the points are shuffled
        by storage chunk so each chunk is read once, every root at one timestamp fixed now (see
        :mod:`dafclient.dask_lookup`).
        """
        if is_dask_dataframe(data):
            from dafclient.dask_lookup import lookup_dask_dataframe

            return lookup_dask_dataframe(
                self, point_column, data, mip, voxel_resolution, timestamp,
                position_suffix, supervoxel_suffix, root_id_suffix, outside,
            )  # fmt: skip
        columns = PointColumns.find(
            data.columns, point_column, position_suffix, supervoxel_suffix, root_id_suffix
        )
        pts, labels = columns.points(data)
        supervoxels = self._labels(pts, mip, voxel_resolution, outside, progress, labels)
        flat = self.is_flat
        roots = supervoxels if flat else self.lookup_root_ids(supervoxels, timestamp)
        return columns.answer(data, supervoxels, roots, flat)

    # -- internals -----------------------------------------------------------------------
    def _labels(
        self,
        pts: Any,
        mip: int | None,
        voxel_resolution: Sequence[float] | npt.ArrayLike | None,
        outside: OutsidePolicy | None,
        progress: bool | None,
        labels: Sequence[Any] | None,
    ) -> IdArray:
        points = as_points(pts, labels)
        m = self.segmentation_mip if mip is None else int(mip)
        resolution = (
            self.voxel_resolution
            if voxel_resolution is None
            else resolution_triple(voxel_resolution, "voxel_resolution")
        )
        cv = self.volume(m)
        grid = volume_grid(cv, m)
        policy = self.outside if outside is None else _policy(outside)
        voxels, valid = to_mip_voxels(points, resolution, grid, outside=policy, labels=labels)
        out = np.zeros(len(points), dtype=np.uint64)
        inside = voxels[valid]
        if len(inside) == 0:
            return out
        show = self.progress if progress is None else progress
        groups = group_by_chunk(inside, grid)
        if show is None:
            show = len(groups) > PROGRESS_MIN_CHUNKS
        source = self.chunk_source(m)
        with tqdm(total=len(groups), disable=not show, desc="chunks", unit="chunk") as bar:
            out[valid] = read_labels_batched(
                inside, grid, source.read_blocks, groups=groups, progress=bar.update
            )
        return out


def _is_graphene(cv: Any) -> bool:
    return bool(cv.meta.path.format == "graphene")


def volume_grid(cv: Any, mip: int) -> VolumeGrid:
    """The geometry of ``cv`` at ``mip``."""
    bounds = cv.meta.bounds(mip)
    return VolumeGrid(
        resolution=np.asarray(cv.mip_resolution(mip), dtype=np.float64),
        lower=np.asarray(bounds.minpt, dtype=np.int64),
        upper=np.asarray(bounds.maxpt, dtype=np.int64),
        chunk_size=np.asarray(cv.meta.chunk_size(mip), dtype=np.int64),
        chunk_origin=np.asarray(cv.meta.voxel_offset(mip), dtype=np.int64),
    )


def _policy(value: str) -> OutsidePolicy:
    if value == "error":
        return "error"
    if value == "zero":
        return "zero"
    raise InputError(f"outside must be 'error' or 'zero', got {value!r}")
