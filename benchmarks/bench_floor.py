"""The floor of a point look-up: each touched chunk read once, then fancy indexing.

Two readers of a chunk: cloud-volume's ``download`` of the chunk's box, and a direct decoder of a
local unsharded chunk file (raw or compressed_segmentation), which skips cloud-volume entirely.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt

Reader = Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]], npt.NDArray[Any]]


class ChunkedVolume:
    """Mip 0 of a precomputed volume: geometry, and the two chunk readers."""

    def __init__(self, cloudpath: str) -> None:
        from cloudvolume import CloudVolume

        self.cv = CloudVolume(cloudpath, progress=False)
        self.lower = np.asarray(self.cv.bounds.minpt, dtype=np.int64)
        self.upper = np.asarray(self.cv.bounds.maxpt, dtype=np.int64)
        self.chunk = np.asarray(self.cv.chunk_size, dtype=np.int64)
        scale = self.cv.scale
        self.encoding: str = scale["encoding"]
        self.block = tuple(scale.get("compressed_segmentation_block_size", (8, 8, 8)))
        self.folder = Path(urlsplit(cloudpath.removeprefix("precomputed://")).path) / scale["key"]

    @property
    def direct_ok(self) -> bool:
        """Whether chunk files can be decoded here (local, unsharded, raw or compressed_segmentation)."""
        return (
            self.cv.meta.path.protocol == "file"
            and "sharding" not in self.cv.scale
            and self.encoding in ("raw", "compressed_segmentation")
        )

    def read_cloudvolume(self, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]) -> Any:
        from cloudvolume import Bbox

        return np.asarray(self.cv.download(Bbox(lo, hi), mip=0))[..., 0]

    def read_direct(self, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]) -> Any:
        name = "_".join(f"{a}-{b}" for a, b in zip(lo.tolist(), hi.tolist(), strict=True))
        path = self.folder / name
        data = (
            path.read_bytes()
            if path.exists()
            else gzip.decompress(path.with_name(name + ".gz").read_bytes())
        )
        shape = (*(hi - lo).tolist(), 1)
        if self.encoding == "raw":
            return np.frombuffer(data, dtype=self.cv.dtype).reshape(shape, order="F")[..., 0]
        import compressed_segmentation as cseg

        return cseg.decompress(data, shape, self.cv.dtype, self.block, order="F")[..., 0]

    def labels(self, voxels: npt.NDArray[np.int64], read: Reader) -> npt.NDArray[np.uint64]:
        """Labels at ``voxels`` (inside the volume), each touched chunk read once."""
        chunks = (voxels - self.lower) // self.chunk
        keys = np.ravel_multi_index(
            chunks.T, tuple(((self.upper - self.lower - 1) // self.chunk + 1).tolist())
        )
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        ends = np.r_[starts[1:], len(order)]
        out = np.zeros(len(voxels), dtype=np.uint64)
        for s, e in zip(starts, ends, strict=True):
            rows = order[s:e]
            lo = self.lower + chunks[rows[0]] * self.chunk
            hi = np.minimum(lo + self.chunk, self.upper)
            block = read(lo, hi)
            local = voxels[rows] - lo
            out[rows] = block[local[:, 0], local[:, 1], local[:, 2]]
        return out
