"""Adjacency edges, areas, affinities and the active mask."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from dataset_stages import Stages

from dafserver.dataset import graph_input as graph_input_module
from dafserver.dataset.graph_input import ACROSS_AFFINITY, INSIDE_AFFINITY, contacts


def brute_force_contacts(labels: npt.NDArray[np.uint32]) -> dict[tuple[int, int], int]:
    """Every face between two different non-zero labels, counted in a dict."""
    found: dict[tuple[int, int], int] = {}
    for axis in range(3):
        size = labels.shape[axis]
        a = np.take(labels, np.arange(size - 1), axis=axis).ravel()
        b = np.take(labels, np.arange(1, size), axis=axis).ravel()
        for u, v in zip(a.tolist(), b.tolist(), strict=True):
            if u and v and u != v:
                key = (min(u, v), max(u, v))
                found[key] = found.get(key, 0) + 1
    return found


@pytest.mark.parametrize("slab", [1, 2, 3, 64])
def test_contacts_match_brute_force_for_any_slab_width(
    slab: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph_input_module, "SLAB_WIDTH", slab)
    rng = np.random.default_rng(slab)
    labels = rng.integers(0, 6, size=(7, 5, 4)).astype(np.uint32)
    pairs, areas = contacts(labels)
    expected = brute_force_contacts(labels)
    got = {(int(a), int(b)): int(n) for (a, b), n in zip(pairs, areas, strict=True)}
    assert got == expected
    assert pairs.shape[0] == len(expected)  # each pair once


def test_edges_are_exactly_the_touching_supervoxels(stages: Stages) -> None:
    expected = brute_force_contacts(stages.partition.dense)
    ids = stages.partition.ids
    gi = stages.graph_input
    index = np.searchsorted(ids, gi.edges)
    got = {(int(a) + 1, int(b) + 1): int(n) for (a, b), n in zip(index, gi.areas, strict=True)}
    assert got == expected
    assert np.all(gi.edges[:, 0] < gi.edges[:, 1])
    assert gi.edges.dtype == np.uint64 and gi.areas.dtype == np.uint64


def test_active_edges_join_supervoxels_of_one_neuron(stages: Stages) -> None:
    gi = stages.graph_input
    owners = stages.partition.neurons[np.searchsorted(stages.partition.ids, gi.edges)]
    np.testing.assert_array_equal(gi.active, owners[:, 0] == owners[:, 1])
    assert gi.active.any() and not gi.active.all()
    inside = gi.affinities[gi.active]
    across = gi.affinities[~gi.active]
    assert gi.affinities.dtype == np.float32
    assert inside.min() >= INSIDE_AFFINITY[0] and inside.max() < INSIDE_AFFINITY[1]
    assert across.min() >= ACROSS_AFFINITY[0] and across.max() < ACROSS_AFFINITY[1]


def test_edges_join_neighbouring_chunks_only(stages: Stages) -> None:
    coords = stages.meta.layout.get_chunk_coords(stages.graph_input.edges)
    distance = np.abs(coords[:, 0] - coords[:, 1]).sum(axis=1)
    assert set(np.unique(distance).tolist()) == {0, 1}
