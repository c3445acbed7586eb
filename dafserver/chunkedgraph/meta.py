"""Static description of a chunkedgraph: volume, chunking and id layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.ids import IdLayout

Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]

#: PyChunkedGraph writes this constant into every info file; it means nothing.
INFO_BOUNDING_BOX = (2048, 2048, 512)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class GraphMeta:
    """Volume geometry and id layout of one graph table."""

    table_id: str
    chunk_size: tuple[int, int, int]
    voxel_offset: tuple[int, int, int]
    volume_size: tuple[int, int, int]
    resolution: tuple[float, float, float]
    fan_out: int = 2
    layer_id_bits: int = 8
    spatial_bits: int = 10
    layout: IdLayout = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if any(c <= 0 for c in self.chunk_size) or any(v <= 0 for v in self.volume_size):
            raise ValueError("chunk_size and volume_size must be positive")
        if self.fan_out < 2:
            raise ValueError("fan_out must be at least 2")
        layout = IdLayout(self.n_layers, self.layer_id_bits, self.spatial_bits, self.fan_out)
        object.__setattr__(self, "layout", layout)

    @property
    def chunks_per_dim(self) -> tuple[int, int, int]:
        """Number of atomic chunks along x, y and z."""
        x, y, z = (_ceil_div(v, c) for v, c in zip(self.volume_size, self.chunk_size, strict=True))
        return (x, y, z)

    @property
    def n_layers(self) -> int:
        """``ceil(log_fan_out(max chunks per dim)) + 2``, at least 3."""
        most = max(self.chunks_per_dim)
        exponent = 0
        while self.fan_out**exponent < most:
            exponent += 1
        return max(exponent + 2, 3)

    @property
    def bitmasks(self) -> dict[int, int]:
        """Bits per spatial dimension for every layer."""
        return dict(self.layout.bitmasks)

    def voxel_to_chunk(self, coords: npt.ArrayLike) -> Int64Array:
        """Atomic chunk coordinates of voxel coordinates (mip 0, ``[..., 3]``)."""
        voxels = np.asarray(coords, dtype=np.float64)
        offset = np.asarray(self.voxel_offset, dtype=np.float64)
        size = np.asarray(self.chunk_size, dtype=np.float64)
        return np.floor((voxels - offset) / size).astype(np.int64)

    def bounds_to_chunks(self, bounds: npt.ArrayLike) -> Int64Array:
        """A voxel box ``[[x0,y0,z0],[x1,y1,z1]]`` as an atomic chunk box (floor / ceil)."""
        box = np.asarray(bounds, dtype=np.float64).reshape(2, 3)
        offset = np.asarray(self.voxel_offset, dtype=np.float64)
        size = np.asarray(self.chunk_size, dtype=np.float64)
        low = np.floor((box[0] - offset) / size)
        high = np.ceil((box[1] - offset) / size)
        return np.stack([low, high]).astype(np.int64)

    def chunk_center_nm(self, chunk_coords: npt.ArrayLike) -> Float64Array:
        """Centre of atomic chunks in nanometres (``[..., 3]``)."""
        coords = np.asarray(chunk_coords, dtype=np.float64) + 0.5
        voxels = coords * np.asarray(self.chunk_size) + np.asarray(self.voxel_offset)
        return np.asarray(voxels * np.asarray(self.resolution), dtype=np.float64)

    def info_graph_dict(self) -> dict[str, Any]:
        """The ``graph`` block of the graphene info JSON (keys of the bitmask are strings)."""
        graph: dict[str, Any] = {
            "chunk_size": list(self.chunk_size),
            "bounding_box": list(INFO_BOUNDING_BOX),
            "n_bits_for_layer_id": self.layer_id_bits,
            "cv_mip": 0,
            "n_layers": self.n_layers,
            "spatial_bit_masks": {str(k): v for k, v in self.bitmasks.items()},
        }
        if self.fan_out != 2:
            graph["fan_out"] = self.fan_out
        return graph

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (the inverse of ``from_dict``)."""
        return {
            "table_id": self.table_id,
            "chunk_size": list(self.chunk_size),
            "voxel_offset": list(self.voxel_offset),
            "volume_size": list(self.volume_size),
            "resolution": list(self.resolution),
            "fan_out": self.fan_out,
            "layer_id_bits": self.layer_id_bits,
            "spatial_bits": self.spatial_bits,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraphMeta:
        """Rebuild a meta from ``to_dict`` output."""

        def triple_int(key: str) -> tuple[int, int, int]:
            x, y, z = (int(v) for v in data[key])
            return (x, y, z)

        rx, ry, rz = (float(v) for v in data["resolution"])
        return cls(
            table_id=str(data["table_id"]),
            chunk_size=triple_int("chunk_size"),
            voxel_offset=triple_int("voxel_offset"),
            volume_size=triple_int("volume_size"),
            resolution=(rx, ry, rz),
            fan_out=int(data.get("fan_out", 2)),
            layer_id_bits=int(data.get("layer_id_bits", 8)),
            spatial_bits=int(data.get("spatial_bits", 10)),
        )
