"""Fixtures: the stages of the tiny dataset as arrays, and one complete tiny build on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from dataset_stages import SIZE, Stages, compute_stages

from dafserver.dataset.builder import build_dataset
from dafserver.dataset.manifest import DatasetManifest


@pytest.fixture(scope="session")
def stages() -> Stages:
    return compute_stages(0)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> DatasetManifest:
    """A complete tiny build (seed 0) in its own folder with its own SQLite file."""
    data_dir: Path = tmp_path_factory.mktemp("tiny_dataset")
    return build_dataset(data_dir, size=SIZE, seed=0)
