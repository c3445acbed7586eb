"""compressed_segmentation chunks read at points, without decoding them whole.

Neuroglancer's ``compressed_segmentation`` encoding splits a chunk into blocks (8×8×8 by default),
each with a small table of the labels it holds and a packed array of 0, 1, 2, 4, 8, 16 or 32-bit
indices into that table. A point's label is two lookups: its block's header, then its packed index.
:class:`CompressedChunk` does both for many points at once with numpy, so reading a few hundred
points of a 64×64×32 chunk costs what decoding it whole (the ``compressed_segmentation`` library's
``decompress``, which writes every voxel) costs several times over. The library stays the reference
(the tests compare every answer with its ``decompress``) and the decoder of whole chunks.

A chunk's structure is checked before any point is read (:func:`check_structure`), so a truncated
or foreign file is a ``ValueError`` saying what is wrong with it, never labels read from the wrong
words (the library's decoder trusts the offsets and can crash the process on such a file).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Shape = tuple[int, int, int]


def check_structure(
    data: bytes, shape: Shape, block: Shape, entry_words: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """The 32-bit words of a one-channel compressed_segmentation chunk of ``shape`` and its
    block headers (two words per block), or ``ValueError`` unless every block header's bit width
    is valid and its values and the first entry of its table lie inside the file (a file cut
    inside its last table still passes)."""
    if len(data) % 4:
        raise ValueError(f"{len(data)} bytes is not a whole number of 32-bit words")
    words = np.frombuffer(data, dtype="<u4")
    grid = _grid(shape, block)
    count = grid[0] * grid[1] * grid[2]
    if len(words) < 1 + 2 * count or int(words[0]) != 1:
        raise ValueError(f"{len(words)} words cannot hold the headers of {count} blocks")
    headers = words[1 : 1 + 2 * count].astype(np.int64)
    bits = headers[0::2] >> 24
    if int(bits.max()) > 32 or (bits & (bits - 1)).any():  # 0 or a power of two up to 32
        raise ValueError(f"block headers with bit widths {sorted(set(bits.tolist()))}")
    size = len(words) - 1
    value_words = (bits * (block[0] * block[1] * block[2]) + 31) >> 5
    tables = headers[0::2] & 0xFFFFFF
    if int(tables.max()) + entry_words > size or int((headers[1::2] + value_words).max()) > size:
        raise ValueError("block tables or values lie outside the file")
    return words, headers


class CompressedChunk:
    """One channel of a compressed_segmentation chunk of ``shape`` voxels, indexed like the
    ``[X, Y, Z]`` array it encodes by three integer arrays: ``chunk[xs, ys, zs]``."""

    def __init__(self, data: bytes, shape: Shape, block: Shape, dtype: np.dtype[Any]) -> None:
        if dtype not in (np.dtype(np.uint32), np.dtype(np.uint64)):
            raise ValueError(f"compressed_segmentation of {dtype}")
        self.shape = shape
        self.block = block
        self.dtype = dtype
        self._entry_words = dtype.itemsize // 4
        words, headers = check_structure(data, shape, block, self._entry_words)
        self._words = words[1:]  # offsets count from the channel's first word
        self._tables = headers[0::2] & 0xFFFFFF
        self._bits = headers[0::2] >> 24
        self._values = headers[1::2]
        self._grid = _grid(shape, block)

    def __getitem__(self, index: tuple[Any, Any, Any]) -> npt.NDArray[Any]:
        xs, ys, zs = (np.asarray(axis, dtype=np.int64) for axis in index)
        bx, by, bz = self.block
        gx, gy, _ = self._grid
        blocks = xs // bx + gx * (ys // by + gy * (zs // bz))
        bits = self._bits[blocks]
        offset = (xs % bx + bx * (ys % by + by * (zs % bz))) * bits
        # a block of one label has no values (bits 0): read any word, the mask keeps nothing
        at = np.where(bits > 0, self._values[blocks] + (offset >> 5), 0)
        codes = (self._words[at].astype(np.int64) >> (offset & 31)) & ((1 << bits) - 1)
        entries = self._tables[blocks] + codes * self._entry_words
        if len(entries) and int(entries.max()) + self._entry_words > len(self._words):
            raise ValueError("a block's table lies outside the file")
        labels: npt.NDArray[Any] = self._words[entries].astype(self.dtype)
        if self._entry_words == 2:
            labels |= self._words[entries + 1].astype(np.uint64) << np.uint64(32)
        return labels


def _grid(shape: Shape, block: Shape) -> Shape:
    """Blocks along x, y and z (partial blocks at the upper end count)."""
    return (-(-shape[0] // block[0]), -(-shape[1] // block[1]), -(-shape[2] // block[2]))
