"""The direct chunk reader against cloud-volume's own reads, without a server.

Volumes are written with cloud-volume into a temporary folder, with a voxel offset and a size
that is not a multiple of the chunk size (partial chunks at the upper edges), unsharded and
sharded, and read back at every voxel of a sample by both paths.
"""

from __future__ import annotations

import http.server
import pickle
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from cloudvolume import CloudVolume
from cloudvolume.datasource.precomputed.common import compressed_morton_code
from cloudvolume.exceptions import EmptyVolumeException

from dafclient.chunk_sources import (
    CloudVolumeChunks,
    DirectChunks,
    chunk_source,
)
from dafclient.chunked_reads import VolumeGrid, group_by_chunk, read_labels_batched
from dafclient.errors import ConfigurationError, InputError, ResponseFormatError
from dafclient.precomputed_chunks import ScaleLayout
from dafserver.dataset.sizes import SizePreset
from dafserver.dataset.volumes import write_sharded_volume

OFFSET = (30, 14, 3)
SIZE = (150, 70, 41)  # chunks of 32 x 32 x 16: partial on every axis
CHUNK = (32, 32, 16)
PRESET = SizePreset(
    name="odd", volume_size=SIZE, chunk_size=CHUNK, voxel_offset=OFFSET, resolution=(4, 4, 40)
)


def _labels(rng: np.random.Generator) -> npt.NDArray[np.uint64]:
    """Blocky uint64 labels (runs of a few voxels), some of them 0, some above 2**32."""
    coarse = rng.integers(0, 40, size=(SIZE[0] // 3 + 1, SIZE[1] // 3 + 1, SIZE[2] // 2 + 1))
    labels = coarse.repeat(3, 0).repeat(3, 1).repeat(2, 2)[: SIZE[0], : SIZE[1], : SIZE[2]]
    return np.where(labels > 0, labels.astype(np.uint64) + np.uint64(2**40), 0).astype(np.uint64)


def _write(path: Path, data: npt.NDArray[Any], encoding: str, compress: bool | None = None) -> str:
    info = CloudVolume.create_new_info(
        num_channels=1,
        layer_type="segmentation" if data.dtype == np.uint64 else "image",
        data_type=str(data.dtype),
        encoding=encoding,
        resolution=[4, 4, 40],
        voxel_offset=list(OFFSET),
        volume_size=list(SIZE),
        chunk_size=list(CHUNK),
    )
    cloudpath = "file://" + str(path)
    cv = CloudVolume(cloudpath, info=info, progress=False, compress=compress)
    cv.commit_info()
    cv[cv.bounds] = data
    return cloudpath


@pytest.fixture(scope="module")
def labels() -> npt.NDArray[np.uint64]:
    return _labels(np.random.default_rng(5))


@pytest.fixture(scope="module")
def volumes(
    tmp_path_factory: pytest.TempPathFactory, labels: npt.NDArray[np.uint64]
) -> dict[str, str]:
    root = tmp_path_factory.mktemp("volumes")
    sharded = root / "sharded"
    write_sharded_volume(sharded, PRESET, [labels])
    return {
        "compressed_segmentation": _write(
            root / "cseg", labels, "compressed_segmentation", compress=False
        ),
        "raw": _write(root / "raw", labels, "raw", compress=False),
        "raw_gzip": _write(root / "raw_gzip", labels, "raw"),  # name.gz files
        "sharded": "file://" + str(sharded),
        "jpeg": _write(root / "jpeg", (labels % 251).astype(np.uint8), "jpeg"),
    }


def _grid(cv: Any) -> VolumeGrid:
    bounds = cv.meta.bounds(0)
    return VolumeGrid(
        resolution=np.asarray(cv.resolution, dtype=np.float64),
        lower=np.asarray(bounds.minpt, dtype=np.int64),
        upper=np.asarray(bounds.maxpt, dtype=np.int64),
        chunk_size=np.asarray(cv.chunk_size, dtype=np.int64),
        chunk_origin=np.asarray(cv.voxel_offset, dtype=np.int64),
    )


def _sample(rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
    lower = np.asarray(OFFSET)
    upper = lower + np.asarray(SIZE)
    corners = np.array([lower, upper - 1, [upper[0] - 1, lower[1], upper[2] - 1]])
    picked: npt.NDArray[np.int64] = np.concatenate([rng.integers(lower, upper, (n, 3)), corners])
    return picked


def _read(source: Any, cv: Any, voxels: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    grid = _grid(cv)
    return read_labels_batched(
        voxels, grid, source.read_blocks, groups=group_by_chunk(voxels, grid)
    )


def _refuse(*args: Any) -> Any:
    raise AssertionError("the direct reader fell back to cloud-volume")


@pytest.mark.parametrize("name", ["compressed_segmentation", "raw", "raw_gzip", "sharded"])
def test_direct_reads_equal_the_volume(
    volumes: dict[str, str], labels: npt.NDArray[np.uint64], name: str
) -> None:
    cv = CloudVolume(volumes[name], progress=False)
    # a source survives pickling (e.g. shipped to a worker process), shard index included
    source = pickle.loads(pickle.dumps(chunk_source(cv, 0)))
    assert isinstance(source, DirectChunks) and source.name == "direct"
    assert (source.shards is not None) == (name == "sharded")
    stored = {p.suffix for p in Path(volumes[name].removeprefix("file://"), cv.key).iterdir()}
    assert stored == {".gz"} if name == "raw_gzip" else ".gz" not in stored
    source.fallback.read = _refuse  # type: ignore[method-assign]
    voxels = _sample(np.random.default_rng(11), 5000)
    local = voxels - np.asarray(OFFSET)
    expected = labels[local[:, 0], local[:, 1], local[:, 2]]
    np.testing.assert_array_equal(_read(source, cv, voxels), expected)
    # every chunk of the volume, partial ones included, is touched once
    assert len(group_by_chunk(voxels, _grid(cv))) == 5 * 3 * 3


@pytest.mark.parametrize("name", ["compressed_segmentation", "sharded"])
def test_remote_style_fetching_in_threads_keeps_the_order(
    volumes: dict[str, str], labels: npt.NDArray[np.uint64], name: str
) -> None:
    cv = CloudVolume(volumes[name], progress=False)
    source = chunk_source(cv, 0)
    assert isinstance(source, DirectChunks)
    source.fetcher.threads = 4  # as for a remote store
    source.ahead = 3
    source.fallback.read = _refuse  # type: ignore[method-assign]
    voxels = _sample(np.random.default_rng(12), 3000)
    local = voxels - np.asarray(OFFSET)
    np.testing.assert_array_equal(
        _read(source, cv, voxels), labels[local[:, 0], local[:, 1], local[:, 2]]
    )


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """A static file server that honours ``Range: bytes=a-b`` (as cloud storage does)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_head(self) -> Any:
        wanted = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if wanted is None or not path.is_file():
            return super().send_head()
        first, last = (int(v) for v in wanted.removeprefix("bytes=").split("-"))
        data = path.read_bytes()[first : last + 1]
        self.send_response(206)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Range", f"bytes {first}-{first + len(data) - 1}/*")
        self.end_headers()
        import io

        return io.BytesIO(data)


@pytest.fixture(scope="module")
def http_root(volumes: dict[str, str]) -> Iterator[str]:
    root = Path(volumes["sharded"].removeprefix("file://")).parent
    handler = partial(_RangeHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("folder", ["cseg", "sharded"])
def test_direct_reads_over_http(
    http_root: str, labels: npt.NDArray[np.uint64], folder: str
) -> None:
    cv = CloudVolume(f"{http_root}/{folder}", progress=False)
    source = chunk_source(cv, 0)
    assert isinstance(source, DirectChunks) and source.fetcher.threads > 1
    source.fallback.read = _refuse  # type: ignore[method-assign]
    voxels = _sample(np.random.default_rng(13), 2000)
    local = voxels - np.asarray(OFFSET)
    np.testing.assert_array_equal(
        _read(source, cv, voxels), labels[local[:, 0], local[:, 1], local[:, 2]]
    )


def test_an_encoding_the_direct_reader_refuses_goes_through_cloud_volume(
    volumes: dict[str, str],
) -> None:
    cv = CloudVolume(volumes["jpeg"], progress=False)
    source = chunk_source(cv, 0)
    assert isinstance(source, CloudVolumeChunks) and source.name == "cloud-volume"
    assert "'jpeg' encoding" in source.reason
    voxels = _sample(np.random.default_rng(14), 2000)
    whole = np.asarray(cv[cv.bounds])[..., 0]
    local = voxels - np.asarray(OFFSET)
    np.testing.assert_array_equal(
        _read(source, cv, voxels), whole[local[:, 0], local[:, 1], local[:, 2]]
    )
    with pytest.raises(ConfigurationError, match="'jpeg' encoding"):
        chunk_source(cv, 0, "direct")
    with pytest.raises(InputError, match="chunk_reads"):
        chunk_source(cv, 0, "fast")  # type: ignore[arg-type]


def test_missing_chunks_are_answered_as_cloud_volume_would(
    tmp_path: Path, labels: npt.NDArray[np.uint64]
) -> None:
    cloudpath = _write(tmp_path / "holes", labels, "compressed_segmentation", compress=False)
    first = tmp_path / "holes" / "4_4_40" / "30-62_14-46_3-19"
    first.unlink()
    voxels = np.array([[30, 14, 3], [61, 45, 18], [100, 50, 20]], dtype=np.int64)
    local = voxels - np.asarray(OFFSET)

    strict = CloudVolume(cloudpath, progress=False)
    assert chunk_source(strict, 0).name == "direct"
    with pytest.raises(EmptyVolumeException):
        _read(chunk_source(strict, 0), strict, voxels)

    filling = CloudVolume(cloudpath, progress=False, fill_missing=True)
    got = _read(chunk_source(filling, 0), filling, voxels)
    np.testing.assert_array_equal(got[:2], 0)
    assert got[2] == labels[local[2, 0], local[2, 1], local[2, 2]] != 0


@pytest.mark.parametrize(
    ("encoding", "content"),
    [
        ("compressed_segmentation", b"not a chunk!"),
        ("compressed_segmentation", None),  # cut in half
        ("raw", b"not a chunk!"),
    ],
)
def test_a_file_that_is_not_a_chunk_raises_a_typed_error(
    tmp_path: Path, labels: npt.NDArray[np.uint64], encoding: str, content: bytes | None
) -> None:
    cloudpath = _write(tmp_path / "bad", labels, encoding, compress=False)
    bad = tmp_path / "bad" / "4_4_40" / "30-62_14-46_3-19"
    whole = bad.read_bytes()
    bad.write_bytes(whole[: len(whole) // 2] if content is None else content)
    cv = CloudVolume(cloudpath, progress=False)
    source = chunk_source(cv, 0)
    assert isinstance(source, DirectChunks)
    source.fallback.read = _refuse  # type: ignore[method-assign]
    voxels = np.array([[100, 50, 20], [31, 15, 4]], dtype=np.int64)
    with pytest.raises(ResponseFormatError, match=f"not a {encoding} chunk") as info:
        _read(source, cv, voxels)
    assert info.value.url.endswith("/4_4_40/30-62_14-46_3-19")


def test_morton_codes_equal_cloud_volumes() -> None:
    info = {
        "data_type": "uint64",
        "num_channels": 1,
        "scales": [
            {
                "key": "s",
                "encoding": "raw",
                "size": [1000, 70, 17],
                "voxel_offset": [5, -3, 2],
                "chunk_sizes": [[64, 16, 16]],
            }
        ],
    }
    layout = ScaleLayout.from_info(info, 0)
    grid = np.stack(
        np.meshgrid(*(np.arange(n) for n in layout.grid_size.tolist()), indexing="ij"), -1
    ).reshape(-1, 3)
    lo = layout.lower + grid * layout.chunk_size
    expected = compressed_morton_code(grid, layout.grid_size)
    np.testing.assert_array_equal(layout.morton_codes(lo), expected)
    assert layout.file_names(lo[:1], np.minimum(lo[:1] + layout.chunk_size, layout.upper)) == [
        "s/5-69_-3-13_2-18"
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"encoding": "jpeg"}, "'jpeg' encoding"),
        ({"encoding": "compresso"}, "'compresso' encoding"),
        ({"encoding": "crackle"}, "'crackle' encoding"),
        ({"num_channels": 3}, "3 channels"),
        ({"data_type": "float32", "encoding": "compressed_segmentation"}, "of float32"),
        ({"sharding": {"@type": "other"}}, "sharding type 'other'"),
        ({"sharding": {"@type": "neuroglancer_uint64_sharded_v1", "hash": "md5"}}, "hash"),
        (
            {
                "sharding": {
                    "@type": "neuroglancer_uint64_sharded_v1",
                    "hash": "identity",
                    "data_encoding": "zstd",
                }
            },
            "data_encoding 'zstd'",
        ),
    ],
)
def test_layouts_the_direct_reader_refuses(change: dict[str, Any], reason: str) -> None:
    scale: dict[str, Any] = {
        "key": "s",
        "encoding": "compressed_segmentation",
        "size": [64, 64, 64],
        "chunk_sizes": [[32, 32, 32]],
    }
    info: dict[str, Any] = {"data_type": "uint64", "num_channels": 1, "scales": [scale]}
    assert ScaleLayout.from_info(info, 0).unsupported() is None
    for key, value in change.items():
        (scale if key in ("encoding", "sharding") else info)[key] = value
    found = ScaleLayout.from_info(info, 0).unsupported()
    assert found is not None and reason in found
