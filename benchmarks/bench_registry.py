"""The workload registry: what a workload is, and discovery of the ``workload_*.py`` modules.

A workload module defines ``NAME`` and ``build(target, stack) -> Workload``. ``build`` prepares the
inputs and the clients (registering clean-ups on ``stack``) and returns the systems to time side by
side. Adding a workload is adding one such module next to this one.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench_target import Target

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Outcome:
    """What a system may return instead of a bare answer: its own timing and extra numbers."""

    answer: Any
    seconds: float | None = None
    """Replaces the harness's wall-clock time of the call (e.g. measured inside a subprocess)."""
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class System:
    """One way of doing a workload. ``run()`` does it once and returns the answer (or an Outcome)."""

    name: str
    run: Callable[[], Any] | None
    """``None`` when the system cannot run here; ``missing`` says why."""
    missing: str | None = None
    note: str = ""
    time_scale: float = 1.0
    """Multiplies the measured time (a linear extrapolation from a subset; ``note`` says so)."""
    expected: Callable[[Any], Any] | None = None
    """Maps the reference system's answer to what this system must answer (default: the same)."""
    warmup: bool = True


@dataclass(frozen=True)
class Verdict:
    """The goal as it applies to one system's row."""

    text: str
    passed: bool | None
    """``None``: not decidable (a system it depends on did not run)."""


@dataclass(frozen=True)
class Measured:
    """Median seconds and median metrics per system that ran."""

    seconds: Mapping[str, float]
    metrics: Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class Workload:
    """Systems timed side by side, the reference for the ratio column, the goal, and the check."""

    name: str
    description: str
    systems: list[System]
    reference: str
    goal: Callable[[Measured], Mapping[str, Verdict]]
    same: Callable[[Any, Any], bool]


class Builder(Protocol):
    def __call__(self, target: Target, stack: ExitStack) -> Workload: ...


def discover() -> dict[str, Builder]:
    """Every ``workload_*.py`` module in this folder: ``{NAME: build}`` in file-name order."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    found: dict[str, Builder] = {}
    for path in sorted(HERE.glob("workload_*.py")):
        module = importlib.import_module(path.stem)
        found[module.NAME] = module.build
    return found
