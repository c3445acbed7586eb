"""Downsampling and the precomputed volumes written with cloud-volume."""

from __future__ import annotations

from collections import Counter

import numpy as np
from cloudvolume import CloudVolume
from dataset_stages import Stages

from dafserver.dataset.builder import stage_rng
from dafserver.dataset.em import synthetic_em
from dafserver.dataset.manifest import DatasetManifest
from dafserver.dataset.volumes import (
    downsample_image,
    downsample_segmentation,
    mip_pyramid,
    read_volume,
)


def test_segmentation_mode_with_ties_to_the_first_voxel() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, size=(8, 6, 3)).astype(np.uint64)
    result = downsample_segmentation(labels)
    assert result.shape == (4, 3, 3) and result.dtype == np.uint64
    for x in range(4):
        for y in range(3):
            for z in range(3):
                block = [
                    int(labels[2 * x, 2 * y, z]),
                    int(labels[2 * x + 1, 2 * y, z]),
                    int(labels[2 * x, 2 * y + 1, z]),
                    int(labels[2 * x + 1, 2 * y + 1, z]),
                ]
                counts = Counter(block)
                top = max(counts.values())
                expected = next(v for v in block if counts[v] == top)
                assert result[x, y, z] == expected


def test_image_mean_rounds_half_up() -> None:
    image = np.array([[[1], [2]], [[2], [2]]], dtype=np.uint8)  # sum 7 -> 1.75 -> 2
    assert downsample_image(image)[0, 0, 0] == 2
    image = np.array([[[255], [255]], [[255], [254]]], dtype=np.uint8)
    assert downsample_image(image)[0, 0, 0] == 255


def test_segmentation_reads_back_exactly(built: DatasetManifest, stages: Stages) -> None:
    path = built.data_dir / built.segmentation_path
    levels = mip_pyramid(stages.segmentation, built.n_mips, segmentation=True)
    for mip in (0, 1):
        np.testing.assert_array_equal(read_volume(path, mip), levels[mip])


def test_image_reads_back_exactly(built: DatasetManifest, stages: Stages) -> None:
    image = synthetic_em(stages.neurons, stage_rng(0, "em"))
    levels = mip_pyramid(image, built.n_mips, segmentation=False)
    path = built.data_dir / built.image_path
    for mip in (0, 1):
        np.testing.assert_array_equal(read_volume(path, mip), levels[mip])
    # the texture follows the labels: membranes are darker than cytoplasm
    inside = image[stages.neurons > 0].mean()
    assert image[stages.neurons == 0].mean() < inside


def test_segmentation_info_is_what_the_graph_server_wraps(built: DatasetManifest) -> None:
    volume = CloudVolume(built.segmentation_cloudpath, progress=False)
    info = volume.info
    meta = built.graph
    assert info["type"] == "segmentation" and info["data_type"] == "uint64"
    assert len(info["scales"]) == built.n_mips
    for mip, scale in enumerate(info["scales"]):
        factor = np.array([2**mip, 2**mip, 1])
        assert scale["encoding"] == "compressed_segmentation"
        assert list(scale["compressed_segmentation_block_size"]) == [8, 8, 8]
        assert list(scale["chunk_sizes"]) == [list(meta.chunk_size)]
        np.testing.assert_allclose(scale["resolution"], np.array(meta.resolution) * factor)
        np.testing.assert_array_equal(scale["voxel_offset"], np.array(meta.voxel_offset) // factor)
        np.testing.assert_array_equal(scale["size"], np.array(meta.volume_size) // factor)
    image = CloudVolume(built.image_cloudpath, progress=False).info
    assert image["type"] == "image" and image["data_type"] == "uint8"


def test_absolute_voxel_coordinates_address_the_same_voxels(
    built: DatasetManifest, stages: Stages
) -> None:
    volume = CloudVolume(built.segmentation_cloudpath, progress=False)
    x0, y0, z0 = built.graph.voxel_offset
    cutout = np.asarray(volume[x0 + 5 : x0 + 40, y0 + 3 : y0 + 9, z0 + 2 : z0 + 4])[..., 0]
    np.testing.assert_array_equal(cutout, stages.segmentation[5:40, 3:9, 2:4])
