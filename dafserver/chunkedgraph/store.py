"""SQLAlchemy 2 Core persistence of graphs: the build, then one transaction per edit.

The store is the source of truth when several processes serve one graph: an edit runs inside
:meth:`GraphStore.exclusive` (on a database server, a row lock on the graph's ``cg_graphs`` row
that other processes' edits wait for), reads the operations other processes appended since
(:meth:`GraphStore.load_operations` with ``after``, :meth:`GraphStore.load_edges`) and appends its
own in the same transaction.

Tables live in their own ``CHUNKEDGRAPH_METADATA`` and every row carries its ``table_id`` so
several graphs share one database. Only portable column types are used; node ids are stored
as signed 64-bit integers (every id is below 2**63). Large tables are written with
``executemany`` in batches and read back straight into numpy arrays.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    func,
    select,
)

from dafserver.chunkedgraph.meta import GraphMeta
from dafserver.chunkedgraph.oplog import OperationRecord

UInt64Array = npt.NDArray[np.uint64]
Int64Array = npt.NDArray[np.int64]
Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

CHUNKEDGRAPH_METADATA = MetaData()
BATCH_SIZE = 100_000
_TABLE_ID = 128

graphs_table = Table(
    "cg_graphs",
    CHUNKEDGRAPH_METADATA,
    Column("table_id", String(_TABLE_ID), primary_key=True),
    Column("meta", Text, nullable=False),
    Column("build_ms", BigInteger, nullable=False),
    Column("n_base_edges", BigInteger, nullable=False),
)
base_nodes_table = Table(
    "cg_base_nodes",
    CHUNKEDGRAPH_METADATA,
    Column("table_id", String(_TABLE_ID), primary_key=True),
    Column("node_id", BigInteger, primary_key=True, autoincrement=False),
    Column("parent_id", BigInteger, nullable=False),
)
edges_table = Table(
    "cg_edges",
    CHUNKEDGRAPH_METADATA,
    Column("table_id", String(_TABLE_ID), primary_key=True),
    Column("edge_index", BigInteger, primary_key=True, autoincrement=False),
    Column("sv_a", BigInteger, nullable=False),
    Column("sv_b", BigInteger, nullable=False),
    Column("affinity", Float, nullable=False),
    Column("area", BigInteger, nullable=False),
    Column("active", Boolean, nullable=False),
)
operations_table = Table(
    "cg_operations",
    CHUNKEDGRAPH_METADATA,
    Column("table_id", String(_TABLE_ID), primary_key=True),
    Column("operation_id", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("payload", Text, nullable=False),
)
edit_nodes_table = Table(
    "cg_edit_nodes",
    CHUNKEDGRAPH_METADATA,
    Column("table_id", String(_TABLE_ID), primary_key=True),
    Column("node_id", BigInteger, primary_key=True, autoincrement=False),
    Column("operation_id", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_cg_edit_nodes_operation", "table_id", "operation_id"),
)
edit_children_table = Table(
    "cg_edit_children",
    CHUNKEDGRAPH_METADATA,
    Column("table_id", String(_TABLE_ID), primary_key=True),
    Column("parent_id", BigInteger, primary_key=True, autoincrement=False),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("child_id", BigInteger, nullable=False),
)
parent_versions_table = Table(
    "cg_parent_versions",
    CHUNKEDGRAPH_METADATA,
    Column("table_id", String(_TABLE_ID), primary_key=True),
    Column("operation_id", BigInteger, primary_key=True, autoincrement=False),
    Column("node_id", BigInteger, primary_key=True, autoincrement=False),
    Column("parent_id", BigInteger, nullable=False),
)
edge_changes_table = Table(
    "cg_edge_changes",
    CHUNKEDGRAPH_METADATA,
    Column("table_id", String(_TABLE_ID), primary_key=True),
    Column("operation_id", BigInteger, primary_key=True, autoincrement=False),
    Column("edge_index", BigInteger, primary_key=True, autoincrement=False),
    Column("active", Boolean, nullable=False),
)
_PER_GRAPH = (
    edge_changes_table,
    parent_versions_table,
    edit_children_table,
    edit_nodes_table,
    operations_table,
    edges_table,
    base_nodes_table,
    graphs_table,
)


@dataclass(frozen=True)
class BuildData:
    """Everything written at build time."""

    meta: GraphMeta
    build_ms: int
    node_ids: UInt64Array
    parent_ids: UInt64Array
    edge_a: UInt64Array
    edge_b: UInt64Array
    affinities: Float32Array
    areas: UInt64Array
    active: BoolArray
    n_base_edges: int


@dataclass(frozen=True)
class NewEdges:
    """Edges appended by one operation (merges of supervoxels that had no edge)."""

    edge_index: Int64Array
    sv_a: UInt64Array
    sv_b: UInt64Array
    affinities: Float32Array


@dataclass(frozen=True)
class OperationWrite:
    """Everything one operation writes."""

    record: OperationRecord
    new_node_ids: UInt64Array
    new_children: list[UInt64Array]
    version_nodes: UInt64Array
    version_parents: UInt64Array
    edge_changes: Int64Array
    edge_values: BoolArray
    new_edges: NewEdges


def _signed(values: npt.NDArray[Any]) -> list[int]:
    result: list[int] = np.asarray(values).astype(np.int64).tolist()
    return result


def _batches(columns: dict[str, list[Any]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    names = list(columns)
    total = len(columns[names[0]]) if names else 0
    for start in range(0, total, size):
        yield list(zip(*(columns[n][start : start + size] for n in names), strict=True))


class GraphStore:
    """Database holding any number of graphs (one ``table_id`` each)."""

    def __init__(self, engine: Engine | str) -> None:
        self._owns_engine = isinstance(engine, str)
        self.engine = create_engine(engine) if isinstance(engine, str) else engine
        CHUNKEDGRAPH_METADATA.create_all(self.engine)

    def close(self) -> None:
        """Close the database connections of an engine this store made from a URL (an engine
        passed in belongs to the caller and stays open)."""
        if self._owns_engine:
            self.engine.dispose()

    # -- helpers ----------------------------------------------------------------------------
    def _insert(self, conn: Connection, table: Table, columns: dict[str, list[Any]]) -> None:
        """Bulk insert whole columns (positional executemany where the driver allows it)."""
        names = list(columns)
        if not names or not columns[names[0]]:
            return
        statement = table.insert()
        if conn.dialect.positional:
            compiled = statement.compile(dialect=conn.dialect, column_keys=names)
            order = list(compiled.positiontup or names)
            sql = str(compiled)
            for rows in _batches({n: columns[n] for n in order}, BATCH_SIZE):
                conn.exec_driver_sql(sql, rows)
            return
        for rows in _batches(columns, BATCH_SIZE):
            conn.execute(statement, [dict(zip(names, row, strict=True)) for row in rows])

    # -- catalogue --------------------------------------------------------------------------
    def table_ids(self) -> list[str]:
        """Graph tables stored in this database."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(graphs_table.c.table_id).order_by(graphs_table.c.table_id))
            return [str(r[0]) for r in rows]

    def delete_graph(self, table_id: str) -> None:
        """Remove every row of one graph."""
        with self.engine.begin() as conn:
            for table in _PER_GRAPH:
                conn.execute(delete(table).where(table.c.table_id == table_id))

    # -- the edit lock ----------------------------------------------------------------------
    @contextmanager
    def exclusive(self, table_id: str) -> Iterator[Connection | None]:
        """Hold the edit lock of one graph for the block; yields the transaction to write in.

        On a database server the lock is ``SELECT … FOR UPDATE`` of the graph's row: edits of
        other processes wait until this transaction ends, and every read in it sees what they
        committed before. SQLite is served by one process, whose own lock suffices: yields None
        (each write opens its own transaction).
        """
        if self.engine.dialect.name == "sqlite":
            yield None
            return
        with self.engine.begin() as conn:
            locked = conn.execute(
                select(graphs_table.c.table_id)
                .where(graphs_table.c.table_id == table_id)
                .with_for_update()
            ).first()
            if locked is None:
                raise KeyError(f"graph {table_id!r} is not in the store")
            yield conn

    # -- writing ----------------------------------------------------------------------------
    def save_build(self, data: BuildData, overwrite: bool = False) -> None:
        """Write a freshly built graph (replacing an existing one only if ``overwrite``)."""
        table_id = data.meta.table_id
        if table_id in self.table_ids():
            if not overwrite:
                raise ValueError(f"graph {table_id!r} already exists in the store")
            self.delete_graph(table_id)
        n_nodes = len(data.node_ids)
        n_edges = len(data.edge_a)
        with self.engine.begin() as conn:
            conn.execute(
                graphs_table.insert(),
                [
                    {
                        "table_id": table_id,
                        "meta": json.dumps(data.meta.to_dict()),
                        "build_ms": data.build_ms,
                        "n_base_edges": data.n_base_edges,
                    }
                ],
            )
            self._insert(
                conn,
                base_nodes_table,
                {
                    "table_id": [table_id] * n_nodes,
                    "node_id": _signed(data.node_ids),
                    "parent_id": _signed(data.parent_ids),
                },
            )
            self._insert(
                conn,
                edges_table,
                {
                    "table_id": [table_id] * n_edges,
                    "edge_index": list(range(n_edges)),
                    "sv_a": _signed(data.edge_a),
                    "sv_b": _signed(data.edge_b),
                    "affinity": data.affinities.astype(np.float64).tolist(),
                    "area": _signed(data.areas),
                    "active": data.active.astype(bool).tolist(),
                },
            )

    def save_operation(
        self, table_id: str, write: OperationWrite, conn: Connection | None = None
    ) -> None:
        """Write one operation in a single transaction (``conn``'s, else its own)."""
        if conn is None:
            with self.engine.begin() as own:
                self._save_operation(own, table_id, write)
        else:
            self._save_operation(conn, table_id, write)

    def _save_operation(self, conn: Connection, table_id: str, write: OperationWrite) -> None:
        record = write.record
        op = record.operation_id
        children_rows: dict[str, list[Any]] = {
            "table_id": [],
            "parent_id": [],
            "position": [],
            "child_id": [],
        }
        for node, kids in zip(write.new_node_ids.tolist(), write.new_children, strict=True):
            children_rows["table_id"].extend([table_id] * len(kids))
            children_rows["parent_id"].extend([node] * len(kids))
            children_rows["position"].extend(range(len(kids)))
            children_rows["child_id"].extend(_signed(kids))
        n_new = len(write.new_node_ids)
        n_versions = len(write.version_nodes)
        n_changes = len(write.edge_changes)
        n_edges = len(write.new_edges.edge_index)
        conn.execute(
            operations_table.insert(),
            [
                {
                    "table_id": table_id,
                    "operation_id": op,
                    "kind": record.kind.value,
                    "timestamp_ms": record.timestamp_ms,
                    "user_id": record.user_id,
                    "payload": json.dumps(record.payload()),
                }
            ],
        )
        self._insert(
            conn,
            edges_table,
            {
                "table_id": [table_id] * n_edges,
                "edge_index": _signed(write.new_edges.edge_index),
                "sv_a": _signed(write.new_edges.sv_a),
                "sv_b": _signed(write.new_edges.sv_b),
                "affinity": write.new_edges.affinities.astype(np.float64).tolist(),
                "area": [0] * n_edges,
                "active": [False] * n_edges,
            },
        )
        self._insert(
            conn,
            edit_nodes_table,
            {
                "table_id": [table_id] * n_new,
                "node_id": _signed(write.new_node_ids),
                "operation_id": [op] * n_new,
                "created_ms": [record.timestamp_ms] * n_new,
            },
        )
        self._insert(conn, edit_children_table, children_rows)
        self._insert(
            conn,
            parent_versions_table,
            {
                "table_id": [table_id] * n_versions,
                "operation_id": [op] * n_versions,
                "node_id": _signed(write.version_nodes),
                "parent_id": _signed(write.version_parents),
            },
        )
        self._insert(
            conn,
            edge_changes_table,
            {
                "table_id": [table_id] * n_changes,
                "operation_id": [op] * n_changes,
                "edge_index": _signed(write.edge_changes),
                "active": write.edge_values.astype(bool).tolist(),
            },
        )

    # -- reading ----------------------------------------------------------------------------
    def load_build(self, table_id: str) -> BuildData:
        """Read the build of one graph (edges appended by merges included, inactive)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(graphs_table).where(graphs_table.c.table_id == table_id)
            ).one_or_none()
            if row is None:
                raise KeyError(f"graph {table_id!r} is not in the store")
            meta = GraphMeta.from_dict(json.loads(row.meta))
            nodes = (
                select(base_nodes_table.c.node_id, base_nodes_table.c.parent_id)
                .where(base_nodes_table.c.table_id == table_id)
                .order_by(base_nodes_table.c.node_id)
            )
            node_rows = _read_rows(
                conn, nodes, np.dtype([("node", np.int64), ("parent", np.int64)])
            )
            edges = (
                select(
                    edges_table.c.sv_a,
                    edges_table.c.sv_b,
                    edges_table.c.affinity,
                    edges_table.c.area,
                    edges_table.c.active,
                )
                .where(edges_table.c.table_id == table_id)
                .order_by(edges_table.c.edge_index)
            )
            edge_dtype = np.dtype(
                [
                    ("a", np.int64),
                    ("b", np.int64),
                    ("affinity", np.float64),
                    ("area", np.int64),
                    ("active", np.bool_),
                ]
            )
            edge_rows = _read_rows(conn, edges, edge_dtype)
        return BuildData(
            meta=meta,
            build_ms=int(row.build_ms),
            node_ids=node_rows["node"].astype(np.uint64),
            parent_ids=node_rows["parent"].astype(np.uint64),
            edge_a=edge_rows["a"].astype(np.uint64),
            edge_b=edge_rows["b"].astype(np.uint64),
            affinities=edge_rows["affinity"].astype(np.float32),
            areas=edge_rows["area"].astype(np.uint64),
            active=edge_rows["active"].astype(bool),
            n_base_edges=int(row.n_base_edges),
        )

    def load_operations(
        self, table_id: str, after: int = 0, conn: Connection | None = None
    ) -> list[OperationWrite]:
        """The operations of one graph with an id above ``after``, in operation id order.

        Their appended edges are not part of the result (``new_edges`` is empty): a full load
        reads them with the build, a catch-up with :meth:`load_edges`.
        """
        if conn is None:
            with self.engine.connect() as own:
                return self._load_operations(own, table_id, after)
        return self._load_operations(conn, table_id, after)

    def _load_operations(self, conn: Connection, table_id: str, after: int) -> list[OperationWrite]:
        records = [
            OperationRecord.from_payload(
                int(r.operation_id),
                r.kind,
                int(r.timestamp_ms),
                r.user_id,
                json.loads(r.payload),
            )
            for r in conn.execute(
                select(operations_table)
                .where(
                    (operations_table.c.table_id == table_id)
                    & (operations_table.c.operation_id > after)
                )
                .order_by(operations_table.c.operation_id)
            )
        ]
        if not records:
            return []
        nodes = _grouped(
            conn.execute(
                select(edit_nodes_table.c.operation_id, edit_nodes_table.c.node_id)
                .where(
                    (edit_nodes_table.c.table_id == table_id)
                    & (edit_nodes_table.c.operation_id > after)
                )
                .order_by(edit_nodes_table.c.operation_id, edit_nodes_table.c.node_id)
            )
        )
        children_of_new = select(edit_children_table.c.parent_id, edit_children_table.c.child_id)
        if after > 0:
            children_of_new = children_of_new.join(
                edit_nodes_table,
                (edit_nodes_table.c.table_id == edit_children_table.c.table_id)
                & (edit_nodes_table.c.node_id == edit_children_table.c.parent_id),
            ).where(edit_nodes_table.c.operation_id > after)
        children: dict[int, list[int]] = {}
        for parent, child in conn.execute(
            children_of_new.where(edit_children_table.c.table_id == table_id).order_by(
                edit_children_table.c.parent_id, edit_children_table.c.position
            )
        ):
            children.setdefault(int(parent), []).append(int(child))
        versions = _grouped_pairs(
            conn.execute(
                select(
                    parent_versions_table.c.operation_id,
                    parent_versions_table.c.node_id,
                    parent_versions_table.c.parent_id,
                )
                .where(
                    (parent_versions_table.c.table_id == table_id)
                    & (parent_versions_table.c.operation_id > after)
                )
                .order_by(parent_versions_table.c.operation_id, parent_versions_table.c.node_id)
            )
        )
        changes = _grouped_pairs(
            conn.execute(
                select(
                    edge_changes_table.c.operation_id,
                    edge_changes_table.c.edge_index,
                    edge_changes_table.c.active,
                )
                .where(
                    (edge_changes_table.c.table_id == table_id)
                    & (edge_changes_table.c.operation_id > after)
                )
                .order_by(edge_changes_table.c.operation_id, edge_changes_table.c.edge_index)
            )
        )
        writes: list[OperationWrite] = []
        empty_edges = NewEdges(
            np.zeros(0, np.int64),
            np.zeros(0, np.uint64),
            np.zeros(0, np.uint64),
            np.zeros(0, np.float32),
        )
        for record in records:
            op = record.operation_id
            node_ids = np.asarray(nodes.get(op, []), dtype=np.int64).astype(np.uint64)
            version_nodes, version_parents = versions.get(op, ([], []))
            change_edges, change_values = changes.get(op, ([], []))
            writes.append(
                OperationWrite(
                    record=record,
                    new_node_ids=node_ids,
                    new_children=[
                        np.asarray(children.get(int(n), []), dtype=np.int64).astype(np.uint64)
                        for n in node_ids.astype(np.int64).tolist()
                    ],
                    version_nodes=np.asarray(version_nodes, np.int64).astype(np.uint64),
                    version_parents=np.asarray(version_parents, np.int64).astype(np.uint64),
                    edge_changes=np.asarray(change_edges, dtype=np.int64),
                    edge_values=np.asarray(change_values, dtype=bool),
                    new_edges=empty_edges,
                )
            )
        return writes

    def load_edges(self, table_id: str, start: int, conn: Connection | None = None) -> NewEdges:
        """The edges with an index from ``start`` on (those appended by merges), in index order."""
        query = (
            select(edges_table.c.edge_index, edges_table.c.sv_a, edges_table.c.sv_b)
            .add_columns(edges_table.c.affinity)
            .where((edges_table.c.table_id == table_id) & (edges_table.c.edge_index >= start))
            .order_by(edges_table.c.edge_index)
        )
        if conn is None:
            with self.engine.connect() as own:
                found = own.execute(query).all()
        else:
            found = conn.execute(query).all()
        return NewEdges(
            edge_index=np.asarray([r[0] for r in found], dtype=np.int64),
            sv_a=np.asarray([r[1] for r in found], dtype=np.int64).astype(np.uint64),
            sv_b=np.asarray([r[2] for r in found], dtype=np.int64).astype(np.uint64),
            affinities=np.asarray([r[3] for r in found], dtype=np.float32),
        )

    def max_operation_id(self, table_id: str) -> int:
        """Highest operation id of a graph (0 if none)."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(func.max(operations_table.c.operation_id)).where(
                    operations_table.c.table_id == table_id
                )
            ).scalar()
        return int(value or 0)


def _read_rows(conn: Connection, statement: Any, dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """Run a select on the raw DBAPI cursor and read its tuples straight into numpy."""
    sql = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.cursor()

    def rows() -> Iterator[tuple[Any, ...]]:
        while batch := cursor.fetchmany(BATCH_SIZE):
            for row in batch:
                yield tuple(row)

    try:
        cursor.execute(sql)
        return np.fromiter(rows(), dtype=dtype)
    finally:
        cursor.close()


def _grouped(rows: Any) -> dict[int, list[int]]:
    grouped: dict[int, list[int]] = {}
    for key, value in rows:
        grouped.setdefault(int(key), []).append(int(value))
    return grouped


def _grouped_pairs(rows: Any) -> dict[int, tuple[list[Any], list[Any]]]:
    grouped: dict[int, tuple[list[Any], list[Any]]] = {}
    for key, first, second in rows:
        entry = grouped.setdefault(int(key), ([], []))
        entry[0].append(first)
        entry[1].append(second)
    return grouped
