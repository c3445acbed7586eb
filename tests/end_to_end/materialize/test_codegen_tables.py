"""Typed table classes written by ``dafclient codegen --datastack``: they query as the run-time
form does, and mypy checks table names, column names and filter types."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dafclient.services.materialize_codegen import module_name, write_tables
from dafserver.runner import LocalServer
from dafserver.seed import DATASTACK


def _generated(daf_server: LocalServer, folder: Path) -> tuple[Path, ModuleType]:
    path = write_tables(daf_server.base_url, DATASTACK, folder, token=daf_server.admin_token)
    assert path.name == f"{module_name(DATASTACK)}.py"
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return path, module


async def test_generated_tables_query_like_the_run_time_form(
    daf_server: LocalServer, tmp_path: Path, client: Any, aclient: Any
) -> None:
    _, module = _generated(daf_server, tmp_path)
    assert {"synapses", "nuclei", "nucleus_cell_types"} <= set(module.TABLES)
    roots = client.materialize.query_table("synapses", limit=20, log_warning=False)[
        "pre_pt_root_id"
    ].unique()
    frame = module.Tables(client.materialize).synapses(pre_pt_root_id=roots).query()
    expected = client.materialize.tables.synapses(pre_pt_root_id=roots).query()
    assert sorted(frame["id"].tolist()) == sorted(expected["id"].tolist())
    other = await module.AsyncTables(aclient.materialize).synapses(pre_pt_root_id=roots).query()
    assert sorted(other["id"].tolist()) == sorted(expected["id"].tolist())


@pytest.mark.slow  # a cold mypy run of the user's code (pandas, numpy stubs): a minute or more
def test_mypy_checks_columns_and_filter_types(daf_server: LocalServer, tmp_path: Path) -> None:
    from mypy import api

    path, _ = _generated(daf_server, tmp_path)
    user = tmp_path / "user_code.py"
    user.write_text(
        "from typing import Any\n"
        f"from {path.stem} import Tables\n"
        "def run(client: Any) -> None:\n"
        "    tables = Tables(client.materialize)\n"
        "    tables.synapses(pre_pt_root_id=[1, 2], size=3.5, ctr_pt_bbox=[[0, 0, 0], [1, 1, 1]])\n"
        "    tables.synapses(pre_pt_root_id='12')\n"
        "    tables.synapses(pre_root=[1])\n"
        "    tables.no_such_table()\n",
        encoding="utf-8",
    )
    out, _, status = api.run(
        [
            str(user),
            "--follow-imports=silent",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "--python-executable",
            sys.executable,
        ]
    )
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1
    assert [int(e.split(":")[1]) for e in errors] == [6, 7, 8], out
