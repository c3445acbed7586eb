"""Build the synthetic dataset into a data folder: volumes, graph, edit history, manifest.

Everything is a deterministic function of ``(size, seed)``: each stage draws from its own
random stream (``stage_rng``), so changing one stage does not reshuffle the others.

Re-running on a folder that already holds a complete build returns its manifest without
rebuilding (``DatasetExistsError`` if it was built with another size or seed). A folder with
the leftovers of an interrupted build (volumes but no manifest) is refused with
``DatasetExistsError``: delete it (and the graph tables, if the build used a caller's database)
and build again.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Engine

from dafserver.chunkedgraph.graph import ChunkedGraph
from dafserver.chunkedgraph.meta import GraphMeta
from dafserver.chunkedgraph.store import GraphStore
from dafserver.dataset.annotations import make_annotations
from dafserver.dataset.em import synthetic_em
from dafserver.dataset.graph_input import build_graph_input
from dafserver.dataset.history import run_history
from dafserver.dataset.manifest import MANIFEST_FILE, DatasetManifest, load_manifest, save_manifest
from dafserver.dataset.objects import generate_skeletons, rasterize_neurons
from dafserver.dataset.sizes import SizePreset, get_preset
from dafserver.dataset.supervoxels import SupervoxelPartition, partition_supervoxels
from dafserver.dataset.volumes import (
    cloudpath,
    mip_pyramid,
    read_volume,
    write_sharded_volume,
    write_volume,
)
from dafserver.db import default_database_url, make_engine

BUILD_TIMESTAMP = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
"""The graph's creation time: 2024-01-01T00:00:00Z."""
IMAGE_DIR = "em"
SEGMENTATION_DIR = "seg"
SHARDED_SEGMENTATION_DIR = "seg_sharded"
SUPERVOXELS_FILE = "supervoxels.npz"
_STAGES = {"neurons": 1, "supervoxels": 2, "graph": 3, "em": 4, "history": 5, "annotations": 6}


class DatasetExistsError(RuntimeError):
    """The data folder already holds a different or incomplete dataset."""


def stage_rng(seed: int, stage: str) -> np.random.Generator:
    """The random stream of one build stage."""
    if seed < 0:
        raise ValueError("the seed must be a non-negative integer")
    return np.random.default_rng([seed, _STAGES[stage]])


def graph_meta(preset: SizePreset) -> GraphMeta:
    """The graph geometry of a preset (table id ``synthetic_<size>``)."""
    return GraphMeta(
        table_id=f"synthetic_{preset.name}",
        chunk_size=preset.chunk_size,
        voxel_offset=preset.voxel_offset,
        volume_size=preset.volume_size,
        resolution=preset.resolution,
    )


def layer1_chunk_ids(meta: GraphMeta) -> npt.NDArray[np.uint64]:
    """uint64[cx, cy, cz]: the layer-1 chunk id of every atomic chunk."""
    nx, ny, nz = meta.chunks_per_dim
    return meta.layout.chunk_id(
        1,
        np.arange(nx)[:, None, None],
        np.arange(ny)[None, :, None],
        np.arange(nz)[None, None, :],
    )


def _check_existing(data_dir: Path, size: str, seed: int) -> DatasetManifest | None:
    if (data_dir / MANIFEST_FILE).is_file():
        manifest = load_manifest(data_dir)
        if (manifest.size, manifest.seed) != (size, seed):
            raise DatasetExistsError(
                f"{data_dir} holds the {manifest.size!r} dataset with seed {manifest.seed}, "
                f"not {size!r} with seed {seed}"
            )
        return manifest
    leftovers = [
        name
        for name in (IMAGE_DIR, SEGMENTATION_DIR, SUPERVOXELS_FILE)
        if (data_dir / name).exists()
    ]
    if leftovers:
        raise DatasetExistsError(
            f"{data_dir} holds an incomplete build ({', '.join(leftovers)} without "
            f"{MANIFEST_FILE}); delete it and build again"
        )
    return None


def build_dataset(
    data_dir: Path, size: str = "small", seed: int = 0, engine: Engine | None = None
) -> DatasetManifest:
    """Build the ``size`` dataset for ``seed`` into ``data_dir`` and return its manifest.

    The graph goes into ``engine``'s database, by default the SQLite file
    ``data_dir / "dafserver.sqlite"``. An existing complete build is returned as is.
    """
    data_dir = Path(data_dir).resolve()
    preset = get_preset(size)
    existing = _check_existing(data_dir, size, seed)
    if existing is not None:
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    owns_engine = engine is None
    database = make_engine(default_database_url(data_dir)) if engine is None else engine
    try:
        return _build(data_dir, preset, seed, database, _database_path(database, data_dir))
    finally:
        if owns_engine:
            database.dispose()


def _database_path(engine: Engine, data_dir: Path) -> str | None:
    """The engine's SQLite file relative to ``data_dir`` if it lies inside it, else None."""
    if engine.url.get_backend_name() != "sqlite" or not engine.url.database:
        return None
    path = Path(engine.url.database).resolve()
    return str(path.relative_to(data_dir)) if path.is_relative_to(data_dir) else None


def _build(
    data_dir: Path, preset: SizePreset, seed: int, engine: Engine, database_path: str | None
) -> DatasetManifest:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    clock = [started]

    def lap(name: str) -> None:
        now = time.perf_counter()
        timings[name] = round(now - clock[0], 3)
        clock[0] = now

    meta = graph_meta(preset)
    skeletons = generate_skeletons(preset, stage_rng(seed, "neurons"))
    neurons = rasterize_neurons(preset, skeletons)
    lap("neurons")
    partition = partition_supervoxels(
        preset, neurons, layer1_chunk_ids(meta), stage_rng(seed, "supervoxels")
    )
    segmentation = partition.id_volume()
    lap("supervoxels")
    image = synthetic_em(neurons, stage_rng(seed, "em"))
    del neurons
    lap("em")
    write_volume(
        data_dir / IMAGE_DIR, preset, mip_pyramid(image, preset.n_mips, segmentation=False), False
    )
    del image
    write_volume(
        data_dir / SEGMENTATION_DIR,
        preset,
        mip_pyramid(segmentation, preset.n_mips, segmentation=True),
        True,
    )
    lap("volumes")
    graph_input = build_graph_input(partition, stage_rng(seed, "graph"))
    lap("graph_input")
    store = GraphStore(engine)
    graph = ChunkedGraph.build(
        meta,
        graph_input.supervoxel_ids,
        graph_input.edges,
        graph_input.affinities,
        graph_input.areas,
        graph_input.active,
        timestamp=BUILD_TIMESTAMP,
        store=store,
    )
    lap("graph_build")
    roots = graph.get_roots(partition.ids, timestamp=BUILD_TIMESTAMP)
    edits = run_history(
        graph,
        meta,
        partition,
        segmentation,
        graph_input,
        BUILD_TIMESTAMP,
        stage_rng(seed, "history"),
    )
    lap("history")
    tables = make_annotations(
        segmentation,
        partition.ids,
        partition.neurons,
        partition.voxel_counts,
        preset,
        meta,
        stage_rng(seed, "annotations"),
    )
    lap("annotations")
    _save_supervoxels(data_dir / SUPERVOXELS_FILE, partition)
    counts = {
        "voxels": preset.n_voxels,
        "labelled_voxels": int(partition.voxel_counts.sum()),
        "neurons": int(np.unique(partition.neurons).size),
        "supervoxels": int(partition.ids.size),
        "edges": int(graph_input.edges.shape[0]),
        "active_edges": int(graph_input.active.sum()),
        "roots_at_build": int(np.unique(roots).size),
        "edits": len(edits),
        **{f"{name}_rows": len(table) for name, table in tables.items()},
    }
    manifest = DatasetManifest(
        data_dir=data_dir,
        seed=seed,
        size=preset.name,
        graph=meta,
        build_timestamp=BUILD_TIMESTAMP,
        n_mips=preset.n_mips,
        image_path=IMAGE_DIR,
        segmentation_path=SEGMENTATION_DIR,
        supervoxels_path=SUPERVOXELS_FILE,
        database_path=database_path,
        edits=edits,
        counts=counts,
        build_seconds=round(time.perf_counter() - started, 3),
        timings=timings,
    )
    save_manifest(manifest)
    return manifest


def _save_supervoxels(path: Path, partition: SupervoxelPartition) -> None:
    with path.open("wb") as handle:
        np.savez(
            handle,
            ids=partition.ids,
            neurons=partition.neurons,
            voxel_counts=partition.voxel_counts,
        )


def load_supervoxels(
    manifest: DatasetManifest,
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """(ids, build-time neuron of each, voxel count of each) of a built dataset."""
    with np.load(manifest.data_dir / manifest.supervoxels_path) as data:
        return (
            np.asarray(data["ids"], dtype=np.uint64),
            np.asarray(data["neurons"], dtype=np.uint32),
            np.asarray(data["voxel_counts"], dtype=np.int64),
        )


def synthetic_annotations(data_dir: Path) -> dict[str, pd.DataFrame]:
    """The annotation tables of the dataset in ``data_dir`` (``synapse``, ``cell_type_local``,
    ``microns_func_coreg``), regenerated deterministically from its segmentation."""
    manifest = load_manifest(Path(data_dir))
    ids, neurons, counts = load_supervoxels(manifest)
    segmentation = read_volume(manifest.data_dir / manifest.segmentation_path, mip=0)
    return make_annotations(
        segmentation,
        ids,
        neurons,
        counts,
        get_preset(manifest.size),
        manifest.graph,
        stage_rng(manifest.seed, "annotations"),
    )


def sharded_segmentation(data_dir: Path) -> str:
    """``file://`` path of the dataset's sharded segmentation: the same supervoxels, every mip,
    in ``neuroglancer_uint64_sharded_v1`` shards (see :func:`write_sharded_volume`).

    Written from the segmentation on first use (a build does not write it, so the presets and
    their build time are unchanged), into a temporary folder renamed into place.
    """
    manifest = load_manifest(Path(data_dir))
    target = manifest.data_dir / SHARDED_SEGMENTATION_DIR
    if not target.is_dir():
        source = manifest.data_dir / manifest.segmentation_path
        levels = [read_volume(source, mip) for mip in range(manifest.n_mips)]
        staging = Path(
            tempfile.mkdtemp(prefix=f"{SHARDED_SEGMENTATION_DIR}-", dir=manifest.data_dir)
        )
        write_sharded_volume(staging, get_preset(manifest.size), levels)
        try:
            staging.rename(target)
        except OSError:  # written meanwhile by another process
            shutil.rmtree(staging, ignore_errors=True)
    return cloudpath(target)
