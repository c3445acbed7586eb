"""The feature functions on small objects whose features are known in closed form, and against
production's own distance transform (the ``edt`` package) on a random multi-label chunk."""

from __future__ import annotations

import edt
import numpy as np
import numpy.typing as npt

from dafserver.l2cache.chunks import chunk_features
from dafserver.l2cache.features import NodeFeatures, grown_box, node_features
from dafserver.l2cache.pca import MAX_POINTS, principal_axes, sample_points

RES = (8.0, 8.0, 40.0)
RX, RY, RZ = RES


def features_of(labels: npt.NDArray[np.int64], label: int, seed: int = 1) -> NodeFeatures:
    """One label of a chunk through the same path the deployment uses."""
    return chunk_features(labels, np.array([seed], np.uint64), [np.array([label])], RES)[0]


def box(
    shape: tuple[int, int, int], low: tuple[int, int, int], high: tuple[int, int, int]
) -> npt.NDArray[np.int64]:
    labels = np.zeros(shape, dtype=np.int64)
    labels[low[0] : high[0], low[1] : high[1], low[2] : high[2]] = 1
    return labels


def box_distances(extent: tuple[int, int, int]) -> npt.NDArray[np.float64]:
    """Closed form: inside an isolated box, the nearest outside voxel is a face neighbour, so a
    voxel's distance is min over axes of (steps to leave the box along it) × voxel size."""
    grids = np.meshgrid(*(np.arange(n) for n in extent), indexing="ij")
    steps = [np.minimum(g + 1, n - g) * r for g, n, r in zip(grids, extent, RES, strict=True)]
    return np.minimum(np.minimum(steps[0], steps[1]), steps[2])


def test_isolated_cube() -> None:
    n = 17
    low = (6, 5, 4)
    labels = box((32, 32, 28), low, (low[0] + n, low[1] + n, low[2] + n))
    f = features_of(labels, 1)
    assert f.voxel_count == n**3
    assert f.area_nm2 == 2 * n * n * (RY * RZ + RX * RZ + RX * RY)
    dt = np.floor(box_distances((n, n, n)))
    assert f.max_dt_nm == dt.max() == (n + 1) // 2 * RX
    assert f.mean_dt_nm == float(np.float16(dt.mean()))
    centre = np.array(low) + n // 2  # the unique voxel at the mean with the largest distance
    np.testing.assert_array_equal(f.rep_coord, centre)
    np.testing.assert_array_equal(f.chunk_intersect_count, np.zeros((2, 3)))
    # Variance of n equally spaced voxels is r²(n²-1)/12 per axis; z (40 nm) dominates.
    expected = [np.sqrt(n**3 * r * r * (n * n - 1) / 12) for r in (RZ, RX, RY)]
    np.testing.assert_allclose(f.pca_val, expected, rtol=1e-6)
    np.testing.assert_allclose(np.abs(f.pca[0].astype(float)), [0, 0, 1], atol=1e-3)
    assert f.pca.dtype == np.float16 and f.pca_val.dtype == np.float32


def test_slab_across_the_chunk_ignores_the_chunk_border() -> None:
    """A 3-voxel-thick slab filling the chunk in x and y: only its two z faces are surface, and
    distances are measured along z only (the chunk border is no boundary)."""
    shape = (16, 16, 16)
    labels = box(shape, (0, 0, 5), (16, 16, 8))
    f = features_of(labels, 1)
    assert f.voxel_count == 16 * 16 * 3
    assert f.area_nm2 == 2 * 16 * 16 * RX * RY
    assert f.max_dt_nm == 2 * RZ
    assert f.mean_dt_nm == float(np.float16((RZ + 2 * RZ + RZ) / 3))
    # Four voxels are equally near the mean (7.5, 7.5, 6) with the largest distance: the first
    # in x-major order wins.
    np.testing.assert_array_equal(f.rep_coord, [7, 7, 6])
    np.testing.assert_array_equal(f.chunk_intersect_count, [[48, 48, 0], [48, 48, 0]])
    assert f.pca.shape == (0, 3) and f.pca_val.shape == (0,)  # 768 voxels < 0.01 µm³


def test_box_with_three_distinct_axes() -> None:
    extent = (30, 20, 9)  # 240 × 160 × 360 nm: variance order z, x, y
    labels = box((32, 32, 16), (1, 3, 2), (31, 23, 11))
    f = features_of(labels, 1)
    n = int(np.prod(extent))
    assert f.voxel_count == n
    faces = 2 * (extent[1] * extent[2] * RY * RZ)
    faces += 2 * (extent[0] * extent[2] * RX * RZ) + 2 * (extent[0] * extent[1] * RX * RY)
    assert f.area_nm2 == faces
    dt = np.floor(box_distances(extent))
    assert f.max_dt_nm == dt.max()
    assert f.mean_dt_nm == float(np.float16(dt.mean()))
    variances = {a: r * r * (k * k - 1) / 12 for a, r, k in zip("xyz", RES, extent, strict=True)}
    order = sorted("xyz", key=lambda a: -variances[a])
    np.testing.assert_allclose(f.pca_val, [np.sqrt(n * variances[a]) for a in order], rtol=1e-6)
    for row, axis in zip(f.pca.astype(float), order, strict=True):
        np.testing.assert_allclose(np.abs(row), np.eye(3)["xyz".index(axis)], atol=1e-3)


def test_box_touching_chunk_faces_counts_intersections() -> None:
    labels = box((16, 16, 8), (0, 4, 0), (5, 16, 8))
    f = features_of(labels, 1)
    # 12 × 8 voxels on x = 0; 5 × 8 on y = 15; 5 × 12 on each z face; none on x = 15 or y = 0.
    np.testing.assert_array_equal(f.chunk_intersect_count, [[96, 0, 60], [0, 40, 60]])
    # Only the faces inside the chunk are surface: x = 5 (12·8 faces) and y = 4 (5·8 faces).
    assert f.area_nm2 == 12 * 8 * RY * RZ + 5 * 8 * RX * RZ


def test_single_voxel() -> None:
    labels = box((8, 8, 8), (3, 4, 5), (4, 5, 6))
    f = features_of(labels, 1)
    assert (f.voxel_count, f.max_dt_nm, f.mean_dt_nm) == (1, RX, RX)
    np.testing.assert_array_equal(f.rep_coord, [3, 4, 5])
    assert f.area_nm2 == 2 * (RY * RZ + RX * RZ + RX * RY)


def test_matches_production_edt_and_shift_areas_on_a_multilabel_chunk() -> None:
    """Each label's features equal what production computes over the whole labelled chunk:
    ``edt.edt(labels, anisotropy, black_border=False)`` and face counts by shifting."""
    rng = np.random.default_rng(3)
    coarse = rng.integers(0, 6, size=(6, 6, 4))
    labels = np.kron(coarse, np.ones((4, 4, 3), dtype=np.int64))[:22, :24, :11]
    labels[rng.random(labels.shape) < 0.05] = 0
    dt = np.floor(edt.edt(labels.astype(np.uint32), anisotropy=RES, black_border=False))
    present = [int(v) for v in np.unique(labels) if v]
    nodes = np.array(present, dtype=np.uint64) + np.uint64(1000)
    computed = chunk_features(labels, nodes, [np.array([v]) for v in present], RES)
    face_area = (RY * RZ, RX * RZ, RX * RY)
    for label, f in zip(present, computed, strict=True):
        mine = labels == label
        assert f.voxel_count == mine.sum()
        assert f.max_dt_nm == dt[mine].max()
        assert f.mean_dt_nm == float(np.float16(dt[mine].mean()))
        area = 0.0
        for axis in range(3):
            a = np.moveaxis(labels, axis, 0)
            changed = a[1:] != a[:-1]
            area += face_area[axis] * (
                np.count_nonzero(changed & (a[1:] == label))
                + np.count_nonzero(changed & (a[:-1] == label))
            )
        assert f.area_nm2 == int(area)
        coords = np.argwhere(mine)
        dists = np.linalg.norm((coords - coords.mean(axis=0)) * RES, axis=1)
        score = dt[mine] * (1 - dists / dists.max())
        np.testing.assert_array_equal(f.rep_coord, coords[np.argmax(score)])


def test_grown_box_is_clipped_to_the_chunk() -> None:
    assert grown_box((0, 3, 5), (4, 8, 8), (8, 8, 8)) == (slice(0, 5), slice(2, 8), slice(4, 8))


def test_pca_sample_is_capped_and_seeded() -> None:
    coords = np.argwhere(np.ones((30, 30, 20), dtype=bool))
    first = sample_points(coords, seed=7)
    assert len(first) == MAX_POINTS
    np.testing.assert_array_equal(first, sample_points(coords, seed=7))
    assert not np.array_equal(first, sample_points(coords, seed=8))
    assert len(sample_points(coords[:2], seed=7)) == 6


def test_principal_axes_sign_follows_the_farthest_point() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(500, 3)) * [50.0, 10.0, 3.0]
    points[0] = [-400.0, 0.0, 0.0]  # the farthest point along the first axis lies at -x
    axes, singular = principal_axes(points)
    centred = points - points.mean(axis=0)
    projections = centred @ axes.T
    farthest = np.argmax(np.abs(projections), axis=0)
    assert np.all(projections[farthest, np.arange(3)] > 0)
    assert axes[0, 0] < 0
    covariance = np.linalg.eigvalsh(centred.T @ centred)[::-1]
    np.testing.assert_allclose(singular**2, covariance, rtol=1e-9)


def test_a_node_without_voxels_in_its_chunk_is_failed() -> None:
    labels = box((8, 8, 8), (1, 1, 1), (3, 3, 3))
    missing, present = chunk_features(
        labels, np.array([5, 6], np.uint64), [np.array([2]), np.array([1])], RES
    )
    assert missing.is_failed and missing.area_nm2 == 0
    assert not present.is_failed and present.voxel_count == 8
    assert node_features(np.zeros((4, 4, 4), dtype=bool), (0, 0, 0), (4, 4, 4), RES, 1).is_failed
