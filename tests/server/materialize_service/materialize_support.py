"""Calls to the MaterializationEngine routes, and the expected answers computed independently from
the deployment's own data: annotation rows from the AnnotationEngine's storage, supervoxels from the
segmentation volume read whole, roots from the chunkedgraph at the requested time."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from dafserver.dataset.volumes import read_volume
from dafserver.deployment import Deployment
from dafserver.seed import ALIGNED_VOLUME, DATASTACK

V3 = f"/materialize/api/v3/datastack/{DATASTACK}"
V2 = f"/materialize/api/v2/datastack/{DATASTACK}"
ARROW = "data.arrow"


def frame_of(response: httpx.Response) -> pd.DataFrame:
    """A query response (Arrow IPC stream or JSON records) as a DataFrame."""
    assert response.status_code == 200, response.text
    if response.headers["content-type"] == ARROW:
        return pa.ipc.open_stream(response.content).read_all().to_pandas()
    return pd.DataFrame(response.json())


def query(http: httpx.Client, path: str, body: dict[str, Any], **params: Any) -> httpx.Response:
    params.setdefault("direct_sql_pandas", "true")
    params.setdefault("arrow_format", "true")
    return http.post(path, json=body, params=params)


def naive(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def version_time(http: httpx.Client, version: int) -> datetime:
    stamp = http.get(f"{V3}/version/{version}").json()["time_stamp"]
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f")


@functools.cache
def _segmentation(folder: Path) -> npt.NDArray[np.uint64]:
    return read_volume(folder, mip=0)


def supervoxels(deployment: Deployment, positions: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    manifest = deployment.manifest
    assert manifest is not None
    volume = _segmentation(manifest.data_dir / manifest.segmentation_path)
    local = positions - np.asarray(manifest.graph.voxel_offset, dtype=np.int64)
    return np.asarray(volume[local[:, 0], local[:, 1], local[:, 2]], dtype=np.uint64)


def roots(
    deployment: Deployment, svs: npt.NDArray[np.uint64], when: datetime
) -> npt.NDArray[np.int64]:
    found = deployment.graph.get_roots(svs, timestamp=naive(when).replace(tzinfo=UTC).timestamp())
    return np.asarray(found, dtype=np.int64)


def expected_table(
    deployment: Deployment, table_name: str, when: datetime, points: tuple[str, ...]
) -> pd.DataFrame:
    """The rows of ``table_name`` alive at ``when``, with supervoxels and roots of ``points``."""
    store = deployment.annotation
    table = store.table(ALIGNED_VOLUME, table_name)
    assert table is not None
    when = naive(when)
    rows = [
        r
        for r in store.get(table, range(1, store.count(table) + 10_000))
        if r.created <= when and (r.deleted is None or r.deleted > when)
    ]
    frame = pd.DataFrame({"id": [r.id for r in rows]})
    for key in rows[0].data if rows else []:
        frame[key] = [r.data.get(key) for r in rows]
    for point in points:
        positions = np.asarray(frame[f"{point}_position"].tolist(), dtype=np.int64).reshape(-1, 3)
        svs = supervoxels(deployment, positions)
        frame[f"{point}_supervoxel_id"] = svs.astype(np.int64)
        frame[f"{point}_root_id"] = roots(deployment, svs, when)
    return frame.sort_values("id").reset_index(drop=True)


def positions_of(frame: pd.DataFrame, name: str) -> npt.NDArray[np.int64]:
    """The split ``{name}_x/_y/_z`` columns of a query result as int64[N, 3]."""
    return frame[[f"{name}_x", f"{name}_y", f"{name}_z"]].to_numpy(dtype=np.int64)
