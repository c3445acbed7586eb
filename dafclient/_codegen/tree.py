"""Comparing two generated trees byte for byte."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_IGNORED_PARTS = {"__pycache__", ".mypy_cache", ".ruff_cache"}


def _files(root: Path) -> dict[str, bytes]:
    if not root.is_dir():
        return {}
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and not _IGNORED_PARTS.intersection(path.parts)
    }


@dataclass(frozen=True)
class TreeDiff:
    """Files only in the expected tree, only in the actual tree, and in both but different."""

    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    changed: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not (self.missing or self.unexpected or self.changed)

    def describe(self, limit: int = 30) -> str:
        lines = [f"missing (would be generated): {p}" for p in self.missing]
        lines += [f"stale (would be removed): {p}" for p in self.unexpected]
        lines += [f"changed: {p}" for p in self.changed]
        more = len(lines) - limit
        return "\n".join(lines[:limit] + ([f"... and {more} more"] if more > 0 else []))


def compare_trees(expected: Path, actual: Path) -> TreeDiff:
    """Compare the freshly generated ``expected`` tree with the committed ``actual`` tree."""
    want, have = _files(expected), _files(actual)
    return TreeDiff(
        missing=tuple(sorted(want.keys() - have.keys())),
        unexpected=tuple(sorted(have.keys() - want.keys())),
        changed=tuple(sorted(p for p in want.keys() & have.keys() if want[p] != have[p])),
    )
