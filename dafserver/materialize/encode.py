"""Query responses as production sends them (``utils.create_query_response``).

Arrow: the result goes through pandas with production's ``direct_sql_pandas`` dtypes (Int64, Int32,
Float32, boolean, UTC datetimes) and back with ``pa.RecordBatch.from_pandas``, so the schema carries
the ``pandas`` metadata; one record batch in an IPC *stream*, buffers compressed LZ4_FRAME or ZSTD
as ``Accept-Encoding`` allows, labelled ``data.arrow``. JSON: ``df.to_json(orient="records")``.
Either body is gzipped whole when ``Accept-Encoding`` has ``gzip``. Headers: ``dataframe_resolution``
(three lines), ``column_names`` (a Python repr) and one ``Warning`` line per warning.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence

import pandas as pd
import pyarrow as pa
from fastapi.responses import Response

from dafserver.materialize.query import QueryResult

ARROW_MEDIA_TYPE = "data.arrow"
ARROW_FORMAT_WARNING = (
    "Response is in pyarrow IPC format. If you encounter a parsing error, please upgrade "
    "CAVEClient to >=5.9.0 with: pip install --upgrade caveclient. To suppress this warning, "
    "pass arrow_format=True in your query parameters."
)
CSV_WARNING = (
    "Query was executed using streaming via CSV, which can mangle types. Please upgrade to "
    "caveclient > 8.0.0 to avoid this warning."
)
_PANDAS_TYPES = {
    pa.int64(): pd.Int64Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.float32(): pd.Float32Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def to_frame(table: pa.Table) -> pd.DataFrame:
    """The result as production's DataFrame (nullable extension dtypes, RangeIndex)."""
    frame: pd.DataFrame = table.to_pandas(types_mapper=_PANDAS_TYPES.get)
    return frame


def arrow_stream(frame: pd.DataFrame, accept_encoding: str, compress: bool) -> bytes:
    # One RecordBatch, as production sends. RecordBatch.from_pandas fails on a column pandas keeps
    # as a chunked Arrow array (pandas 3 strings of an empty result), so the table's columns are
    # combined first.
    table = pa.Table.from_pandas(frame)
    batch = pa.RecordBatch.from_arrays(
        [column.combine_chunks() for column in table.columns], schema=table.schema
    )
    codec = None
    if compress and "lz4" in accept_encoding:
        codec = "lz4"
    elif compress and "zstd" in accept_encoding:
        codec = "zstd"
    options = pa.ipc.IpcWriteOptions(compression=codec)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema, options=options) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


def query_response(
    result: QueryResult,
    *,
    return_pyarrow: bool,
    accept_encoding: str,
    ipc_compress: bool,
    extra_warnings: Sequence[str] = (),
) -> Response:
    frame = to_frame(result.table)
    if return_pyarrow:
        body = arrow_stream(frame, accept_encoding, ipc_compress)
        media_type = ARROW_MEDIA_TYPE
    else:
        body = frame.to_json(orient="records").encode("utf-8")
        media_type = "application/json"
    response = Response(body, media_type=media_type)
    if return_pyarrow:
        response.headers["Cache-Control"] = "no-cache"
    for value in result.resolution:
        response.headers.append("dataframe_resolution", repr(float(value)))
    response.headers.append("column_names", repr(result.column_names))
    for warning in [*result.warnings, *extra_warnings]:
        response.headers.append("Warning", warning.replace("\n", " "))
    return gzip_if_accepted(response, accept_encoding)


def gzip_if_accepted(response: Response, accept_encoding: str) -> Response:
    """Production's ``after_request``: gzip a 2xx body when the client accepts it."""
    if "gzip" not in accept_encoding or not 200 <= response.status_code < 300:
        return response
    body = gzip.compress(bytes(response.body), compresslevel=5)
    response.body = body
    response.headers["Content-Length"] = str(len(body))
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    return response
