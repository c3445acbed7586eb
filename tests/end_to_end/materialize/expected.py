"""Expected query answers computed from the deployment's own data, not through the engine: rows
from the AnnotationEngine's storage, supervoxels read from the segmentation volume, roots from the
chunkedgraph at the requested time."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from dafserver.deployment import Deployment
from dafserver.seed import ALIGNED_VOLUME
from tests.server.materialize_service.materialize_support import naive, supervoxels


def roots_at(
    deployment: Deployment, svs: npt.NDArray[np.uint64], when: datetime
) -> npt.NDArray[np.uint64]:
    stamp = naive(when).replace(tzinfo=UTC).timestamp()
    return np.asarray(deployment.graph.get_roots(svs, timestamp=stamp), dtype=np.uint64)


def rows_alive(
    deployment: Deployment,
    table_name: str,
    alive: datetime,
    roots: datetime,
    points: tuple[str, ...],
) -> pd.DataFrame:
    """Rows of ``table_name`` alive at ``alive``, with each point's supervoxel and its root at
    ``roots``, sorted by id."""
    store = deployment.annotation
    table = store.table(ALIGNED_VOLUME, table_name)
    assert table is not None
    when = naive(alive)
    rows = [
        r
        for r in store.get(table, range(1, store.count(table) + 10_000))
        if r.created <= when and (r.deleted is None or r.deleted > when)
    ]
    frame = pd.DataFrame({"id": np.asarray([r.id for r in rows], dtype=np.uint64)})
    for key in rows[0].data if rows else []:
        frame[key] = [r.data.get(key) for r in rows]
    for point in points:
        positions = np.asarray(frame[f"{point}_position"].tolist(), dtype=np.int64).reshape(-1, 3)
        svs = supervoxels(deployment, positions)
        frame[f"{point}_supervoxel_id"] = svs
        frame[f"{point}_root_id"] = roots_at(deployment, svs, roots)
    return frame.sort_values("id").reset_index(drop=True)


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("id").reset_index(drop=True)
