"""Storage of the JSON state service: zlib-compressed documents under large integer ids.

Neuroglancer states and segment-property documents share one id space (they are entities of the
same Datastore kind in production), each in its own column.
"""

from __future__ import annotations

import secrets
import time
import zlib
from enum import Enum

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

STATE_METADATA = MetaData()

MAX_COMPRESSED_BYTES = 50 * 1024 * 1024
"""Production refuses documents whose compressed form exceeds 50 MiB."""

# Production ids are Datastore auto-allocated keys: 16-digit integers below 2**53.
_ID_LOW, _ID_HIGH = 10**15, 2**53

documents = Table(
    "nglstate_documents",
    STATE_METADATA,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("state", LargeBinary, nullable=True),
    Column("segment_properties", LargeBinary, nullable=True),
    Column("user_id", String(64), nullable=False),
    Column("date", Float, nullable=False),
    Column("date_last", Float, nullable=False),
    Column("access_counter", Integer, nullable=False, default=0),
)


class DocumentKind(Enum):
    """Which document column of an entity a route reads or writes (the column name)."""

    STATE = "state"
    PROPERTIES = "segment_properties"


class DocumentTooLarge(ValueError):
    """The compressed document exceeds :data:`MAX_COMPRESSED_BYTES`."""


class DuplicateId(ValueError):
    """An explicit id that is already taken."""


class StateStore:
    """Create and read state documents."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        STATE_METADATA.create_all(engine)

    def save(
        self,
        raw: bytes,
        *,
        column: DocumentKind,
        user_id: str,
        state_id: int | None = None,
        timestamp: float | None = None,
    ) -> int:
        """Store ``raw`` (already checked to be JSON) and return its id."""
        compressed = zlib.compress(raw)
        if len(compressed) > MAX_COMPRESSED_BYTES:
            raise DocumentTooLarge(f"compressed state is {len(compressed)} bytes")
        now = time.time() if timestamp is None else timestamp
        explicit = state_id is not None
        try:
            with self.engine.begin() as conn:
                if state_id is None:
                    state_id = self._free_id(conn)
                elif conn.execute(select(documents.c.id).where(documents.c.id == state_id)).first():
                    raise DuplicateId(f"state id {state_id} already exists")
                conn.execute(
                    insert(documents).values(
                        id=state_id,
                        user_id=user_id,
                        date=now,
                        date_last=now,
                        access_counter=0,
                        **{column.value: compressed},
                    )
                )
        except IntegrityError:  # the same id inserted concurrently (by another process)
            if explicit:
                raise DuplicateId(f"state id {state_id} already exists") from None
            return self.save(raw, column=column, user_id=user_id, timestamp=now)
        return state_id

    @staticmethod
    def _free_id(conn: Connection) -> int:
        while True:
            candidate = _ID_LOW + secrets.randbelow(_ID_HIGH - _ID_LOW)
            if (
                conn.execute(select(documents.c.id).where(documents.c.id == candidate)).first()
                is None
            ):
                return candidate

    def load_compressed(self, state_id: int, column: DocumentKind) -> bytes | None:
        """The stored zlib bytes, or None when there is no such document in that column."""
        col = documents.c[column.value]
        with self.engine.begin() as conn:
            row = conn.execute(select(col).where(documents.c.id == state_id)).first()
            if row is None or row[0] is None:
                return None
            conn.execute(
                update(documents)
                .where(documents.c.id == state_id)
                .values(access_counter=documents.c.access_counter + 1, date_last=time.time())
            )
        return bytes(row[0])

    def load(self, state_id: int, column: DocumentKind) -> bytes | None:
        """The document exactly as posted, or None."""
        compressed = self.load_compressed(state_id, column)
        return None if compressed is None else zlib.decompress(compressed)
