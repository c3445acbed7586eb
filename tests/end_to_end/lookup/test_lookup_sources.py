"""LookupClient's chunk readers on the small dataset: the graphene watershed and the sharded
variant read directly, an encoding the direct reader refuses read through cloud-volume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from cloudvolume import CloudVolume

from dafclient import FrameworkClient
from dafclient.chunk_sources import CloudVolumeChunks, DirectChunks
from dafclient.errors import ConfigurationError, InputError
from dafclient.lookup import LookupClient
from dafserver.dataset import sharded_segmentation
from dafserver.dataset.manifest import DatasetManifest

from .conftest import Watershed


def _refuse(*args: Any) -> Any:
    raise AssertionError("the direct reader fell back to cloud-volume")


def _direct(lookup: LookupClient, mip: int) -> DirectChunks:
    source = lookup.chunk_source(mip)
    assert isinstance(source, DirectChunks) and source.name == "direct"
    source.fallback.read = _refuse  # type: ignore[method-assign]
    return source


@pytest.fixture(scope="session")
def sharded(manifest: DatasetManifest) -> str:
    return sharded_segmentation(manifest.data_dir)


def test_graphene_lookups_read_the_watershed_directly(
    client: FrameworkClient, manifest: DatasetManifest, watershed: Watershed
) -> None:
    lookup = client.make_lookup_client(voxel_resolution=watershed.resolution)
    source = _direct(lookup, 0)
    assert source.fetcher.files.cloudpath == manifest.segmentation_cloudpath
    assert source.shards is None and not lookup.is_flat


def test_sharded_segmentation_answers_as_the_unsharded_one(
    client: FrameworkClient,
    sharded: str,
    watershed: Watershed,
    rng: np.random.Generator,
) -> None:
    assert sharded_segmentation(Path(sharded.removeprefix("file://")).parent) == sharded
    pts = rng.integers(watershed.offset, watershed.upper, size=(4000, 3))
    reference = client.make_lookup_client(voxel_resolution=watershed.resolution)
    lookup = LookupClient(
        client,
        segmentation_source="precomputed://" + sharded,
        voxel_resolution=watershed.resolution,
    )
    assert lookup.is_flat
    for mip in range(3):
        source = _direct(lookup, mip)
        assert source.shards is not None
        encoding = source.shards.spec.data_encoding
        assert encoding == ("gzip" if mip == 0 else "raw")
        expected = reference.lookup_supervoxels(pts, mip=mip)
        assert (expected != 0).any()
        np.testing.assert_array_equal(lookup.lookup_supervoxels(pts, mip=mip), expected)
    np.testing.assert_array_equal(lookup.lookup_supervoxels(pts), watershed.at(pts))
    df = pd.DataFrame({"pt": [p.tolist() for p in pts[:100]]})
    out = lookup.lookup_dataframe("pt", df)
    np.testing.assert_array_equal(out["pt_root_id"], watershed.at(pts[:100]))


def _jpeg_copy(folder: Path, cloudpath: str) -> tuple[str, npt.NDArray[np.uint8]]:
    """The watershed's mip 0 reduced to uint8 and stored as jpeg (lossy: cloud-volume's read of
    it is the expected answer)."""
    source = CloudVolume(cloudpath, progress=False)
    labels = (np.asarray(source[source.bounds])[..., 0] % np.uint64(251)).astype(np.uint8)
    info = CloudVolume.create_new_info(
        num_channels=1,
        layer_type="image",
        data_type="uint8",
        encoding="jpeg",
        resolution=list(source.resolution),
        voxel_offset=list(source.voxel_offset),
        volume_size=list(source.volume_size),
        chunk_size=list(source.chunk_size),
    )
    target = "file://" + str(folder)
    cv = CloudVolume(target, info=info, progress=False)
    cv.commit_info()
    cv[cv.bounds] = labels
    stored = np.asarray(CloudVolume(target, progress=False)[cv.bounds])[..., 0]
    return target, stored


def test_an_encoding_the_direct_reader_refuses_is_read_through_cloud_volume(
    client: FrameworkClient,
    manifest: DatasetManifest,
    watershed: Watershed,
    rng: np.random.Generator,
    tmp_path: Path,
) -> None:
    cloudpath, stored = _jpeg_copy(tmp_path / "jpeg", manifest.segmentation_cloudpath)
    lookup = LookupClient(
        client,
        segmentation_source="precomputed://" + cloudpath,
        voxel_resolution=watershed.resolution,
    )
    source = lookup.chunk_source()
    assert isinstance(source, CloudVolumeChunks) and source.name == "cloud-volume"
    assert "'jpeg' encoding" in source.reason
    pts = rng.integers(watershed.offset, watershed.upper, size=(2000, 3))
    local = pts - watershed.offset
    roots, supervoxels = lookup.lookup_points(pts)
    assert supervoxels is None
    np.testing.assert_array_equal(roots, stored[local[:, 0], local[:, 1], local[:, 2]])

    strict = LookupClient(
        client,
        segmentation_source="precomputed://" + cloudpath,
        voxel_resolution=watershed.resolution,
        chunk_reads="direct",
    )
    with pytest.raises(ConfigurationError, match="cannot be read directly: 'jpeg' encoding"):
        strict.lookup_supervoxels(pts)
    with pytest.raises(InputError, match="chunk_reads"):
        client.make_lookup_client(chunk_reads="fastest")
