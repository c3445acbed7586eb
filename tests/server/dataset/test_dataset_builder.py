"""The manifest, reruns on an existing folder, and the saved supervoxel table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from dataset_stages import SIZE, Stages

from dafserver.dataset.builder import (
    BUILD_TIMESTAMP,
    DatasetExistsError,
    build_dataset,
    load_supervoxels,
)
from dafserver.dataset.manifest import MANIFEST_FILE, DatasetManifest, load_manifest
from dafserver.dataset.sizes import get_preset
from dafserver.db import make_engine


def test_manifest_round_trips(built: DatasetManifest) -> None:
    loaded = load_manifest(built.data_dir)
    assert loaded == built
    raw = json.loads((built.data_dir / MANIFEST_FILE).read_text())
    assert raw["seed"] == 0 and raw["size"] == SIZE
    assert raw["image_path"] == "em" and raw["segmentation_path"] == "seg"
    assert raw["graph"]["n_layers"] == built.graph.n_layers
    assert raw["build_timestamp"] == BUILD_TIMESTAMP == 1704067200.0
    assert raw["database_path"] == "dafserver.sqlite"
    assert (built.data_dir / raw["database_path"]).is_file()
    assert not any(Path(p).is_absolute() for p in (raw["image_path"], raw["segmentation_path"]))


def test_manifest_describes_the_dataset(built: DatasetManifest, stages: Stages) -> None:
    preset = get_preset(SIZE)
    meta = built.graph
    assert meta.chunk_size == preset.chunk_size
    assert meta.volume_size == preset.volume_size
    assert meta.voxel_offset == preset.voxel_offset
    assert meta.resolution == preset.resolution
    counts = built.counts
    assert counts["supervoxels"] == stages.partition.ids.size
    assert counts["edges"] == stages.graph_input.edges.shape[0]
    assert counts["active_edges"] == int(stages.graph_input.active.sum())
    assert counts["neurons"] == np.unique(stages.partition.neurons).size
    assert counts["synapse_rows"] == preset.n_synapses
    assert counts["edits"] == len(built.edits)
    assert built.build_seconds > 0
    assert set(built.timings) >= {"neurons", "supervoxels", "volumes", "graph_build", "history"}


def test_supervoxel_table_is_saved(built: DatasetManifest, stages: Stages) -> None:
    ids, neurons, counts = load_supervoxels(built)
    np.testing.assert_array_equal(ids, stages.partition.ids)
    np.testing.assert_array_equal(neurons, stages.partition.neurons)
    np.testing.assert_array_equal(counts, stages.partition.voxel_counts)


def test_rerun_returns_the_existing_build(built: DatasetManifest) -> None:
    manifest_file = built.data_dir / MANIFEST_FILE
    before = manifest_file.stat().st_mtime_ns
    again = build_dataset(built.data_dir, size=SIZE, seed=0)
    assert again == built
    assert manifest_file.stat().st_mtime_ns == before


def test_rerun_with_other_seed_or_size_is_refused(built: DatasetManifest) -> None:
    with pytest.raises(DatasetExistsError, match="seed 0"):
        build_dataset(built.data_dir, size=SIZE, seed=1)
    with pytest.raises(DatasetExistsError):
        build_dataset(built.data_dir, size="small", seed=0)


def test_interrupted_build_is_refused(built: DatasetManifest, tmp_path: Path) -> None:
    shutil.copytree(built.data_dir / built.segmentation_path, tmp_path / "seg")
    with pytest.raises(DatasetExistsError, match="incomplete"):
        build_dataset(tmp_path, size=SIZE, seed=0)
    assert not (tmp_path / MANIFEST_FILE).exists()


def test_same_seed_builds_identical_datasets(built: DatasetManifest, tmp_path: Path) -> None:
    again = build_dataset(tmp_path, size=SIZE, seed=0)
    first, second = built.to_dict(), again.to_dict()
    for volatile in ("build_seconds", "timings"):
        first.pop(volatile)
        second.pop(volatile)
    assert first == second
    for folder in (built.image_path, built.segmentation_path):
        files = sorted(p.relative_to(built.data_dir) for p in (built.data_dir / folder).rglob("*"))
        assert files == sorted(p.relative_to(tmp_path) for p in (tmp_path / folder).rglob("*"))
        assert len(files) > built.n_mips
        for name in files:
            if (built.data_dir / name).is_file():
                assert (built.data_dir / name).read_bytes() == (tmp_path / name).read_bytes()


def test_database_outside_the_folder_is_not_recorded(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'elsewhere.sqlite'}")
    try:
        manifest = build_dataset(tmp_path / "data", size=SIZE, seed=3, engine=engine)
    finally:
        engine.dispose()
    assert manifest.database_path is None
    assert not (tmp_path / "data" / "dafserver.sqlite").exists()
    assert (tmp_path / "elsewhere.sqlite").stat().st_size > 0
