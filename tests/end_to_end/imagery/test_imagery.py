"""ImageryClient: cutouts agree with direct volume reads and the chunkedgraph engine."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from dafclient import FrameworkClient
from dafclient.errors import InputError
from dafclient.imagery import ImageryClient, split_masks
from dafserver.dataset.manifest import DatasetManifest
from dafserver.runner import LocalServer
from tests.edit_history import first_merge

from .conftest import read_direct

Box = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]


def inner_box(volume_box: Box, margin: tuple[int, int, int] = (37, 21, 5)) -> Box:
    """A box inside the volume, not aligned to chunks or to mip 1."""
    lower, upper = volume_box
    lo = lower + np.asarray(margin)
    hi = upper - np.asarray(margin) - np.array([10, 6, 3])
    return lo, hi


def roots_of(daf_server: LocalServer, sv: npt.NDArray[Any], timestamp: float | None) -> Any:
    """``sv`` mapped to roots by the engine (0 stays 0)."""
    engine = daf_server.deployment.graph
    unique, inverse = np.unique(sv, return_inverse=True)
    roots = np.zeros(unique.shape, dtype=np.uint64)
    nonzero = unique != 0
    roots[nonzero] = engine.get_roots(unique[nonzero], timestamp=timestamp)
    return roots[inverse.reshape(sv.shape)]


def test_image_cutout_equals_direct_read(
    client: FrameworkClient, manifest: DatasetManifest, volume_box: Box
) -> None:
    lo, hi = inner_box(volume_box)
    imagery = client.make_imagery_client()
    image = imagery.image_cutout([lo, hi])
    expected = read_direct(manifest.image_cloudpath, 0, lo, hi)
    assert image.dtype == np.uint8
    assert image.shape == tuple((hi - lo).tolist())
    np.testing.assert_array_equal(image, expected)
    # at mip 1 the box is floored / ceiled onto the coarser grid
    image1 = imagery.image_cutout([lo, hi], mip=1)
    lo1, hi1 = lo // [2, 2, 1], -(-hi // [2, 2, 1])
    np.testing.assert_array_equal(image1, read_direct(manifest.image_cloudpath, 1, lo1, hi1))
    # choosing the mip by resolution is the same read
    res1 = np.asarray(manifest.graph.resolution) * [2, 2, 1]
    np.testing.assert_array_equal(imagery.image_cutout([lo, hi], resolution=res1), image1)


def test_segmentation_before_and_after_an_edit(
    client: FrameworkClient, daf_server: LocalServer, manifest: DatasetManifest, volume_box: Box
) -> None:
    edit, after = first_merge(manifest)
    before = edit.timestamp - 1
    lo, hi = volume_box
    imagery = client.make_imagery_client(timestamp=before)
    watershed = read_direct(manifest.segmentation_cloudpath, 0, lo, hi).astype(np.uint64)
    assert set(edit.supervoxel_ids) <= set(np.unique(watershed).tolist())

    seg_before = imagery.segmentation_cutout([lo, hi])
    seg_after = imagery.segmentation_cutout([lo, hi], timestamp=after)
    assert seg_before.dtype == np.uint64 and seg_before.shape == watershed.shape
    np.testing.assert_array_equal(seg_before, roots_of(daf_server, watershed, before))
    np.testing.assert_array_equal(seg_after, roots_of(daf_server, watershed, after))
    assert not np.array_equal(seg_before, seg_after)
    merged = np.isin(watershed, edit.supervoxel_ids)
    assert len(np.unique(seg_before[merged])) == 2
    assert len(np.unique(seg_after[merged])) == 1
    assert set(np.unique(seg_after[merged]).tolist()) == set(edit.roots_after)

    supervoxels = imagery.segmentation_cutout([lo, hi], supervoxels=True)
    np.testing.assert_array_equal(supervoxels, watershed)


def test_root_filtering(
    client: FrameworkClient, daf_server: LocalServer, manifest: DatasetManifest, volume_box: Box
) -> None:
    lo, hi = inner_box(volume_box)
    imagery = client.make_imagery_client()
    full = imagery.segmentation_cutout([lo, hi])
    present = [r for r in np.unique(full).tolist() if r != 0]
    assert len(present) >= 3
    keep = present[::2]
    filtered = imagery.segmentation_cutout([lo, hi], root_ids=keep)
    np.testing.assert_array_equal(filtered, np.where(np.isin(full, keep), full, 0))
    # supervoxels of the kept roots only
    watershed = read_direct(manifest.segmentation_cloudpath, 0, lo, hi).astype(np.uint64)
    sv = imagery.segmentation_cutout([lo, hi], root_ids=keep, supervoxels=True)
    np.testing.assert_array_equal(sv, np.where(np.isin(full, keep), watershed, 0))
    assert not imagery.segmentation_cutout([lo, hi], root_ids=[]).any()


def test_split_masks_equal_label_comparison(client: FrameworkClient, volume_box: Box) -> None:
    lo, hi = inner_box(volume_box)
    imagery = client.make_imagery_client()
    seg = imagery.segmentation_cutout([lo, hi])
    masks = imagery.split_segmentation_cutout([lo, hi])
    present = set(np.unique(seg).tolist()) - {0}
    assert set(masks) == present
    for root, mask in masks.items():
        assert mask.dtype == np.bool_
        np.testing.assert_array_equal(mask, seg == root)
    some = sorted(present)[:2]
    absent = max(present) + 12345
    chosen = imagery.split_segmentation_cutout([lo, hi], root_ids=[*some, absent])
    assert set(chosen) == {*some, absent}
    assert not chosen[absent].any()
    for root in some:
        np.testing.assert_array_equal(chosen[root], seg == root)
    with_null = split_masks(seg, include_null_root=True)
    np.testing.assert_array_equal(with_null[0], seg == 0)


@pytest.mark.parametrize("margin", [(37, 21, 5), (36, 20, 4)])
def test_image_mip0_with_segmentation_mip1(
    client: FrameworkClient,
    daf_server: LocalServer,
    manifest: DatasetManifest,
    volume_box: Box,
    margin: tuple[int, int, int],
) -> None:
    lo, hi = inner_box(volume_box, margin)
    imagery = client.make_imagery_client()
    image, seg = imagery.image_and_segmentation_cutout([lo, hi], image_mip=0, segmentation_mip=1)
    assert image.shape == seg.shape == tuple((hi - lo).tolist())
    np.testing.assert_array_equal(image, read_direct(manifest.image_cloudpath, 0, lo, hi))
    # the mip-1 read covering the box, upsampled 2x in x and y, cropped to the box
    factor = np.array([2, 2, 1])
    lo1, hi1 = lo // factor, -(-hi // factor)
    sv1 = read_direct(manifest.segmentation_cloudpath, 1, lo1, hi1).astype(np.uint64)
    up = np.repeat(np.repeat(roots_of(daf_server, sv1, None), 2, axis=0), 2, axis=1)
    start = lo - lo1 * factor
    expected = up[start[0] : start[0] + image.shape[0], start[1] : start[1] + image.shape[1]]
    np.testing.assert_array_equal(seg, expected)
    # equal mips: exactly the separate cutouts
    image0, seg0 = imagery.image_and_segmentation_cutout([lo, hi], segmentation_mip=0)
    np.testing.assert_array_equal(image0, image)
    np.testing.assert_array_equal(seg0, imagery.segmentation_cutout([lo, hi], mip=0))


def test_image_mip1_with_segmentation_mip0_strides(
    client: FrameworkClient, volume_box: Box
) -> None:
    lo, hi = inner_box(volume_box)
    imagery = client.make_imagery_client(image_mip=1)
    image, seg = imagery.image_and_segmentation_cutout([lo, hi], segmentation_mip=0)
    assert image.shape == seg.shape
    np.testing.assert_array_equal(image, imagery.image_cutout([lo, hi]))
    lo1 = lo // [2, 2, 1]
    hi1 = lo1 + np.asarray(image.shape)
    fine = imagery.segmentation_cutout([lo1 * [2, 2, 1], hi1 * [2, 2, 1]], mip=0)
    np.testing.assert_array_equal(seg, fine[::2, ::2, :])


def test_bounds_at_another_base_resolution(
    client: FrameworkClient, manifest: DatasetManifest, volume_box: Box
) -> None:
    lo, hi = inner_box(volume_box)
    resolution = np.asarray(manifest.graph.resolution)
    finer = resolution / [2, 2, 1]
    imagery = client.make_imagery_client(base_resolution=finer)
    np.testing.assert_array_equal(imagery.base_resolution, finer)
    # the same region in voxels of half the size
    at_finer = [lo * [2, 2, 1], hi * [2, 2, 1]]
    expected = read_direct(manifest.image_cloudpath, 0, lo, hi)
    np.testing.assert_array_equal(imagery.image_cutout(at_finer), expected)
    # an odd finer box covers every voxel it touches: floor lower, ceil upper
    odd = [lo * [2, 2, 1] + [1, 1, 0], hi * [2, 2, 1] - [1, 1, 0]]
    np.testing.assert_array_equal(imagery.image_cutout(odd), expected)
    default = client.make_imagery_client()
    np.testing.assert_array_equal(default.image_cutout(at_finer, base_resolution=finer), expected)
    np.testing.assert_array_equal(
        imagery.segmentation_cutout(at_finer), default.segmentation_cutout([lo, hi])
    )


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ([[0, 0, 0], [1, 1]], "bounds must be"),
        ([1, 2, 3], "bounds must be"),
        ("nonsense", "bounds must be"),
        ([[0, 0, 0], [1, 1, float("nan")]], "finite"),
        ("swap", "lower < upper"),
        ("empty", "lower < upper"),
        ("outside", "outside the image volume"),
    ],
)
def test_bad_bounds(client: FrameworkClient, volume_box: Box, bounds: Any, message: str) -> None:
    lo, hi = volume_box
    if bounds == "swap":
        bounds = [hi - 1, lo]
    elif bounds == "empty":
        bounds = [lo, [hi[0], hi[1], lo[2]]]
    elif bounds == "outside":
        bounds = [lo - [1, 0, 0], hi]
    imagery = client.make_imagery_client()
    with pytest.raises(InputError, match=message):
        imagery.image_cutout(bounds)


def test_other_errors(client: FrameworkClient, volume_box: Box) -> None:
    lo, hi = volume_box
    imagery = client.make_imagery_client()
    with pytest.raises(InputError, match="outside the segmentation volume"):
        imagery.segmentation_cutout([lo, hi + np.array([0, 0, 1])])
    unknown: Any = "some"
    with pytest.raises(InputError, match="root_ids"):
        imagery.segmentation_cutout([lo, lo + 4], root_ids=unknown)
    with pytest.raises(InputError, match="no mip 7"):
        imagery.image_cutout([lo, lo + 4], mip=7)
    with pytest.raises(InputError, match="no mip at"):
        imagery.image_cutout([lo, lo + 4], resolution=[3, 3, 3])
    with pytest.raises(InputError, match="base_resolution"):
        ImageryClient(client, base_resolution="imagery").image_cutout([lo, lo + 4])
    with pytest.raises(InputError, match="base_resolution"):
        imagery.image_cutout([lo, lo + 4], base_resolution=[0, 8, 40])
