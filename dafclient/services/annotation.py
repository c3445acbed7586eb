"""The annotation service (AnnotationEngine): annotation tables and their rows."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx
import numpy as np
import numpy.typing as npt
import pandas as pd

from dafclient import _generated as gen
from dafclient._context import ApiVersions
from dafclient._plan import (
    EncodedJson,
    Plan,
    async_op,
    async_op_then,
    drive,
    read_json,
    sync_op,
    sync_op_then,
)
from dafclient._service import AsyncBinding, ServiceClient, SyncBinding, datastack_record
from dafclient._wire.annotation_models import MODELS
from dafclient._wire.annotation_v2.api.annotation import (
    create_table,
    delete_annotations,
    delete_table,
    get_annotation_count,
    get_annotations,
    get_table_metadata,
    get_tables,
    post_annotations,
    update_annotations,
    update_table_metadata,
)
from dafclient._wire.annotation_v2.models import (
    CreateTableRequest,
    DeleteAnnotationsRequest,
    PostAnnotationsRequest,
    TableMetadata,
    UpdateAnnotationsRequest,
    UpdateTableRequest,
)
from dafclient.annotations import bulk
from dafclient.annotations.bulk import BulkResult, RowState
from dafclient.annotations.bulk_partitioned import (
    PartitionedJob,
    PartitionedRows,
    new_partitioned_result,
    run_partitioned_async,
    run_partitioned_blocking,
)
from dafclient.annotations.bulk_run import BulkOptions, BulkRun, ids_of, run_async, run_blocking
from dafclient.annotations.catalog import live_type, snapshot_type
from dafclient.annotations.columnar import ColumnTable
from dafclient.annotations.frames import model_record
from dafclient.annotations.layout import AnnotationLayout
from dafclient.annotations.stage import AnnotationStage
from dafclient.annotations.wire import Fingerprint, encode_body
from dafclient.dask_support import is_dask_dataframe
from dafclient.errors import DafError, InputError, ResponseFormatError
from dafclient.ids import as_id_array
from dafclient.resolutions import checked_resolution
from dafclient.services.schema import SchemaClientBase
from dafclient.timestamps import TimestampLike, to_epoch_seconds

if TYPE_CHECKING:
    from dask.dataframe import DataFrame as DaskFrame

M = TypeVar("M")

ANNOTATION_API = ApiVersions("annotation", known=(2,), versions_path="/annotation/api/versions")

MAX_ANNOTATIONS_PER_REQUEST = bulk.MAX_BATCH
"""The AnnotationEngine's insertion limit per POST."""

BulkData = AnnotationStage[Any] | pd.DataFrame | Sequence[Any] | Mapping[str, Any]
"""What writes take: a stage, a DataFrame of flat columns, or models/dicts (one or many)."""

PERMISSIONS = ("PRIVATE", "GROUP", "PUBLIC")


def annotation_json(value: Any) -> Any:
    """``value`` made JSON-ready for the AnnotationEngine: numpy numbers become numbers (ids stay
    exact), arrays lists, NaN and None become null."""
    if isinstance(value, Mapping):
        return {str(k): annotation_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [annotation_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return annotation_json(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, float)):
        number = float(value)
        return None if math.isnan(number) else number
    if isinstance(value, np.bool_):
        return bool(value)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if not isinstance(value, (str, int, float, bool)):
        raise InputError(f"a {type(value).__name__} value ({value!r:.80}) cannot be sent as JSON")
    return value


def _record_json(index: int, item: Any) -> Any:
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        item = model_record(item)  # a generated (or run-time) annotation model
    if not isinstance(item, Mapping):
        raise InputError(f"data: item {index} is a {type(item).__name__}, not a dict or model")
    try:
        return annotation_json(item)
    except InputError as exc:
        raise InputError(f"data: item {index}: {exc}") from None


PositionColumns = Iterable[str] | Mapping[str, str]
"""Position columns of a DataFrame: column names (``{point}_position``, or any name whose last
``_`` part is dropped, as CAVEclient does), or a mapping column → point name."""


def _position_points(df: pd.DataFrame, position_columns: PositionColumns | None) -> dict[Any, str]:
    """Column → point name for the position columns of ``df``."""
    if position_columns is None:
        points = {c: str(c).removesuffix("_position") for c in df.columns}
        points = {c: p for c, p in points.items() if p != str(c)}
    elif isinstance(position_columns, Mapping):
        points = {c: str(p) for c, p in position_columns.items()}
    elif isinstance(position_columns, str):
        raise InputError("position_columns: expected column names or a mapping, not one string")
    else:
        points = {c: str(c).rsplit("_", 1)[0] for c in position_columns}
    missing = [c for c in points if c not in df.columns]
    if missing:
        raise InputError(f"position_columns not in the DataFrame: {missing}")
    return points


def process_position_columns(
    df: pd.DataFrame, position_columns: PositionColumns | None = None
) -> list[dict[str, Any]]:
    """DataFrame rows as nested annotations: a position column becomes
    ``{"{point}": {"position": [...]}}`` (other ``{point}_...`` columns join that point).

    ``position_columns`` names them (default: every ``{point}_position`` column), as a list or
    as a mapping column → point name."""
    points = _position_points(df, position_columns)
    records = []
    for index, row in enumerate(df.to_dict(orient="records")):
        item: dict[str, Any] = {}
        for key, value in row.items():
            if key in points:
                item.setdefault(points[key], {})["position"] = value
            else:
                item[str(key)] = value
        records.append(_record_json(index, item))
    return records


def _as_records(data: BulkData, *, update: bool) -> list[dict[str, Any]]:
    """Rows as JSON records, unvalidated (``validate=False``)."""
    if isinstance(data, AnnotationStage):
        return data.records()
    if isinstance(data, pd.DataFrame):
        records = process_position_columns(data)
    else:
        rows = [data] if isinstance(data, Mapping) else list(data)
        records = [_record_json(index, item) for index, item in enumerate(rows)]
    if update:
        missing = [i for i, r in enumerate(records) if "id" not in r]
        if missing:
            raise InputError(
                "every updated annotation needs its id", [f"item {i}: no 'id'" for i in missing]
            )
    return records


def _rows(data: BulkData) -> BulkData:
    """``data`` with a single row or an iterator made a list (so it can be counted)."""
    if isinstance(data, (AnnotationStage, pd.DataFrame, Sequence)) and not isinstance(
        data, (str, bytes)
    ):
        return data
    if isinstance(data, Mapping) or dataclasses.is_dataclass(data):
        return [data]
    return list(data)


def _position_frame(df: pd.DataFrame, position_columns: PositionColumns | None) -> pd.DataFrame:
    """``df`` with the named position columns called ``{point}_position`` (as the validator
    reads them); ``{point}_position`` columns are positions whether named or not."""
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"expected a DataFrame, got {type(df).__name__}")
    if position_columns is None:
        return df
    points = _position_points(df, position_columns)
    names = {c: p + "_position" for c, p in points.items()}
    return df.rename(columns=names) if any(k != v for k, v in names.items()) else df


@dataclass(frozen=True)
class TableType:
    """What a table's rows are validated against: its annotation type and voxel resolution."""

    layout: AnnotationLayout
    model: type[Any]
    resolution: tuple[float, float, float]


def _labels(data: Any) -> pd.Index | None:
    """The row labels of a DataFrame given to a bulk write (results report rows by them)."""
    return data.index if isinstance(data, pd.DataFrame) else None


def _stage_resolution(value: Sequence[float]) -> npt.NDArray[np.float64]:
    return np.asarray(checked_resolution(value, "annotation_resolution"), dtype=np.float64)


class UploadIncompleteError(DafError):
    """Some staged rows did not land; ``result`` says which and why (pass it to ``resume``)."""

    def __init__(self, result: BulkResult) -> None:
        super().__init__(f"not every staged row landed: {result.summary()}")
        self.result = result


def _staged_table(staged_annos: AnnotationStage[Any]) -> str:
    if not isinstance(staged_annos, AnnotationStage):
        raise InputError(f"expected a stage, got {type(staged_annos).__name__}")
    if staged_annos.table_name is None:
        raise InputError("only a stage made for a table (stage_annotations(table_name)) uploads")
    return staged_annos.table_name


def _uploaded(result: BulkResult) -> list[int] | IdMap:
    """CAVEclient's answer to an upload: new ids, or old id -> new id for updates."""
    if not result.complete:
        raise UploadIncompleteError(result)
    if result.operation == "update":
        return IdMap((str(o), int(n)) for o, n in zip(result.target_ids, result.ids, strict=True))
    return [int(i) for i in result.ids]


class IdMap(dict[str, int]):
    """Old annotation id -> new id of an update. The keys are strings, as in the service's JSON
    and CAVEclient's answer; an ``int`` id is looked up too (``mapping[old_id]``)."""

    def __missing__(self, key: Any) -> int:
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            return self[str(int(key))]
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            key = str(int(key))
        return dict.__contains__(self, key)

    def get(self, key: Any, default: Any = None) -> Any:
        """``mapping[key]``, or ``default``."""
        return self[key] if key in self else default  # noqa: SIM401 - dict.get skips __missing__


class TableName(str):
    """A table name. It is a ``str``; it also answers ``name["table_name"]``, the key the
    original client's table records were read with, so code written for them keeps working."""

    __slots__ = ()

    def __getitem__(self, key: Any) -> Any:
        if key == "table_name":
            return str(self)
        if isinstance(key, str):
            raise KeyError(f"{key!r}: a table name only answers 'table_name'")
        return str.__getitem__(self, key)


class AnnotationClientBase(ServiceClient):
    """Plans of the annotation client; see :class:`AnnotationClient`."""

    API = ANNOTATION_API
    LOCAL = True

    def __init__(self, *args: Any, aligned_volume_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._aligned_volume_name = aligned_volume_name
        # (aligned volume, table, live schema) -> the table's type; a table's annotation type
        # and resolution never change, so each is learned once.
        self._table_types: dict[tuple[str, str, bool], TableType] = {}

    def _volume(self, aligned_volume_name: str | None) -> Plan[tuple[str, str]]:
        server = yield from self._server()
        yield from self._ctx.api_version(self.API, server)
        name = aligned_volume_name or self._aligned_volume_name
        if name is None:
            name = (yield from datastack_record(self._ctx)).aligned_volume.name
            self._aligned_volume_name = name
        return server, name

    def _get_aligned_volume_name(self) -> Plan[str]:
        """The aligned volume whose tables this client works on."""
        return (yield from self._volume(None))[1]

    def _get_tables(
        self, aligned_volume_name: str | None = None, timestamp: TimestampLike | None = None
    ) -> Plan[list[TableName]]:
        """Names of the annotation tables (deleted ones included, as the service lists them).

        ``timestamp`` is accepted for CAVEclient's calls and checked, but the AnnotationEngine
        does not read it (no release does), so the list is always the current one, as it is for
        CAVEclient."""
        if timestamp is not None:
            to_epoch_seconds(timestamp)
        server, volume = yield from self._volume(aligned_volume_name)
        request = gen.call(server, get_tables.build_request(aligned_volume_name=volume))
        names = gen.read(get_tables.parse_success, request, (yield request))
        return [TableName(name) for name in names]

    def _get_table_metadata(
        self, table_name: str, aligned_volume_name: str | None = None
    ) -> Plan[TableMetadata]:
        """A table's metadata (schema type, owner, voxel resolution, permissions...)."""
        server, volume = yield from self._volume(aligned_volume_name)
        request = gen.call(
            server,
            get_table_metadata.build_request(aligned_volume_name=volume, table_name=table_name),
        )
        metadata = gen.parse(TableMetadata, request, (yield request))
        # CAVEclient folds the three into one list; md["voxel_resolution"] answers it too.
        metadata.additional_properties.setdefault(
            "voxel_resolution",
            [
                metadata.voxel_resolution_x,
                metadata.voxel_resolution_y,
                metadata.voxel_resolution_z,
            ],
        )
        return metadata

    def _get_annotation_count(
        self, table_name: str, aligned_volume_name: str | None = None
    ) -> Plan[int]:
        """Rows in a table, superseded and deleted ones included."""
        server, volume = yield from self._volume(aligned_volume_name)
        request = gen.call(
            server,
            get_annotation_count.build_request(aligned_volume_name=volume, table_name=table_name),
        )
        return gen.read(get_annotation_count.parse_success, request, (yield request))

    def _create_table(
        self,
        table_name: str,
        schema_name: str,
        description: str = "",
        voxel_resolution: Sequence[float] | None = None,
        reference_table: str | None = None,
        track_target_id_updates: bool | None = None,
        flat_segmentation_source: str | None = None,
        user_id: int | str | None = None,
        aligned_volume_name: str | None = None,
        write_permission: str = "PRIVATE",
        read_permission: str = "PUBLIC",
        notice_text: str | None = None,
    ) -> Plan[str]:
        """Create a table of annotation type ``schema_name`` and return its name.

        ``voxel_resolution`` (nm per voxel of the positions you will post) defaults to the
        datastack's viewer resolution.
        """
        for name, value in (
            ("write_permission", write_permission),
            ("read_permission", read_permission),
        ):
            if value not in PERMISSIONS:
                raise InputError(f"{name} must be one of {PERMISSIONS}, got {value!r}")
        if voxel_resolution is None:
            record = yield from datastack_record(self._ctx)
            voxel_resolution = (
                record.viewer_resolution_x,
                record.viewer_resolution_y,
                record.viewer_resolution_z,
            )  # type: ignore[assignment]
        resolution = np.asarray(voxel_resolution, dtype=np.float64)
        if (
            resolution.shape != (3,)
            or not np.all(np.isfinite(resolution))
            or np.any(resolution <= 0)
        ):
            raise InputError(
                f"voxel_resolution: expected 3 positive numbers, got {voxel_resolution!r}"
            )
        metadata: dict[str, Any] = {
            "description": description,
            "voxel_resolution_x": float(resolution[0]),
            "voxel_resolution_y": float(resolution[1]),
            "voxel_resolution_z": float(resolution[2]),
            "read_permission": read_permission,
            "write_permission": write_permission,
        }
        if user_id is not None:
            metadata["user_id"] = str(user_id)
        if flat_segmentation_source is not None:
            metadata["flat_segmentation_source"] = flat_segmentation_source
        if notice_text is not None:
            metadata["notice_text"] = notice_text
        if reference_table is not None:
            options: dict[str, Any] = {"reference_table": reference_table}
            if track_target_id_updates is not None:
                options["track_target_id_updates"] = track_target_id_updates
            metadata["table_metadata"] = options
        body = {"table_name": table_name, "schema_type": schema_name, "metadata": metadata}
        server, volume = yield from self._volume(aligned_volume_name)
        self._forget_table(volume, table_name)
        request = gen.call(
            server,
            create_table.build_request(
                aligned_volume_name=volume, body=gen.raw_body(CreateTableRequest, body)
            ),
        )
        response = yield request
        return response.text.strip()

    def _update_metadata(
        self,
        table_name: str,
        description: str | None = None,
        flat_segmentation_source: str | None = None,
        read_permission: str | None = None,
        write_permission: str | None = None,
        user_id: int | str | None = None,
        notice_text: str | None = None,
        aligned_volume_name: str | None = None,
    ) -> Plan[TableMetadata]:
        """Change a table's metadata (owner only); ``notice_text=""`` clears the notice."""
        changes: dict[str, Any] = {}
        for key, value in (
            ("description", description),
            ("flat_segmentation_source", flat_segmentation_source),
            ("read_permission", read_permission),
            ("write_permission", write_permission),
            ("notice_text", notice_text),
        ):
            if value is not None:
                changes[key] = value
        for key in ("read_permission", "write_permission"):
            if key in changes and changes[key] not in PERMISSIONS:
                raise InputError(f"{key} must be one of {PERMISSIONS}, got {changes[key]!r}")
        if user_id is not None:
            changes["user_id"] = str(user_id)
        server, volume = yield from self._volume(aligned_volume_name)
        request = gen.call(
            server,
            update_table_metadata.build_request(
                aligned_volume_name=volume,
                body=gen.raw_body(
                    UpdateTableRequest, {"table_name": table_name, "metadata": changes}
                ),
            ),
        )
        return gen.parse(TableMetadata, request, (yield request))

    def _delete_table(self, table_name: str, aligned_volume_name: str | None = None) -> Plan[bool]:
        """Mark a table deleted (owner only); its rows stay readable."""
        server, volume = yield from self._volume(aligned_volume_name)
        self._forget_table(volume, table_name)
        request = gen.call(
            server, delete_table.build_request(aligned_volume_name=volume, table_name=table_name)
        )
        return gen.read(delete_table.parse_success, request, (yield request))

    def _get_annotation(
        self,
        table_name: str,
        annotation_ids: Iterable[int] | int | None = None,
        aligned_volume_name: str | None = None,
        *,
        annotation_id: int | None = None,
    ) -> Plan[list[dict[str, Any]]]:
        """Rows by id, in the flat form (``pt_position``...); unknown ids are absent.

        ``annotation_id=`` (one id) is the original client's spelling of ``annotation_ids``.
        """
        if (annotation_ids is None) == (annotation_id is None):
            raise InputError("give annotation_ids (or annotation_id), exactly one of them")
        wanted = annotation_ids if annotation_ids is not None else annotation_id
        assert wanted is not None
        ids = as_id_array(wanted, name="annotation_ids").tolist()
        server, volume = yield from self._volume(aligned_volume_name)
        found: list[dict[str, Any]] = []
        # The ids travel in the query string; proxies cap request lines near 8 kB.
        for start in range(0, len(ids), bulk.READ_BACK_CHUNK):
            request = gen.call(
                server,
                get_annotations.build_request(
                    aligned_volume_name=volume,
                    table_name=table_name,
                    annotation_ids=",".join(
                        str(i) for i in ids[start : start + bulk.READ_BACK_CHUNK]
                    ),
                ),
            )
            response = yield request
            data = read_json(request, response)
            # Rows are free-form (their keys are the table type's columns): checked as objects
            # here rather than through the generated model, one attrs object per row.
            if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
                raise ResponseFormatError(
                    "expected a list of annotations (JSON objects)",
                    method="GET",
                    url=str(response.request.url),
                )
            found.extend(data)
        return found

    def _write(
        self,
        update: bool,
        table_name: str,
        records: list[dict[str, Any]] | EncodedJson,
        aligned_volume_name: str | None,
        count: int | None = None,
        expect: tuple[type[Any], str] | None = None,
    ) -> Plan[Any]:
        """Send one batch of annotations (PUT when ``update``, else POST) and return its JSON.

        ``records`` is the list of annotations, or their ``{"annotations": [...]}`` body already
        encoded (then ``count`` says how many it holds). ``expect`` is the type the reply must
        have and its description, for the error when it has not.
        """
        size = len(records) if isinstance(records, list) else count
        if size is not None and size > MAX_ANNOTATIONS_PER_REQUEST:
            raise InputError(
                f"{size} annotations in one request; the service takes at most "
                f"{MAX_ANNOTATIONS_PER_REQUEST}. Split them, or use bulk_post / bulk_update."
            )
        body = records if isinstance(records, EncodedJson) else {"annotations": records}
        server, volume = yield from self._volume(aligned_volume_name)
        if update:
            built = update_annotations.build_request(
                volume, table_name, body=gen.raw_body(UpdateAnnotationsRequest, body)
            )
        else:
            built = post_annotations.build_request(
                volume, table_name, body=gen.raw_body(PostAnnotationsRequest, body)
            )
        request = gen.call(server, built)
        reply = read_json(request, (yield request))
        if expect is not None and not isinstance(reply, expect[0]):
            raise ResponseFormatError(
                f"expected {expect[1]}", method=request.method, url=request.url
            )
        return reply

    def _update(
        self,
        table_name: str,
        records: list[dict[str, Any]] | EncodedJson,
        aligned_volume_name: str | None,
        count: int | None,
    ) -> Plan[dict[int, int]]:
        """Send one batch of replacements; the service's old id → new id mapping."""
        server, volume = yield from self._volume(aligned_volume_name)
        mapping = yield from self._write(True, table_name, records, volume, count)
        if not isinstance(mapping, Mapping):
            url = (
                f"{server}/annotation/api/v2/aligned_volume/{volume}/table/{table_name}/annotations"
            )
            raise ResponseFormatError("expected a mapping of old to new ids", method="PUT", url=url)
        return {int(k): int(v) for k, v in mapping.items()}

    def _post_annotation(
        self,
        table_name: str,
        data: BulkData,
        aligned_volume_name: str | None = None,
        *,
        validate: bool = True,
        ignore_columns: Iterable[str] = (),
    ) -> Plan[list[int]]:
        """Insert annotations and return their new ids in order (one request, at most 10,000
        rows; more with :meth:`bulk_post`). Never retried automatically.

        ``data`` is one row or many: dicts (nested, ``{"pt": {"position": [x, y, z]}, ...}``, or
        flat, ``pt_position``), generated models, a DataFrame of flat columns, or a stage. Every
        row is validated against the table's annotation type first, as :meth:`stage` does (the
        type is learned once per table): a bad row raises
        :class:`~dafclient.annotations.AnnotationValidationError` naming its row, field and
        reason, an unknown field raises :class:`~dafclient.errors.InputError` naming it (or list
        it in ``ignore_columns``), and nothing is sent. ``validate=False`` sends the rows as
        given, for rows you validated already; the service's own checks are weaker.
        """
        body, count = yield from self._write_body(
            table_name, data, False, aligned_volume_name, validate, ignore_columns
        )
        ids = yield from self._write(False, table_name, body, aligned_volume_name, count)
        return [int(i) for i in ids]

    def _post_annotation_df(
        self,
        table_name: str,
        df: pd.DataFrame,
        position_columns: PositionColumns | None = None,
        aligned_volume_name: str | None = None,
        *,
        validate: bool = True,
        ignore_columns: Iterable[str] = (),
    ) -> Plan[list[int]]:
        """:meth:`post_annotation` from a DataFrame: ``{point}_position`` columns (or
        ``_position_x/_y/_z``, or the ``position_columns`` named) hold positions, other
        columns are fields. Validated as :meth:`post_annotation` is; errors name rows by the
        DataFrame's index."""
        frame = _position_frame(df, position_columns)
        data: BulkData = frame if validate else process_position_columns(df, position_columns)
        return (
            yield from self._post_annotation(
                table_name,
                data,
                aligned_volume_name,
                validate=validate,
                ignore_columns=ignore_columns,
            )
        )

    def _update_annotation(
        self,
        table_name: str,
        data: BulkData,
        aligned_volume_name: str | None = None,
        *,
        validate: bool = True,
        ignore_columns: Iterable[str] = (),
    ) -> Plan[IdMap]:
        """Replace annotations (each with its ``id`` and full content); returns old id -> new
        id (string keys as CAVEclient's; ``int`` ids answer too). Rows are validated as by :meth:`post_annotation` (``validate=False`` to skip it),
        and each needs an ``id``."""
        body, count = yield from self._write_body(
            table_name, data, True, aligned_volume_name, validate, ignore_columns
        )
        mapping = yield from self._update(table_name, body, aligned_volume_name, count)
        return IdMap((str(old), new) for old, new in mapping.items())

    def _update_annotation_df(
        self,
        table_name: str,
        df: pd.DataFrame,
        position_columns: PositionColumns | None = None,
        aligned_volume_name: str | None = None,
        *,
        validate: bool = True,
        ignore_columns: Iterable[str] = (),
    ) -> Plan[IdMap]:
        """:meth:`update_annotation` from a DataFrame (an ``id`` column is required); columns
        as in :meth:`post_annotation_df`."""
        frame = _position_frame(df, position_columns)
        data: BulkData = frame if validate else process_position_columns(df, position_columns)
        return (
            yield from self._update_annotation(
                table_name,
                data,
                aligned_volume_name,
                validate=validate,
                ignore_columns=ignore_columns,
            )
        )

    def _write_body(
        self,
        table_name: str,
        data: BulkData,
        update: bool,
        aligned_volume_name: str | None,
        validate: bool,
        ignore_columns: Iterable[str],
    ) -> Plan[tuple[list[dict[str, Any]] | EncodedJson, int]]:
        """The body of one post or update and its row count: the rows validated and encoded
        as a stage encodes them, or (``validate=False``) as given."""
        data = _rows(data)
        count = len(data)
        if count > MAX_ANNOTATIONS_PER_REQUEST:  # before any request, and before validating
            raise InputError(
                f"{count} annotations in one request; the service takes at most "
                f"{MAX_ANNOTATIONS_PER_REQUEST}. Split them, or use bulk_post / bulk_update."
            )
        if not validate:
            return _as_records(data, update=update), count
        if count == 0 and not isinstance(data, AnnotationStage):
            return [], 0
        stage = yield from self._staged(
            table_name,
            data,
            update=update,
            resolution=None,
            aligned_volume_name=aligned_volume_name,
            ignore_columns=ignore_columns,
        )
        if len(stage) == 0:
            return [], 0
        return EncodedJson(encode_body(stage.table(), slice(None), with_ids=update)), len(stage)

    def _delete_annotation(
        self,
        table_name: str,
        annotation_ids: Iterable[int] | int,
        aligned_volume_name: str | None = None,
    ) -> Plan[list[int]]:
        """Mark annotations deleted; returns the ids found."""
        ids = as_id_array(annotation_ids, name="annotation_ids")
        server, volume = yield from self._volume(aligned_volume_name)
        request = gen.call(
            server,
            delete_annotations.build_request(
                aligned_volume_name=volume,
                table_name=table_name,
                body=gen.raw_body(
                    DeleteAnnotationsRequest, {"annotation_ids": [int(i) for i in ids.tolist()]}
                ),
            ),
        )
        return gen.read(delete_annotations.parse_success, request, (yield request))

    # -- staging and bulk writes ---------------------------------------------------------------

    def _stage(
        self,
        table_name: str,
        model: type[M] | None = None,
        *,
        update: bool = False,
        live_schema: bool = False,
        aligned_volume_name: str | None = None,
    ) -> Plan[AnnotationStage[M]]:
        """A stage for ``table_name``: rows added to it are validated against the table's
        annotation type and converted to its voxel resolution.

        The type's model comes from the installed snapshot; a type the snapshot lacks (or any
        type, with ``live_schema=True``) gets a model built from the schema service's schema.
        Pass the model class you expect (``stage("synapses", SynapseSchema)``) to get a stage
        typed by it; it must be the table's type. With ``update=True`` the rows replace existing
        annotations and each needs an ``id``. A table's type and resolution are fetched once per
        client; the write methods validate with the same stage.
        """
        if model is not None and live_schema:
            raise InputError("give model= (a snapshot model) or live_schema=True, not both")
        found = yield from self._table_type(table_name, aligned_volume_name, live_schema)
        schema_type = found.layout.schema_type
        if model is not None and MODELS.get(schema_type) is not model:
            raise InputError(
                f"table {table_name!r} holds {schema_type!r} annotations, not "
                f"{getattr(model, '__name__', model)!r}"
            )
        return AnnotationStage(
            found.layout,
            found.model,
            table_name=table_name,
            table_resolution=found.resolution,
            update=update,
        )

    def _stage_annotations(
        self,
        table_name: str | None = None,
        schema_name: str | None = None,
        update: bool = False,
        id_field: bool = False,
        table_resolution: Sequence[float] | None = None,
        annotation_resolution: Sequence[float] | None = None,
    ) -> Plan[AnnotationStage[Any]]:
        """CAVEclient's name for :meth:`stage`: a stage for ``table_name`` (or, offline, for
        annotation type ``schema_name`` at ``table_resolution``). Positions added without
        ``resolution=`` are taken at ``annotation_resolution`` (default: the table's). Rows
        may carry an ``id`` whatever ``id_field`` says; updates need one."""
        del id_field  # ids are always accepted (and required for updates)
        staged: AnnotationStage[Any]
        if table_name is not None:
            staged = yield from self._stage(table_name, update=update)
        elif schema_name is not None:
            staged = AnnotationStage.for_type(
                schema_name, table_resolution=table_resolution, update=update
            )
        else:
            raise InputError("give table_name (or schema_name for a stage with no table)")
        if annotation_resolution is not None:
            staged.annotation_resolution = _stage_resolution(annotation_resolution)
        return staged

    def _table_type(
        self, table_name: str, aligned_volume_name: str | None, live_schema: bool = False
    ) -> Plan[TableType]:
        """The table's annotation type and resolution, from its metadata the first time and
        from this client's memory afterwards."""
        volume = (yield from self._volume(aligned_volume_name))[1]
        key = (volume, table_name, live_schema)
        known = self._table_types.get(key)
        if known is not None:
            return known
        metadata = yield from self._get_table_metadata(table_name, volume)
        schema_type = metadata.schema_type
        if live_schema or schema_type not in MODELS:
            schema = SchemaClientBase(self._ctx)
            raw = yield from schema._schema_definition(schema_type)
            layout, model = live_type(schema_type, raw)
        else:
            layout, model = snapshot_type(schema_type)
        resolution = (
            metadata.voxel_resolution_x,
            metadata.voxel_resolution_y,
            metadata.voxel_resolution_z,
        )
        found = TableType(layout, model, resolution)
        self._table_types[key] = found
        return found

    def _forget_table(self, volume: str, table_name: str) -> None:
        for key in [k for k in self._table_types if k[:2] == (volume, table_name)]:
            del self._table_types[key]

    def _staged(
        self,
        table_name: str,
        data: BulkData,
        *,
        update: bool,
        resolution: Sequence[float] | None,
        aligned_volume_name: str | None,
        ignore_columns: Iterable[str] = (),
    ) -> Plan[AnnotationStage[Any]]:
        if isinstance(data, AnnotationStage):
            if data.table_name not in (None, table_name) or data.update != update:
                kind = "update" if update else "post"
                raise InputError(
                    f"this stage is for {data.table_name!r} (update={data.update}); "
                    f"it cannot be used to {kind} to {table_name!r}"
                )
            if resolution is not None:
                raise InputError("resolution applies when rows are added to a stage, not here")
            if data.table_name is None:  # a stage made offline: its type must be the table's
                found = yield from self._table_type(table_name, aligned_volume_name)
                if found.layout.schema_type != data.schema_type:
                    raise InputError(
                        f"table {table_name!r} holds {found.layout.schema_type!r} annotations; "
                        f"the stage holds {data.schema_type!r} rows"
                    )
            return data
        stage: AnnotationStage[Any] = yield from self._stage(
            table_name, update=update, aligned_volume_name=aligned_volume_name
        )
        if isinstance(data, pd.DataFrame):
            stage.add_dataframe(data, resolution=resolution, ignore_columns=ignore_columns)
        else:
            rows = [data] if isinstance(data, Mapping) else list(data)
            stage.add_records(rows, resolution=resolution, ignore_columns=ignore_columns)
        return stage

    def _start_post(
        self,
        table_name: str,
        data: BulkData | DaskFrame,
        *,
        resolution: Sequence[float] | None = None,
        aligned_volume_name: str | None = None,
        batch_size: int = MAX_ANNOTATIONS_PER_REQUEST,
        concurrency: int = 4,
        attempts: int = 3,
        progress: bool | None = None,
    ) -> Plan[BulkRun | PartitionedJob]:
        """Insert any number of annotations in batches; returns a :class:`BulkResult` that
        maps every row to its new id or to why it did not land. Pass that to :meth:`resume`.

        Batches run concurrently, so ids follow the order in which batches arrived, not the
        order of the rows; ``result.ids[i]`` is always row ``i``'s id.

        ``data`` may be a Dask DataFrame (``dafclient[dask]``): its partitions are computed in
        order, a few ahead, each validated and posted as above, never the whole table in
        memory; one result covers the job, and :meth:`resume` reads again only the partitions
        with rows left to send (:mod:`dafclient.annotations.bulk_partitioned`).

        Args:
            table_name: the table.
            data: a stage, a DataFrame (flat columns), or models/dicts.
            resolution: nm per voxel of the positions in ``data`` (default: the table's).
            batch_size: rows per request (at most 10,000).
            concurrency: requests in flight at once.
            attempts: rounds for rows that certainly were not processed (429, 503, refused
                connections).
            progress: show a progress bar (default: for more than 20,000 rows).
        """
        options = BulkOptions(batch_size, concurrency, attempts, progress)
        if is_dask_dataframe(data):
            return (
                yield from self._start_partitioned_post(
                    table_name, data, resolution, aligned_volume_name, options
                )
            )
        return (
            yield from self._start_rows(
                "post", table_name, data, resolution, aligned_volume_name, options
            )
        )

    def _start_partitioned_post(
        self,
        table_name: str,
        data: DaskFrame,
        resolution: Sequence[float] | None,
        aligned_volume_name: str | None,
        options: BulkOptions,
    ) -> Plan[PartitionedJob]:
        """A bulk post of a Dask DataFrame, partition by partition (see
        :mod:`dafclient.annotations.bulk_partitioned`)."""
        from dafclient.dask_support import require_dask, string_position_columns

        require_dask()
        BulkRun(bulk.new_result("post", table_name, "", 0), _no_plan, options).close()  # checks
        stringified = string_position_columns(data)
        if stringified:
            raise InputError(
                f"position columns {stringified} are strings in the Dask DataFrame: dask turns "
                "object columns into strings unless dask.config 'dataframe.convert-string' is "
                "False; give positions as x/y/z columns or Arrow fixed_size_list columns"
            )
        found = yield from self._table_type(table_name, aligned_volume_name)
        volume = (yield from self._volume(aligned_volume_name))[1]
        count = yield from self._get_annotation_count(table_name, volume)
        checked = None if resolution is None else _stage_resolution(resolution)
        rows = PartitionedRows(
            data,
            partitions=int(data.npartitions),
            layout=found.layout,
            resolution=None if checked is None else (checked[0], checked[1], checked[2]),
        )
        result = new_partitioned_result(table_name, volume, rows, count)
        return self._partitioned_job(result, options)

    def _partitioned_job(self, result: BulkResult, options: BulkOptions) -> PartitionedJob:
        rows = result.partitioned
        assert rows is not None

        def stage(frame: pd.DataFrame) -> Plan[ColumnTable]:
            staged = yield from self._staged(
                result.table_name,
                frame,
                update=False,
                resolution=rows.resolution,
                aligned_volume_name=result.aligned_volume_name,
            )
            return staged.table()

        return PartitionedJob(result, stage, self._bulk_run, options)

    def _start_update(
        self,
        table_name: str,
        data: BulkData,
        *,
        resolution: Sequence[float] | None = None,
        aligned_volume_name: str | None = None,
        batch_size: int = MAX_ANNOTATIONS_PER_REQUEST,
        concurrency: int = 4,
        attempts: int = 3,
        progress: bool | None = None,
    ) -> Plan[BulkRun]:
        """Replace annotations (rows with their ``id``) in batches; see :meth:`bulk_post`.
        ``ids`` of the result hold each row's new id."""
        if is_dask_dataframe(data):
            raise InputError("bulk_update takes no Dask DataFrame (bulk_post does)")
        options = BulkOptions(batch_size, concurrency, attempts, progress)
        return (
            yield from self._start_rows(
                "update", table_name, data, resolution, aligned_volume_name, options
            )
        )

    def _start_rows(
        self,
        operation: Literal["post", "update"],
        table_name: str,
        data: BulkData,
        resolution: Sequence[float] | None,
        aligned_volume_name: str | None,
        options: BulkOptions,
    ) -> Plan[BulkRun]:
        """Stage ``data`` and prepare the run that posts or updates it."""
        stage = yield from self._staged(
            table_name,
            data,
            update=operation == "update",
            resolution=resolution,
            aligned_volume_name=aligned_volume_name,
        )
        volume = (yield from self._volume(aligned_volume_name))[1]
        source = stage.table()
        result = bulk.new_result(
            operation,
            table_name,
            volume,
            source.length,
            source=source,
            target_ids=source.ids if operation == "update" else None,
            labels=_labels(data),
        )
        if operation == "post":
            # The read-back that settles unknown outcomes counts rows from here.
            result.count_before = yield from self._get_annotation_count(table_name, volume)
        return self._bulk_run(result, options)

    def _start_delete(
        self,
        table_name: str,
        annotation_ids: Iterable[int] | npt.NDArray[Any],
        *,
        aligned_volume_name: str | None = None,
        batch_size: int = MAX_ANNOTATIONS_PER_REQUEST,
        concurrency: int = 4,
        attempts: int = 3,
        progress: bool | None = None,
    ) -> Plan[BulkRun]:
        """Mark any number of annotations deleted, in batches; see :meth:`bulk_post`. Ids that
        do not exist end ``FAILED`` ("not found")."""
        ids = as_id_array(annotation_ids, name="annotation_ids").astype(np.int64)
        volume = yield from self._volume(aligned_volume_name)
        result = bulk.new_result("delete", table_name, volume[1], len(ids), target_ids=ids)
        return self._bulk_run(result, BulkOptions(batch_size, concurrency, attempts, progress))

    def _start_resume(
        self,
        result: BulkResult,
        *,
        retry_failed: bool = False,
        batch_size: int = MAX_ANNOTATIONS_PER_REQUEST,
        concurrency: int = 4,
        attempts: int = 3,
        progress: bool | None = None,
    ) -> Plan[BulkRun | PartitionedJob]:
        """Finish a bulk write: settle rows whose outcome was unknown by reading the table
        back (never re-sending a row that may have landed), then send what did not land.
        ``retry_failed=True`` also re-sends rows the service refused."""
        if not isinstance(result, BulkResult):
            raise InputError(f"expected a BulkResult, got {type(result).__name__}")
        if result.unknown:
            yield from self._settle_unknown(result)
        options = BulkOptions(batch_size, concurrency, attempts, progress, retry_failed)
        if result.partitioned is not None:
            return self._partitioned_job(result, options)
        return self._bulk_run(result, options)

    def _bulk_run(self, result: BulkResult, options: BulkOptions) -> BulkRun:
        table, volume = result.table_name, result.aligned_volume_name
        source = result.source

        def batch_plan(rows: npt.NDArray[np.intp]) -> Plan[list[int | None]]:
            if result.operation == "delete":
                return self._delete_rows(table, volume, result.target_ids[rows])
            assert source is not None
            if result.operation == "post":
                return self._post_rows(table, volume, encode_body(source, rows), len(rows))
            ids = source.ids[rows].tolist() if source.ids is not None else []
            return self._update_rows(table, volume, encode_body(source, rows, with_ids=True), ids)

        return BulkRun(result, batch_plan, options)

    def _post_rows(
        self, table: str, volume: str, body: bytes, count: int
    ) -> Plan[list[int | None]]:
        ids = yield from self._write(False, table, EncodedJson(body), volume, count)
        return list(ids_of(ids, "post"))

    def _update_rows(
        self, table: str, volume: str, body: bytes, old_ids: list[int]
    ) -> Plan[list[int | None]]:
        new = yield from self._update(table, EncodedJson(body), volume, len(old_ids))
        return [new.get(old) for old in old_ids]

    def _delete_rows(
        self, table: str, volume: str, ids: npt.NDArray[np.int64]
    ) -> Plan[list[int | None]]:
        found = set((yield from self._delete_annotation(table, ids, volume)))
        return [i if i in found else None for i in ids.tolist()]

    def _settle_unknown(self, result: BulkResult) -> Plan[None]:
        """Decide, by reading the table, what became of rows whose outcome was unknown."""
        table, volume = result.table_name, result.aligned_volume_name
        if result.operation == "delete":
            read = yield from self._get_annotation(table, bulk.unknown_targets(result), volume)
            bulk.settle_deletes(result, {int(r["id"]): r for r in read})
            return
        if result.operation == "update":
            read = yield from self._get_annotation(table, bulk.unknown_targets(result), volume)
            old = {int(r["id"]): r for r in read}
            successor_ids = [int(r["superceded_id"]) for r in read if r.get("superceded_id")]
            successors = yield from self._get_annotation(table, successor_ids, volume)
            bulk.settle_updates(result, old, {int(r["id"]): r for r in successors})
            return
        found = yield from self._read_new_rows(result)
        bulk.match_posts(result, found, exhaustive=True)

    def _read_new_rows(self, result: BulkResult) -> Plan[dict[int, Fingerprint]]:
        """Rows above the lowest unknown batch's floor that are not this job's known rows,
        until every row that appeared during the job is accounted for (or the table ends)."""
        assert result.count_before is not None
        table, volume = result.table_name, result.aligned_volume_name
        count_now = yield from self._get_annotation_count(table, volume)
        appeared = count_now - result.count_before - result.count(RowState.DONE)
        found: dict[int, Fingerprint] = {}
        if appeared <= 0:
            return found
        known = set(result.ids[result.ids >= 0].tolist())
        highest = max(known, default=0)
        end_gap = 2 * MAX_ANNOTATIONS_PER_REQUEST  # ids a failed insert may have consumed
        next_id = min(b.floor_id for b in result.unknown) + 1
        while len(found) < appeared and next_id <= highest + end_gap:
            chunk: list[int] = []
            while len(chunk) < bulk.READ_BACK_CHUNK:
                if next_id not in known:
                    chunk.append(next_id)
                next_id += 1
            rows = yield from self._get_annotation(table, chunk, volume)
            for row in rows:
                annotation_id = int(row["id"])
                found[annotation_id] = result.stored_fingerprint(row)
                highest = max(highest, annotation_id)
        return found


def _no_plan(rows: npt.NDArray[np.intp]) -> Plan[list[int | None]]:
    raise AssertionError("no batch is sent by an option check")


def _finish_blocking(run: BulkRun | PartitionedJob, http: httpx.Client) -> BulkResult:
    if isinstance(run, PartitionedJob):
        return run_partitioned_blocking(run, http)
    return run_blocking(run, http)


async def _finish_async(run: BulkRun | PartitionedJob, http: httpx.AsyncClient) -> BulkResult:
    if isinstance(run, PartitionedJob):
        return await run_partitioned_async(run, http)
    return await run_async(run, http)


class AnnotationClient(SyncBinding, AnnotationClientBase):
    """Annotation tables of the datastack's aligned volume (local server).

    Writes are never retried automatically: a POST that timed out may have landed.
    """

    process_position_columns = staticmethod(process_position_columns)

    @property
    def aligned_volume_name(self) -> str:
        """The aligned volume whose tables this client works on."""
        return drive(self._get_aligned_volume_name(), self._http)

    get_aligned_volume_name = sync_op(AnnotationClientBase._get_aligned_volume_name)
    get_tables = sync_op(AnnotationClientBase._get_tables)
    get_table_metadata = sync_op(AnnotationClientBase._get_table_metadata)
    get_annotation_count = sync_op(AnnotationClientBase._get_annotation_count)
    create_table = sync_op(AnnotationClientBase._create_table)
    update_metadata = sync_op(AnnotationClientBase._update_metadata)
    delete_table = sync_op(AnnotationClientBase._delete_table)
    get_annotation = sync_op(AnnotationClientBase._get_annotation)
    post_annotation = sync_op(AnnotationClientBase._post_annotation)
    post_annotation_df = sync_op(AnnotationClientBase._post_annotation_df)
    update_annotation = sync_op(AnnotationClientBase._update_annotation)
    update_annotation_df = sync_op(AnnotationClientBase._update_annotation_df)
    delete_annotation = sync_op(AnnotationClientBase._delete_annotation)
    stage = sync_op(AnnotationClientBase._stage)
    stage_annotations = sync_op(AnnotationClientBase._stage_annotations)
    bulk_post = sync_op_then(AnnotationClientBase._start_post, _finish_blocking)
    bulk_update = sync_op_then(AnnotationClientBase._start_update, run_blocking)
    bulk_delete = sync_op_then(AnnotationClientBase._start_delete, run_blocking)
    resume = sync_op_then(AnnotationClientBase._start_resume, _finish_blocking)

    def upload_staged_annotations(
        self,
        staged_annos: AnnotationStage[Any],
        aligned_volume_name: str | None = None,
        batch_size: int = MAX_ANNOTATIONS_PER_REQUEST,
        progress: bool = True,
        retries: int = 3,
    ) -> list[int] | IdMap:
        """CAVEclient's upload of a stage: :meth:`bulk_post` (or :meth:`bulk_update` for an
        update stage) to the stage's table; returns the new ids (old id -> new id for updates).

        Rows whose write may have reached the server are never re-sent: if any row did not
        land, :class:`UploadIncompleteError` carries the :class:`BulkResult` for :meth:`resume`.
        """
        table = _staged_table(staged_annos)
        write = self.bulk_update if staged_annos.update else self.bulk_post
        result = write(
            table,
            staged_annos,
            aligned_volume_name=aligned_volume_name,
            batch_size=batch_size,
            attempts=retries,
            progress=progress,
        )
        return _uploaded(result)


class AsyncAnnotationClient(AsyncBinding, AnnotationClientBase):
    """:class:`AnnotationClient` with coroutine methods."""

    process_position_columns = staticmethod(process_position_columns)
    get_aligned_volume_name = async_op(AnnotationClientBase._get_aligned_volume_name)
    get_tables = async_op(AnnotationClientBase._get_tables)
    get_table_metadata = async_op(AnnotationClientBase._get_table_metadata)
    get_annotation_count = async_op(AnnotationClientBase._get_annotation_count)
    create_table = async_op(AnnotationClientBase._create_table)
    update_metadata = async_op(AnnotationClientBase._update_metadata)
    delete_table = async_op(AnnotationClientBase._delete_table)
    get_annotation = async_op(AnnotationClientBase._get_annotation)
    post_annotation = async_op(AnnotationClientBase._post_annotation)
    post_annotation_df = async_op(AnnotationClientBase._post_annotation_df)
    update_annotation = async_op(AnnotationClientBase._update_annotation)
    update_annotation_df = async_op(AnnotationClientBase._update_annotation_df)
    delete_annotation = async_op(AnnotationClientBase._delete_annotation)
    stage = async_op(AnnotationClientBase._stage)
    stage_annotations = async_op(AnnotationClientBase._stage_annotations)
    bulk_post = async_op_then(AnnotationClientBase._start_post, _finish_async)
    bulk_update = async_op_then(AnnotationClientBase._start_update, run_async)
    bulk_delete = async_op_then(AnnotationClientBase._start_delete, run_async)
    resume = async_op_then(AnnotationClientBase._start_resume, _finish_async)

    async def upload_staged_annotations(
        self,
        staged_annos: AnnotationStage[Any],
        aligned_volume_name: str | None = None,
        batch_size: int = MAX_ANNOTATIONS_PER_REQUEST,
        progress: bool = True,
        retries: int = 3,
    ) -> list[int] | IdMap:
        """CAVEclient's upload of a stage: :meth:`bulk_post` (or :meth:`bulk_update` for an
        update stage) to the stage's table; returns the new ids (old id -> new id for updates).

        Rows whose write may have reached the server are never re-sent: if any row did not
        land, :class:`UploadIncompleteError` carries the :class:`BulkResult` for :meth:`resume`.
        """
        table = _staged_table(staged_annos)
        write = self.bulk_update if staged_annos.update else self.bulk_post
        result = await write(
            table,
            staged_annos,
            aligned_volume_name=aligned_volume_name,
            batch_size=batch_size,
            attempts=retries,
            progress=progress,
        )
        return _uploaded(result)
