"""Storage of the info service: aligned volumes, datastacks and the legacy dataset records.

Stored URLs may contain two placeholders, resolved when a record is served: ``{server}`` (the base URL
the request came in on, so a datastack's ``local_server`` is always this deployment whatever port it
runs on) and ``{data_dir}`` (the deployment's data folder, for ``file://`` precomputed sources).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
)

INFO_METADATA = MetaData()
Id = BigInteger().with_variant(Integer, "sqlite")
"""64-bit ids (routes accept ids up to 2**63 - 1); SQLite keeps its rowid primary keys."""

aligned_volumes = Table(
    "info_aligned_volumes",
    INFO_METADATA,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("display_name", String(200), nullable=True),
    Column("description", Text, nullable=True),
    Column("image_source", Text, nullable=False),
)

DATASTACK_OPTIONAL_TEXT = (
    "display_name",
    "viewer_layer_name",
    "segmentation_source",
    "analysis_database",
    "viewer_site",
    "synapse_table",
    "soma_table",
    "proofreading_status_table",
    "cell_identification_table",
    "proofreading_review_table",
    "description",
)

datastacks = Table(
    "info_datastacks",
    INFO_METADATA,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("aligned_volume_id", Id, ForeignKey("info_aligned_volumes.id"), nullable=False),
    Column("local_server", Text, nullable=False),
    Column("viewer_resolution_x", Float, nullable=True),
    Column("viewer_resolution_y", Float, nullable=True),
    Column("viewer_resolution_z", Float, nullable=True),
    Column("base_link_id", Id, nullable=True),
    *(Column(name, Text, nullable=True) for name in DATASTACK_OPTIONAL_TEXT),
)

LEGACY_DATASET_FIELDS = (
    "flat_segmentation_source",
    "pychunkgraph_segmentation_source",
    "pychunkgraph_endpoint",
    "annotation_engine_endpoint",
    "synapse_segmentation_source",
    "pychunkedgraph_viewer_source",
    "graphene_source",
    "pychunkedgraph_supervoxel_source",
    "analysis_database_ip",
)

legacy_datasets = Table(
    "info_legacy_datasets",
    INFO_METADATA,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("image_source", Text, nullable=False),
    *(Column(name, Text, nullable=True) for name in LEGACY_DATASET_FIELDS),
)


@dataclass(frozen=True)
class Placeholders:
    """Values substituted into stored URLs when a record is served."""

    server: str
    data_dir: str

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        return {
            key: value.replace("{server}", self.server).replace("{data_dir}", self.data_dir)
            if isinstance(value, str)
            else value
            for key, value in record.items()
        }


class InfoStore:
    """Read and register aligned volumes, datastacks and legacy dataset records."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        INFO_METADATA.create_all(engine)

    # -- registration ---------------------------------------------------------------------------
    def add_aligned_volume(
        self,
        name: str,
        *,
        image_source: str,
        display_name: str | None = None,
        description: str | None = None,
    ) -> int:
        with self.engine.begin() as conn:
            key = conn.execute(
                insert(aligned_volumes).values(
                    name=name,
                    display_name=display_name,
                    description=description,
                    image_source=image_source,
                )
            ).inserted_primary_key
        assert key is not None
        return int(key[0])

    def add_datastack(
        self, name: str, *, aligned_volume: str, local_server: str = "{server}", **fields: Any
    ) -> int:
        unknown = (
            set(fields)
            - set(DATASTACK_OPTIONAL_TEXT)
            - {
                "viewer_resolution_x",
                "viewer_resolution_y",
                "viewer_resolution_z",
                "base_link_id",
            }
        )
        if unknown:
            raise ValueError(f"unknown datastack fields: {sorted(unknown)}")
        av = self.aligned_volume(aligned_volume)
        if av is None:
            raise ValueError(f"unknown aligned volume {aligned_volume!r}")
        with self.engine.begin() as conn:
            key = conn.execute(
                insert(datastacks).values(
                    name=name, aligned_volume_id=av["id"], local_server=local_server, **fields
                )
            ).inserted_primary_key
        assert key is not None
        return int(key[0])

    def add_legacy_dataset(self, name: str, *, image_source: str, **fields: str | None) -> int:
        unknown = set(fields) - set(LEGACY_DATASET_FIELDS)
        if unknown:
            raise ValueError(f"unknown dataset fields: {sorted(unknown)}")
        with self.engine.begin() as conn:
            key = conn.execute(
                insert(legacy_datasets).values(name=name, image_source=image_source, **fields)
            ).inserted_primary_key
        assert key is not None
        return int(key[0])

    # -- reading --------------------------------------------------------------------------------
    def _rows(self, query: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query).all()]

    def aligned_volume_names(self) -> list[str]:
        return [
            r["name"] for r in self._rows(select(aligned_volumes).order_by(aligned_volumes.c.id))
        ]

    def aligned_volume(self, name: str) -> dict[str, Any] | None:
        rows = self._rows(select(aligned_volumes).where(aligned_volumes.c.name == name))
        return rows[0] if rows else None

    def aligned_volume_by_id(self, av_id: int) -> dict[str, Any] | None:
        rows = self._rows(select(aligned_volumes).where(aligned_volumes.c.id == av_id))
        return rows[0] if rows else None

    def datastack_names(self, aligned_volume: str | None = None) -> list[str]:
        query = select(datastacks.c.name).order_by(datastacks.c.id)
        if aligned_volume is not None:
            query = query.join(
                aligned_volumes, aligned_volumes.c.id == datastacks.c.aligned_volume_id
            ).where(aligned_volumes.c.name == aligned_volume)
        return [r["name"] for r in self._rows(query)]

    def datastack(self, name: str) -> dict[str, Any] | None:
        rows = self._rows(select(datastacks).where(datastacks.c.name == name))
        return rows[0] if rows else None

    def legacy_dataset_names(self) -> list[str]:
        return [
            r["name"] for r in self._rows(select(legacy_datasets).order_by(legacy_datasets.c.id))
        ]

    def legacy_dataset(self, name: str) -> dict[str, Any] | None:
        rows = self._rows(select(legacy_datasets).where(legacy_datasets.c.name == name))
        return rows[0] if rows else None
