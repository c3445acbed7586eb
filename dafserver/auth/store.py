"""Reading and writing the auth tables: the equivalent of middle_auth's user cache and token routes."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from dafserver.auth import tables as t

PERMISSION_LEVELS = {"view": 1, "edit": 2}
"""Legacy numeric permission levels (``permissions`` in the user cache)."""


def new_token() -> str:
    """An opaque API key in middle_auth's format: 32 lowercase hex characters."""
    return secrets.token_hex(16)


@dataclass(frozen=True)
class UserContext:
    """The authenticated caller of one request (what middle_auth_client puts in ``g.auth_user``)."""

    id: int
    name: str
    email: str
    admin: bool
    groups: tuple[str, ...]
    permissions: dict[str, tuple[str, ...]]
    token: str

    def has_permission(self, dataset: str, permission: str) -> bool:
        return permission in self.permissions.get(dataset, ())


class AuthStore:
    """Users, API keys, groups and per-dataset permissions in the deployment's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        t.AUTH_METADATA.create_all(engine)

    # -- users and tokens ---------------------------------------------------------------------
    def create_user(self, name: str, email: str, *, admin: bool = False) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(t.users).values(
                    name=name, email=email, admin=admin, pi="", created=time.time()
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def user_id_by_email(self, email: str) -> int | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.users.c.id).where(t.users.c.email == email)).first()
        return None if row is None else int(row.id)

    def create_token(self, user_id: int, description: str | None = None) -> str:
        """Add a new API key for ``user_id``; older keys stay valid."""
        token = new_token()
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.api_keys).values(
                    user_id=user_id, key=token, description=description, created=now, updated=now
                )
            )
        return token

    def list_tokens(self, user_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.api_keys)
                .where(t.api_keys.c.user_id == user_id)
                .order_by(t.api_keys.c.created.desc(), t.api_keys.c.id.desc())
            ).all()
        return [dict(row._mapping) for row in rows]

    def delete_token(self, user_id: int, token_id: int) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(t.api_keys).where(
                    (t.api_keys.c.id == token_id) & (t.api_keys.c.user_id == user_id)
                )
            )
        return result.rowcount > 0

    def delete_key(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t.api_keys).where(t.api_keys.c.key == key))

    def token_owner(self, key: str) -> int | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.api_keys.c.user_id).where(t.api_keys.c.key == key)).first()
        return None if row is None else int(row.user_id)

    def authenticate(self, token: str) -> UserContext | None:
        """The caller owning ``token``, or None when the token is unknown."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(t.users)
                .join(t.api_keys, t.api_keys.c.user_id == t.users.c.id)
                .where(t.api_keys.c.key == token)
            ).first()
            if row is None:
                return None
            conn.execute(
                update(t.api_keys).where(t.api_keys.c.key == token).values(last_used=time.time())
            )
        groups, permissions = self._groups_and_permissions(int(row.id))
        return UserContext(
            id=int(row.id),
            name=str(row.name),
            email=str(row.email),
            admin=bool(row.admin),
            groups=groups,
            permissions=permissions,
            token=token,
        )

    def _groups_and_permissions(
        self, user_id: int
    ) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
        with self.engine.connect() as conn:
            group_rows = conn.execute(
                select(t.groups.c.id, t.groups.c.name)
                .join(t.user_groups, t.user_groups.c.group_id == t.groups.c.id)
                .where(t.user_groups.c.user_id == user_id)
                .order_by(t.groups.c.name)
            ).all()
            perm_rows = conn.execute(
                select(t.datasets.c.name, t.group_dataset_permissions.c.permission)
                .join(
                    t.group_dataset_permissions,
                    t.group_dataset_permissions.c.dataset_id == t.datasets.c.id,
                )
                .where(t.group_dataset_permissions.c.group_id.in_([g.id for g in group_rows]))
            ).all()
        permissions: dict[str, set[str]] = {}
        for dataset, permission in perm_rows:
            permissions.setdefault(str(dataset), set()).add(str(permission))
        return (
            tuple(str(g.name) for g in group_rows),
            {ds: tuple(sorted(p)) for ds, p in sorted(permissions.items())},
        )

    # -- groups, datasets, mappings -----------------------------------------------------------
    def ensure_group(self, name: str) -> int:
        return self._ensure_named(t.groups, name)

    def ensure_dataset(self, name: str) -> int:
        return self._ensure_named(t.datasets, name)

    def _ensure_named(self, table: Any, name: str) -> int:
        with self.engine.begin() as conn:
            row = conn.execute(select(table.c.id).where(table.c.name == name)).first()
            if row is not None:
                return int(row.id)
            key = conn.execute(insert(table).values(name=name)).inserted_primary_key
            assert key is not None
            return int(key[0])

    def add_to_group(self, user_id: int, group: str) -> None:
        group_id = self.ensure_group(group)
        with self.engine.begin() as conn:
            exists = conn.execute(
                select(t.user_groups).where(
                    (t.user_groups.c.user_id == user_id) & (t.user_groups.c.group_id == group_id)
                )
            ).first()
            if exists is None:
                conn.execute(insert(t.user_groups).values(user_id=user_id, group_id=group_id))

    def grant(self, group: str, dataset: str, permissions: Iterable[str]) -> None:
        group_id, dataset_id = self.ensure_group(group), self.ensure_dataset(dataset)
        with self.engine.begin() as conn:
            for permission in permissions:
                exists = conn.execute(
                    select(t.group_dataset_permissions).where(
                        (t.group_dataset_permissions.c.group_id == group_id)
                        & (t.group_dataset_permissions.c.dataset_id == dataset_id)
                        & (t.group_dataset_permissions.c.permission == permission)
                    )
                ).first()
                if exists is None:
                    conn.execute(
                        insert(t.group_dataset_permissions).values(
                            group_id=group_id, dataset_id=dataset_id, permission=permission
                        )
                    )

    def map_table(self, service: str, table: str, dataset: str) -> None:
        """Declare that ``table`` of ``service`` (a resource namespace) belongs to ``dataset``."""
        dataset_id = self.ensure_dataset(dataset)
        with self.engine.begin() as conn:
            exists = conn.execute(
                select(t.service_tables.c.id).where(
                    (t.service_tables.c.service_name == service)
                    & (t.service_tables.c.table_name == table)
                )
            ).first()
            if exists is None:
                conn.execute(
                    insert(t.service_tables).values(
                        service_name=service, table_name=table, dataset_id=dataset_id
                    )
                )

    def dataset_for(self, service: str, table: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.datasets.c.name)
                .join(t.service_tables, t.service_tables.c.dataset_id == t.datasets.c.id)
                .where(
                    (t.service_tables.c.service_name == service)
                    & (t.service_tables.c.table_name == table)
                )
            ).first()
        return None if row is None else str(row.name)

    def user_record(self, user_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.users).where(t.users.c.id == user_id)).first()
        return None if row is None else dict(row._mapping)

    def users(self, ids: Iterable[int]) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.users).where(t.users.c.id.in_(list(ids))).order_by(t.users.c.id)
            ).all()
        return [dict(row._mapping) for row in rows]

    def group_members(self, group_id: int) -> list[dict[str, Any]] | None:
        with self.engine.connect() as conn:
            if conn.execute(select(t.groups.c.id).where(t.groups.c.id == group_id)).first() is None:
                return None
            rows = conn.execute(
                select(t.users.c.id, t.users.c.name, t.users.c.email)
                .join(t.user_groups, t.user_groups.c.user_id == t.users.c.id)
                .where(t.user_groups.c.group_id == group_id)
                .order_by(t.users.c.id)
            ).all()
        return [dict(row._mapping) for row in rows]

    def datasets(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.datasets).order_by(t.datasets.c.id)).all()
        return [dict(row._mapping) for row in rows]

    def table_mappings(self, service: str | None = None) -> list[dict[str, Any]]:
        """(service, table) → dataset mappings, each with ``dataset_id`` and ``dataset_name``."""
        query = (
            select(
                t.service_tables.c.id,
                t.service_tables.c.service_name,
                t.service_tables.c.table_name,
                t.datasets.c.id.label("dataset_id"),
                t.datasets.c.name.label("dataset_name"),
            )
            .join(t.datasets, t.datasets.c.id == t.service_tables.c.dataset_id)
            .order_by(t.service_tables.c.id)
        )
        if service is not None:
            query = query.where(t.service_tables.c.service_name == service)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query).all()]
