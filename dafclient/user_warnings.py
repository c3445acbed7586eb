"""Warnings that point at the caller's line, however deep in dafclient they are issued.

A reply's warning is issued from inside a plan, which a sync or an async runner steps through a
varying number of frames; a fixed ``stacklevel`` would name a line of dafclient (where a warning
filter keyed on the user's module would never match it). :func:`warn_caller` counts the frames.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

_PACKAGE = str(Path(__file__).resolve().parent) + os.sep


def caller_stacklevel() -> int:
    """The ``stacklevel`` of the nearest frame outside dafclient, seen from the function that
    calls this one."""
    frame = sys._getframe(2)
    level = 2
    while frame is not None and _inside_package(frame.f_code.co_filename):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn_caller(message: str, category: type[Warning]) -> None:
    """Issue ``message`` as ``category``, attributed to the first line outside dafclient."""
    warnings.warn(message, category, stacklevel=caller_stacklevel())


def _inside_package(filename: str) -> bool:
    try:
        return str(Path(filename).resolve()).startswith(_PACKAGE)
    except OSError:
        return False
