"""Methods whose result type depends on a flag are declared with ``@overload`` beside their
binding (for type checkers only): the declarations match the method's run-time parameters, and
mypy picks the result type the flag asks for."""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path
from typing import Any

import pytest

from dafclient.services import l2cache
from dafclient.services.chunkedgraph import clients as chunkedgraph_clients

MODULES = [chunkedgraph_clients, l2cache]


def _overloads(module: Any) -> dict[tuple[str, str], list[ast.FunctionDef | ast.AsyncFunctionDef]]:
    """(class, method) -> the ``@overload`` declarations in the class's TYPE_CHECKING block."""
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    found: dict[tuple[str, str], list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
    for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
        for block in cls.body:
            if not (isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"):
                continue
            for item in block.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                    ast.unparse(d) == "overload" for d in item.decorator_list
                ):
                    found.setdefault((cls.name, item.name), []).append(item)
    return found


def _declared(overload: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[str, bool]]:
    """(name, keyword-only) of an overload's parameters, without ``self``."""
    arguments = overload.args
    positional = [(a.arg, False) for a in [*arguments.posonlyargs, *arguments.args][1:]]
    return positional + [(a.arg, True) for a in arguments.kwonlyargs]


def test_every_flag_dependent_method_has_overloads() -> None:
    found = {key for module in MODULES for key in _overloads(module)}
    assert found == {
        ("ChunkedGraphClient", "get_lineage_graph"),
        ("ChunkedGraphClient", "suggest_latest_roots"),
        ("AsyncChunkedGraphClient", "get_lineage_graph"),
        ("AsyncChunkedGraphClient", "suggest_latest_roots"),
        ("L2CacheClient", "get_l2data"),
        ("AsyncL2CacheClient", "get_l2data"),
    }


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_overloads_declare_the_run_time_parameters(module: Any) -> None:
    for (class_name, method), declarations in _overloads(module).items():
        signature = inspect.signature(getattr(getattr(module, class_name), method))
        parameters = [p for name, p in signature.parameters.items() if name != "self"]
        expected = [p.name for p in parameters]
        for declaration in declarations:
            declared = _declared(declaration)
            where = f"{class_name}.{method} (line {declaration.lineno})"
            assert [name for name, _ in declared] == expected, where
            for (name, keyword_only), parameter in zip(declared, parameters, strict=True):
                if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
                    assert keyword_only, f"{where}: {name} is keyword-only at run time"
            assert isinstance(declaration, ast.AsyncFunctionDef) == class_name.startswith(
                "Async"
            ), where


USER_CODE = """\
from dafclient import AsyncFrameworkClient, FrameworkClient


def run(client: FrameworkClient) -> None:
    cg = client.chunkedgraph
    reveal_type(cg.get_lineage_graph(1))
    reveal_type(cg.suggest_latest_roots(1))
    reveal_type(cg.suggest_latest_roots(1, return_fraction_overlap=True))
    reveal_type(cg.suggest_latest_roots(1, return_all=True, return_fraction_overlap=True))
    reveal_type(client.l2cache.get_l2data([1]))
    reveal_type(client.l2cache.get_l2data([1], as_dict=True))
    reveal_type(cg.get_roots)


async def arun(client: AsyncFrameworkClient) -> None:
    reveal_type(await client.chunkedgraph.suggest_latest_roots(1, return_all=True))
    reveal_type(await client.l2cache.get_l2data([1], as_dict=True))
"""


@pytest.mark.slow  # a cold mypy run over dafclient, numpy and pandas stubs: a minute or more
def test_mypy_sees_the_overloads_and_the_real_signatures(tmp_path: Path) -> None:
    from mypy import api

    user = tmp_path / "user_code.py"
    user.write_text(USER_CODE, encoding="utf-8")
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
    revealed = [
        line.split('Revealed type is "')[1][:-1] for line in out.splitlines() if "Revealed" in line
    ]
    assert status == 0, out
    uint64 = "numpy.ndarray[tuple[Any, ...], numpy.dtype[numpy.unsignedinteger[numpy._typing._nbit_base._64Bit]]]"
    assert revealed[0].startswith(
        "TypedDict(dafclient.services.chunkedgraph.results.LineageGraph"
    ), out
    assert revealed[1:4] == [
        "int",
        "tuple[int, float]",
        f"tuple[{uint64}, numpy.ndarray[tuple[Any, ...], numpy.dtype[numpy.float64]]]",
    ], out
    assert revealed[4] == "pandas.core.frame.DataFrame", out
    assert revealed[5].startswith("dict[str, TypedDict(dafclient.records.L2Features, {"), out
    assert revealed[6].startswith("def (supervoxel_ids: ") and revealed[6].endswith(
        f"-> {uint64}"
    ), out
    assert revealed[7] == uint64, out
    assert revealed[8] == revealed[5], out
