"""CloudVolume's ``graphene://`` reader against the server: info, roots, cutouts and leaves."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from chunkedgraph_service_support import Site
from cloudvolume import Bbox, CloudVolume


@pytest.fixture(scope="module")
def volume(cg: Site) -> Iterator[CloudVolume]:
    yield CloudVolume(
        f"graphene://{cg.server.base_url}/segmentation/table/{cg.table}",
        secrets={"token": cg.server.admin_token},
        use_https=False,
        progress=False,
    )


@pytest.fixture(scope="module")
def watershed(cg: Site) -> CloudVolume:
    return CloudVolume(cg.manifest.segmentation_cloudpath, progress=False)


def _box(volume: CloudVolume) -> Bbox:
    """Half of the volume in x and y, a third in z, away from the origin corner."""
    low = np.asarray(volume.bounds.minpt)
    size = np.asarray(volume.bounds.size3())
    start = low + size // np.array([4, 4, 3])
    return Bbox(start, start + size // np.array([2, 2, 3]))


def test_reader_sees_the_graph_geometry(cg: Site, volume: CloudVolume) -> None:
    meta = volume.meta
    assert meta.n_layers == cg.graph.n_layers
    assert list(meta.graph_chunk_size) == list(cg.graph.meta.chunk_size)
    assert meta.cloudpath == cg.manifest.segmentation_cloudpath
    supervoxel = int(cg.graph.supervoxel_ids[100])
    layout = cg.graph.layout
    assert int(meta.decode_layer_id(supervoxel)) == 1
    assert (
        list(meta.decode_chunk_position(supervoxel))
        == layout.get_chunk_coords(supervoxel).reshape(3).tolist()
    )


def test_get_roots_equals_the_engine(cg: Site, volume: CloudVolume) -> None:
    ids = cg.graph.supervoxel_ids[::7]
    assert volume.get_roots(ids).tolist() == cg.graph.get_roots(ids).tolist()
    merge = next(e for e in cg.manifest.edits if e.kind == "merge")
    before = volume.get_roots(list(merge.supervoxel_ids), timestamp=int(merge.timestamp) - 1)
    assert before.tolist() == list(merge.roots_before)


def test_agglomerated_cutout_equals_engine_roots(
    cg: Site, volume: CloudVolume, watershed: CloudVolume
) -> None:
    box = _box(volume)
    agglomerated = np.asarray(volume.download(box, agglomerate=True))[..., 0]
    supervoxels = np.asarray(watershed.download(box))[..., 0]
    labels, inverse = np.unique(supervoxels, return_inverse=True)
    roots = cg.graph.get_roots(labels)
    roots[labels == 0] = 0
    expected = roots[inverse].reshape(supervoxels.shape)
    assert np.array_equal(agglomerated, expected)
    assert len(np.unique(agglomerated)) < len(labels)


def test_get_leaves_in_a_box_equals_the_engine(cg: Site, volume: CloudVolume) -> None:
    box = _box(volume)
    supervoxels = np.asarray(volume.download(box, agglomerate=False))[..., 0]
    root = int(cg.graph.get_roots([int(supervoxels[supervoxels != 0][0])])[0])
    leaves = volume.get_leaves(root, box, mip=0)
    bounds = [list(box.minpt), list(box.maxpt)]
    assert np.sort(leaves).tolist() == cg.graph.get_leaves(root, 1, bounds).tolist()
    assert 0 < len(leaves) <= len(cg.graph.get_leaves(root))


def test_chunk_mappings_equal_the_engine(cg: Site, volume: CloudVolume) -> None:
    l2 = int(cg.graph.get_leaves(cg.manifest.edits[-1].new_root_ids[0], 2)[0])
    mapping = volume.get_chunk_mappings(l2)
    pairs = cg.graph.get_l2_chunk_children(l2).reshape(-1, 2)
    expected = {int(k): sorted(pairs[pairs[:, 0] == k, 1].tolist()) for k in np.unique(pairs[:, 0])}
    assert {int(k): sorted(int(v) for v in vs) for k, vs in mapping.items()} == expected
