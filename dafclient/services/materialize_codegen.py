"""Typed table classes of a datastack, written by ``dafclient codegen --datastack``.

One module per datastack: ``Tables`` (sync) and ``AsyncTables`` have one method per table of the
most recent version whose keyword-only parameters are the table's columns with their types
(``int`` or many ints for ids and integers, ``float``, ``str``, ``bool``, and ``<point>_bbox`` boxes
for positions), so an IDE completes table and column names and mypy checks filter types::

    tables = Tables(client.materialize)
    tables.synapses(pre_pt_root_id=[...]).query()
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dafclient.services.materialize_tables import TableColumns, _columns_of

_TYPES = {
    "integer": "Ints",
    "number": "Floats",
    "string": "Strings",
    "boolean": "bool",
}


def module_name(datastack: str) -> str:
    """``tables_<datastack>`` with every character that cannot be in a name made ``_``."""
    return "tables_" + re.sub(r"\W", "_", datastack)


def _parameters(columns: TableColumns) -> list[str]:
    out = []
    for column, kind in sorted(columns.kinds.items()):
        if not column.isidentifier() or keyword.iskeyword(column):
            continue
        if kind == "position":
            out.append(f"{column.removesuffix('_position')}_bbox: Box | None = None")
        elif kind in _TYPES:
            out.append(f"{column}: {_TYPES[kind]} | None = None")
    return out


def _method(columns: TableColumns, result: str, call: str) -> str:
    params = ",\n        ".join(["self", "*", *_parameters(columns)])
    reference = f"; references {columns.reference_table}" if columns.reference_table else ""
    return (
        f"    def {columns.table}(\n        {params},\n    ) -> {result}:\n"
        f'        """{columns.table} ({columns.schema_type}{reference})."""\n'
        f"        return self.{call}({columns.table!r}, locals())\n"
    )


def render_tables(
    datastack: str, version: int, metadata: Iterable[Mapping[str, Any]], header: str = ""
) -> str:
    """The Python source of the typed tables module of ``datastack`` (its tables at
    ``version``); tables whose name is not a Python name, or whose type is unknown, are left
    out."""
    tables: list[TableColumns] = []
    for record in sorted(metadata, key=lambda r: str(r.get("table_name"))):
        name = str(record.get("table_name"))
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
            continue
        try:
            tables.append(_columns_of(name, record))
        except ValueError:
            continue
    sync = "\n".join(_method(t, "TableQuery", "_sync") for t in tables) or "    pass\n"
    coro = "\n".join(_method(t, "AsyncTableQuery", "_async") for t in tables) or "    pass\n"
    names = "".join(f"    {t.table!r},\n" for t in tables)
    return f'''{header}"""Typed queries of the tables of datastack {datastack!r} (version {version}).

    tables = Tables(client.materialize)
    tables.<table>(column=value, ...).query()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dafclient.services.materialize_tables import AsyncTableQuery, TableQuery, TypedTables

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Ints = int | np.integer[Any] | Sequence[int] | npt.NDArray[np.integer[Any]]
    Floats = float | Sequence[float] | npt.NDArray[np.floating[Any]]
    Strings = str | Sequence[str]
    Box = Sequence[Sequence[float]]

DATASTACK = {datastack!r}
VERSION = {version}
TABLES = (
{names})


class Tables(TypedTables):
    """One method per table; keyword filters are its columns."""

{sync}

class AsyncTables(TypedTables):
    """:class:`Tables` whose queries have coroutine methods."""

{coro}'''


def write_tables(
    server: str, datastack: str, out: Path, *, token: str | None = None, header: str = ""
) -> Path:
    """Write ``out/tables_<datastack>.py`` from the tables of the datastack's most recent
    version at ``server``; returns its path."""
    from dafclient import FrameworkClient

    with FrameworkClient(datastack, server_address=server, auth_token=token) as client:
        version = client.materialize.most_recent_version()
        metadata = client.materialize.get_tables_metadata(version)
    path = out / f"{module_name(datastack)}.py"
    path.write_text(render_tables(datastack, version, metadata, header), encoding="utf-8")
    return path


__all__ = ["module_name", "render_tables", "write_tables"]
