"""Where a look-up's chunks come from: files fetched and decoded here, or cloud-volume.

:func:`chunk_source` picks, for one mip of a ``CloudVolume`` (precomputed, or the watershed layer
of a graphene volume):

- :class:`DirectChunks` when :class:`~dafclient.precomputed_chunks.ScaleLayout` covers the scale:
  every touched chunk file is fetched with cloud-files (file://, gs://, s3://, http(s):// alike;
  sharded chunks as byte ranges found through :class:`~dafclient.shard_index.ShardIndex`), remote
  ones by a pool of threads running ahead of the decoding, and each is decoded once with the
  library cloud-volume uses. No ``CloudVolume.download`` per chunk.
- :class:`CloudVolumeChunks` otherwise (another encoding, several channels, an unknown sharding,
  cloud-volume's local cache): one ``download`` per chunk, as before.

A chunk the direct reader finds missing is read again through cloud-volume, so it answers as
cloud-volume would (``fill_missing``, background colour, or cloud-volume's error). A chunk file that
is not a chunk of the scale (truncated, foreign) raises :class:`~dafclient.errors.ResponseFormatError`
naming it: compressed_segmentation's decoder, which cloud-volume uses too, would crash the process.
"""

from __future__ import annotations

import functools
import itertools
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

from dafclient.chunked_reads import LabelBlock
from dafclient.errors import ConfigurationError, InputError, ResponseFormatError
from dafclient.precomputed_chunks import ScaleLayout
from dafclient.shard_index import RangeRequest, ShardIndex

ChunkReads: TypeAlias = Literal["auto", "direct", "cloud-volume"]
FETCH_THREADS = 16
"""Concurrent requests to a remote store (cloud-files' own default is 20)."""
LOCAL_PROTOCOLS = ("file", "mem")
AHEAD_BYTES = 256 * 2**20
"""Remote chunk files fetched ahead of decoding at most: this many decoded bytes' worth."""
MAX_AHEAD = 256


class ChunkSource(Protocol):
    """Reads the labels of many chunk boxes ``lo[k] <= v < hi[k]`` (inside the volume)."""

    name: str
    """``"direct"`` or ``"cloud-volume"``."""
    reason: str
    """Why this source reads the volume."""

    def read_blocks(
        self, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]
    ) -> Iterator[tuple[int, LabelBlock]]:
        """``(k, labels of box k)`` for every box, in any order."""
        ...


class CloudVolumeChunks:
    """Each box read with ``CloudVolume.download`` (graphene: the watershed, never agglomerated)."""

    name = "cloud-volume"

    def __init__(self, cv: Any, mip: int, reason: str) -> None:
        self.cv = cv
        self.mip = mip
        self.reason = reason
        self._options = {"agglomerate": False} if _is_graphene(cv) else {}

    def read(self, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]) -> LabelBlock:
        """The labels of one box."""
        from cloudvolume import Bbox

        bbox = Bbox(lo.tolist(), hi.tolist())
        block: npt.NDArray[Any] = np.asarray(self.cv.download(bbox, mip=self.mip, **self._options))
        return block[..., 0] if block.ndim == 4 else block

    def read_blocks(
        self, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]
    ) -> Iterator[tuple[int, LabelBlock]]:
        for k in range(len(lo)):
            yield k, self.read(lo[k], hi[k])


class FileFetcher:
    """Files or byte ranges under one cloud path, read with cloud-files one request each.

    Local files (``file://``, ``mem://``) are read in the calling thread, just before they are
    used (decoding holds the GIL, so threads would only add overhead), plain local files with one
    ``open`` each; remote ones by a pool of threads, in order, a bounded number ahead of the
    consumer.
    """

    def __init__(self, cloudpath: str, secrets: Any) -> None:
        from cloudfiles import CloudFiles

        self.files = CloudFiles(cloudpath, secrets=secrets, progress=False)
        self.threads = 0 if self.files.protocol in LOCAL_PROTOCOLS else FETCH_THREADS
        self.folder = (
            Path(self.files.cloudpath.removeprefix("file://"))
            if self.files.protocol == "file"
            else None
        )

    def get(self, request: str | RangeRequest | None) -> bytes | None:
        """One file (decompressed as stored: ``.gz``, Content-Encoding) or byte range; ``None``
        if there is no such file."""
        if request is None:
            return None
        if self.folder is not None:
            data = _read_local(self.folder, request)
            if data is not None:
                return data
        found: bytes | None = self.files.get(request)
        return found

    def get_all(self, requests: Sequence[str | RangeRequest | None]) -> list[bytes | None]:
        """Every request's bytes, in order."""
        return list(self.stream(requests, ahead=len(requests)))

    def stream(
        self,
        requests: Sequence[str | RangeRequest | None],
        ahead: int,
        then: Callable[[bytes | None], bytes | None] | None = None,
    ) -> Iterator[bytes | None]:
        """Each request's bytes (passed through ``then`` in the fetching thread), in order, with
        at most ``ahead`` requests fetched before they are consumed."""

        def one(request: str | RangeRequest | None) -> bytes | None:
            data = self.get(request)
            return data if then is None or data is None else then(data)

        if self.threads == 0 or len(requests) <= 1:
            yield from map(one, requests)
            return
        pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="dafclient-fetch")
        try:
            pending: deque[Future[bytes | None]] = deque()
            queue = iter(requests)
            for request in itertools.islice(queue, max(1, ahead)):
                pending.append(pool.submit(one, request))
            while pending:
                data = pending.popleft().result()
                for request in itertools.islice(queue, 1):
                    pending.append(pool.submit(one, request))
                yield data
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


class DirectChunks:
    """Chunk files fetched with cloud-files (concurrently where remote) and decoded here."""

    name = "direct"
    reason = "raw or compressed_segmentation chunks, unsharded or sharded"

    def __init__(self, cv: Any, mip: int, layout: ScaleLayout, fallback: CloudVolumeChunks) -> None:
        self.layout = layout
        self.fallback = fallback
        self.fetcher = FileFetcher(cv.meta.cloudpath, cv.config.secrets)
        self.shards = None if layout.sharding is None else ShardIndex(layout.key, layout.sharding)
        voxels = int(np.prod(layout.chunk_size))
        self.ahead = max(2, min(MAX_AHEAD, AHEAD_BYTES // (voxels * layout.dtype.itemsize)))

    def requests(
        self, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]
    ) -> list[str | RangeRequest | None]:
        """What to fetch for each box: its file, or its byte range in a shard (``None``: not
        stored)."""
        if self.shards is None:
            return list(self.layout.file_names(lo, hi))
        codes = self.layout.morton_codes(lo).tolist()
        return list(self.shards.locate(codes, self.fetcher.get_all))

    def read_blocks(
        self, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]
    ) -> Iterator[tuple[int, LabelBlock]]:
        requests = self.requests(lo, hi)
        then = None
        if self.shards is not None and self.shards.spec.data_encoding != "raw":
            then = functools.partial(_decompress, encoding=self.shards.spec.data_encoding)
        files = self.fetcher.stream(requests, self.ahead, then)
        for k, data in enumerate(files):
            yield k, self._decode(data, requests[k], lo[k], hi[k])

    def _decode(
        self,
        data: bytes | None,
        request: str | RangeRequest | None,
        lo: npt.NDArray[np.int64],
        hi: npt.NDArray[np.int64],
    ) -> LabelBlock:
        if not data:  # not stored: cloud-volume decides (fill_missing, background, its error)
            return self.fallback.read(lo, hi)
        try:
            return self.layout.labels(data, hi - lo)
        except ValueError as exc:
            where = request if isinstance(request, str) else (request or {}).get("path")
            span = (
                ""
                if isinstance(request, str) or request is None
                else (f" bytes {request['start']}-{request['end']}")
            )
            raise ResponseFormatError(
                f"chunk {lo.tolist()}-{hi.tolist()} is not a {self.layout.encoding} chunk: {exc}",
                method="GET",
                url=f"{self.fetcher.files.cloudpath}/{where}{span}",
                operation="LookupClient.lookup_supervoxels",
            ) from exc


def _read_local(folder: Path, request: str | RangeRequest) -> bytes | None:
    """A plain local file (or a byte range of it) read with one ``open``: cloud-files' bookkeeping
    per request costs as much as reading a chunk. ``None`` when there is no plain file (missing,
    or stored compressed as ``name.gz``...), for cloud-files to find."""
    name = request if isinstance(request, str) else str(request["path"])
    try:
        with open(folder / name, "rb") as handle:
            if isinstance(request, str):
                return handle.read()
            handle.seek(int(request["start"]))
            return handle.read(int(request["end"]) - int(request["start"]))
    except FileNotFoundError:
        return None


def _decompress(data: bytes, encoding: str) -> bytes:
    from cloudfiles import compression

    out: bytes = compression.decompress(data, encoding)
    return out


def chunk_reads_mode(value: str) -> ChunkReads:
    """``value`` as a :data:`ChunkReads`, or :class:`InputError`."""
    if value == "auto":
        return "auto"
    if value == "direct":
        return "direct"
    if value == "cloud-volume":
        return "cloud-volume"
    raise InputError(f"chunk_reads must be 'auto', 'direct' or 'cloud-volume', got {value!r}")


def direct_unsupported(cv: Any, mip: int) -> str | None:
    """Why the direct reader cannot read ``cv`` at ``mip``, or ``None`` if it can."""
    if getattr(cv.cache, "enabled", False):
        return "cloud-volume's local cache is on"
    return ScaleLayout.from_info(cv.meta.info, mip).unsupported()


def chunk_source(cv: Any, mip: int, mode: ChunkReads = "auto") -> ChunkSource:
    """The reader of ``cv``'s chunks at ``mip``: direct where it can, else cloud-volume.

    ``mode="direct"`` raises :class:`ConfigurationError` (saying why) where the direct reader
    cannot read; ``"cloud-volume"`` always downloads through cloud-volume.
    """
    mode = chunk_reads_mode(mode)
    if mode == "cloud-volume":
        return CloudVolumeChunks(cv, mip, "asked for cloud-volume reads")
    why = direct_unsupported(cv, mip)
    if why is None:
        layout = ScaleLayout.from_info(cv.meta.info, mip)
        return DirectChunks(cv, mip, layout, CloudVolumeChunks(cv, mip, "a missing chunk"))
    if mode == "direct":
        raise ConfigurationError(
            f"chunks of {cv.meta.cloudpath} at mip {mip} cannot be read directly: {why}"
        )
    return CloudVolumeChunks(cv, mip, f"the direct reader does not read {why}")


def _is_graphene(cv: Any) -> bool:
    return bool(cv.meta.path.format == "graphene")
