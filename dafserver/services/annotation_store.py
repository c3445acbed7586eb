"""Storage of the AnnotationEngine: table metadata and annotation rows, in portable SQLAlchemy Core.

Design. Production keeps one Postgres database per aligned volume and one SQL table per annotation
table, with one column per flat schema column. dafserver keeps two tables for every aligned volume:

- ``annotation_tables``: one row per annotation table (the production metadata row, keyed by
  aligned volume and name), plus the table's id sequence (``next_annotation_id``) and whether a
  reference table tracks ``target_id`` updates.
- ``annotation_rows``: every annotation of every table, keyed by (table id, annotation id), with the
  bookkeeping columns of production (``created``, ``deleted``, ``superceded_id``, ``valid``),
  ``target_id`` as a column of its own (reference tables look it up), and the remaining flat
  annotation columns as one JSON document (``{"pre_pt_position": [1, 2, 3], "size": 12.0}``).

Ids follow a Postgres sequence per table: automatic ids count up from 1, explicit ids do not advance
the sequence, and ids handed out by a failed insert are not reused. Datetimes are naive UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

ANNOTATION_METADATA = MetaData()

PERMISSIONS = ("PRIVATE", "GROUP", "PUBLIC")
INSERT_LIMIT = 10_000
MIN_ID, MAX_ID = -(2**63), 2**63 - 1
"""The range of a BIGINT id; ids outside it cannot be stored, so lookups skip them."""
_CHUNK = 500
"""Ids per ``IN (...)`` clause, well below every database's bound-parameter limit."""

# The production column lengths (DynamicAnnotationDB AnnoMetadata), checked before writing.
MAX_LENGTHS = {"table_name": 100, "user_id": 255, "flat_segmentation_source": 300}

tables = Table(
    "annotation_tables",
    ANNOTATION_METADATA,
    Column("id", Integer, primary_key=True),
    Column("aligned_volume", String(200), nullable=False),
    Column("schema_type", String(100), nullable=False),
    Column("table_name", String(100), nullable=False),
    Column("valid", Boolean, nullable=True),
    Column("created", DateTime, nullable=False),
    Column("deleted", DateTime, nullable=True),
    Column("user_id", String(255), nullable=False),
    Column("description", Text, nullable=False),
    Column("notice_text", Text, nullable=True),
    Column("reference_table", String(100), nullable=True),
    Column("flat_segmentation_source", String(300), nullable=True),
    Column("voxel_resolution_x", Float, nullable=False),
    Column("voxel_resolution_y", Float, nullable=False),
    Column("voxel_resolution_z", Float, nullable=False),
    Column("write_permission", String(7), nullable=False),
    Column("read_permission", String(7), nullable=False),
    Column("last_modified", DateTime, nullable=False),
    Column("track_target_id_updates", Boolean, nullable=False, default=False),
    Column("next_annotation_id", BigInteger, nullable=False, default=1),
    UniqueConstraint("aligned_volume", "table_name", name="uq_annotation_tables_av_name"),
)

rows = Table(
    "annotation_rows",
    ANNOTATION_METADATA,
    Column("table_id", Integer, ForeignKey("annotation_tables.id"), primary_key=True),
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("created", DateTime, nullable=False),
    Column("deleted", DateTime, nullable=True),
    Column("superceded_id", BigInteger, nullable=True),
    Column("valid", Boolean, nullable=False),
    Column("target_id", BigInteger, nullable=True),
    Column("data", JSON, nullable=False),
    sqlite_with_rowid=False,
)
_has_target = rows.c.target_id.is_not(None)
Index(
    "ix_annotation_rows_target",
    rows.c.table_id,
    rows.c.target_id,
    sqlite_where=_has_target,
    postgresql_where=_has_target,
)

METADATA_KEYS = (
    "id",
    "schema_type",
    "table_name",
    "valid",
    "created",
    "deleted",
    "user_id",
    "description",
    "notice_text",
    "reference_table",
    "flat_segmentation_source",
    "voxel_resolution_x",
    "voxel_resolution_y",
    "voxel_resolution_z",
    "write_permission",
    "read_permission",
    "last_modified",
)
"""The keys of the metadata JSON, in production's column order."""

UPDATABLE_KEYS = (
    "description",
    "user_id",
    "flat_segmentation_source",
    "read_permission",
    "write_permission",
    "notice_text",
)


def utcnow() -> datetime:
    """The current UTC time as a naive datetime (what production stores)."""
    return datetime.now(UTC).replace(tzinfo=None)


# -- errors ---------------------------------------------------------------------------------------


class AnnotationStoreError(Exception):
    """A write was refused; ``str()`` is the message production would report."""


class TableExists(AnnotationStoreError):
    pass


class DuplicateId(AnnotationStoreError):
    """An id is already taken (production: the primary key's unique violation)."""

    def __init__(self, table_name: str, annotation_id: int) -> None:
        super().__init__(
            f'duplicate key value violates unique constraint "{table_name}_pkey" '
            f"DETAIL: Key (id)=({annotation_id}) already exists."
        )


class MissingTarget(AnnotationStoreError):
    """A ``target_id`` names no row of the reference table (production: the foreign key)."""

    def __init__(self, table_name: str, reference_table: str, target_id: int) -> None:
        super().__init__(
            f'insert or update on table "{table_name}" violates foreign key constraint '
            f'"{table_name}_target_id_fkey" DETAIL: Key (target_id)=({target_id}) is not '
            f'present in table "{reference_table}".'
        )


class RowNotFound(AnnotationStoreError):
    def __init__(self, annotation_id: int) -> None:
        super().__init__(f"No row was found when one was required (annotation id {annotation_id})")


class AlreadySuperseded(AnnotationStoreError):
    """The row to update was already replaced; the message is production's."""

    def __init__(self, annotation_id: int, superseded_by: int) -> None:
        super().__init__(
            f"Error update ID {annotation_id} -> Annotation with ID {annotation_id} has already "
            f"been superseded by annotation ID {superseded_by}, update annotation ID "
            f"{superseded_by} instead"
        )


# -- records --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableInfo:
    """One annotation table's metadata row."""

    id: int
    aligned_volume: str
    schema_type: str
    table_name: str
    valid: bool | None
    created: datetime
    deleted: datetime | None
    user_id: str
    description: str
    notice_text: str | None
    reference_table: str | None
    flat_segmentation_source: str | None
    voxel_resolution_x: float
    voxel_resolution_y: float
    voxel_resolution_z: float
    write_permission: str
    read_permission: str
    last_modified: datetime
    track_target_id_updates: bool

    def metadata_json(self) -> dict[str, Any]:
        """The metadata as the AnnotationEngine serialises it (ISO datetimes without a zone)."""
        out: dict[str, Any] = {}
        for key in METADATA_KEYS:
            value = getattr(self, key)
            out[key] = value.isoformat() if isinstance(value, datetime) else value
        return out


@dataclass(frozen=True)
class AnnotationRow:
    """One stored annotation: bookkeeping columns plus the flat annotation columns."""

    id: int
    created: datetime
    deleted: datetime | None
    superceded_id: int | None
    valid: bool
    target_id: int | None
    data: dict[str, Any]


def _table_info(row: Any) -> TableInfo:
    m = row._mapping
    return TableInfo(
        id=int(m["id"]),
        aligned_volume=str(m["aligned_volume"]),
        schema_type=str(m["schema_type"]),
        table_name=str(m["table_name"]),
        valid=None if m["valid"] is None else bool(m["valid"]),
        created=m["created"],
        deleted=m["deleted"],
        user_id=str(m["user_id"]),
        description=str(m["description"]),
        notice_text=m["notice_text"],
        reference_table=m["reference_table"],
        flat_segmentation_source=m["flat_segmentation_source"],
        voxel_resolution_x=float(m["voxel_resolution_x"]),
        voxel_resolution_y=float(m["voxel_resolution_y"]),
        voxel_resolution_z=float(m["voxel_resolution_z"]),
        write_permission=str(m["write_permission"]),
        read_permission=str(m["read_permission"]),
        last_modified=m["last_modified"],
        track_target_id_updates=bool(m["track_target_id_updates"]),
    )


def _chunks(values: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


_INSERT_COLUMNS = ("table_id", "id", "created", "valid", "target_id", "data")


def _insert_rows(
    conn: Connection,
    table_id: int,
    created: datetime,
    ids: Sequence[int],
    annotations: Sequence[NewAnnotation],
) -> None:
    """Insert new live rows with one driver-level ``executemany``.

    Up to 10,000 rows per request make SQLAlchemy's per-row parameter processing the main cost of
    a post, so the statement is compiled once for the connection's dialect and the values go
    through each column type's bind processor (the constant ones only once).
    """
    dialect = conn.dialect
    compiled = insert(rows).compile(dialect=dialect, column_keys=list(_INSERT_COLUMNS))

    def processor(name: str) -> Any:
        column_type = rows.c[name].type.dialect_impl(dialect)
        return column_type.bind_processor(dialect) or (lambda value: value)

    to_data = processor("data")
    to_target = processor("target_id")
    constant = {
        "table_id": processor("table_id")(table_id),
        "created": processor("created")(created),
        "valid": processor("valid")(True),
    }
    records = [
        {
            **constant,
            "id": annotation_id,
            "target_id": None if a.target_id is None else to_target(a.target_id),
            "data": to_data(a.data),
        }
        for annotation_id, a in zip(ids, annotations, strict=True)
    ]
    if compiled.positional:
        order = compiled.positiontup or []
        params: Any = [tuple(record[name] for name in order) for record in records]
    else:
        params = records
    conn.exec_driver_sql(str(compiled), params)


@dataclass(frozen=True)
class NewAnnotation:
    """An annotation to insert: its explicit id (None for automatic), target id and columns."""

    explicit_id: int | None
    target_id: int | None
    data: dict[str, Any]


class AnnotationStore:
    """Annotation tables and their rows, for every aligned volume of the deployment."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        ANNOTATION_METADATA.create_all(engine)

    # -- tables -----------------------------------------------------------------------------------
    def table_names(self, aligned_volume: str, *, filter_valid: bool) -> list[str]:
        """Table names of ``aligned_volume`` in creation order (deleted tables included)."""
        query = (
            select(tables.c.table_name)
            .where(tables.c.aligned_volume == aligned_volume)
            .order_by(tables.c.id)
        )
        if filter_valid:
            query = query.where(tables.c.valid.is_(True))
        with self.engine.connect() as conn:
            return [str(name) for name in conn.execute(query).scalars()]

    def table(self, aligned_volume: str, table_name: str) -> TableInfo | None:
        with self.engine.connect() as conn:
            return self._table(conn, aligned_volume, table_name)

    @staticmethod
    def _table(conn: Connection, aligned_volume: str, table_name: str) -> TableInfo | None:
        row = conn.execute(
            select(tables).where(
                (tables.c.aligned_volume == aligned_volume) & (tables.c.table_name == table_name)
            )
        ).first()
        return None if row is None else _table_info(row)

    def create_table(
        self,
        aligned_volume: str,
        table_name: str,
        schema_type: str,
        *,
        description: str,
        user_id: str,
        voxel_resolution: tuple[float, float, float],
        reference_table: str | None = None,
        track_target_id_updates: bool = False,
        flat_segmentation_source: str | None = None,
        read_permission: str = "PUBLIC",
        write_permission: str = "PRIVATE",
        notice_text: str | None = None,
    ) -> TableInfo:
        """Add a table; :class:`TableExists` if the name is taken in this aligned volume."""
        now = utcnow()
        exists = TableExists(f"Table {table_name} already exists")
        try:
            with self.engine.begin() as conn:
                if self._table(conn, aligned_volume, table_name) is not None:
                    raise exists
                conn.execute(
                    insert(tables).values(
                        aligned_volume=aligned_volume,
                        schema_type=schema_type,
                        table_name=table_name,
                        valid=True,
                        created=now,
                        deleted=None,
                        user_id=user_id,
                        description=description,
                        notice_text=notice_text,
                        reference_table=reference_table,
                        flat_segmentation_source=flat_segmentation_source,
                        voxel_resolution_x=voxel_resolution[0],
                        voxel_resolution_y=voxel_resolution[1],
                        voxel_resolution_z=voxel_resolution[2],
                        write_permission=write_permission,
                        read_permission=read_permission,
                        last_modified=now,
                        track_target_id_updates=track_target_id_updates,
                        next_annotation_id=1,
                    )
                )
                info = self._table(conn, aligned_volume, table_name)
        except IntegrityError:  # created concurrently under the same name
            raise exists from None
        assert info is not None
        return info

    def update_table(self, table: TableInfo, changes: dict[str, str | None]) -> TableInfo:
        """Apply metadata ``changes`` (keys of :data:`UPDATABLE_KEYS`; ``None`` clears)."""
        unknown = set(changes) - set(UPDATABLE_KEYS)
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        with self.engine.begin() as conn:
            if changes:
                conn.execute(
                    update(tables)
                    .where(tables.c.id == table.id)
                    .values(**changes, last_modified=utcnow())
                )
            info = self._table(conn, table.aligned_volume, table.table_name)
        assert info is not None
        return info

    def mark_table_deleted(self, table: TableInfo) -> None:
        """Production's table delete: set the metadata's ``deleted`` time, nothing else."""
        with self.engine.begin() as conn:
            conn.execute(update(tables).where(tables.c.id == table.id).values(deleted=utcnow()))

    # -- reading rows -----------------------------------------------------------------------------
    def count(self, table: TableInfo) -> int:
        """All rows of the table, superseded and deleted ones included."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(func.count()).select_from(rows).where(rows.c.table_id == table.id)
            ).scalar_one()
        return int(value)

    def get(self, table: TableInfo, ids: Iterable[int]) -> list[AnnotationRow]:
        """The rows with these ids (unknown ids are skipped), in id order."""
        wanted = sorted({i for i in ids if MIN_ID <= i <= MAX_ID})
        found: list[AnnotationRow] = []
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted):
                result = conn.execute(
                    select(
                        rows.c.id,
                        rows.c.created,
                        rows.c.deleted,
                        rows.c.superceded_id,
                        rows.c.valid,
                        rows.c.target_id,
                        rows.c.data,
                    )
                    .where((rows.c.table_id == table.id) & rows.c.id.in_(chunk))
                    .order_by(rows.c.id)
                )
                found.extend(AnnotationRow(*row) for row in result)
        return found

    # -- writing rows -----------------------------------------------------------------------------
    def insert(self, table: TableInfo, annotations: Sequence[NewAnnotation]) -> list[int]:
        """Insert ``annotations`` in one transaction and return their ids in input order.

        Automatic ids come from the table's sequence; they stay consumed when the insert fails
        (:class:`DuplicateId`, :class:`MissingTarget`), as a Postgres sequence's would.
        """
        n_auto = sum(1 for a in annotations if a.explicit_id is None)
        now = utcnow()
        with self.engine.begin() as conn:
            first = self._allocate(conn, table, n_auto)
            auto_ids = range(first, first + n_auto)
            auto = iter(auto_ids)
            ids = [next(auto) if a.explicit_id is None else a.explicit_id for a in annotations]
            explicit = [a.explicit_id for a in annotations if a.explicit_id is not None]
            problem = self._id_conflict(conn, table, explicit, auto_ids) or self._missing_target(
                conn, table, [a.target_id for a in annotations]
            )
            if problem is not None:
                # Commit the sequence advance alone: the failed insert consumed those ids.
                conn.commit()
                raise problem
            if annotations:
                _insert_rows(conn, table.id, now, ids, annotations)
                self._touch(conn, table, now)
        return ids

    def update(self, table: TableInfo, annotation_id: int, new: NewAnnotation) -> int:
        """Replace one annotation; return the id of the row that now holds it.

        Normal tables get a new row and the old one is superseded (``deleted``, ``valid=false``,
        ``superceded_id``); tables that reference another table are updated in place. Tables that
        track this table's ids (``track_target_id_updates``) follow a superseded row.
        """
        now = utcnow()
        with self.engine.begin() as conn:
            # Writing first takes the write lock (SQLite) or the row lock (Postgres), so the
            # superseded check below cannot race another update of the same row.
            conn.execute(update(tables).where(tables.c.id == table.id).values(last_modified=now))
            old = conn.execute(
                select(rows.c.superceded_id).where(
                    (rows.c.table_id == table.id) & (rows.c.id == annotation_id)
                )
            ).first()
            if old is None:
                raise RowNotFound(annotation_id)
            if table.reference_table is not None:
                # Reference tables: in place, keeping columns the update does not give.
                missing = self._missing_target(conn, table, [new.target_id])
                if missing is not None:
                    raise missing
                self._update_in_place(conn, table, annotation_id, new, now)
                return annotation_id
            if old.superceded_id:
                raise AlreadySuperseded(annotation_id, int(old.superceded_id))
            new_id = self._allocate(conn, table, 1)
            conflict = self._id_conflict(conn, table, [], range(new_id, new_id + 1))
            if conflict is not None:
                conn.commit()
                raise conflict
            conn.execute(
                insert(rows).values(
                    table_id=table.id,
                    id=new_id,
                    created=now,
                    deleted=None,
                    superceded_id=None,
                    valid=True,
                    target_id=new.target_id,
                    data=new.data,
                )
            )
            conn.execute(
                update(rows)
                .where((rows.c.table_id == table.id) & (rows.c.id == annotation_id))
                .values(deleted=now, superceded_id=new_id, valid=False)
            )
            self._follow_supersession(conn, table, annotation_id, new_id)
        return new_id

    def delete(self, table: TableInfo, ids: Sequence[int]) -> list[int]:
        """Soft-delete the rows with these ids; return the ids found, in id order."""
        wanted = sorted({i for i in ids if MIN_ID <= i <= MAX_ID})
        now = utcnow()
        found: list[int] = []
        with self.engine.begin() as conn:
            for chunk in _chunks(wanted):
                where = (rows.c.table_id == table.id) & rows.c.id.in_(chunk)
                conn.execute(update(rows).where(where).values(deleted=now, valid=False))
                found.extend(
                    int(i)
                    for i in conn.execute(
                        select(rows.c.id).where(where).order_by(rows.c.id)
                    ).scalars()
                )
            if found:
                self._touch(conn, table, now)
        return found

    # -- helpers ----------------------------------------------------------------------------------
    @staticmethod
    def _touch(conn: Connection, table: TableInfo, now: datetime) -> None:
        conn.execute(update(tables).where(tables.c.id == table.id).values(last_modified=now))

    @staticmethod
    def _allocate(conn: Connection, table: TableInfo, count: int) -> int:
        """Advance the table's id sequence by ``count``; the first id handed out.

        The update runs even for ``count == 0``: it takes the write lock that keeps the id checks
        of concurrent inserts apart.
        """
        conn.execute(
            update(tables)
            .where(tables.c.id == table.id)
            .values(next_annotation_id=tables.c.next_annotation_id + count)
        )
        after = conn.execute(
            select(tables.c.next_annotation_id).where(tables.c.id == table.id)
        ).scalar_one()
        return int(after) - count

    @staticmethod
    def _id_conflict(
        conn: Connection, table: TableInfo, explicit: Sequence[int], auto: range
    ) -> DuplicateId | None:
        """The first id that is given twice or already taken: explicit ids, then automatic ones."""
        seen: set[int] = set()
        for annotation_id in explicit:
            if annotation_id in seen or annotation_id in auto:
                return DuplicateId(table.table_name, annotation_id)
            seen.add(annotation_id)
        in_table = rows.c.table_id == table.id
        for chunk in _chunks(sorted(seen)):
            taken = conn.execute(
                select(func.min(rows.c.id)).where(in_table & rows.c.id.in_(chunk))
            ).scalar()
            if taken is not None:
                return DuplicateId(table.table_name, int(taken))
        if len(auto):
            taken = conn.execute(
                select(func.min(rows.c.id)).where(
                    in_table & (rows.c.id >= auto.start) & (rows.c.id < auto.stop)
                )
            ).scalar()
            if taken is not None:
                return DuplicateId(table.table_name, int(taken))
        return None

    def _missing_target(
        self, conn: Connection, table: TableInfo, targets: Sequence[int | None]
    ) -> MissingTarget | None:
        if table.reference_table is None:
            return None
        wanted = sorted({t for t in targets if t is not None})
        if not wanted:
            return None
        referenced = self._table(conn, table.aligned_volume, table.reference_table)
        if referenced is None:
            return MissingTarget(table.table_name, table.reference_table, wanted[0])
        present: set[int] = set()
        for chunk in _chunks(wanted):
            present.update(
                int(i)
                for i in conn.execute(
                    select(rows.c.id).where(
                        (rows.c.table_id == referenced.id) & rows.c.id.in_(chunk)
                    )
                ).scalars()
            )
        for target in wanted:
            if target not in present:
                return MissingTarget(table.table_name, table.reference_table, target)
        return None

    @staticmethod
    def _update_in_place(
        conn: Connection, table: TableInfo, annotation_id: int, new: NewAnnotation, now: datetime
    ) -> None:
        where = (rows.c.table_id == table.id) & (rows.c.id == annotation_id)
        old_data = conn.execute(select(rows.c.data).where(where)).scalar_one()
        data = {**(old_data or {}), **new.data}
        values: dict[str, Any] = {"data": data, "created": now, "valid": True}
        if new.target_id is not None:
            values["target_id"] = new.target_id
        conn.execute(update(rows).where(where).values(**values))

    @staticmethod
    def _follow_supersession(conn: Connection, table: TableInfo, old_id: int, new_id: int) -> None:
        """Production's ``track_target_id_updates`` trigger, for a superseded row."""
        followers = select(tables.c.id).where(
            and_(
                tables.c.aligned_volume == table.aligned_volume,
                tables.c.reference_table == table.table_name,
                tables.c.track_target_id_updates.is_(True),
            )
        )
        conn.execute(
            update(rows)
            .where(rows.c.table_id.in_(followers) & (rows.c.target_id == old_id))
            .values(target_id=new_id)
        )
