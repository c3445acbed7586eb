"""The JSON records dafclient hands back as plain dicts, typed.

Some answers are dicts that code written for CAVEclient indexes
(``client.materialize.get_version_metadata()["time_stamp"]``), so they stay dicts at run time.
These ``TypedDict`` classes give them their keys and value types for IDE completion and mypy.
Each one follows a response schema of the spec (``specs/``): the body is first checked by the
generated model of that schema, so a reply without a required key is a
:class:`~dafclient.errors.ResponseFormatError`, and keys the spec does not declare are kept
(a ``TypedDict`` does not forbid them at run time). Keys a service sends only sometimes are
``NotRequired``.

Answers whose shape is free (a Neuroglancer state, a JSON Schema, annotation rows of a
user-chosen type, a viewer's ``version.json``) stay ``dict[str, Any]``.
"""

# No ``from __future__ import annotations`` here: Python 3.11's TypedDict reads ``NotRequired``
# only from evaluated annotations (``__required_keys__`` would list every key).
from datetime import datetime
from typing import Any, Literal, NotRequired, TypedDict

# -- materialize ---------------------------------------------------------------------------------


class VersionMetadata(TypedDict):
    """A materialization version (``get_version_metadata``); ``time_stamp`` and
    ``expires_on`` are UTC datetimes (the service sends naive ISO strings meaning UTC)."""

    id: int
    datastack: str
    version: int
    time_stamp: datetime
    expires_on: datetime | None
    valid: bool
    status: Literal["AVAILABLE", "EXPIRED", "FAILED", "RUNNING"]
    is_merged: bool


class MaterializedTableMetadata(TypedDict):
    """A table of a materialization version (``materialize.get_table_metadata``): the
    version's table record merged with the annotation table's metadata, plus
    ``voxel_resolution`` ``[x, y, z]`` (CAVEclient's). Reference tables lack
    ``segmentation_source``, ``pcg_table_name`` and ``last_updated``."""

    id: int
    aligned_volume: str
    schema: str
    table_name: str
    voxel_resolution_x: float
    voxel_resolution_y: float
    voxel_resolution_z: float
    voxel_resolution: list[float]
    schema_type: NotRequired[str]
    valid: NotRequired[bool | None]
    created: NotRequired[str]
    user_id: NotRequired[str]
    description: NotRequired[str]
    notice_text: NotRequired[str | None]
    reference_table: NotRequired[str | None]
    flat_segmentation_source: NotRequired[str | None]
    write_permission: NotRequired[Literal["GROUP", "PRIVATE", "PUBLIC"]]
    read_permission: NotRequired[Literal["GROUP", "PRIVATE", "PUBLIC"]]
    last_modified: NotRequired[str]
    segmentation_source: NotRequired[str | None]
    pcg_table_name: NotRequired[str]
    last_updated: NotRequired[str | None]


class ViewListing(TypedDict):
    """One view in ``get_views``'s ``{name: listing}``."""

    id: int
    description: str | None


class ViewMetadata(TypedDict):
    """A view of a materialization version (``get_view_metadata``), plus
    ``voxel_resolution`` ``[x, y, z]``."""

    id: int
    table_name: str
    datastack_name: str
    voxel_resolution_x: float
    voxel_resolution_y: float
    voxel_resolution_z: float
    voxel_resolution: list[float]
    description: NotRequired[str | None]
    notice_text: NotRequired[str | None]
    live_compatible: NotRequired[bool]


class ViewColumn(TypedDict):
    """One column in ``get_view_schema``'s ``{column: type}``."""

    type: Literal["boolean", "float", "integer", "number", "SpatialPoint", "string"]
    format: NotRequired[str]


# -- chunkedgraph --------------------------------------------------------------------------------


class ScaleInfo(TypedDict):
    """One precomputed scale of the watershed volume in :data:`SegmentationInfo`."""

    key: str
    resolution: list[float]
    size: list[int]
    voxel_offset: list[int]
    chunk_sizes: list[list[int]]
    encoding: str
    compressed_segmentation_block_size: NotRequired[list[int]]
    sharding: NotRequired[dict[str, Any]]


class GraphGeometry(TypedDict):
    """The chunkedgraph geometry in :data:`SegmentationInfo` (decodes node ids)."""

    chunk_size: list[int]
    bounding_box: list[int]
    n_bits_for_layer_id: int
    cv_mip: int
    n_layers: int
    spatial_bit_masks: dict[str, int]
    fan_out: NotRequired[int]
    uses_new_draco_bin_size: NotRequired[bool]


class GraphApp(TypedDict):
    """``app`` of :data:`SegmentationInfo`."""

    supported_api_versions: list[int]


class MeshMetadata(TypedDict, total=False):
    """Mesh layout hints of :data:`SegmentationInfo`."""

    uniform_draco_grid_size: float
    max_meshed_layer: int
    unsharded_mesh_dir: str
    draco_grid_sizes: list[float]


SegmentationInfo = TypedDict(
    "SegmentationInfo",
    {
        "@type": NotRequired[str],
        "type": str,
        "data_type": str,
        "num_channels": int,
        "scales": list[ScaleInfo],
        "data_dir": str,
        "chunks_start_at_voxel_offset": bool,
        "graph": GraphGeometry,
        "app": GraphApp,
        "sharded_mesh": bool,
        "verify_mesh": bool,
        "mesh": NotRequired[str],
        "mesh_dir": NotRequired[str],
        "mesh_metadata": NotRequired[MeshMetadata],
    },
)
"""The graphene info of a chunkedgraph table (``chunkedgraph.segmentation_info``): the
watershed volume's precomputed info plus the graph's geometry."""


# -- l2cache -------------------------------------------------------------------------------------


class L2Features(TypedDict, total=False):
    """The features of one L2 node in ``l2cache.get_l2data(as_dict=True)``: only those asked
    for, and ``{}`` for an uncached node (see :mod:`dafclient.services.l2cache` for units)."""

    size_nm3: float
    area_nm2: int
    max_dt_nm: int
    mean_dt_nm: float
    rep_coord_nm: list[float]
    chunk_intersect_count: list[list[int]]
    pca: list[list[float]]
    pca_val: list[float]


class L2CacheConfig(TypedDict):
    """One table of ``l2cache.table_mapping()``."""

    cv_path: str
    l2cache_id: str


__all__ = [
    "GraphApp",
    "GraphGeometry",
    "L2CacheConfig",
    "L2Features",
    "MaterializedTableMetadata",
    "MeshMetadata",
    "ScaleInfo",
    "SegmentationInfo",
    "VersionMetadata",
    "ViewColumn",
    "ViewListing",
    "ViewMetadata",
]
