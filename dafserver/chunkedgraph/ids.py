"""PyChunkedGraph node id layout: ``| layer | x | y | z | segment id |`` packed into a uint64.

``s = bitmasks[layer]`` bits are used per spatial dimension; the layer takes ``layer_id_bits``
(8) bits at the top and the segment id fills the rest. A chunk id is a node id whose segment
bits are zero. All helpers are vectorized: they take scalars or arrays and return numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

UInt64Array = npt.NDArray[np.uint64]
Int64Array = npt.NDArray[np.int64]
IdsLike = int | np.integer | npt.ArrayLike

LAYER_ID_BITS = 8
SPATIAL_BITS = 10
FAN_OUT = 2
_U1 = np.uint64(1)


def compute_bitmasks(n_layers: int, spatial_bits: int = SPATIAL_BITS) -> dict[int, int]:
    """Bits per spatial dimension for every layer, exactly as PyChunkedGraph computes them."""
    if n_layers < 2:
        raise ValueError("a chunkedgraph has at least 2 layers")
    bitmasks: dict[int, int] = {}
    for layer in range(n_layers, 1, -1):
        n_bits = max(1, n_layers - layer)
        if layer == 2:
            if spatial_bits < n_bits:
                raise ValueError(f"{spatial_bits} bits is not enough for encoding.")
            n_bits = max(spatial_bits, n_bits)
        bitmasks[layer] = n_bits
    bitmasks[1] = bitmasks[2]
    return dict(sorted(bitmasks.items()))


def as_ids(ids: IdsLike) -> UInt64Array:
    """``ids`` as a uint64 array (at least one dimension; negative values are rejected)."""
    array = np.asarray(ids)
    if array.dtype == np.uint64:
        return np.atleast_1d(array)
    if array.size and array.dtype.kind in "iu" and int(array.min()) < 0:
        raise ValueError("node ids are unsigned")
    if array.dtype.kind not in "iu" and array.size:
        array = array.astype(np.int64)
    return np.atleast_1d(array.astype(np.uint64))


def get_layer(ids: IdsLike, layer_id_bits: int = LAYER_ID_BITS) -> Int64Array:
    """Layer of each id (the top ``layer_id_bits`` bits)."""
    return (as_ids(ids) >> np.uint64(64 - layer_id_bits)).astype(np.int64)


@dataclass(frozen=True)
class IdLayout:
    """Bit layout of one graph; every method is vectorized over its id arguments."""

    n_layers: int
    layer_id_bits: int = LAYER_ID_BITS
    spatial_bits: int = SPATIAL_BITS
    fan_out: int = FAN_OUT
    bitmasks: dict[int, int] = field(init=False, repr=False, compare=False)
    _bits: UInt64Array = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 1 <= self.layer_id_bits <= 8:
            raise ValueError("layer_id_bits must be between 1 and 8")
        if self.n_layers >= 2 ** (self.layer_id_bits - 1) and self.layer_id_bits == 8:
            raise ValueError("ids must stay below 2**63: at most 127 layers")
        if self.n_layers >= 2**self.layer_id_bits:
            raise ValueError("too many layers for the layer id bits")
        bitmasks = compute_bitmasks(self.n_layers, self.spatial_bits)
        bits = np.zeros(2**self.layer_id_bits, dtype=np.uint64)
        for layer, n_bits in bitmasks.items():
            bits[layer] = n_bits
        object.__setattr__(self, "bitmasks", bitmasks)
        object.__setattr__(self, "_bits", bits)

    @property
    def root_chunk_id(self) -> int:
        """Chunk id of the single root chunk (layer n_layers, chunk 0,0,0)."""
        return self.n_layers << (64 - self.layer_id_bits)

    def get_layer(self, ids: IdsLike) -> Int64Array:
        """Layer of each id."""
        return get_layer(ids, self.layer_id_bits)

    def _offsets(self, layers: UInt64Array) -> tuple[UInt64Array, UInt64Array]:
        bits = self._bits[layers]
        x_offset = np.uint64(64 - self.layer_id_bits) - bits
        return bits, x_offset

    def get_chunk_coords(self, ids: IdsLike) -> Int64Array:
        """Chunk coordinates ``int64[..., 3]`` of each id."""
        array = as_ids(ids)
        layers = array >> np.uint64(64 - self.layer_id_bits)
        bits, x_offset = self._offsets(layers)
        mask = (_U1 << bits) - _U1
        x = (array >> x_offset) & mask
        y = (array >> (x_offset - bits)) & mask
        z = (array >> (x_offset - 2 * bits)) & mask
        return np.stack([x, y, z], axis=-1).astype(np.int64)

    def _segment_mask(self, layers: UInt64Array) -> UInt64Array:
        bits = self._bits[layers]
        segment_bits = np.uint64(64 - self.layer_id_bits) - np.uint64(3) * bits
        return (_U1 << segment_bits) - _U1

    def get_segment_id(self, ids: IdsLike) -> UInt64Array:
        """Segment id (the low bits) of each id."""
        array = as_ids(ids)
        layers = array >> np.uint64(64 - self.layer_id_bits)
        return array & self._segment_mask(layers)

    def get_chunk_id(self, ids: IdsLike) -> UInt64Array:
        """Chunk id of each node id (its segment bits set to zero)."""
        array = as_ids(ids)
        layers = array >> np.uint64(64 - self.layer_id_bits)
        return array & ~self._segment_mask(layers)

    def segment_id_limit(self, layer: int) -> int:
        """Largest segment id a node of ``layer`` can have."""
        n_bits = 64 - self.layer_id_bits - 3 * self.bitmasks[layer]
        return int(2**n_bits - 1)

    def chunk_id(self, layer: IdsLike, x: IdsLike, y: IdsLike, z: IdsLike) -> UInt64Array:
        """Chunk id(s) for a layer and chunk coordinates (broadcast together)."""
        layers = as_ids(layer)
        if layers.size and (int(layers.min()) < 1 or int(layers.max()) > self.n_layers):
            raise ValueError(f"layer must be between 1 and {self.n_layers}")
        coords = [as_ids(c) for c in (x, y, z)]
        bits, x_offset = self._offsets(layers)
        limit = _U1 << bits
        for c in coords:
            if c.size and bool(np.any(c >= limit)):
                raise ValueError("chunk coordinate does not fit in the layer's spatial bits")
        result = (
            (layers << np.uint64(64 - self.layer_id_bits))
            | (coords[0] << x_offset)
            | (coords[1] << (x_offset - bits))
            | (coords[2] << (x_offset - 2 * bits))
        )
        return np.asarray(result, dtype=np.uint64)

    def node_id(self, chunk_id: IdsLike, segment_id: IdsLike) -> UInt64Array:
        """Node id(s) from chunk id(s) and segment id(s)."""
        chunks = as_ids(chunk_id)
        segments = as_ids(segment_id)
        layers = chunks >> np.uint64(64 - self.layer_id_bits)
        if segments.size and bool(np.any(segments > self._segment_mask(layers))):
            raise ValueError("segment id does not fit in the chunk's segment bits")
        return np.asarray(chunks | segments, dtype=np.uint64)

    def parent_chunk_coords(self, coords: npt.ArrayLike, levels: int = 1) -> Int64Array:
        """Chunk coordinates ``levels`` layers up (``coords // fan_out**levels``)."""
        result: Int64Array = np.asarray(coords, dtype=np.int64) // (self.fan_out**levels)
        return result
