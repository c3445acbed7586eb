"""What the attributes route serves for cached rows: production's ``handle_attributes``.

Stored values are served as they are except two, converted at read time as production does:
``size_nm3`` is the voxel count times the voxel volume (an int64, so ``int64_as_str`` writes it as
a string), and ``rep_coord_nm`` the chunk-local voxel moved to the dataset
(``+ chunk · chunk_size + bounds start``) and scaled to nm (float64). Empty arrays (``pca`` and
``pca_val`` of small nodes) are left out of a node's object. Values stay numpy scalars and arrays
so the PyChunkedGraph-style renderer applies ``int64_as_str`` exactly to the int64 values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dafserver.chunkedgraph.meta import GraphMeta
from dafserver.l2cache.features import NodeFeatures

ATTRIBUTE_DTYPES = {
    "area_nm2": "uint32",
    "chunk_intersect_count": "uint16",
    "max_dt_nm": "uint16",
    "mean_dt_nm": "float16",
    "pca": "float16",
    "pca_val": "float32",
    "rep_coord_nm": "uint16",
    "size_nm3": "uint32",
}
"""Every attribute and its storage dtype (what ``attribute_metadata`` reports)."""


def attribute_metadata() -> dict[str, str]:
    """``{name: "<class 'numpy.<dtype>'>"}``, production's ``str(serializer.basetype)``."""
    return {name: f"<class 'numpy.{dtype}'>" for name, dtype in ATTRIBUTE_DTYPES.items()}


def voxel_volume(meta: GraphMeta) -> np.int64 | np.float64:
    """The volume of one voxel in nm³ (an integer when the resolution is)."""
    if all(float(r).is_integer() for r in meta.resolution):
        return np.int64(np.prod([int(r) for r in meta.resolution]))
    return np.float64(np.prod(meta.resolution))


def served_row(
    features: NodeFeatures, meta: GraphMeta, l2_id: int, names: Sequence[str]
) -> dict[str, Any]:
    """One node's object for the attributes in ``names``."""
    if features.is_failed:
        return {"size_nm3": np.int64(0) * voxel_volume(meta)} if "size_nm3" in names else {}
    values: dict[str, Any] = {}
    for name in names:
        if name == "size_nm3":
            values[name] = np.int64(features.voxel_count) * voxel_volume(meta)
        elif name == "area_nm2":
            values[name] = np.uint32(features.area_nm2)
        elif name == "max_dt_nm":
            values[name] = np.uint16(features.max_dt_nm)
        elif name == "mean_dt_nm":
            values[name] = np.float16(features.mean_dt_nm)
        elif name == "rep_coord_nm":
            values[name] = _world_nm(features.rep_coord, meta, l2_id)
        elif name == "chunk_intersect_count":
            values[name] = features.chunk_intersect_count
        elif name == "pca" and features.pca.size:
            values[name] = features.pca
        elif name == "pca_val" and features.pca_val.size:
            values[name] = features.pca_val
    return values


def _world_nm(local: np.ndarray[Any, Any], meta: GraphMeta, l2_id: int) -> np.ndarray[Any, Any]:
    chunk = meta.layout.get_chunk_coords(np.uint64(l2_id))[0]
    offset = chunk * np.asarray(meta.chunk_size) + np.asarray(meta.voxel_offset)
    voxel = local.astype(np.uint64) + offset.astype(np.int64)
    result: np.ndarray[Any, Any] = voxel * np.asarray(meta.resolution, dtype=np.float64)
    return result
