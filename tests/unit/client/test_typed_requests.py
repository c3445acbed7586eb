"""Every call of a generated request builder is checked by mypy: a copy of dafclient in which
each ``build_request(...)`` call gets an argument no builder takes must fail type checking at
every one of them (a builder reached through ``Any`` would let it pass)."""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

import pytest

import dafclient

PROBE = "daf_probe"


def _add_probe(path: Path) -> int:
    """Add ``daf_probe=1`` to every ``build_request`` call in ``path``; the number of calls."""
    source = path.read_text(encoding="utf-8")
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    closing = [
        starts[node.end_lineno - 1] + node.end_col_offset - 1
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "build_request"
        and node.end_lineno is not None
        and node.end_col_offset is not None
    ]
    for end in sorted(closing, reverse=True):
        before = end - 1
        while source[before].isspace():
            before -= 1
        argument = f" {PROBE}=1" if source[before] in ",(" else f", {PROBE}=1"
        source = source[:end] + argument + source[end:]
    path.write_text(source, encoding="utf-8")
    return len(closing)


@pytest.mark.slow  # a cold mypy run over dafclient and the generated packages: a minute or more
def test_mypy_checks_every_request_builder_call(tmp_path: Path) -> None:
    from mypy import api

    package = Path(dafclient.__file__).parent
    root = package.parent
    copy = tmp_path / "dafclient"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    calls = sum(_add_probe(path) for path in copy.rglob("*.py"))
    assert calls >= 80  # every service's operations
    out, _, _ = api.run(
        [
            str(copy),
            "--config-file",
            str(root / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "--python-executable",
            sys.executable,
        ]
    )
    rejected = [
        line for line in out.splitlines() if f'Unexpected keyword argument "{PROBE}"' in line
    ]
    assert len(rejected) == calls, out
