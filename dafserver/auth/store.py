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

API_KEY_TTL = -1
"""Redis TTL reported for an API key: it never expires."""

MAX_DB_INT = 2**63 - 1
"""Largest integer the database stores; larger ids cannot match a row."""

_IN_CHUNK = 500
"""Ids per ``IN (...)`` query, well under SQLite's bound-parameter limit."""


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

    # -- middle_auth routes: accounts, key management, permission objects ---------------------
    def create_service_account(self, name: str, email: str, parent_id: int) -> int:
        """Create a service account (a user with ``parent_id`` set) owned by ``parent_id``."""
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(t.users).values(
                    name=name,
                    email=email,
                    admin=False,
                    pi="",
                    parent_id=parent_id,
                    created=time.time(),
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def token_ttl(self, user_id: int, key: str) -> int | None:
        """Seconds until ``key`` expires (-1: API keys never expire), None unless ``user_id`` owns it."""
        return API_KEY_TTL if self.token_owner(key) == user_id else None

    def replace_single_token(self, user_id: int) -> str | None:
        """Replace the user's only API key by a new one (``refresh_token``); None with several keys."""
        token = new_token()
        now = time.time()
        with self.engine.begin() as conn:
            keys = conn.execute(
                select(t.api_keys.c.id).where(t.api_keys.c.user_id == user_id)
            ).all()
            if len(keys) > 1:
                return None
            conn.execute(delete(t.api_keys).where(t.api_keys.c.user_id == user_id))
            conn.execute(
                insert(t.api_keys).values(
                    user_id=user_id, key=token, description=None, created=now, updated=now
                )
            )
        return token

    def has_admin_role(self, user_id: int) -> bool:
        """Superadmin, dataset admin, group admin or service account (middle_auth 2.30's guard).

        The schema has no dataset-admin or group-admin relation, so only the first and the last
        can hold here.
        """
        record = self.user_record(user_id)
        if record is None:
            return False
        return bool(record["admin"]) or record["parent_id"] is not None

    def users_by_ids(self, ids: Iterable[int]) -> list[dict[str, Any]]:
        """Users (service accounts included) among ``ids``, by id; out-of-range ids match nothing."""
        wanted = sorted({i for i in ids if 0 <= i <= MAX_DB_INT})
        rows: list[dict[str, Any]] = []
        for start in range(0, len(wanted), _IN_CHUNK):
            rows.extend(self.users(wanted[start : start + _IN_CHUNK]))
        return sorted(rows, key=lambda row: int(row["id"]))

    def users_matching(self, field: str, text: str) -> list[dict[str, Any]]:
        """Users whose ``field`` (``email`` or ``name``) contains ``text``, ignoring case, by id."""
        if field not in ("email", "name"):
            raise ValueError(f"cannot search users by {field!r}")
        needle = text.casefold()
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.users).order_by(t.users.c.id)).all()
        return [dict(row._mapping) for row in rows if needle in str(row._mapping[field]).casefold()]

    def human_users(self) -> list[dict[str, Any]]:
        """Every account that is not a service account, by id."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.users).where(t.users.c.parent_id.is_(None)).order_by(t.users.c.id)
            ).all()
        return [dict(row._mapping) for row in rows]

    def group_users(self, group_id: int) -> list[dict[str, Any]]:
        """Human members of a group as ``{"id", "name", "admin"}``; an unknown group gives ``[]``.

        ``admin`` is the group-admin flag, which the schema does not record, so it is False.
        """
        if not 0 <= group_id <= MAX_DB_INT:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.users.c.id, t.users.c.name)
                .join(t.user_groups, t.user_groups.c.user_id == t.users.c.id)
                .where((t.user_groups.c.group_id == group_id) & t.users.c.parent_id.is_(None))
                .order_by(t.users.c.id)
            ).all()
        return [{"id": int(row.id), "name": str(row.name), "admin": False} for row in rows]

    def administered_groups(self, user_id: int) -> list[str]:
        """Names of the groups the user administers (none: the schema has no group-admin flag)."""
        return []

    def administered_datasets(self, user_id: int) -> list[dict[str, Any]]:
        """``{"id", "name"}`` of the datasets the user administers (none: no dataset-admin table)."""
        return []

    def user_cache(self, user_id: int) -> dict[str, Any] | None:
        """The permission object middle_auth caches per token (``GET /user/cache``), or None."""
        if not 0 <= user_id <= MAX_DB_INT:
            return None
        record = self.user_record(user_id)
        if record is None:
            return None
        groups, permissions = self._groups_and_permissions(user_id)
        permissions_v2 = {
            dataset: sorted(names, key=_permission_order) for dataset, names in permissions.items()
        }
        legacy = {
            dataset: max((PERMISSION_LEVELS.get(name, 0) for name in names), default=0)
            for dataset, names in permissions_v2.items()
        }
        return {
            "id": int(record["id"]),
            "parent_id": record["parent_id"],
            "service_account": record["parent_id"] is not None,
            "name": str(record["name"]),
            "email": str(record["email"]),
            "admin": bool(record["admin"]),
            "pi": str(record["pi"]),
            "affiliations": [[]],
            "groups": list(groups),
            "permissions": legacy,
            "permissions_v2": permissions_v2,
            # No dataset asks for terms of service, so nothing is held back from permissions_v2.
            "permissions_v2_ignore_tos": {k: list(v) for k, v in permissions_v2.items()},
            "missing_tos": [],
            "datasets_admin": [d["name"] for d in self.administered_datasets(user_id)],
            "groups_admin": self.administered_groups(user_id),
        }

    # -- public roots (PyChunkedGraph tables): dafserver marks no root public ------------------
    def table_has_public_roots(self, table_id: str) -> bool:
        return False

    def root_is_public(self, table_id: str, root_id: int) -> bool:
        return False

    def roots_all_public(self, table_id: str, root_ids: list[int]) -> bool:
        """True when every listed root is public; duplicates count against it, as in production."""
        public = {r for r in root_ids if self.root_is_public(table_id, r)}
        return len(public) == len(root_ids) > 0


def _permission_order(name: str) -> tuple[int, str]:
    """middle_auth lists permissions by their row id: view, edit, then the others."""
    return (PERMISSION_LEVELS.get(name, len(PERMISSION_LEVELS) + 1), name)
