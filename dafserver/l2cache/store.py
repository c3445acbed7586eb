"""The L2 caches in the deployment database (SQLAlchemy Core), one per graph.

``l2cache_tables`` is the deployment's L2Cache configuration (``graph_id → cv_path,
l2cache_id``, what ``table_mapping`` serves); ``l2cache_features`` holds one row per L2 id in
the storage dtypes of production's Bigtable cells: scalars as integers / floats, arrays as
little-endian bytes of their dtype (empty bytes for an empty array). Ids are stored as signed
64-bit integers (every L2 id is below 2**63). Rows are also kept in memory per cache, loaded
on first use and written through, so a request for thousands of ids needs no SQL. Ids missing
from memory are looked up in the database (another process serving the same database may have
written them: the features of an edit's new L2 ids) and kept when found.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
)

from dafserver.l2cache.features import NodeFeatures

L2CACHE_METADATA = MetaData()
BATCH_SIZE = 5_000

caches = Table(
    "l2cache_tables",
    L2CACHE_METADATA,
    Column("graph_id", String(128), primary_key=True),
    Column("l2cache_id", String(128), nullable=False),
    Column("cv_path", Text, nullable=False),
)
features = Table(
    "l2cache_features",
    L2CACHE_METADATA,
    Column("l2cache_id", String(128), primary_key=True),
    Column("l2_id", BigInteger, primary_key=True, autoincrement=False),
    Column("size_voxels", BigInteger, nullable=False),
    Column("area_nm2", BigInteger, nullable=False),
    Column("max_dt_nm", Integer, nullable=False),
    Column("mean_dt_nm", Float, nullable=False),
    Column("rep_coord", LargeBinary, nullable=False),
    Column("chunk_intersect_count", LargeBinary, nullable=False),
    Column("pca", LargeBinary, nullable=False),
    Column("pca_val", LargeBinary, nullable=False),
)


@dataclass(frozen=True)
class CacheConfig:
    """One graph's entry of the L2Cache configuration."""

    graph_id: str
    l2cache_id: str
    cv_path: str
    """May contain ``{server}``, replaced by the base URL a request came in on."""


def _blob(array: npt.NDArray[np.generic]) -> bytes:
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def _row(cache_id: str, l2_id: int, f: NodeFeatures) -> dict[str, object]:
    return {
        "l2cache_id": cache_id,
        "l2_id": int(l2_id),
        "size_voxels": f.voxel_count,
        "area_nm2": f.area_nm2,
        "max_dt_nm": f.max_dt_nm,
        "mean_dt_nm": f.mean_dt_nm,
        "rep_coord": _blob(f.rep_coord),
        "chunk_intersect_count": _blob(f.chunk_intersect_count),
        "pca": _blob(f.pca),
        "pca_val": _blob(f.pca_val),
    }


def _features(row: tuple[object, ...]) -> NodeFeatures:
    size, area, max_dt, mean_dt, rep, intersect, pca, pca_val = row
    assert isinstance(rep, bytes) and isinstance(intersect, bytes)
    assert isinstance(pca, bytes) and isinstance(pca_val, bytes)
    return NodeFeatures(
        voxel_count=int(size),  # type: ignore[call-overload]
        area_nm2=int(area),  # type: ignore[call-overload]
        max_dt_nm=int(max_dt),  # type: ignore[call-overload]
        mean_dt_nm=float(mean_dt),  # type: ignore[arg-type]
        rep_coord=np.frombuffer(rep, dtype="<u2").astype(np.uint16),
        chunk_intersect_count=np.frombuffer(intersect, dtype="<u2")
        .astype(np.uint16)
        .reshape(-1, 3),
        pca=np.frombuffer(pca, dtype="<f2").astype(np.float16).reshape(-1, 3),
        pca_val=np.frombuffer(pca_val, dtype="<f4").astype(np.float32),
    )


class L2CacheStore:
    """The L2 caches of a deployment."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._memory: dict[str, dict[int, NodeFeatures]] = {}
        L2CACHE_METADATA.create_all(engine)

    # -- configuration ----------------------------------------------------------------------
    def register(self, config: CacheConfig) -> None:
        """Add (or replace) a graph's entry of the configuration."""
        with self._engine.begin() as conn:
            conn.execute(delete(caches).where(caches.c.graph_id == config.graph_id))
            conn.execute(insert(caches).values(**vars(config)))

    def configs(self) -> list[CacheConfig]:
        """Every graph that has an L2 cache, by graph id."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(caches).order_by(caches.c.graph_id)).all()
        return [CacheConfig(r.graph_id, r.l2cache_id, r.cv_path) for r in rows]

    def config(self, graph_id: str) -> CacheConfig | None:
        """The configuration entry of ``graph_id``, if it has a cache."""
        return next((c for c in self.configs() if c.graph_id == graph_id), None)

    # -- rows -------------------------------------------------------------------------------
    def _loaded(self, cache_id: str) -> dict[int, NodeFeatures]:
        memory = self._memory.get(cache_id)
        if memory is None:
            columns = [c for c in features.c if c.name not in ("l2cache_id", "l2_id")]
            query = select(features.c.l2_id, *columns).where(features.c.l2cache_id == cache_id)
            with self._engine.connect() as conn:
                memory = {int(r[0]): _features(tuple(r[1:])) for r in conn.execute(query)}
            self._memory[cache_id] = memory
        return memory

    def count(self, cache_id: str) -> int:
        """Number of cached L2 ids."""
        with self._lock:
            return len(self._loaded(cache_id))

    def put(self, cache_id: str, rows: Iterable[tuple[int, NodeFeatures]]) -> None:
        """Write (or overwrite) cache rows."""
        items = [(int(i), f) for i, f in rows]
        with self._lock:
            memory = self._loaded(cache_id)
            with self._engine.begin() as conn:
                for start in range(0, len(items), BATCH_SIZE):
                    batch = items[start : start + BATCH_SIZE]
                    conn.execute(
                        delete(features).where(
                            features.c.l2cache_id == cache_id,
                            features.c.l2_id.in_([i for i, _ in batch]),
                        )
                    )
                    conn.execute(insert(features), [_row(cache_id, i, f) for i, f in batch])
            memory.update(items)

    def get(self, cache_id: str, l2_ids: Iterable[int]) -> dict[int, NodeFeatures]:
        """The cached rows among ``l2_ids`` (ids without a row are left out)."""
        wanted = [int(v) for v in l2_ids]
        with self._lock:
            memory = self._loaded(cache_id)
            missing = sorted({i for i in wanted if i not in memory and 0 <= i < 2**63})
            if missing:
                memory.update(self._read(cache_id, missing))
            return {i: memory[i] for i in wanted if i in memory}

    def _read(self, cache_id: str, l2_ids: list[int]) -> dict[int, NodeFeatures]:
        columns = [c for c in features.c if c.name not in ("l2cache_id", "l2_id")]
        found: dict[int, NodeFeatures] = {}
        with self._engine.connect() as conn:
            for start in range(0, len(l2_ids), BATCH_SIZE // 10):
                batch = l2_ids[start : start + BATCH_SIZE // 10]
                query = select(features.c.l2_id, *columns).where(
                    features.c.l2cache_id == cache_id, features.c.l2_id.in_(batch)
                )
                found.update((int(r[0]), _features(tuple(r[1:]))) for r in conn.execute(query))
        return found
