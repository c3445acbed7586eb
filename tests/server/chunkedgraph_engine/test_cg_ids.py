from __future__ import annotations

import numpy as np
import pytest

from dafserver.chunkedgraph import GraphMeta, IdLayout, compute_bitmasks
from dafserver.chunkedgraph.clock import to_ms


def test_bitmasks_match_pcg() -> None:
    assert compute_bitmasks(3) == {1: 10, 2: 10, 3: 1}
    assert compute_bitmasks(4) == {1: 10, 2: 10, 3: 1, 4: 1}
    twelve = compute_bitmasks(12)
    assert twelve == {1: 10, 2: 10, 3: 9, 4: 8, 5: 7, 6: 6, 7: 5, 8: 4, 9: 3, 10: 2, 11: 1, 12: 1}


def test_decoded_real_ids() -> None:
    layout = IdLayout(12)
    root = 864691135968943211
    assert layout.get_layer(root).tolist() == [12]
    assert layout.get_chunk_coords(root).tolist() == [[0, 0, 0]]
    assert layout.get_segment_id(root).tolist() == [7513807979]
    sv = 89529934389098311
    assert layout.get_layer(sv).tolist() == [1]
    assert layout.get_chunk_coords(sv).tolist() == [[248, 304, 16]]
    assert layout.get_segment_id(sv).tolist() == [440135]
    l2 = 160032475051983415
    assert layout.get_chunk_coords(l2).tolist() == [[226, 203, 11]]
    assert layout.get_segment_id(l2).tolist() == [567]


def test_encoding() -> None:
    layout = IdLayout(12)
    assert int(layout.node_id(layout.chunk_id(2, 1, 2, 3), 5)[0]) == 144185694460313605
    assert int(layout.node_id(layout.root_chunk_id, 1)[0]) == 864691128455135233
    assert layout.root_chunk_id == 12 << 56


def test_round_trip_vectorized() -> None:
    layout = IdLayout(6)
    rng = np.random.default_rng(3)
    layers = rng.integers(1, 7, 200)
    limits = np.array([2 ** layout.bitmasks[int(layer)] for layer in layers])
    coords = (rng.random((200, 3)) * limits[:, None]).astype(np.int64)
    segments = rng.integers(1, 1000, 200).astype(np.uint64)
    chunks = layout.chunk_id(layers, coords[:, 0], coords[:, 1], coords[:, 2])
    ids = layout.node_id(chunks, segments)
    assert ids.dtype == np.uint64
    assert np.all(ids < 2**63)
    assert layout.get_layer(ids).tolist() == layers.tolist()
    assert layout.get_chunk_coords(ids).tolist() == coords.tolist()
    assert layout.get_segment_id(ids).tolist() == segments.tolist()
    assert layout.get_chunk_id(ids).tolist() == chunks.tolist()


def test_overflow_is_rejected() -> None:
    layout = IdLayout(4)
    with pytest.raises(ValueError):
        layout.chunk_id(3, 2, 0, 0)  # layer 3 has 1 bit per dimension
    with pytest.raises(ValueError):
        layout.node_id(layout.chunk_id(2, 0, 0, 0), 2 ** layout.segment_id_limit(2).bit_length())


def test_meta_layers_and_info() -> None:
    two_by_two = GraphMeta("t", (64, 64, 64), (0, 0, 0), (128, 128, 64), (8, 8, 40))
    assert two_by_two.chunks_per_dim == (2, 2, 1)
    assert two_by_two.n_layers == 3
    cube = GraphMeta("t", (64, 64, 64), (0, 0, 0), (256, 256, 256), (8, 8, 40))
    assert cube.n_layers == 4
    info = cube.info_graph_dict()
    assert info["n_layers"] == 4
    assert info["spatial_bit_masks"] == {"1": 10, "2": 10, "3": 1, "4": 1}
    assert info["chunk_size"] == [64, 64, 64]
    assert GraphMeta.from_dict(cube.to_dict()) == cube
    offset = GraphMeta("t", (10, 10, 10), (5, 5, 5), (40, 40, 10), (1, 1, 1))
    assert offset.voxel_to_chunk([[5, 14, 15]]).tolist() == [[0, 0, 1]]
    assert offset.bounds_to_chunks([[5, 5, 5], [16, 25, 15]]).tolist() == [[0, 0, 0], [2, 2, 1]]


def test_timestamps_truncate_to_milliseconds() -> None:
    assert to_ms(1.0019) == 1001
    assert to_ms(1700000000.1234567) == 1700000000123
