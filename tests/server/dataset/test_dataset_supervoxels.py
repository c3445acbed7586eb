"""Neurons and supervoxels: determinism, graphene ids, chunk confinement."""

from __future__ import annotations

import numpy as np
from dataset_stages import Stages, compute_stages

from dafserver.dataset.builder import layer1_chunk_ids
from dafserver.dataset.supervoxels import central_voxel, partition_supervoxels


def test_same_seed_gives_identical_arrays(stages: Stages) -> None:
    again = compute_stages(0)
    np.testing.assert_array_equal(again.neurons, stages.neurons)
    np.testing.assert_array_equal(again.segmentation, stages.segmentation)
    np.testing.assert_array_equal(again.partition.ids, stages.partition.ids)
    np.testing.assert_array_equal(again.graph_input.edges, stages.graph_input.edges)
    np.testing.assert_array_equal(again.graph_input.affinities, stages.graph_input.affinities)


def test_other_seed_gives_other_arrays(stages: Stages) -> None:
    other = compute_stages(1)
    assert not np.array_equal(other.neurons, stages.neurons)
    assert not np.array_equal(other.segmentation, stages.segmentation)
    assert not np.array_equal(other.partition.ids, stages.partition.ids)


def test_neurons_span_many_chunks(stages: Stages) -> None:
    coords = stages.meta.layout.get_chunk_coords(stages.partition.ids)
    n_chunks = max(stages.meta.chunks_per_dim)
    per_neuron = {}
    for neuron, chunk in zip(stages.partition.neurons.tolist(), map(tuple, coords), strict=True):
        per_neuron.setdefault(neuron, set()).add(chunk)
    spans = sorted(len(chunks) for chunks in per_neuron.values())
    assert spans[len(spans) // 2] >= 2
    assert spans[-1] >= n_chunks
    assert len(per_neuron) >= 10


def test_ids_are_layer_one_and_sorted(stages: Stages) -> None:
    ids = stages.partition.ids
    assert ids.dtype == np.uint64
    assert np.all(stages.meta.layout.get_layer(ids) == 1)
    assert np.all(ids[1:] > ids[:-1])
    assert int(ids.max()) < 2**63


def test_every_chunk_holds_only_its_own_supervoxels(stages: Stages) -> None:
    """Voxel values decode to the chunk holding the voxel; segment ids count 1..k per chunk."""
    layout = stages.meta.layout
    cx, cy, cz = stages.meta.chunk_size
    nx, ny, nz = stages.meta.chunks_per_dim
    seen = 0
    for x in range(nx):
        for y in range(ny):
            for z in range(nz):
                window = stages.segmentation[
                    x * cx : (x + 1) * cx, y * cy : (y + 1) * cy, z * cz : (z + 1) * cz
                ]
                values = np.unique(window)
                values = values[values != 0]
                assert np.all(layout.get_chunk_coords(values) == [x, y, z])
                segments = np.sort(layout.get_segment_id(values))
                np.testing.assert_array_equal(segments, np.arange(1, values.size + 1))
                seen += values.size
    # a supervoxel split over two chunks would have been counted twice
    assert seen == stages.partition.ids.size


def test_partition_matches_neuron_labels(stages: Stages) -> None:
    dense = stages.partition.dense
    np.testing.assert_array_equal(dense > 0, stages.neurons > 0)
    foreground = dense > 0
    owners = stages.partition.neurons[dense[foreground].astype(np.int64) - 1]
    np.testing.assert_array_equal(owners, stages.neurons[foreground])
    counts = np.bincount(dense.ravel(), minlength=stages.partition.ids.size + 1)[1:]
    np.testing.assert_array_equal(counts, stages.partition.voxel_counts)
    assert np.all(counts > 0)


def test_central_voxel_lies_in_its_supervoxel(stages: Stages) -> None:
    rng = np.random.default_rng(0)
    for sv in rng.choice(stages.partition.ids, size=25, replace=False):
        x, y, z = central_voxel(stages.segmentation, stages.meta, sv)
        assert stages.segmentation[x, y, z] == sv


def test_empty_chunks_get_no_supervoxels(stages: Stages) -> None:
    neurons = stages.neurons.copy()
    cx, cy, cz = stages.meta.chunk_size
    neurons[:cx, :cy, :cz] = 0
    partition = partition_supervoxels(
        stages.preset, neurons, layer1_chunk_ids(stages.meta), np.random.default_rng(0)
    )
    coords = stages.meta.layout.get_chunk_coords(partition.ids)
    assert not np.all(coords == 0, axis=1).any()
    assert partition.ids.size > 0
    np.testing.assert_array_equal(partition.dense > 0, neurons > 0)
    empty = partition_supervoxels(
        stages.preset,
        np.zeros_like(neurons),
        layer1_chunk_ids(stages.meta),
        np.random.default_rng(0),
    )
    assert empty.ids.size == 0 and not empty.dense.any()
