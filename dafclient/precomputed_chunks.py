"""One scale of a precomputed volume as stored: chunk file names, shard keys and chunk decoding.

No I/O here; :mod:`dafclient.chunk_sources` fetches the files. :class:`ScaleLayout` is parsed
from the volume's ``info`` and covers what the direct reader decodes: one channel, ``raw`` or
``compressed_segmentation`` chunks (gzip on top is undone by cloud-files or the shard reader),
stored one file per chunk or in ``neuroglancer_uint64_sharded_v1`` shards keyed by the chunk's
compressed morton code. :meth:`ScaleLayout.unsupported` says why anything else is left to
cloud-volume.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from dafclient.chunked_reads import LabelBlock
from dafclient.compressed_chunks import CompressedChunk

DIRECT_ENCODINGS = ("raw", "compressed_segmentation")
SHARDING_TYPE = "neuroglancer_uint64_sharded_v1"
SHARD_HASHES = ("identity", "murmurhash3_x86_128")
SHARD_ENCODINGS = ("raw", "gzip")


@dataclass(frozen=True)
class ScaleLayout:
    """How the chunks of one mip are stored (voxel coordinates of that mip)."""

    key: str
    """The scale's folder under the volume's path."""
    encoding: str
    dtype: np.dtype[Any]
    num_channels: int
    lower: npt.NDArray[np.int64]
    """The voxel offset: where chunk (0, 0, 0) starts."""
    upper: npt.NDArray[np.int64]
    """Exclusive upper bound (offset + size)."""
    chunk_size: npt.NDArray[np.int64]
    block_size: tuple[int, int, int]
    """compressed_segmentation block size (neuroglancer's default 8, 8, 8 when absent)."""
    sharding: Mapping[str, Any] | None

    @classmethod
    def from_info(cls, info: Mapping[str, Any], mip: int) -> ScaleLayout:
        """The layout of ``info["scales"][mip]`` (the precomputed ``info`` file, parsed)."""
        scale = info["scales"][mip]
        offset = np.asarray(scale.get("voxel_offset", (0, 0, 0)), dtype=np.int64)
        block = scale.get("compressed_segmentation_block_size", (8, 8, 8))
        sharding = scale.get("sharding")
        return cls(
            key=str(scale["key"]),
            encoding=str(scale["encoding"]),
            dtype=np.dtype(info["data_type"]),
            num_channels=int(info.get("num_channels", 1)),
            lower=offset,
            upper=offset + np.asarray(scale["size"], dtype=np.int64),
            chunk_size=np.asarray(scale["chunk_sizes"][0], dtype=np.int64),
            block_size=(int(block[0]), int(block[1]), int(block[2])),
            sharding=dict(sharding) if sharding else None,
        )

    @property
    def grid_size(self) -> npt.NDArray[np.int64]:
        """Chunks along x, y and z (a partial chunk at the upper end counts)."""
        return -(-(self.upper - self.lower) // self.chunk_size)

    def unsupported(self) -> str | None:
        """Why the direct reader cannot read this scale, or ``None`` if it can."""
        if self.num_channels != 1:
            return f"{self.num_channels} channels"
        if self.encoding not in DIRECT_ENCODINGS:
            return f"{self.encoding!r} encoding"
        if self.encoding == "compressed_segmentation" and self.dtype not in (
            np.dtype(np.uint32),
            np.dtype(np.uint64),
        ):
            return f"compressed_segmentation of {self.dtype}"
        if self.sharding is not None:
            return _sharding_unsupported(self.sharding, self.grid_size)
        return None

    def file_names(self, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]) -> list[str]:
        """``key/x0-x1_y0-y1_z0-z1`` of each unsharded chunk ``lo[k] <= v < hi[k]``
        (``hi`` clipped to the volume, as the files are named)."""
        return [
            f"{self.key}/{a}-{d}_{b}-{e}_{c}-{f}"
            for (a, b, c), (d, e, f) in zip(lo.tolist(), hi.tolist(), strict=True)
        ]

    def morton_codes(self, lo: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
        """The shard keys of the chunks starting at ``lo``: compressed morton codes of their
        grid positions (bits interleaved x, y, z, each axis only up to the bits its grid needs)."""
        grid = ((lo - self.lower) // self.chunk_size).astype(np.uint64)
        size = self.grid_size
        code = np.zeros(len(grid), dtype=np.uint64)
        shift = np.uint64(0)
        bit = 0
        while (1 << bit) < int(size.max()):
            for axis in range(3):
                if (1 << bit) < int(size[axis]):
                    code |= ((grid[:, axis] >> np.uint64(bit)) & np.uint64(1)) << shift
                    shift += np.uint64(1)
            bit += 1
        return code

    def labels(self, data: bytes, shape: npt.NDArray[np.int64]) -> LabelBlock:
        """The labels of one chunk's (uncompressed) file of ``shape`` voxels, read as
        ``block[xs, ys, zs]``; ``ValueError`` if the bytes are not such a chunk. A raw chunk is the
        ``[X, Y, Z]`` array over the bytes; a compressed_segmentation one is read at the points
        asked for (:class:`~dafclient.compressed_chunks.CompressedChunk`), not decoded whole."""
        dims = (int(shape[0]), int(shape[1]), int(shape[2]))
        if self.encoding == "raw":
            flat = np.frombuffer(data, dtype=self.dtype)
            if flat.size != dims[0] * dims[1] * dims[2]:
                raise ValueError(f"raw chunk of {flat.size} voxels, expected {dims}")
            return flat.reshape(dims, order="F")
        return CompressedChunk(data, dims, self.block_size, self.dtype)


def _sharding_unsupported(spec: Mapping[str, Any], grid_size: npt.NDArray[np.int64]) -> str | None:
    if spec.get("@type") != SHARDING_TYPE:
        return f"sharding type {spec.get('@type')!r}"
    if spec.get("hash") not in SHARD_HASHES:
        return f"shard hash {spec.get('hash')!r}"
    for field in ("data_encoding", "minishard_index_encoding"):
        if spec.get(field, "raw") not in SHARD_ENCODINGS:
            return f"shard {field} {spec.get(field)!r}"
    bits = sum(int(np.ceil(np.log2(n))) for n in grid_size.tolist() if n > 1)
    if bits > 64:
        return f"a chunk grid of {grid_size.tolist()} needs more than 64 morton bits"
    return None
