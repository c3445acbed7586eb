"""Point reads of compressed_segmentation chunks: every answer equals the library's own decoder
(``compressed_segmentation.decompress``), and files that are not such chunks are refused."""

from __future__ import annotations

from typing import Any

import compressed_segmentation as cseg
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dafclient.compressed_chunks import CompressedChunk, check_structure

Shape = tuple[int, int, int]


def encode(labels: npt.NDArray[Any], block: Shape) -> bytes:
    data: bytes = cseg.compress(labels[..., np.newaxis], block_size=block, order="F")
    return data


def decode(data: bytes, shape: Shape, block: Shape, dtype: Any) -> npt.NDArray[Any]:
    whole: npt.NDArray[Any] = cseg.decompress(data, (*shape, 1), dtype, block, order="F")
    return whole[..., 0]


def every_voxel(chunk: CompressedChunk) -> npt.NDArray[Any]:
    xs, ys, zs = np.indices(chunk.shape).reshape(3, -1)
    return chunk[xs, ys, zs].reshape(chunk.shape)


@st.composite
def volumes(draw: st.DrawFn) -> tuple[npt.NDArray[Any], Shape]:
    """Labels of any shape (partial blocks included) with 1 to 2**17 distinct values, so every
    bit width 0 to 32 appears; uint64 labels use their upper words."""
    block = draw(st.sampled_from([(8, 8, 8), (4, 4, 4), (2, 3, 5), (16, 16, 1), (1, 1, 1)]))
    shape = tuple(draw(st.integers(1, 24)) for _ in range(3))
    dtype = draw(st.sampled_from([np.uint32, np.uint64]))
    distinct = draw(st.sampled_from([1, 2, 3, 5, 16, 17, 255, 257, 70_000, 140_000]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    high = 2**64 - 1 if dtype is np.uint64 else 2**32 - 1
    values = rng.integers(0, high, size=distinct, dtype=dtype, endpoint=True)
    labels = values[rng.integers(0, distinct, size=shape)]
    return np.asfortranarray(labels), block  # type: ignore[return-value]


@settings(max_examples=150, deadline=None)
@given(volumes())
def test_every_voxel_reads_as_the_library_decodes_it(
    volume: tuple[npt.NDArray[Any], Shape],
) -> None:
    labels, block = volume
    shape: Shape = labels.shape  # type: ignore[assignment]
    data = encode(labels, block)
    chunk = CompressedChunk(data, shape, block, labels.dtype)
    got = every_voxel(chunk)
    assert got.dtype == labels.dtype
    np.testing.assert_array_equal(got, decode(data, shape, block, labels.dtype))
    np.testing.assert_array_equal(got, labels)


@pytest.mark.parametrize(("distinct", "bits"), [(1, 0), (2, 1), (3, 2), (5, 4), (17, 8), (257, 16)])
def test_every_bit_width_the_library_writes_reads_back(distinct: int, bits: int) -> None:
    """One 16×16×16 block holding ``distinct`` labels is packed ``bits`` wide."""
    shape = block = (16, 16, 16)
    rng = np.random.default_rng(distinct)
    values = np.arange(4096, dtype=np.uint64) % distinct + 2**40
    labels = np.asfortranarray(rng.permutation(values).reshape(shape))
    data = encode(labels, block)
    assert int(check_structure(data, shape, block, 2)[1][0]) >> 24 == bits
    np.testing.assert_array_equal(
        every_voxel(CompressedChunk(data, shape, block, labels.dtype)), labels
    )


def test_32_bit_blocks_read_as_the_format_says() -> None:
    """Neuroglancer's format allows 32-bit indices, but the library neither writes them (its
    encoder does not finish a block of more than 2**16 labels) nor reads them (its decoder reads
    every voxel of a 32-bit block as the block's first entry). This chunk of one 2×2×2 block is written
    by hand: header, values, table; each voxel reads as the table entry its value names."""
    shape = block = (2, 2, 2)
    codes = np.array([5, 0, 7, 3, 3, 1, 6, 2], dtype="<u4")  # x fastest, then y, then z
    entries = np.arange(8, dtype=np.uint64) * 0x1_0000_0001 + 2**63
    # offsets count from the channel's first word: the header's 2 words, the values, the table
    header = np.array([(32 << 24) | (2 + len(codes)), 2], dtype="<u4")
    words = np.concatenate([[1], header, codes, entries.view("<u4")]).astype("<u4")
    got = every_voxel(CompressedChunk(words.tobytes(), shape, block, np.dtype(np.uint64)))
    np.testing.assert_array_equal(got, entries[codes].reshape(shape, order="F"))


def test_points_in_any_order_and_repeated() -> None:
    rng = np.random.default_rng(11)
    labels = np.asfortranarray(rng.integers(1, 50, size=(64, 64, 32), dtype=np.uint64))
    data = encode(labels, (8, 8, 8))
    chunk = CompressedChunk(data, (64, 64, 32), (8, 8, 8), labels.dtype)
    points = rng.integers(0, (64, 64, 32), size=(5_000, 3))
    points = np.concatenate([points, points[::-1]])
    xs, ys, zs = points.T
    np.testing.assert_array_equal(chunk[xs, ys, zs], labels[xs, ys, zs])
    assert chunk[xs[:0], ys[:0], zs[:0]].shape == (0,)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda data: data[:-1], "whole number of 32-bit words"),
        (lambda data: data[:40], "cannot hold the headers"),
        (lambda data: (2).to_bytes(4, "little") + data[4:], "cannot hold the headers"),
        (lambda data: data[:4] + (3 << 24).to_bytes(4, "little") + data[8:], "bit widths"),
        (lambda data: data[:4] + (0xFFFFFF).to_bytes(4, "little") + data[8:], "outside the file"),
        (lambda data: data[: len(data) // 8 * 4], "outside the file"),  # cut in half
    ],
)
def test_files_that_are_not_chunks_are_refused(change: Any, message: str) -> None:
    labels = np.asfortranarray(
        np.random.default_rng(2).integers(1, 9, size=(16, 16, 16), dtype=np.uint64)
    )
    data = change(encode(labels, (8, 8, 8)))
    with pytest.raises(ValueError, match=message):
        CompressedChunk(data, (16, 16, 16), (8, 8, 8), np.dtype(np.uint64))


def test_a_table_index_past_the_end_of_the_file_is_refused_when_read() -> None:
    """A block whose table starts so near the end of the file that only its first entry fits
    (the structure check sees only that one): reading a voxel of another entry is a ValueError,
    not a label made of whatever follows."""
    labels = np.asfortranarray(np.arange(8, dtype=np.uint64).reshape(2, 2, 2) % 4 + 7)
    words = np.frombuffer(encode(labels, (2, 2, 2)), dtype="<u4").copy()
    last_entry = len(words) - 1 - 2  # counted from the channel's first word
    words[1] = (words[1] & 0xFF000000) | last_entry
    chunk = CompressedChunk(words.tobytes(), (2, 2, 2), (2, 2, 2), np.dtype(np.uint64))
    with pytest.raises(ValueError, match="table lies outside the file"):
        every_voxel(chunk)


def test_only_32_and_64_bit_labels() -> None:
    with pytest.raises(ValueError, match="of uint16"):
        CompressedChunk(b"", (1, 1, 1), (8, 8, 8), np.dtype(np.uint16))
