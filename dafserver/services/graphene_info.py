"""The graphene info document of a table (``GET /segmentation/table/{table_id}/info``).

PyChunkedGraph answers the watershed volume's precomputed info merged with the graph metadata
(``data_dir``, ``graph``, ``chunks_start_at_voxel_offset``), the supported API versions and the
mesh settings. CloudVolume's ``graphene://`` reader and neuroglancer need exactly these keys;
voxel data is then read from ``data_dir`` directly.

dafserver has no meshes: ``sharded_mesh`` and ``verify_mesh`` are false (production writes
``sharded_mesh: true`` whatever the table), ``mesh``/``mesh_dir`` name a directory that does not
exist under ``data_dir``, so readers find no mesh info and the manifest route lists no fragments.
"""

from __future__ import annotations

import json
from typing import Any

from dafserver.chunkedgraph.meta import GraphMeta
from dafserver.dataset.manifest import DatasetManifest

API_VERSIONS = (0, 1)
"""0 = the legacy ``/segmentation/1.0`` API, 1 = ``/segmentation/api/v1``."""
MESH_DIR = "graphene_meshes"
INFO_FILE = "info"


def graph_block(meta: GraphMeta) -> dict[str, Any]:
    """The ``graph`` key: what a reader needs to decode node ids and chunk coordinates."""
    block = meta.info_graph_dict()
    block["fan_out"] = meta.fan_out
    return block


def watershed_info(manifest: DatasetManifest) -> dict[str, Any]:
    """The precomputed info of the supervoxel volume, read from disk."""
    path = manifest.data_dir / manifest.segmentation_path / INFO_FILE
    info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return info


def graphene_info(manifest: DatasetManifest, meta: GraphMeta) -> dict[str, Any]:
    """The info document of the graph ``meta`` over the watershed volume of ``manifest``."""
    info = watershed_info(manifest)
    info.update(
        {
            "chunks_start_at_voxel_offset": True,
            "data_dir": manifest.segmentation_cloudpath,
            "graph": graph_block(meta),
            "mesh": MESH_DIR,
            "mesh_dir": MESH_DIR,
            "app": {"supported_api_versions": list(API_VERSIONS)},
            "sharded_mesh": False,
            "verify_mesh": False,
        }
    )
    return info
