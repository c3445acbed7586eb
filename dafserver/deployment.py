"""A deployment: the database, the data folder, and the state of every service in it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from dafserver.auth.store import AuthStore
from dafserver.db import default_database_url, make_engine
from dafserver.services.annotation_store import AnnotationStore
from dafserver.services.info_store import InfoStore
from dafserver.services.nglstate_store import StateStore
from dafserver.services.schema_catalog import SchemaCatalog, load_catalog

ADMIN_EMAIL = "admin@dafserver.local"
ADMIN_TOKEN_FILE = "admin_token"


@dataclass
class Deployment:
    """Everything one dafserver process serves, opened from a data folder."""

    data_dir: Path
    engine: Engine
    auth: AuthStore
    nglstate: StateStore
    info: InfoStore
    annotation: AnnotationStore
    schemas: SchemaCatalog
    admin_token: str

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        database_url: str | None = None,
        size: str = "small",
        seed: int = 0,
    ) -> Deployment:
        """Open the deployment in ``data_dir``, creating it (and its dataset) on first use."""
        data_dir = data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(database_url or default_database_url(data_dir))
        auth = AuthStore(engine)
        admin_token = _ensure_admin(auth, data_dir)
        return cls(
            data_dir=data_dir,
            engine=engine,
            auth=auth,
            nglstate=StateStore(engine),
            info=InfoStore(engine),
            annotation=AnnotationStore(engine),
            schemas=load_catalog(),
            admin_token=admin_token,
        )

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
