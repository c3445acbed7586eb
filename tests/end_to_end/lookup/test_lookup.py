"""LookupClient: supervoxels from the watershed volume, roots from the chunkedgraph."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from dafclient import FrameworkClient
from dafclient.chunk_sources import ChunkReads, CloudVolumeChunks, DirectChunks
from dafclient.errors import InputError
from dafclient.lookup import LookupClient
from dafserver.dataset.manifest import DatasetManifest
from dafserver.runner import LocalServer
from tests.edit_history import first_merge

from .conftest import Watershed


def random_voxels(ws: Watershed, rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
    voxels: npt.NDArray[np.int64] = rng.integers(ws.offset, ws.upper, size=(n, 3))
    return voxels


def voxels_of(ws: Watershed, label: int, count: int) -> npt.NDArray[np.int64]:
    found = np.argwhere(ws.labels == label)
    assert len(found) > 0
    picks = np.linspace(0, len(found) - 1, num=min(count, len(found))).astype(int)
    voxels: npt.NDArray[np.int64] = found[picks].astype(np.int64) + ws.offset
    return voxels


def test_roots_before_and_after_an_edit(
    client: FrameworkClient,
    daf_server: LocalServer,
    manifest: DatasetManifest,
    watershed: Watershed,
) -> None:
    edit, after = first_merge(manifest)
    before = edit.timestamp - 1
    pts = np.concatenate([voxels_of(watershed, sv, 5) for sv in edit.supervoxel_ids])
    expected_sv = watershed.at(pts)
    lookup = client.make_lookup_client(timestamp=before, voxel_resolution=watershed.resolution)
    engine = daf_server.deployment.graph

    roots_before, sv = lookup.lookup_points(pts)
    roots_after, sv_after = lookup.lookup_points(pts, timestamp=after)
    assert sv is not None and sv_after is not None
    assert sv.dtype == np.uint64 and roots_before.dtype == np.uint64
    np.testing.assert_array_equal(sv, expected_sv)
    np.testing.assert_array_equal(sv_after, expected_sv)
    np.testing.assert_array_equal(roots_before, engine.get_roots(expected_sv, timestamp=before))
    np.testing.assert_array_equal(roots_after, engine.get_roots(expected_sv, timestamp=after))
    by_sv_before = dict(zip(edit.supervoxel_ids, edit.roots_before, strict=True))
    by_sv_after = dict(zip(edit.supervoxel_ids, edit.roots_after, strict=True))
    assert roots_before.tolist() == [by_sv_before[int(s)] for s in sv]
    assert roots_after.tolist() == [by_sv_after[int(s)] for s in sv]
    assert len(set(roots_before.tolist())) == 2 and len(set(roots_after.tolist())) == 1
    # lookup_root_ids honours the same override
    np.testing.assert_array_equal(lookup.lookup_root_ids(sv, timestamp=after), roots_after)


def test_random_points_agree_with_volume_and_engine(
    client: FrameworkClient,
    daf_server: LocalServer,
    watershed: Watershed,
    rng: np.random.Generator,
) -> None:
    pts = random_voxels(watershed, rng, 3000)
    lookup = client.make_lookup_client()
    roots, sv = lookup.lookup_points(pts)
    assert sv is not None
    np.testing.assert_array_equal(sv, watershed.at(pts))
    assert (sv == 0).any() and (sv != 0).any()
    np.testing.assert_array_equal(roots[sv == 0], 0)
    engine = daf_server.deployment.graph
    nz = sv != 0
    np.testing.assert_array_equal(roots[nz], engine.get_roots(sv[nz]))


def test_mip1_agrees_with_a_direct_read_of_mip1(
    client: FrameworkClient,
    watershed: Watershed,
    watershed_mip1: Watershed,
    rng: np.random.Generator,
) -> None:
    pts = random_voxels(watershed, rng, 2000)
    expected_voxels = np.floor(pts * watershed.resolution / watershed_mip1.resolution).astype(
        np.int64
    )
    expected = watershed_mip1.at(expected_voxels)
    per_call = client.make_lookup_client().lookup_supervoxels(pts, mip=1)
    by_default = client.make_lookup_client(segmentation_mip=1).lookup_supervoxels(pts)
    np.testing.assert_array_equal(per_call, expected)
    np.testing.assert_array_equal(by_default, expected)
    # mip 1 is a real downsampling: some points read another label than at mip 0
    assert (per_call != watershed.at(pts)).any()


def test_voxel_resolution_scaling(
    client: FrameworkClient, watershed: Watershed, rng: np.random.Generator
) -> None:
    fine = np.array([4.0, 4.0, 40.0])
    factor = watershed.resolution / fine
    lo = np.ceil(watershed.offset * factor).astype(np.int64)
    hi = np.ceil(watershed.upper * factor).astype(np.int64)
    pts = rng.integers(lo, hi, size=(2000, 3))
    expected = watershed.at(np.floor(pts * fine / watershed.resolution).astype(np.int64))
    by_client = client.make_lookup_client(voxel_resolution=fine).lookup_supervoxels(pts)
    per_call = client.make_lookup_client().lookup_supervoxels(pts, voxel_resolution=[4, 4, 40])
    np.testing.assert_array_equal(by_client, expected)
    np.testing.assert_array_equal(per_call, expected)
    # the same points read at the default (viewer) resolution land elsewhere
    with pytest.raises(InputError):
        client.make_lookup_client().lookup_supervoxels(pts)


def test_dataframe_with_two_point_columns(
    client: FrameworkClient,
    daf_server: LocalServer,
    watershed: Watershed,
    rng: np.random.Generator,
) -> None:
    n = 50
    pre = random_voxels(watershed, rng, n)
    post = random_voxels(watershed, rng, n)
    df = pd.DataFrame(
        {
            "id": np.arange(n) + 100,
            "pre_pt_position": [p.tolist() for p in pre],
            "size": rng.random(n),
            "post_pt": [p.tolist() for p in post],
        },
        index=pd.Index(np.arange(n) * 3, name="row"),
    )
    lookup = client.make_lookup_client(voxel_resolution=watershed.resolution)
    out = lookup.lookup_dataframe(["pre_pt", "post_pt"], df)
    assert list(out.columns) == [
        "id",
        "pre_pt_position",
        "pre_pt_supervoxel_id",
        "pre_pt_root_id",
        "size",
        "post_pt_position",
        "post_pt_supervoxel_id",
        "post_pt_root_id",
    ]
    pd.testing.assert_index_equal(out.index, df.index)
    np.testing.assert_array_equal(out["id"], df["id"])
    np.testing.assert_array_equal(out["size"], df["size"])
    assert out["post_pt_position"].tolist() == df["post_pt"].tolist()
    engine = daf_server.deployment.graph
    for name, pts in (("pre_pt", pre), ("post_pt", post)):
        sv = out[f"{name}_supervoxel_id"].to_numpy()
        roots = out[f"{name}_root_id"].to_numpy()
        assert sv.dtype == np.uint64 and roots.dtype == np.uint64
        np.testing.assert_array_equal(sv, watershed.at(pts))
        expected_roots = np.zeros(n, dtype=np.uint64)
        expected_roots[sv != 0] = engine.get_roots(sv[sv != 0])
        np.testing.assert_array_equal(roots, expected_roots)
    assert "pre_pt_position" in df.columns and "post_pt" in df.columns  # input untouched


def test_dataframe_suffixes_and_single_column(
    client: FrameworkClient, watershed: Watershed, rng: np.random.Generator
) -> None:
    pts = random_voxels(watershed, rng, 10)
    df = pd.DataFrame({"pt": [p.tolist() for p in pts], "cell_type": list("eiieiieiei")})
    lookup = client.make_lookup_client(voxel_resolution=watershed.resolution)
    out = lookup.lookup_dataframe(
        "pt", df, position_suffix="_pos", supervoxel_suffix="_sv", root_id_suffix="_root"
    )
    assert list(out.columns) == ["pt_pos", "pt_sv", "pt_root", "cell_type"]
    np.testing.assert_array_equal(out["pt_sv"], watershed.at(pts))


def test_bad_points_name_their_rows(
    client: FrameworkClient, watershed: Watershed, rng: np.random.Generator
) -> None:
    lookup = client.make_lookup_client(voxel_resolution=watershed.resolution)
    pts = random_voxels(watershed, rng, 8).astype(np.float64)
    pts[2] = watershed.upper  # first voxel past the end
    pts[5] = watershed.offset - 1
    pts[6, 1] = np.nan
    with pytest.raises(InputError) as info:
        lookup.lookup_supervoxels(pts)
    problems = info.value.problems
    assert [p.split(":")[0] for p in problems] == ["row 2", "row 5", "row 6"]
    assert "outside" in problems[0] and "finite" in problems[2]

    zeroed = lookup.lookup_supervoxels(pts, outside="zero")
    good = np.array([0, 1, 3, 4, 7])
    np.testing.assert_array_equal(zeroed[[2, 5, 6]], 0)
    np.testing.assert_array_equal(zeroed[good], watershed.at(pts[good].astype(np.int64)))
    roots, _ = client.make_lookup_client(
        voxel_resolution=watershed.resolution, outside="zero"
    ).lookup_points(pts)
    np.testing.assert_array_equal(roots[[2, 5, 6]], 0)

    ragged: list[Any] = [[1100, 600, 30], [1100, 600], [1100, 600, 30], "abc"]
    with pytest.raises(InputError) as info:
        lookup.lookup_supervoxels(ragged)
    assert [p.split(":")[0] for p in info.value.problems] == ["row 1", "row 3"]
    with pytest.raises(InputError) as info:
        lookup.lookup_supervoxels(np.zeros((4, 2)))
    assert len(info.value.problems) == 4 and info.value.problems[3].startswith("row 3")
    with pytest.raises(InputError):
        lookup.lookup_supervoxels(np.zeros(3))


def test_bad_dataframe_rows_are_named_by_index(
    client: FrameworkClient, watershed: Watershed
) -> None:
    lookup = client.make_lookup_client(voxel_resolution=watershed.resolution)
    inside = watershed.offset.tolist()
    df = pd.DataFrame({"a": [inside, inside], "b": [inside, [0, 0, 0]]}, index=pd.Index(["x", "y"]))
    with pytest.raises(InputError) as info:
        lookup.lookup_dataframe(["a", "b"], df)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("row 'y' (b)")
    with pytest.raises(InputError, match="not in the data"):
        lookup.lookup_dataframe("c", df)


@pytest.mark.parametrize("chunk_reads", ["auto", "cloud-volume"])
def test_each_touched_chunk_is_read_once(
    client: FrameworkClient,
    manifest: DatasetManifest,
    watershed: Watershed,
    rng: np.random.Generator,
    capsys: pytest.CaptureFixture[str],
    chunk_reads: ChunkReads,
) -> None:
    lookup = client.make_lookup_client(
        voxel_resolution=watershed.resolution, chunk_reads=chunk_reads
    )
    source = lookup.chunk_source()
    reads: list[Any] = []
    if chunk_reads == "auto":
        # the small dataset's watershed is compressed_segmentation: its files are read directly
        assert isinstance(source, DirectChunks) and source.name == "direct"
        original_get = source.fetcher.get

        def get_counting(request: Any) -> Any:
            reads.append(request)  # one chunk file name each
            return original_get(request)

        source.fetcher.get = get_counting  # type: ignore[method-assign]
        source.fallback.read = _refuse  # type: ignore[method-assign]
    else:
        assert isinstance(source, CloudVolumeChunks) and source.name == "cloud-volume"
        cv = lookup.volume(0)
        original = cv.download

        def counting(bbox: Any, *args: Any, **kwargs: Any) -> Any:
            reads.append((tuple(bbox.minpt.tolist()), tuple(bbox.maxpt.tolist())))
            assert kwargs.get("agglomerate") is False
            return original(bbox, *args, **kwargs)

        cv.download = counting
    pts = random_voxels(watershed, rng, 500)
    pts = np.concatenate([pts, pts[::-1]])  # every chunk is touched many times, out of order
    sv = lookup.lookup_supervoxels(pts, progress=False)
    np.testing.assert_array_equal(sv, watershed.at(pts))
    chunk = np.array(manifest.graph.chunk_size)
    origin = np.array(manifest.graph.voxel_offset)
    touched = {tuple(c) for c in ((pts - origin) // chunk).tolist()}
    assert len(reads) == len(touched) == len(set(reads))
    assert capsys.readouterr().err == ""

    reads.clear()
    lookup.lookup_supervoxels(pts[:3], progress=True)
    assert len(reads) == len({tuple(c) for c in ((pts[:3] - origin) // chunk).tolist()})
    assert "chunks" in capsys.readouterr().err


def _refuse(*args: Any) -> Any:
    raise AssertionError("the direct reader fell back to cloud-volume")


def test_flat_segmentation_source(
    client: FrameworkClient,
    manifest: DatasetManifest,
    watershed: Watershed,
    rng: np.random.Generator,
) -> None:
    lookup = LookupClient(
        client,
        segmentation_source="precomputed://" + manifest.segmentation_cloudpath,
        voxel_resolution=watershed.resolution,
    )
    assert lookup.is_flat
    pts = random_voxels(watershed, rng, 200)
    roots, sv = lookup.lookup_points(pts)
    assert sv is None
    np.testing.assert_array_equal(roots, watershed.at(pts))
    df = pd.DataFrame({"pt": [p.tolist() for p in pts], "n": np.arange(len(pts))})
    out = lookup.lookup_dataframe("pt", df)
    assert list(out.columns) == ["pt_position", "pt_root_id", "n"]
    np.testing.assert_array_equal(out["pt_root_id"], watershed.at(pts))


def test_empty_input(client: FrameworkClient) -> None:
    lookup = client.make_lookup_client()
    roots, sv = lookup.lookup_points(np.zeros((0, 3)))
    assert roots.shape == (0,) and sv is not None and sv.shape == (0,)
    assert roots.dtype == np.uint64
