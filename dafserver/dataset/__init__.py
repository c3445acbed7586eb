"""The synthetic dataset served by dafserver: EM image, supervoxels, graph, edits, annotations."""

from dafserver.dataset.builder import (
    BUILD_TIMESTAMP,
    DatasetExistsError,
    build_dataset,
    load_supervoxels,
    sharded_segmentation,
    synthetic_annotations,
)
from dafserver.dataset.manifest import DatasetManifest, EditRecord, load_manifest
from dafserver.dataset.sizes import PRESETS, SizePreset, get_preset

__all__ = [
    "BUILD_TIMESTAMP",
    "PRESETS",
    "DatasetExistsError",
    "DatasetManifest",
    "EditRecord",
    "SizePreset",
    "build_dataset",
    "get_preset",
    "load_manifest",
    "load_supervoxels",
    "sharded_segmentation",
    "synthetic_annotations",
]
