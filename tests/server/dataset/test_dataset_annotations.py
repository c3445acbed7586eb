"""Synthetic annotation rows lie on labelled voxels; synapses join different neurons."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from dataset_stages import Stages

from dafserver.dataset.annotations import make_annotations
from dafserver.dataset.builder import stage_rng, synthetic_annotations
from dafserver.dataset.manifest import DatasetManifest


@pytest.fixture(scope="module")
def tables(stages: Stages) -> dict[str, pd.DataFrame]:
    return make_annotations(
        stages.segmentation,
        stages.partition.ids,
        stages.partition.neurons,
        stages.partition.voxel_counts,
        stages.preset,
        stages.meta,
        stage_rng(0, "annotations"),
    )


def _local(stages: Stages, column: pd.Series) -> npt.NDArray[np.int64]:
    points = np.stack(column.to_numpy()).astype(np.int64)
    local = points - np.asarray(stages.meta.voxel_offset)
    assert np.all(local >= 0)
    assert np.all(local < np.asarray(stages.meta.volume_size))
    return local


def _neurons_at(stages: Stages, local: npt.NDArray[np.int64]) -> npt.NDArray[np.uint32]:
    return stages.neurons[local[:, 0], local[:, 1], local[:, 2]]


def test_points_are_inside_on_labelled_voxels(
    stages: Stages, tables: dict[str, pd.DataFrame]
) -> None:
    point_columns = {
        "synapse": ["pre_pt", "post_pt", "ctr_pt"],
        "cell_type_local": ["pt"],
        "microns_func_coreg": ["pt"],
    }
    for name, points in point_columns.items():
        table = tables[name]
        assert len(table) > 0
        assert table.attrs["voxel_resolution"] == list(stages.meta.resolution)
        for point in points:
            local = _local(stages, table[f"{point}_position"])
            assert np.all(_neurons_at(stages, local) > 0)
            column = f"{point}_supervoxel_id"
            if column in table:
                under = stages.segmentation[local[:, 0], local[:, 1], local[:, 2]]
                np.testing.assert_array_equal(table[column].to_numpy().astype(np.uint64), under)


def test_synapses_join_touching_different_neurons(
    stages: Stages, tables: dict[str, pd.DataFrame]
) -> None:
    synapses = tables["synapse"]
    assert len(synapses) == stages.preset.n_synapses
    pre = _local(stages, synapses["pre_pt_position"])
    post = _local(stages, synapses["post_pt_position"])
    ctr = _local(stages, synapses["ctr_pt_position"])
    assert np.all(_neurons_at(stages, pre) != _neurons_at(stages, post))
    np.testing.assert_array_equal(_neurons_at(stages, ctr), _neurons_at(stages, pre))
    # the centre is on the contact face: one step from a voxel of the postsynaptic neuron
    steps = np.abs(post - ctr).sum(axis=1)
    assert np.all(steps >= 1) and np.all(steps <= 4)
    assert synapses["id"].is_unique
    assert np.all(synapses["size"] > 0)
    faces = {tuple(p) for p in ctr.tolist()}
    assert len(faces) > 0.9 * len(synapses)


def test_one_cell_type_per_neuron(stages: Stages, tables: dict[str, pd.DataFrame]) -> None:
    cells = tables["cell_type_local"]
    local = _local(stages, cells["pt_position"])
    owners = _neurons_at(stages, local)
    assert sorted(owners.tolist()) == sorted(np.unique(stages.partition.neurons).tolist())
    assert set(cells["classification_system"]) <= {"excitatory_neuron", "inhibitory_neuron"}
    assert cells["cell_type"].map(len).min() > 0


def test_functional_ids_are_distinct(stages: Stages, tables: dict[str, pd.DataFrame]) -> None:
    coreg = tables["microns_func_coreg"]
    n_neurons = np.unique(stages.partition.neurons).size
    assert len(coreg) == round(stages.preset.func_coreg_fraction * n_neurons)
    assert coreg["func_id"].is_unique
    owners = _neurons_at(stages, _local(stages, coreg["pt_position"]))
    assert np.unique(owners).size == len(coreg)


def test_regenerated_from_disk_identically(
    built: DatasetManifest, tables: dict[str, pd.DataFrame]
) -> None:
    again = synthetic_annotations(built.data_dir)
    assert set(again) == set(tables)
    for name, table in tables.items():
        pd.testing.assert_frame_equal(again[name], table)
        assert built.counts[f"{name}_rows"] == len(table)
