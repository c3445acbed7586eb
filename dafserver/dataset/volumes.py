"""Precomputed volumes on disk (file://) written with cloud-volume, with a mip pyramid.

Mip k is mip k-1 downsampled by (2, 2, 1). The image is averaged (rounded half up); the
segmentation takes the mode of each 2 x 2 block (a tie goes to the first of the four voxels in
x-then-y order). Since atomic chunks have even x and y sizes, a block never straddles two chunks,
so every mip holds only layer-1 ids of the chunk the block lies in.

The segmentation is uint64 ``compressed_segmentation`` (block 8 x 8 x 8) without a gzip layer
on top (gzip would make it 3.5 times smaller but triple the write time); the image is uint8
``raw``, gzipped. At mip 0 the chunk size of both is the graph's atomic chunk, so a segmentation
chunk file is exactly one graph chunk; higher mips keep the same chunk size in voxels.

:func:`write_sharded_volume` writes the same chunks in ``neuroglancer_uint64_sharded_v1`` shard
files instead (the layout large datasets use), with shards and minishards of a few chunks so that
even the small dataset has several of each.
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


SHARD_CHUNKS = 4
"""Chunks per shard (about) of the sharded variant; minishards hold 2 chunks."""


def write_sharded_volume(
    path: Path, preset: SizePreset, levels: list[npt.NDArray[Any]]
) -> dict[str, Any]:
    """Write a sharded uint64 ``compressed_segmentation`` volume, one scale per entry of
    ``levels`` (mip 0 shards gzip their chunks, higher mips store them raw); returns its info."""
    from cloudvolume import Bbox
    from cloudvolume.datasource.precomputed.sharding import compute_shard_params_for_image

    path.mkdir(parents=True, exist_ok=True)
    info = CloudVolume.create_new_info(
        num_channels=1,
        layer_type="segmentation",
        data_type="uint64",
        encoding="compressed_segmentation",
        resolution=_numbers(preset.resolution),
        voxel_offset=list(preset.voxel_offset),
        volume_size=list(preset.volume_size),
        chunk_size=list(preset.chunk_size),
        compressed_segmentation_block_size=SEGMENTATION_BLOCK,
    )
    volume = CloudVolume(cloudpath(path), info=info, progress=False)
    for mip in range(1, len(levels)):
        volume.add_scale((2**mip, 2**mip, 1), chunk_size=list(preset.chunk_size))
    chunk_bytes = int(np.prod(preset.chunk_size)) * 8
    for mip, data in enumerate(levels):
        spec = compute_shard_params_for_image(
            dataset_size=data.shape,
            chunk_size=preset.chunk_size,
            encoding="compressed_segmentation",
            dtype=np.uint64,
            uncompressed_shard_bytesize=SHARD_CHUNKS * chunk_bytes,
            max_labels_per_minishard=2,
            minishard_index_encoding="gzip",
            data_encoding="gzip" if mip == 0 else "raw",
        )
        volume.info["scales"][mip]["sharding"] = {
            key: value.item() if isinstance(value, np.generic) else value
            for key, value in spec.to_dict().items()
        }
    volume.commit_info()
    for mip, data in enumerate(levels):
        writer = CloudVolume(cloudpath(path), mip=mip, progress=False)
        lower = np.asarray(writer.bounds.minpt, dtype=np.int64)
        upper = np.asarray(writer.bounds.maxpt, dtype=np.int64)
        step = np.asarray(writer.image.shard_shape(mip), dtype=np.int64)
        for corner in np.ndindex(*(-(-(upper - lower) // step)).tolist()):
            lo = lower + np.asarray(corner, dtype=np.int64) * step
            hi = np.minimum(lo + step, upper)
            a, b = lo - lower, hi - lower
            block = data[a[0] : b[0], a[1] : b[1], a[2] : b[2]]
            writer[Bbox(lo, hi)] = block[..., np.newaxis]
    written: dict[str, Any] = volume.info
    return written


def read_volume(path: Path, mip: int = 0) -> npt.NDArray[Any]:
    """The whole volume at ``mip`` as an [X, Y, Z] array."""
    volume = CloudVolume(cloudpath(path), mip=mip, progress=False)
    data = np.asarray(volume[volume.bounds])
    return data[..., 0]
