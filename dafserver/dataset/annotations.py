"""Synthetic annotation rows for the ``synapse``, ``cell_type_local`` and ``microns_func_coreg`` tables.

Rows come back as pandas DataFrames in the flat column naming of materialised CAVE tables
(``pre_pt_position``, ``pre_pt_supervoxel_id``, ...). Positions are absolute voxel coordinates
at mip 0 (``df.attrs["voxel_resolution"]``), always inside the volume and on a labelled voxel;
each ``*_supervoxel_id`` is the supervoxel under that point. Root ids are not included: they
depend on the time of the query.

- ``synapse``: a contact face between two different neurons is drawn at random (rejection
  sampling of voxel faces, no face twice); one side is presynaptic. ``pre_pt`` and ``post_pt``
  sit up to ``SYNAPSE_DEPTH`` voxels inside their neuron, ``ctr_pt`` is the presynaptic face voxel.
- ``cell_type_local``: one row per neuron, at the voxel of its largest supervoxel closest to
  that supervoxel's centroid.
- ``microns_func_coreg``: a random subset of the neurons, at the voxel of their second largest
  supervoxel (the largest if there is only one), with distinct ``func_id`` values.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from dafserver.chunkedgraph.meta import GraphMeta
from dafserver.dataset.sizes import SizePreset
from dafserver.dataset.supervoxels import central_voxel

IntArray = npt.NDArray[np.int64]
SYNAPSE_DEPTH = (3, 3, 1)
FACE_AXIS_WEIGHTS = (0.45, 0.45, 0.1)
"""Synapses are mostly seen across in-plane faces."""
SAMPLE_BATCH = 200_000
MAX_BATCHES = 200
CELL_TYPES: dict[str, tuple[str, ...]] = {
    "excitatory_neuron": ("23P", "4P", "5P-IT", "5P-ET", "5P-NP", "6P-IT", "6P-CT"),
    "inhibitory_neuron": ("BC", "MC", "BPC", "NGC"),
}
EXCITATORY_FRACTION = 0.8


def _positions(points: IntArray) -> list[IntArray]:
    return [np.array(p, dtype=np.int64) for p in points]


class _Lookup:
    """Neuron and supervoxel of voxels of a segmentation volume."""

    def __init__(
        self,
        segmentation: npt.NDArray[np.uint64],
        supervoxel_ids: npt.NDArray[np.uint64],
        supervoxel_neurons: npt.NDArray[np.uint32],
    ) -> None:
        self.segmentation = segmentation
        self.ids = supervoxel_ids
        self.neurons = supervoxel_neurons

    def supervoxels(self, voxels: IntArray) -> npt.NDArray[np.uint64]:
        return self.segmentation[voxels[:, 0], voxels[:, 1], voxels[:, 2]]

    def neuron_of(self, supervoxels: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        index = np.searchsorted(self.ids, supervoxels)
        index = np.minimum(index, self.ids.shape[0] - 1)
        found = self.ids[index] == supervoxels
        return np.where(found & (supervoxels != 0), self.neurons[index].astype(np.int64), 0)


def _sample_contacts(
    lookup: _Lookup, n: int, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """``n`` distinct faces between two different neurons: (voxel a, voxel b) int64[n, 3] each."""
    shape = np.asarray(lookup.segmentation.shape, dtype=np.int64)
    firsts: list[IntArray] = []
    seconds: list[IntArray] = []
    seen: set[int] = set()
    found = 0
    for _ in range(MAX_BATCHES):
        if found >= n:
            break
        axis = rng.choice(3, size=SAMPLE_BATCH, p=FACE_AXIS_WEIGHTS)
        step = np.eye(3, dtype=np.int64)[axis]
        first = (rng.random((SAMPLE_BATCH, 3)) * (shape - step)).astype(np.int64)
        second = first + step
        neuron_a = lookup.neuron_of(lookup.supervoxels(first))
        neuron_b = lookup.neuron_of(lookup.supervoxels(second))
        hit = np.flatnonzero((neuron_a != 0) & (neuron_b != 0) & (neuron_a != neuron_b))
        face = (np.ravel_multi_index(first[hit].T, tuple(shape)) * 3 + axis[hit]).tolist()
        for index, key in zip(hit.tolist(), face, strict=True):
            if key in seen:
                continue
            seen.add(key)
            firsts.append(first[index])
            seconds.append(second[index])
            found += 1
            if found == n:
                break
    if found < n:
        raise RuntimeError(f"only {found} neuron contacts found for {n} synapses")
    return np.asarray(firsts, dtype=np.int64), np.asarray(seconds, dtype=np.int64)


def _inward(lookup: _Lookup, face: IntArray, other: IntArray) -> IntArray:
    """Walk each face voxel up to SYNAPSE_DEPTH voxels away from ``other``, staying in its neuron."""
    shape = np.asarray(lookup.segmentation.shape, dtype=np.int64)
    direction = face - other
    limit = (np.abs(direction) * np.asarray(SYNAPSE_DEPTH)).sum(axis=1)
    neuron = lookup.neuron_of(lookup.supervoxels(face))
    result = face.copy()
    walking = np.ones(face.shape[0], dtype=np.bool_)
    for k in range(1, max(SYNAPSE_DEPTH) + 1):
        candidate = face + direction * k
        inside = np.all((candidate >= 0) & (candidate < shape), axis=1)
        clipped = np.clip(candidate, 0, shape - 1)
        same = lookup.neuron_of(lookup.supervoxels(clipped)) == neuron
        walking &= inside & same & (k <= limit)
        result[walking] = candidate[walking]
    return result


def _synapses(
    lookup: _Lookup, preset: SizePreset, rng: np.random.Generator, offset: IntArray
) -> pd.DataFrame:
    """The ``synapse`` rows."""
    first, second = _sample_contacts(lookup, preset.n_synapses, rng)
    swap = rng.random(size=(first.shape[0],)) < 0.5
    pre_face = np.where(swap[:, None], second, first)
    post_face = np.where(swap[:, None], first, second)
    pre = _inward(lookup, pre_face, post_face)
    post = _inward(lookup, post_face, pre_face)
    size = np.round(rng.lognormal(mean=5.5, sigma=0.8, size=first.shape[0]))
    return pd.DataFrame(
        {
            "id": np.arange(1, first.shape[0] + 1, dtype=np.int64),
            "pre_pt_position": _positions(pre + offset),
            "pre_pt_supervoxel_id": lookup.supervoxels(pre).astype(np.int64),
            "post_pt_position": _positions(post + offset),
            "post_pt_supervoxel_id": lookup.supervoxels(post).astype(np.int64),
            "ctr_pt_position": _positions(pre_face + offset),
            "size": size.astype(np.float64),
        }
    )


def _ranked_supervoxels(
    lookup: _Lookup, voxel_counts: IntArray
) -> dict[int, npt.NDArray[np.uint64]]:
    """For every neuron, its supervoxels from largest to smallest (ties by id)."""
    order = np.lexsort((lookup.ids, -voxel_counts, lookup.neurons))
    neurons = lookup.neurons[order]
    starts = np.flatnonzero(np.r_[True, neurons[1:] != neurons[:-1]])
    ends = np.r_[starts[1:], neurons.shape[0]]
    return {int(neurons[s]): lookup.ids[order[s:e]] for s, e in zip(starts, ends, strict=True)}


def _cell_types(
    lookup: _Lookup,
    meta: GraphMeta,
    ranked: dict[int, npt.NDArray[np.uint64]],
    rng: np.random.Generator,
    offset: IntArray,
) -> pd.DataFrame:
    """The ``cell_type_local`` rows: one per neuron."""
    neurons = sorted(ranked)
    points = np.array(
        [central_voxel(lookup.segmentation, meta, ranked[n][0]) for n in neurons], dtype=np.int64
    ).reshape(-1, 3)
    excitatory = rng.random(len(neurons)) < EXCITATORY_FRACTION
    systems = ["excitatory_neuron" if e else "inhibitory_neuron" for e in excitatory]
    types = [CELL_TYPES[s][int(rng.integers(len(CELL_TYPES[s])))] for s in systems]
    return pd.DataFrame(
        {
            "id": np.arange(1, len(neurons) + 1, dtype=np.int64),
            "pt_position": _positions(points + offset),
            "pt_supervoxel_id": lookup.supervoxels(points).astype(np.int64),
            "classification_system": systems,
            "cell_type": types,
        }
    )


def _functional_coregistration(
    lookup: _Lookup,
    meta: GraphMeta,
    ranked: dict[int, npt.NDArray[np.uint64]],
    fraction: float,
    rng: np.random.Generator,
    offset: IntArray,
) -> pd.DataFrame:
    """The ``microns_func_coreg`` rows: a random ``fraction`` of the neurons."""
    neurons = np.array(sorted(ranked), dtype=np.int64)
    chosen = np.sort(rng.choice(neurons, size=round(fraction * neurons.size), replace=False))
    points = np.array(
        [
            central_voxel(
                lookup.segmentation, meta, ranked[int(n)][min(1, ranked[int(n)].size - 1)]
            )
            for n in chosen
        ],
        dtype=np.int64,
    ).reshape(-1, 3)
    func_ids = rng.choice(
        np.arange(1, 10 * max(neurons.size, 1) + 1), size=chosen.size, replace=False
    )
    return pd.DataFrame(
        {
            "id": np.arange(1, chosen.size + 1, dtype=np.int64),
            "pt_position": _positions(points + offset),
            "pt_supervoxel_id": lookup.supervoxels(points).astype(np.int64),
            "func_id": func_ids.astype(np.int64),
        }
    )


def make_annotations(
    segmentation: npt.NDArray[np.uint64],
    supervoxel_ids: npt.NDArray[np.uint64],
    supervoxel_neurons: npt.NDArray[np.uint32],
    voxel_counts: IntArray,
    preset: SizePreset,
    meta: GraphMeta,
    rng: np.random.Generator,
) -> dict[str, pd.DataFrame]:
    """All synthetic tables, keyed by schema name, for a segmentation at mip 0."""
    lookup = _Lookup(segmentation, supervoxel_ids, supervoxel_neurons)
    offset = np.asarray(meta.voxel_offset, dtype=np.int64)
    ranked = _ranked_supervoxels(lookup, voxel_counts)
    tables = {
        "synapse": _synapses(lookup, preset, rng, offset),
        "cell_type_local": _cell_types(lookup, meta, ranked, rng, offset),
        "microns_func_coreg": _functional_coregistration(
            lookup, meta, ranked, preset.func_coreg_fraction, rng, offset
        ),
    }
    for table in tables.values():
        table.attrs["voxel_resolution"] = list(meta.resolution)
    return tables
