"""Dask DataFrames: lookups and bulk posts of tables larger than one machine.

Install with ``pip install "dafclient[dask]"``. Importing dafclient never imports dask: the
methods that accept a Dask DataFrame first call :func:`is_dask_dataframe`, which only looks at
the object's type, and import this module's dask parts when they get one.

- :meth:`LookupClient.lookup_dataframe` shuffles the points by storage chunk, so each chunk is
  read once in the whole job (:mod:`dafclient.dask_lookup`).
- :meth:`AnnotationClient.bulk_post` streams partitions in order, a few at a time (see
  :func:`partition_frames`), through :mod:`dafclient.annotations.bulk_partitioned`.
"""

from __future__ import annotations

import importlib.metadata
from collections import deque
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
from typing_extensions import TypeIs

from dafclient.errors import ConfigurationError, InputError

if TYPE_CHECKING:
    import dask.dataframe as dd


EXTRA = "dafclient[dask]"
MIN_DASK_VERSION = (2024, 8)


def is_dask_dataframe(data: object) -> TypeIs[dd.DataFrame]:
    """Whether ``data`` is a Dask DataFrame (checked by its type's name: dask is not imported)."""
    kind = type(data)
    return kind.__name__ == "DataFrame" and kind.__module__.split(".")[0] in {"dask", "dask_expr"}


def require_dask() -> Any:
    """``dask.dataframe``, or a :class:`ConfigurationError` naming the extra to install."""
    try:
        import dask.dataframe as dd

        version = importlib.metadata.version("dask")
    except (ImportError, importlib.metadata.PackageNotFoundError) as exc:
        raise ConfigurationError(
            f"a Dask DataFrame needs dask: pip install '{EXTRA}' ({exc})"
        ) from None
    found = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if found < MIN_DASK_VERSION:
        wanted = ".".join(map(str, MIN_DASK_VERSION))
        raise ConfigurationError(
            f"dask {version} is too old for dafclient (needs {wanted} or newer): "
            f"pip install -U '{EXTRA}'"
        )
    return dd


# -- streaming partitions -------------------------------------------------------------------


def _active_distributed_client() -> Any:
    """The distributed Client in use, if any (without importing distributed)."""
    import sys

    if "distributed" not in sys.modules:
        return None
    import distributed

    find: Any = distributed.default_client
    try:
        return find()
    except ValueError:
        return None


def partition_frames(
    data: dd.DataFrame, partitions: Sequence[int], prefetch: int = 2
) -> Iterator[tuple[int, pd.DataFrame]]:
    """``(partition number, pandas frame)`` for ``partitions``, in that order.

    With a distributed Client active, up to ``prefetch`` partitions are computed on the cluster
    ahead of the one handed out (each is released once handed out); otherwise each is computed
    here when it is needed. Never more than ``prefetch + 1`` partitions are in memory here.
    """
    require_dask()
    if prefetch < 0:
        raise InputError(f"prefetch must be at least 0, got {prefetch}")
    frame: Any = data
    pieces = frame.to_delayed()
    cluster = _active_distributed_client()
    if cluster is None:
        for number in partitions:
            yield number, _as_frame(pieces[number].compute(), number)
        return
    todo = iter(partitions)
    waiting: deque[tuple[int, Any]] = deque()

    def submit() -> None:
        number = next(todo, None)
        if number is not None:
            waiting.append((number, cluster.compute(pieces[number])))

    try:
        for _ in range(prefetch + 1):
            submit()
        while waiting:
            number, future = waiting[0]
            frame = future.result()
            waiting.popleft()
            future.release()
            submit()
            yield number, _as_frame(frame, number)
    finally:  # a failed partition is computed afresh next time: release every future
        for _, future in waiting:
            future.release()


def _as_frame(value: Any, number: int) -> pd.DataFrame:
    if not isinstance(value, pd.DataFrame):
        raise InputError(
            f"partition {number} computed to a {type(value).__name__}, not a DataFrame"
        )
    return value


def string_position_columns(data: dd.DataFrame) -> list[str]:
    """Columns of ``data`` named ``*_position`` whose dtype is a string (see
    :func:`dafclient.dask_lookup.lookup_dask_dataframe`)."""
    frame: Any = data
    empty: pd.DataFrame = frame._meta
    return [
        str(c)
        for c in empty.columns
        if str(c).endswith("_position") and pd.api.types.is_string_dtype(empty[c].dtype)
    ]


__all__ = [
    "EXTRA",
    "is_dask_dataframe",
    "partition_frames",
    "require_dask",
    "string_position_columns",
]
