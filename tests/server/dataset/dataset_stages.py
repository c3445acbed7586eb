"""The stages of the synthetic dataset as in-memory arrays, computed as the builder does."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dafserver.chunkedgraph.meta import GraphMeta
from dafserver.dataset.builder import graph_meta, layer1_chunk_ids, stage_rng
from dafserver.dataset.graph_input import GraphInput, build_graph_input
from dafserver.dataset.objects import generate_skeletons, rasterize_neurons
from dafserver.dataset.sizes import SizePreset, get_preset
from dafserver.dataset.supervoxels import SupervoxelPartition, partition_supervoxels

SIZE = "tiny"


@dataclass(frozen=True)
class Stages:
    """What the builder computes before writing anything, for one seed."""

    preset: SizePreset
    meta: GraphMeta
    neurons: npt.NDArray[np.uint32]
    partition: SupervoxelPartition
    segmentation: npt.NDArray[np.uint64]
    graph_input: GraphInput


def compute_stages(seed: int, size: str = SIZE) -> Stages:
    """The builder's in-memory stages, with the builder's random streams."""
    preset = get_preset(size)
    meta = graph_meta(preset)
    neurons = rasterize_neurons(preset, generate_skeletons(preset, stage_rng(seed, "neurons")))
    partition = partition_supervoxels(
        preset, neurons, layer1_chunk_ids(meta), stage_rng(seed, "supervoxels")
    )
    graph_input = build_graph_input(partition, stage_rng(seed, "graph"))
    return Stages(preset, meta, neurons, partition, partition.id_volume(), graph_input)
