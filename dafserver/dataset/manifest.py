"""The dataset manifest: what was built, where it lives and what the scripted edits did.

It is ``manifest.json`` in the data folder, written last (atomically), so its presence means
the build completed. Paths inside it are relative to the data folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dafserver.chunkedgraph.meta import GraphMeta

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1


def _ints(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _points(values: Any) -> tuple[tuple[int, int, int], ...]:
    return tuple((int(p[0]), int(p[1]), int(p[2])) for p in values)


@dataclass(frozen=True)
class EditRecord:
    """One scripted edit and its effect on the graph.

    ``supervoxel_ids`` are the supervoxels the edit was about (merge: the two merged
    supervoxels; split: sources then sinks; undo: those of the undone edit);
    ``roots_before[i]`` / ``roots_after[i]`` are the roots of ``supervoxel_ids[i]`` one second
    before the edit and at its timestamp.
    """

    index: int
    kind: str
    """``merge``, ``split`` or ``undo``."""
    operation_id: int
    timestamp: float
    user_id: str
    source_ids: tuple[int, ...]
    sink_ids: tuple[int, ...]
    source_coords: tuple[tuple[int, int, int], ...]
    """Absolute voxel coordinates at mip 0, one per source id."""
    sink_coords: tuple[tuple[int, int, int], ...]
    undone_operation_id: int | None
    old_root_ids: tuple[int, ...]
    new_root_ids: tuple[int, ...]
    supervoxel_ids: tuple[int, ...]
    roots_before: tuple[int, ...]
    roots_after: tuple[int, ...]
    neurons: tuple[int, ...]
    """Build-time neuron labels of ``supervoxel_ids``."""
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "operation_id": self.operation_id,
            "timestamp": self.timestamp,
            "user_id": self.user_id,
            "source_ids": list(self.source_ids),
            "sink_ids": list(self.sink_ids),
            "source_coords": [list(p) for p in self.source_coords],
            "sink_coords": [list(p) for p in self.sink_coords],
            "undone_operation_id": self.undone_operation_id,
            "old_root_ids": list(self.old_root_ids),
            "new_root_ids": list(self.new_root_ids),
            "supervoxel_ids": list(self.supervoxel_ids),
            "roots_before": list(self.roots_before),
            "roots_after": list(self.roots_after),
            "neurons": list(self.neurons),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EditRecord:
        undone = data.get("undone_operation_id")
        return cls(
            index=int(data["index"]),
            kind=str(data["kind"]),
            operation_id=int(data["operation_id"]),
            timestamp=float(data["timestamp"]),
            user_id=str(data["user_id"]),
            source_ids=_ints(data["source_ids"]),
            sink_ids=_ints(data["sink_ids"]),
            source_coords=_points(data["source_coords"]),
            sink_coords=_points(data["sink_coords"]),
            undone_operation_id=None if undone is None else int(undone),
            old_root_ids=_ints(data["old_root_ids"]),
            new_root_ids=_ints(data["new_root_ids"]),
            supervoxel_ids=_ints(data["supervoxel_ids"]),
            roots_before=_ints(data["roots_before"]),
            roots_after=_ints(data["roots_after"]),
            neurons=_ints(data["neurons"]),
            description=str(data["description"]),
        )


@dataclass(frozen=True)
class DatasetManifest:
    """Everything a deployment needs to serve a built dataset."""

    data_dir: Path
    """Where the dataset lives (not stored in the file; set when loading)."""
    seed: int
    size: str
    graph: GraphMeta
    build_timestamp: float
    """Unix seconds; the graph does not exist before it."""
    n_mips: int
    image_path: str
    segmentation_path: str
    supervoxels_path: str
    database_path: str | None
    """The SQLite file holding the graph, relative to the data folder; ``None`` when the graph
    went to another database (an engine given to the build)."""
    edits: tuple[EditRecord, ...]
    counts: dict[str, int]
    build_seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    @property
    def image_cloudpath(self) -> str:
        """``file://`` path of the EM image volume."""
        return "file://" + str((self.data_dir / self.image_path).resolve())

    @property
    def segmentation_cloudpath(self) -> str:
        """``file://`` path of the supervoxel segmentation (the graphene ``data_dir``)."""
        return "file://" + str((self.data_dir / self.segmentation_path).resolve())

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "seed": self.seed,
            "size": self.size,
            "graph": {**self.graph.to_dict(), "n_layers": self.graph.n_layers},
            "build_timestamp": self.build_timestamp,
            "n_mips": self.n_mips,
            "image_path": self.image_path,
            "segmentation_path": self.segmentation_path,
            "supervoxels_path": self.supervoxels_path,
            "database_path": self.database_path,
            "edits": [edit.to_dict() for edit in self.edits],
            "counts": dict(self.counts),
            "build_seconds": self.build_seconds,
            "timings": dict(self.timings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], data_dir: Path) -> DatasetManifest:
        version = int(data.get("format_version", 0))
        if version != FORMAT_VERSION:
            raise ValueError(f"unsupported manifest format_version {version}")
        database = data.get("database_path")
        return cls(
            data_dir=data_dir,
            seed=int(data["seed"]),
            size=str(data["size"]),
            graph=GraphMeta.from_dict(data["graph"]),
            build_timestamp=float(data["build_timestamp"]),
            n_mips=int(data["n_mips"]),
            image_path=str(data["image_path"]),
            segmentation_path=str(data["segmentation_path"]),
            supervoxels_path=str(data["supervoxels_path"]),
            database_path=None if database is None else str(database),
            edits=tuple(EditRecord.from_dict(e) for e in data["edits"]),
            counts={str(k): int(v) for k, v in data["counts"].items()},
            build_seconds=float(data["build_seconds"]),
            timings={str(k): float(v) for k, v in data.get("timings", {}).items()},
            format_version=version,
        )


def save_manifest(manifest: DatasetManifest) -> Path:
    """Write ``manifest.json`` atomically; returns its path."""
    path = manifest.data_dir / MANIFEST_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest.to_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_manifest(data_dir: Path) -> DatasetManifest:
    """The manifest of the dataset built in ``data_dir`` (``FileNotFoundError`` if none)."""
    data_dir = data_dir.resolve()
    text = (data_dir / MANIFEST_FILE).read_text(encoding="utf-8")
    return DatasetManifest.from_dict(json.loads(text), data_dir)
