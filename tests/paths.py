"""Where the tests find the repository's own files (specs, docs, benchmarks), wherever they sit."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
"""The repository root: the folder holding ``pyproject.toml``."""
