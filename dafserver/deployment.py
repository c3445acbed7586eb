"""A deployment: the database, the data folder, and the state of every service in it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from dafserver.auth.store import AuthStore
from dafserver.chunkedgraph.graph import ChunkedGraph
from dafserver.chunkedgraph.store import GraphStore
from dafserver.dataset.builder import build_dataset
from dafserver.dataset.manifest import DatasetManifest
from dafserver.db import default_database_url, make_engine
from dafserver.l2cache.fill import attach, fill_graph
from dafserver.l2cache.store import L2CacheStore
from dafserver.seed import seed_deployment
from dafserver.services.annotation_store import AnnotationStore
from dafserver.services.info_store import InfoStore
from dafserver.services.schema_catalog import SchemaCatalog, load_catalog
from dafserver.services.state_store import StateStore

ADMIN_EMAIL = "admin@dafserver.local"
ADMIN_TOKEN_FILE = "admin_token"


@dataclass
class Deployment:
    """Everything one dafserver process serves, opened from a data folder."""

    data_dir: Path
    engine: Engine
    auth: AuthStore
    state: StateStore
    info: InfoStore
    annotation: AnnotationStore
    schemas: SchemaCatalog
    admin_token: str
    l2cache: L2CacheStore
    manifest: DatasetManifest | None = None
    graphs: dict[str, ChunkedGraph] = field(default_factory=dict)
    """Chunkedgraphs by table id."""

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        database_url: str | None = None,
        size: str | None = "small",
        seed: int = 0,
    ) -> Deployment:
        """Open the deployment in ``data_dir``, creating it on first use.

        With a ``size``, the synthetic dataset of that size is built (once) and registered with
        every service; ``size=None`` gives empty services (no datastack, no graph).
        """
        data_dir = data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(database_url or default_database_url(data_dir))
        auth = AuthStore(engine)
        admin_token = _ensure_admin(auth, data_dir)
        manifest = graph = None
        if size is not None:
            manifest = build_dataset(data_dir, size=size, seed=seed, engine=engine)
            graph = ChunkedGraph.load(GraphStore(engine), manifest.graph.table_id)
        deployment = cls(
            data_dir=data_dir,
            engine=engine,
            auth=auth,
            state=StateStore(engine),
            info=InfoStore(engine),
            annotation=AnnotationStore(engine),
            schemas=load_catalog(),
            admin_token=admin_token,
            l2cache=L2CacheStore(engine),
            manifest=manifest,
            graphs={} if graph is None else {graph.table_id: graph},
        )
        if manifest is not None:
            seed_deployment(deployment, manifest)
            # The L2 cache of every L2 node once (also in folders seeded before it existed),
            # then of the new L2 ids of every edit, synchronously (dafserver.l2cache.fill).
            fill_graph(deployment.l2cache, deployment.graph, manifest.segmentation_cloudpath)
            attach(deployment.l2cache, deployment.graph, manifest.segmentation_cloudpath)
        return deployment

    @property
    def graph(self) -> ChunkedGraph:
        """The chunkedgraph of the deployment's dataset."""
        if self.manifest is None:
            raise LookupError("this deployment has no dataset")
        return self.graphs[self.manifest.graph.table_id]

    def close(self) -> None:
        self.engine.dispose()


def _ensure_admin(auth: AuthStore, data_dir: Path) -> str:
    """Create the superadmin and its first API key once; later starts reuse them."""
    token_file = data_dir / ADMIN_TOKEN_FILE
    user_id = auth.user_id_by_email(ADMIN_EMAIL)
    if user_id is not None and token_file.is_file():
        token = token_file.read_text(encoding="utf-8").strip()
        if auth.token_owner(token) == user_id:
            return token
    if user_id is None:
        user_id = auth.create_user("admin", ADMIN_EMAIL, admin=True)
    token = auth.create_token(user_id, description="created by dafserver on first start")
    tmp = token_file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    os.replace(tmp, token_file)
    return token
