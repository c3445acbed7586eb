"""Records of the materialized versions in the deployment database (SQLAlchemy Core).

Production keeps ``analysisversion`` and ``analysistables`` in the aligned volume's database and
``materializedmetadata`` plus ``analysisviews`` in each frozen database. dafserver keeps them in four
tables of the deployment database: versions (with the aligned volume they are numbered in), the
tables of each version, each table's row count at the version, and the views of each datastack
(their SQL runs over the version's tables, so every view exists in every version whose tables it
reads). Datetimes are naive UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

CATALOG_METADATA = MetaData()
VERSION_ATTEMPTS = 5

versions = Table(
    "materialize_versions",
    CATALOG_METADATA,
    Column("id", Integer, primary_key=True),
    Column("aligned_volume", String(200), nullable=False),
    Column("datastack", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("time_stamp", DateTime, nullable=False),
    Column("valid", Boolean, nullable=False),
    Column("expires_on", DateTime, nullable=True),
    Column("status", String(20), nullable=False),
    Column("is_merged", Boolean, nullable=False),
    UniqueConstraint("datastack", "version", name="uq_materialize_versions"),
)

version_tables = Table(
    "materialize_tables",
    CATALOG_METADATA,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("materialize_versions.id"), nullable=False),
    Column("aligned_volume", String(200), nullable=False),
    Column("table_name", String(100), nullable=False),
    Column("schema", String(100), nullable=False),
    Column("valid", Boolean, nullable=False),
    Column("created", DateTime, nullable=False),
    Column("row_count", BigInteger, nullable=False),
)

views = Table(
    "materialize_views",
    CATALOG_METADATA,
    Column("id", Integer, primary_key=True),
    Column("datastack", String(200), nullable=False),
    Column("view_name", String(100), nullable=False),
    Column("description", Text, nullable=True),
    Column("sql", Text, nullable=False),
    Column("voxel_resolution_x", Float, nullable=False),
    Column("voxel_resolution_y", Float, nullable=False),
    Column("voxel_resolution_z", Float, nullable=False),
    Column("notice_text", Text, nullable=True),
    Column("live_compatible", Boolean, nullable=False),
    UniqueConstraint("datastack", "view_name", name="uq_materialize_views"),
)


@dataclass(frozen=True)
class Version:
    """One ``AnalysisVersion`` row."""

    id: int
    aligned_volume: str
    datastack: str
    version: int
    time_stamp: datetime
    valid: bool
    expires_on: datetime | None
    status: str
    is_merged: bool

    def to_json(self) -> dict[str, Any]:
        """The version JSON (``parent_version`` is never emitted, as in production)."""
        return {
            "id": self.id,
            "datastack": self.datastack,
            "version": self.version,
            "time_stamp": iso(self.time_stamp),
            "valid": self.valid,
            "expires_on": None if self.expires_on is None else iso(self.expires_on),
            "status": self.status,
            "is_merged": self.is_merged,
        }


@dataclass(frozen=True)
class VersionTable:
    """One ``AnalysisTable`` row, with the table's row count at the version."""

    id: int
    version_id: int
    aligned_volume: str
    table_name: str
    schema: str
    valid: bool
    created: datetime
    row_count: int


@dataclass(frozen=True)
class View:
    id: int
    datastack: str
    view_name: str
    description: str | None
    sql: str
    voxel_resolution: tuple[float, float, float]
    notice_text: str | None
    live_compatible: bool

    def metadata_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "table_name": self.view_name,
            "description": self.description,
            "datastack_name": self.datastack,
            "voxel_resolution_x": self.voxel_resolution[0],
            "voxel_resolution_y": self.voxel_resolution[1],
            "voxel_resolution_z": self.voxel_resolution[2],
            "notice_text": self.notice_text,
            "live_compatible": self.live_compatible,
        }


def iso(value: datetime) -> str:
    """Naive ISO 8601 with microseconds always present.

    Production writes ``isoformat()``, which drops a zero fraction; CAVEclient's strptime then
    fails, so dafserver always writes the fraction (only whole-second stamps differ).
    """
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _version(row: Any) -> Version:
    m = row._mapping
    return Version(
        id=int(m["id"]),
        aligned_volume=str(m["aligned_volume"]),
        datastack=str(m["datastack"]),
        version=int(m["version"]),
        time_stamp=m["time_stamp"],
        valid=bool(m["valid"]),
        expires_on=m["expires_on"],
        status=str(m["status"]),
        is_merged=bool(m["is_merged"]),
    )


def _version_table(row: Any) -> VersionTable:
    m = row._mapping
    return VersionTable(
        id=int(m["id"]),
        version_id=int(m["version_id"]),
        aligned_volume=str(m["aligned_volume"]),
        table_name=str(m["table_name"]),
        schema=str(m["schema"]),
        valid=bool(m["valid"]),
        created=m["created"],
        row_count=int(m["row_count"]),
    )


def _view(row: Any) -> View:
    m = row._mapping
    return View(
        id=int(m["id"]),
        datastack=str(m["datastack"]),
        view_name=str(m["view_name"]),
        description=m["description"],
        sql=str(m["sql"]),
        voxel_resolution=(
            float(m["voxel_resolution_x"]),
            float(m["voxel_resolution_y"]),
            float(m["voxel_resolution_z"]),
        ),
        notice_text=m["notice_text"],
        live_compatible=bool(m["live_compatible"]),
    )


class Catalog:
    """Versions, their tables and the views, for every datastack of the deployment."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        CATALOG_METADATA.create_all(engine)

    # -- versions ----------------------------------------------------------------------------------
    def versions(self, datastack: str, *, include_invalid: bool) -> list[Version]:
        """The datastack's versions in database order."""
        query = select(versions).where(versions.c.datastack == datastack).order_by(versions.c.id)
        if not include_invalid:
            query = query.where(versions.c.valid.is_(True))
        with self.engine.connect() as conn:
            return [_version(row) for row in conn.execute(query)]

    def version(self, datastack: str, number: int) -> Version | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(versions).where(
                    (versions.c.datastack == datastack) & (versions.c.version == number)
                )
            ).first()
        return None if row is None else _version(row)

    def start_version(
        self,
        aligned_volume: str,
        datastack: str,
        time_stamp: datetime,
        expires_on: datetime | None,
        is_merged: bool,
    ) -> Version:
        """Insert a ``RUNNING`` version numbered after every version of the aligned volume.

        Two processes may pick the same number at once; the unique constraint refuses the
        second, which then numbers again.
        """
        for attempt in range(VERSION_ATTEMPTS):
            try:
                with self.engine.begin() as conn:
                    latest = conn.execute(
                        select(func.max(versions.c.version)).where(
                            versions.c.aligned_volume == aligned_volume
                        )
                    ).scalar()
                    number = 1 if latest is None else int(latest) + 1
                    key = conn.execute(
                        insert(versions).values(
                            aligned_volume=aligned_volume,
                            datastack=datastack,
                            version=number,
                            time_stamp=time_stamp,
                            valid=False,
                            expires_on=expires_on,
                            status="RUNNING",
                            is_merged=is_merged,
                        )
                    ).inserted_primary_key
                    assert key is not None
                    row = conn.execute(select(versions).where(versions.c.id == key[0])).one()
                return _version(row)
            except IntegrityError:
                if attempt == VERSION_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def set_status(self, version: Version, status: str, valid: bool) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(versions)
                .where(versions.c.id == version.id)
                .values(status=status, valid=valid)
            )

    # -- tables ------------------------------------------------------------------------------------
    def add_table(
        self,
        version: Version,
        table_name: str,
        schema: str,
        created: datetime,
        row_count: int,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(version_tables).values(
                    version_id=version.id,
                    aligned_volume=version.aligned_volume,
                    table_name=table_name,
                    schema=schema,
                    valid=True,
                    created=created,
                    row_count=row_count,
                )
            )

    def tables(self, version: Version) -> list[VersionTable]:
        with self.engine.connect() as conn:
            result = conn.execute(
                select(version_tables)
                .where(version_tables.c.version_id == version.id)
                .order_by(version_tables.c.id)
            )
            return [_version_table(row) for row in result]

    def table(self, version: Version, table_name: str) -> VersionTable | None:
        return next((t for t in self.tables(version) if t.table_name == table_name), None)

    # -- views -------------------------------------------------------------------------------------
    def add_view(
        self,
        datastack: str,
        view_name: str,
        sql: str,
        *,
        description: str | None,
        voxel_resolution: tuple[float, float, float],
        notice_text: str | None = None,
        live_compatible: bool = False,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(views).values(
                    datastack=datastack,
                    view_name=view_name,
                    description=description,
                    sql=sql,
                    voxel_resolution_x=voxel_resolution[0],
                    voxel_resolution_y=voxel_resolution[1],
                    voxel_resolution_z=voxel_resolution[2],
                    notice_text=notice_text,
                    live_compatible=live_compatible,
                )
            )

    def views(self, datastack: str) -> list[View]:
        with self.engine.connect() as conn:
            result = conn.execute(
                select(views).where(views.c.datastack == datastack).order_by(views.c.id)
            )
            return [_view(row) for row in result]

    def view(self, datastack: str, view_name: str) -> View | None:
        return next((v for v in self.views(datastack) if v.view_name == view_name), None)
