"""Query replies of the MaterializationEngine as DataFrames, column by column (no per-row Python).

The server sends an Arrow IPC stream (or JSON records) whose positions are three integer columns
``X_position_x/_y/_z``. :func:`decode_query` turns it into a DataFrame where

- each position triple is one ``X_position`` column of ``fixed_size_list<int>[3]`` (a pandas
  ``ArrowDtype``: ``df.pt_position.to_numpy()`` gives numpy arrays, ``np.stack(...)`` an (N, 3)
  array), unless ``split_positions=True``;
- ids (``id``, ``target_id``, ``*_root_id``, ``*_supervoxel_id``) are ``uint64``;
- timestamps are UTC;
- the headers are in ``df.attrs`` (``dataframe_resolution``, ``column_names``, ``warnings``) and
  every ``Warning`` header is also issued as a :class:`MaterializeWarning`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np

from dafclient._plan import Call, read_json
from dafclient.errors import ResponseFormatError
from dafclient.user_warnings import warn_caller

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

ARROW_MEDIA_TYPE = "data.arrow"
_ID_COLUMN = re.compile(r"^(id|target_id)(_?\w*)?$|_(root|supervoxel)_id")
_TIME_COLUMNS = ("created", "deleted", "updated")


class MaterializeWarning(UserWarning):
    """A ``Warning`` header of a materialization query (a limited result, a table owner's
    notice, ...)."""


def is_id_column(name: str) -> bool:
    """Whether ``name`` holds uint64 ids (``id``, ``id_ref``, ``target_id``, ``*_root_id``...)."""
    return bool(_ID_COLUMN.search(name))


def position_triples(names: Sequence[str]) -> list[str]:
    """Bases ``B`` (in column order) of the adjacent-or-not ``B_x, B_y, B_z`` position columns."""
    present = set(names)
    bases = []
    for name in names:
        if name.endswith("_x") and "position" in name:
            base = name[:-2]
            if f"{base}_y" in present and f"{base}_z" in present:
                bases.append(base)
    return bases


def _merged(table: pa.Table, base: str) -> pa.Array:
    import pyarrow as pa

    parts = [table.column(f"{base}_{a}") for a in "xyz"]
    if any(p.null_count for p in parts):
        raise ValueError(f"position {base} has missing coordinates")
    kind = np.result_type(*(p.type.to_pandas_dtype() for p in parts))
    xyz = np.empty((table.num_rows, 3), dtype=kind)
    for axis, part in enumerate(parts):
        start = 0
        for chunk in part.chunks:  # each chunk written in place: no concatenated copy
            stop = start + len(chunk)
            xyz[start:stop, axis] = chunk.to_numpy(zero_copy_only=False)
            start = stop
    return pa.FixedSizeListArray.from_arrays(pa.array(xyz.reshape(-1)), 3)


def arrow_to_frame(table: pa.Table, split_positions: bool) -> pd.DataFrame:
    """A query result table as a DataFrame (see the module docstring); no per-row work."""
    import pandas as pd
    import pyarrow as pa

    columns: dict[str, Any] = {}
    names = list(table.column_names)
    bases = set() if split_positions else set(position_triples(names))
    skip = {f"{b}_{a}" for b in bases for a in "yz"}
    for name in names:
        if name in skip:
            continue
        if name.endswith("_x") and name[:-2] in bases:
            columns[name[:-2]] = _merged(table, name[:-2])
            continue
        column = table.column(name)
        if (
            is_id_column(name)
            and pa.types.is_integer(column.type)
            and column.null_count == 0
            and column.type != pa.uint64()
        ):
            # Same bits as a cast with safe=False (no nulls, same width), without copying.
            column = (
                pa.chunked_array([c.view(pa.uint64()) for c in column.chunks], pa.uint64())
                if column.type == pa.int64()
                else column.cast(pa.uint64(), safe=False)
            )
        columns[name] = column
    result = pa.table(columns) if columns else table.slice(0, table.num_rows)

    def mapper(kind: pa.DataType) -> Any:
        return pd.ArrowDtype(kind) if pa.types.is_fixed_size_list(kind) else None

    frame: pd.DataFrame = result.to_pandas(types_mapper=mapper)
    return frame


def _json_table(records: list[Any]) -> pa.Table:
    """JSON records (datetimes in epoch milliseconds) as an Arrow table."""
    import pandas as pd
    import pyarrow as pa

    frame = pd.DataFrame(records)
    for name in _TIME_COLUMNS:
        if name in frame.columns and frame[name].dtype.kind in "if":
            frame[name] = pd.to_datetime(frame[name], unit="ms", utc=True)
    return pa.Table.from_pandas(frame, preserve_index=False)


def read_table(request: Call, response: httpx.Response) -> pa.Table:
    """The reply body as an Arrow table (Arrow IPC stream or JSON records)."""
    import pyarrow as pa

    if response.headers.get("content-type", "") == ARROW_MEDIA_TYPE:
        try:
            return pa.ipc.open_stream(response.content).read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            raise ResponseFormatError(
                f"unreadable Arrow stream: {exc}", method=request.method, url=request.url
            ) from exc
    data = read_json(request, response)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ResponseFormatError(
            "expected a list of records", method=request.method, url=request.url
        )
    return _json_table(data)


def header_resolution(response: httpx.Response) -> list[float] | None:
    """The ``dataframe_resolution`` header (three lines, or one comma-separated line)."""
    values = response.headers.get_list("dataframe_resolution")
    if len(values) == 1 and "," in values[0]:
        values = values[0].split(",")
    return [float(v) for v in values] if values else None


def decode_query(
    request: Call, response: httpx.Response, split_positions: bool, warn: bool = True
) -> pd.DataFrame:
    """A query reply as a DataFrame with its headers in ``attrs``; its warnings are issued as
    :class:`MaterializeWarning` unless ``warn=False``."""
    table = read_table(request, response)
    try:
        frame = arrow_to_frame(table, split_positions)
    except ValueError as exc:
        raise ResponseFormatError(str(exc), method=request.method, url=request.url) from exc
    frame.attrs["dataframe_resolution"] = header_resolution(response)
    frame.attrs["column_names"] = response.headers.get("column_names")
    notes = response.headers.get_list("Warning")
    frame.attrs["warnings"] = notes
    for note in notes if warn else ():
        warn_caller(note, MaterializeWarning)
    return frame


def merge_positions(frame: pd.DataFrame) -> pd.DataFrame:
    """``X_x/_y/_z`` position triples of a DataFrame → one ``X`` column of fixed-size lists."""
    import pyarrow as pa

    if not any(isinstance(c, str) for c in frame.columns):
        return frame
    return arrow_to_frame(pa.Table.from_pandas(frame, preserve_index=False), False)


def scale_positions(
    frame: pd.DataFrame, ratio: Sequence[float], split_positions: bool
) -> pd.DataFrame:
    """Positions multiplied by ``ratio`` per axis (for servers that do not scale themselves)."""
    import pandas as pd
    import pyarrow as pa

    out = frame.copy()
    factors = np.asarray(ratio, dtype=np.float64)
    for name in list(out.columns):
        if not isinstance(name, str) or "position" not in name:
            continue
        if split_positions and name[-2:] in ("_x", "_y", "_z"):
            out[name] = out[name].to_numpy(dtype=np.float64) * factors["xyz".index(name[-1])]
        elif isinstance(out[name].dtype, pd.ArrowDtype):
            xyz = np.stack(list(out[name].to_numpy())).astype(np.float64) * factors
            array = pa.FixedSizeListArray.from_arrays(pa.array(xyz.ravel()), 3)
            out[name] = pd.Series(pd.arrays.ArrowExtensionArray(array), index=out.index)
    out.attrs.update(frame.attrs)
    return out


def apply_filters(
    frame: pd.DataFrame, filters: Mapping[str, Mapping[str, Any]], kinds: Sequence[str]
) -> pd.DataFrame:
    """Keep the rows that pass the column filters of ``kinds`` (``filter_in_dict``...), computed
    with vectorized pandas; columns absent from ``frame`` are skipped."""
    keep = np.ones(len(frame), dtype=np.bool_)
    for kind in kinds:
        for column, value in (filters.get(kind) or {}).items():
            if column not in frame.columns:
                continue
            data = frame[column]
            if kind in ("filter_in_dict", "filter_out_dict"):
                listed = (
                    list(value) if isinstance(value, list | tuple | set | np.ndarray) else [value]
                )
                hit = data.isin(listed).to_numpy(dtype=np.bool_)
                keep &= hit if kind == "filter_in_dict" else ~hit
            elif kind == "filter_equal_dict":
                keep &= (data == value).to_numpy(dtype=np.bool_)
            elif kind == "filter_greater_dict":
                keep &= (data > value).to_numpy(dtype=np.bool_)
            elif kind == "filter_less_dict":
                keep &= (data < value).to_numpy(dtype=np.bool_)
            elif kind == "filter_greater_equal_dict":
                keep &= (data >= value).to_numpy(dtype=np.bool_)
            elif kind == "filter_less_equal_dict":
                keep &= (data <= value).to_numpy(dtype=np.bool_)
    if keep.all():
        return frame
    out = frame[keep].reset_index(drop=True)
    out.attrs.update(frame.attrs)
    return out


__all__ = [
    "ARROW_MEDIA_TYPE",
    "MaterializeWarning",
    "apply_filters",
    "arrow_to_frame",
    "decode_query",
    "merge_positions",
    "position_triples",
    "scale_positions",
]
