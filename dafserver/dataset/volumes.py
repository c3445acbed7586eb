"""Precomputed volumes on disk (file://) written with cloud-volume, with a mip pyramid.

Mip k is mip k-1 downsampled by (2, 2, 1). The image is averaged (rounded half up); the
segmentation takes the mode of each 2 x 2 block (a tie goes to the first of the four voxels in
x-then-y order). Since atomic chunks have even x and y sizes, a block never straddles two chunks,
so every mip holds only layer-1 ids of the chunk the block lies in.

The segmentation is uint64 ``compressed_segmentation`` (block 8 x 8 x 8) without a gzip layer
on top (gzip would make it 3.5 times smaller but triple the write time); the image is uint8
``raw``, gzipped. At mip 0 the chunk size of both is the graph's atomic chunk, so a segmentation
chunk file is exactly one graph chunk; higher mips keep the same chunk size in voxels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from cloudvolume import CloudVolume

from dafserver.dataset.sizes import SizePreset

SEGMENTATION_BLOCK = (8, 8, 8)


def cloudpath(path: Path) -> str:
    """The ``file://`` cloudpath of a local directory."""
    return "file://" + str(path.resolve())


def downsample_image(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Mean of each 2 x 2 x 1 block (x and y sizes must be even)."""
    total = (
        image[0::2, 0::2].astype(np.uint16)
        + image[1::2, 0::2]
        + image[0::2, 1::2]
        + image[1::2, 1::2]
        + 2
    )
    return (total // 4).astype(np.uint8)


def downsample_segmentation(labels: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Mode of each 2 x 2 x 1 block (x and y sizes must be even); ties go to the first voxel."""
    a = labels[0::2, 0::2]
    b = labels[1::2, 0::2]
    c = labels[0::2, 1::2]
    d = labels[1::2, 1::2]
    ab = a == b
    ac = a == c
    ad = a == d
    bc = b == c
    bd = b == d
    cd = c == d
    count_a = ab.astype(np.int8) + ac + ad
    count_b = ab.astype(np.int8) + bc + bd
    count_c = ac.astype(np.int8) + bc + cd
    count_d = ad.astype(np.int8) + bd + cd
    out = a.copy()
    best = count_a
    for value, count in ((b, count_b), (c, count_c), (d, count_d)):
        better = count > best
        out[better] = value[better]
        best = np.maximum(best, count)
    return out


def mip_pyramid(
    volume: npt.NDArray[Any], n_mips: int, segmentation: bool
) -> list[npt.NDArray[Any]]:
    """``[mip 0, mip 1, ...]`` of a volume."""
    levels = [volume]
    for _ in range(1, n_mips):
        previous = levels[-1]
        levels.append(
            downsample_segmentation(previous) if segmentation else downsample_image(previous)
        )
    return levels


def _numbers(values: tuple[float, float, float]) -> list[float | int]:
    return [int(v) if float(v).is_integer() else float(v) for v in values]


def write_volume(
    path: Path, preset: SizePreset, levels: list[npt.NDArray[Any]], segmentation: bool
) -> dict[str, Any]:
    """Write a precomputed volume with one scale per entry of ``levels``; returns its info."""
    path.mkdir(parents=True, exist_ok=True)
    info = CloudVolume.create_new_info(
        num_channels=1,
        layer_type="segmentation" if segmentation else "image",
        data_type="uint64" if segmentation else "uint8",
        encoding="compressed_segmentation" if segmentation else "raw",
        resolution=_numbers(preset.resolution),
        voxel_offset=list(preset.voxel_offset),
        volume_size=list(preset.volume_size),
        chunk_size=list(preset.chunk_size),
        compressed_segmentation_block_size=SEGMENTATION_BLOCK,
    )
    volume = CloudVolume(cloudpath(path), info=info, progress=False)
    compress = not segmentation
    for mip in range(1, len(levels)):
        volume.add_scale((2**mip, 2**mip, 1), chunk_size=list(preset.chunk_size))
    volume.commit_info()
    for mip, data in enumerate(levels):
        writer = CloudVolume(cloudpath(path), mip=mip, progress=False, compress=compress)
        writer[writer.bounds] = data
    written: dict[str, Any] = volume.info
    return written


def read_volume(path: Path, mip: int = 0) -> npt.NDArray[Any]:
    """The whole volume at ``mip`` as an [X, Y, Z] array."""
    volume = CloudVolume(cloudpath(path), mip=mip, progress=False)
    data = np.asarray(volume[volume.bounds])
    return data[..., 0]
