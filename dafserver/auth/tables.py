"""Tables of the auth service (users, API keys, groups, datasets, permissions, table mappings)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

AUTH_METADATA = MetaData()

Id = BigInteger().with_variant(Integer, "sqlite")
"""Ids are 64-bit (the routes accept any id up to 2**63 - 1); SQLite's INTEGER is 64-bit and
keeps its rowid primary keys."""

users = Table(
    "auth_users",
    AUTH_METADATA,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(200), nullable=False, unique=True),
    Column("admin", Boolean, nullable=False, default=False),
    Column("pi", String(200), nullable=False, default=""),
    Column("parent_id", Id, ForeignKey("auth_users.id"), nullable=True),
    Column("created", Float, nullable=False),
)

api_keys = Table(
    "auth_api_keys",
    AUTH_METADATA,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("auth_users.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(64), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Column("last_used", Float, nullable=True),
)

groups = Table(
    "auth_groups",
    AUTH_METADATA,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
)

user_groups = Table(
    "auth_user_groups",
    AUTH_METADATA,
    Column("user_id", Id, ForeignKey("auth_users.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", Id, ForeignKey("auth_groups.id", ondelete="CASCADE"), primary_key=True),
)

datasets = Table(
    "auth_datasets",
    AUTH_METADATA,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
)

group_dataset_permissions = Table(
    "auth_group_dataset_permissions",
    AUTH_METADATA,
    Column("group_id", Id, ForeignKey("auth_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("dataset_id", Id, ForeignKey("auth_datasets.id", ondelete="CASCADE"), primary_key=True),
    Column("permission", String(50), primary_key=True),
)

service_tables = Table(
    "auth_service_tables",
    AUTH_METADATA,
    Column("id", Id, primary_key=True),
    Column("service_name", String(200), nullable=False),
    Column("table_name", String(200), nullable=False),
    Column("dataset_id", Id, ForeignKey("auth_datasets.id", ondelete="CASCADE"), nullable=False),
    UniqueConstraint("service_name", "table_name"),
)
