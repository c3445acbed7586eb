"""The segmentation service (PyChunkedGraph): roots, leaves, edits and history of a datastack.

Ids come back as ``numpy.uint64`` arrays (or exact Python ints for single ids), times as
timezone-aware UTC datetimes, tabular logs as DataFrames. Timestamps may be given as datetimes
(naive means UTC), pandas Timestamps or unix seconds; ``None`` means "now" on the server.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from io import BytesIO
from typing import TYPE_CHECKING, Any, NamedTuple, Self

import numpy as np
import numpy.typing as npt
from dafgen.segmentation_v1.api.segmentation import (
    find_path,
    get_change_log,
    get_children,
    get_delta_roots,
    get_leaves,
    get_leaves_many,
    get_lineage_graph_multiple,
    get_lvl2_graph,
    get_merge_log,
    get_minimal_covering_nodes,
    get_oldest_timestamp,
    get_operation_details,
    get_past_id_mapping,
    get_root,
    get_root_timestamps,
    get_roots_binary,
    get_subgraph,
    get_table_info,
    get_tabular_change_log_many,
    get_valid_nodes,
    is_latest_roots,
    merge,
    redo,
    request_remeshing,
    split,
    split_preview,
    undo,
)
from dafgen.segmentation_v1.models import (
    NodeIdsRequest,
    OperationIdRequest,
    RemeshingRequest,
    RootIdsRequest,
    SplitRequest,
)
from dafgen.segmentation_v1.types import File

from dafclient import _generated as gen
from dafclient._context import ApiVersions
from dafclient._plan import Call, Plan, async_op, drive, read_json, sync_op
from dafclient._service import AsyncBinding, ServiceClient, SyncBinding, datastack_record
from dafclient.errors import InputError, ResponseFormatError
from dafclient.format_utils import table_id_from_source
from dafclient.ids import IdArray, IdsLike, as_id, as_id_array, decode_uint64, encode_uint64
from dafclient.timestamps import (
    TimestampLike,
    from_epoch_seconds,
    optional_epoch,
    parse_server_datetime,
    to_epoch_seconds,
)

if TYPE_CHECKING:
    import pandas as pd

SEGMENTATION_API = ApiVersions(
    "chunkedgraph", known=(1,), versions_path="/segmentation/api/versions"
)

ROOTS_BATCH = 250_000
"""Ids per ``roots_binary`` request (what cloud-volume uses too)."""

Bounds = Sequence[Sequence[int]] | npt.NDArray[Any]
"""A box ``[[x0, x1], [y0, y1], [z0, z1]]`` in chunkedgraph (base-resolution) voxels."""


class EditOutcome(NamedTuple):
    """What an edit did: its operation id and the new root ids.

    It unpacks as a pair (CAVEclient's ``execute_split`` answer) and answers
    ``outcome["operation_id"]`` / ``outcome["new_root_ids"]`` (the JSON CAVEclient's
    ``do_merge`` and ``undo_operation`` return)."""

    operation_id: int
    new_root_ids: IdArray

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            if key in self._fields:
                return getattr(self, key)
            raise KeyError(key)
        return tuple.__getitem__(self, key)

    def keys(self) -> tuple[str, ...]:
        """The field names (so ``dict(outcome)`` works)."""
        return self._fields


class SplitPreview(tuple[Any, ...]):
    """A multicut preview: the supervoxels on each side, whether the cut is legal, the rest.

    As in CAVEclient it unpacks as ``(source, sink, successful)``, or with the other
    components as a fourth item when made with ``return_additional_ccs=True``; every part is
    an attribute either way."""

    other_connected_components: list[IdArray]
    """Any further components."""

    def __new__(
        cls,
        source_connected_component: IdArray,
        sink_connected_component: IdArray,
        successful_split: bool,
        other_connected_components: list[IdArray],
        return_additional_ccs: bool = False,
    ) -> Self:
        items: tuple[Any, ...] = (
            source_connected_component,
            sink_connected_component,
            successful_split,
        )
        if return_additional_ccs:
            items = (*items, other_connected_components)
        preview = super().__new__(cls, items)
        preview.other_connected_components = other_connected_components
        return preview

    @property
    def source_connected_component(self) -> IdArray:
        """Supervoxels of the component with the most source points."""
        value: IdArray = self[0]
        return value

    @property
    def sink_connected_component(self) -> IdArray:
        """Supervoxels of the component with the most sink points."""
        value: IdArray = self[1]
        return value

    @property
    def successful_split(self) -> bool:
        """Whether the cut separates the sources from the sinks."""
        return bool(self[2])

    def __repr__(self) -> str:
        return (
            f"SplitPreview(successful_split={self.successful_split}, "
            f"source={len(self[0])} supervoxels, sink={len(self[1])} supervoxels, "
            f"others={len(self.other_connected_components)})"
        )


class ChangeLog(dict[str, Any]):
    """A change log with the service's keys (``n_mergers``, as CAVEclient passes them on);
    ``log["n_merges"]`` answers the merge count too."""

    def __missing__(self, key: str) -> Any:
        if key == "n_merges":
            return self["n_mergers"]
        raise KeyError(key)


class OperationDetails(dict[str, dict[str, Any]]):
    """Operation id (a string, as in the service's JSON and CAVEclient) -> what it did; an
    ``int`` id is looked up too."""

    def __missing__(self, key: Any) -> dict[str, Any]:
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            return self[str(int(key))]
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            key = str(int(key))
        return dict.__contains__(self, key)


class FoundPath(NamedTuple):
    """A path through the L2 graph: centroids (nm), the L2 ids, and L2 ids without a centroid."""

    centroids: npt.NDArray[np.float64]
    l2_path: IdArray
    failed_l2_ids: IdArray


def package_bounds(bounds: Bounds) -> str:
    """``x0-x1_y0-y1_z0-z1`` for a 3×2 voxel box (non-negative integers)."""
    array = np.asarray(bounds)
    if array.shape != (3, 2):
        raise InputError(
            f"bounds: expected [[x0, x1], [y0, y1], [z0, z1]] in chunkedgraph voxels, got shape {array.shape}"
        )
    if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
        raise InputError("bounds: expected finite numbers")
    if np.any(array < 0):
        raise InputError("bounds: negative coordinates cannot be expressed")
    if np.any(array[:, 0] > array[:, 1]):
        raise InputError("bounds: each [min, max] must have min <= max")
    ints = array.astype(np.int64)
    return "_".join(f"{lo}-{hi}" for lo, hi in ints)


def _json_id(value: Any) -> int:
    """One id from JSON: an integer or a decimal string (not a bool or a float)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise TypeError(f"{value!r} is not an id")


def ids_from_json(values: Any, *, what: str = "ids", request: Call | None = None) -> IdArray:
    """A JSON list of ids (numbers or decimal strings) as uint64 (``request``: for errors)."""
    method, url = (request.method, request.url) if request is not None else ("?", "?")
    if not isinstance(values, list):
        raise ResponseFormatError(f"expected a list of {what}", method=method, url=url)
    if not values:
        return np.zeros(0, dtype=np.uint64)
    try:
        return np.array([_json_id(v) for v in values], dtype=np.uint64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ResponseFormatError(
            f"{what}: not a list of ids ({exc})", method=method, url=url
        ) from exc


def _json_ids(ids: IdArray) -> list[int | str]:
    return [int(i) for i in ids.tolist()]


def _points_nm(points: Any, resolution: Sequence[float], name: str) -> npt.NDArray[np.float64]:
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: expected points of shape (N, 3) of numbers ({exc})") from None
    if array.ndim == 1:
        array = array[np.newaxis, :]
    if array.ndim != 2 or array.shape[1] != 3:
        raise InputError(f"{name}: expected points of shape (N, 3), got {np.asarray(points).shape}")
    if not np.all(np.isfinite(array)):
        bad = sorted({int(i) for i in np.argwhere(~np.isfinite(array))[:, 0]})
        raise InputError(
            f"{name}: points must be finite", [f"row {i}: {array[i].tolist()}" for i in bad]
        )
    return array * np.asarray(resolution, dtype=np.float64)


def _edit_points(
    ids: Sequence[int], points_nm: npt.NDArray[np.float64]
) -> list[list[float | int | str]]:
    return [[int(i), *map(float, p)] for i, p in zip(ids, points_nm, strict=True)]


class ChunkedGraphBase(ServiceClient):
    """Plans of the chunkedgraph client; see :class:`ChunkedGraphClient`."""

    API = SEGMENTATION_API
    LOCAL = True

    def __init__(
        self,
        *args: Any,
        table_name: str | None = None,
        timestamp: TimestampLike | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._table_name = table_name
        self._default_timestamp = optional_epoch(timestamp)
        self._segmentation_info: dict[str, Any] | None = None

    @property
    def timestamp(self) -> datetime | None:
        """Default time of root queries (``None``: now)."""
        return (
            None if self._default_timestamp is None else from_epoch_seconds(self._default_timestamp)
        )

    @timestamp.setter
    def timestamp(self, value: TimestampLike | None) -> None:
        self._default_timestamp = optional_epoch(value)

    def _ts(self, value: TimestampLike | None, name: str = "timestamp") -> float | None:
        return self._default_timestamp if value is None else to_epoch_seconds(value, name=name)

    # -- where ------------------------------------------------------------------------------
    def _table(self) -> Plan[str]:
        if self._table_name is None:
            record = yield from datastack_record(self._ctx)
            if not record.segmentation_source:
                raise InputError("the datastack has no segmentation source")
            self._table_name = table_id_from_source(record.segmentation_source)
        return self._table_name

    def _where(self) -> Plan[tuple[str, str]]:
        server = yield from self._server()
        yield from self._ctx.api_version(self.API, server)
        return server, (yield from self._table())

    def _get_table_name(self) -> Plan[str]:
        """The chunkedgraph table id (last path element of the segmentation source)."""
        return (yield from self._table())

    def _get_segmentation_info(self) -> Plan[dict[str, Any]]:
        """The graphene info of the table (cached)."""
        if self._segmentation_info is None:
            server, table = yield from self._where()
            request = gen.call(server, get_table_info.build_request(table_id=table))
            info = read_json(request, (yield request))
            if not isinstance(info, dict):
                raise ResponseFormatError(
                    "expected the graphene info", method="GET", url=request.url
                )
            self._segmentation_info = info
        return self._segmentation_info

    def _get_base_resolution(self) -> Plan[npt.NDArray[np.float64]]:
        """Voxel size (nm) of the segmentation's base scale."""
        info = yield from self._get_segmentation_info()
        return np.asarray(info["scales"][0]["resolution"], dtype=np.float64)

    def _get_cloudvolume_path(self) -> Plan[str]:
        """``graphene://`` path for cloud-volume."""
        server, table = yield from self._where()
        return f"graphene://{server}/segmentation/api/v1/{table}"

    # -- roots ------------------------------------------------------------------------------
    def _get_roots(
        self,
        supervoxel_ids: IdsLike,
        timestamp: TimestampLike | None = None,
        stop_layer: int | None = None,
    ) -> Plan[IdArray]:
        """Root (or ``stop_layer``) ids of many supervoxels at ``timestamp``, in input order.

        Duplicates are looked up once and requests are batched; unknown ids map to 0.
        """
        ids = as_id_array(supervoxel_ids, name="supervoxel_ids")
        ts = self._ts(timestamp)
        server, table = yield from self._where()
        if ids.size == 0:
            return ids
        unique, inverse = np.unique(ids, return_inverse=True)
        out = np.empty(unique.size, dtype=np.uint64)
        for start in range(0, unique.size, ROOTS_BATCH):
            chunk = unique[start : start + ROOTS_BATCH]
            request = gen.call(
                server,
                get_roots_binary.build_request(
                    table_id=table,
                    body=File(payload=BytesIO(encode_uint64(chunk))),
                    timestamp=ts,
                    stop_layer=stop_layer,
                ),
                idempotent=True,
            )
            response = yield request
            roots = self._binary(request, response)
            if roots.size != chunk.size:
                raise ResponseFormatError(
                    f"asked for {chunk.size} roots, got {roots.size}",
                    method="POST",
                    url=request.url,
                )
            out[start : start + chunk.size] = roots
        return out[inverse.ravel()]

    @staticmethod
    def _binary(request: Call, response: Any) -> IdArray:
        try:
            return decode_uint64(response.content)
        except ValueError as exc:
            raise ResponseFormatError(str(exc), method=request.method, url=request.url) from exc

    def _get_root_id(
        self, supervoxel_id: int, timestamp: TimestampLike | None = None, level2: bool = False
    ) -> Plan[int]:
        """The root (or, with ``level2``, the L2) id of one supervoxel at ``timestamp``."""
        node = as_id(supervoxel_id, name="supervoxel_id")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_root.build_request(
                table_id=table,
                node_id=node,
                timestamp=self._ts(timestamp),
                stop_layer=2 if level2 else None,
                int64_as_str=False,
            ),
        )
        data = read_json(request, (yield request))
        return int(data["root_id"])

    def _is_latest_roots(
        self, root_ids: IdsLike, timestamp: TimestampLike | None = None
    ) -> Plan[npt.NDArray[np.bool_]]:
        """Whether each id is a root that is still current at ``timestamp``."""
        ids = as_id_array(root_ids, name="root_ids")
        server, table = yield from self._where()
        request = gen.call(
            server,
            is_latest_roots.build_request(
                table_id=table,
                body=NodeIdsRequest(node_ids=_json_ids(ids)),
                timestamp=self._ts(timestamp),
                int64_as_str=False,
            ),
            idempotent=True,
        )
        data = read_json(request, (yield request))
        return np.asarray(data["is_latest"], dtype=bool)

    def _get_root_timestamps(
        self, root_ids: IdsLike, latest: bool = False, timestamp: TimestampLike | None = None
    ) -> Plan[list[datetime]]:
        """When each root was created (or, with ``latest``, until when it was current)."""
        ids = as_id_array(root_ids, name="root_ids")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_root_timestamps.build_request(
                table_id=table,
                body=NodeIdsRequest(node_ids=_json_ids(ids)),
                latest=latest,
                timestamp=self._ts(timestamp),
                int64_as_str=False,
            ),
            idempotent=True,
        )
        data = read_json(request, (yield request))
        return [from_epoch_seconds(float(t)) for t in data["timestamp"]]

    def _get_minimal_covering_nodes(
        self, node_ids: IdsLike, timestamp: TimestampLike | None = None
    ) -> Plan[IdArray]:
        """The fewest highest-layer nodes covering exactly the given nodes."""
        ids = as_id_array(node_ids, name="node_ids")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_minimal_covering_nodes.build_request(
                table_id=table,
                body=NodeIdsRequest(node_ids=_json_ids(ids)),
                as_array=True,
                timestamp=self._ts(timestamp),
            ),
            idempotent=True,
        )
        return self._binary(request, (yield request))

    def _is_valid_nodes(
        self,
        node_ids: IdsLike,
        start_timestamp: TimestampLike | None = None,
        end_timestamp: TimestampLike | None = None,
    ) -> Plan[npt.NDArray[np.bool_]]:
        """Whether each id exists as a node in the time window."""
        ids = as_id_array(node_ids, name="node_ids")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_valid_nodes.build_request(
                table_id=table,
                body=NodeIdsRequest(node_ids=_json_ids(ids)),
                start_timestamp=optional_epoch(start_timestamp, name="start_timestamp"),
                end_timestamp=optional_epoch(end_timestamp, name="end_timestamp"),
                int64_as_str=False,
            ),
        )
        data = read_json(request, (yield request))
        valid = ids_from_json(data["valid_roots"])
        return np.isin(ids, valid)

    # -- hierarchy ------------------------------------------------------------------------------
    def _get_leaves(
        self, root_id: int, bounds: Bounds | None = None, stop_layer: int | None = None
    ) -> Plan[IdArray]:
        """Supervoxels (or nodes at ``stop_layer``) under a node, optionally within ``bounds``."""
        node = as_id(root_id, name="root_id")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_leaves.build_request(
                table_id=table,
                node_id=node,
                stop_layer=stop_layer if stop_layer is not None else 1,
                bounds=None if bounds is None else package_bounds(bounds),
                int64_as_str=False,
            ),
        )
        data = read_json(request, (yield request))
        if not isinstance(data, dict):
            raise ResponseFormatError(
                "expected an object with leaf_ids", method=request.method, url=request.url
            )
        return ids_from_json(data.get("leaf_ids", []), what="leaf_ids", request=request)

    def _get_leaves_many(
        self, root_ids: IdsLike, bounds: Bounds | None = None, stop_layer: int | None = None
    ) -> Plan[dict[int, IdArray]]:
        """:meth:`get_leaves` for many nodes in one request."""
        ids = as_id_array(root_ids, name="root_ids")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_leaves_many.build_request(
                table_id=table,
                body=NodeIdsRequest(node_ids=_json_ids(ids)),
                stop_layer=stop_layer if stop_layer is not None else 1,
                bounds=None if bounds is None else package_bounds(bounds),
                int64_as_str=False,
            ),
            idempotent=True,
        )
        data = read_json(request, (yield request))
        return {int(k): ids_from_json(v) for k, v in data.items()}

    def _get_children(self, node_id: int) -> Plan[IdArray]:
        """The immediate children of a node (possibly of several layers)."""
        node = as_id(node_id, name="node_id")
        server, table = yield from self._where()
        request = gen.call(
            server, get_children.build_request(table_id=table, node_id=node, int64_as_str=False)
        )
        data = read_json(request, (yield request))
        return ids_from_json(data["children_ids"])

    def _get_subgraph(
        self, root_id: int, bounds: Bounds | None = None
    ) -> Plan[tuple[IdArray, npt.NDArray[np.float32], npt.NDArray[np.uint64]]]:
        """Supervoxel edges of a node within ``bounds``: (edges N×2, affinities, areas)."""
        node = as_id(root_id, name="root_id")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_subgraph.build_request(
                table_id=table,
                node_id=node,
                bounds=None if bounds is None else package_bounds(bounds),
                int64_as_str=False,
            ),
        )
        data = read_json(request, (yield request))
        edges = np.array([[int(a), int(b)] for a, b in data["nodes"]], dtype=np.uint64).reshape(
            -1, 2
        )
        return (
            edges,
            np.asarray(data["affinities"], dtype=np.float32),
            np.asarray([int(a) for a in data["areas"]], dtype=np.uint64),
        )

    def _level2_chunk_graph(self, root_id: int, bounds: Bounds | None = None) -> Plan[IdArray]:
        """Edges between the L2 nodes of a root (N×2, each pair ascending)."""
        node = as_id(root_id, name="root_id")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_lvl2_graph.build_request(
                table_id=table,
                node_id=node,
                bounds=None if bounds is None else package_bounds(bounds),
                int64_as_str=False,
            ),
        )
        response = yield request
        if bounds is not None and response.headers.get("Used-Bounds", "").lower() != "true":
            raise ResponseFormatError(
                "the server ignored the bounds", method="GET", url=request.url
            )
        data = read_json(request, response)
        return np.array(data["edge_graph"], dtype=np.uint64).reshape(-1, 2)

    # -- edits ----------------------------------------------------------------------------------
    def _edit_result(self, request: Call, response: Any) -> EditOutcome:
        data = read_json(request, response)
        return EditOutcome(int(data["operation_id"]), ids_from_json(data["new_root_ids"]))

    def _do_merge(
        self,
        supervoxels: IdsLike,
        coords: Any,
        resolution: Sequence[float] = (4, 4, 40),
    ) -> Plan[EditOutcome]:
        """Merge the objects of two supervoxels; ``coords`` are voxels at ``resolution`` (nm)."""
        ids = as_id_array(supervoxels, name="supervoxels")
        if ids.size != 2:
            raise InputError(f"supervoxels: a merge takes exactly 2 supervoxels, got {ids.size}")
        points = _points_nm(coords, resolution, "coords")
        if points.shape[0] != 2:
            raise InputError(f"coords: a merge takes exactly 2 points, got {points.shape[0]}")
        server, table = yield from self._where()
        request = gen.call(
            server,
            merge.build_request(
                table_id=table,
                body=_edit_points(ids.tolist(), points),
                priority=False,
                int64_as_str=False,
            ),
            idempotent=False,
        )
        return self._edit_result(request, (yield request))

    def _split_body(
        self,
        source_points: Any,
        sink_points: Any,
        root_id: int,
        source_supervoxels: IdsLike | None,
        sink_supervoxels: IdsLike | None,
        resolution: Sequence[float] | None,
    ) -> SplitRequest:
        if resolution is None:
            resolution = (1.0, 1.0, 1.0)  # points in nm, as CAVEclient takes them
        sources = _points_nm(source_points, resolution, "source_points")
        sinks = _points_nm(sink_points, resolution, "sink_points")
        root = as_id(root_id, name="root_id")

        def ids_for(given: IdsLike | None, n: int, name: str) -> list[int]:
            if given is None:
                return [root] * n
            array = as_id_array(given, name=name)
            if array.size != n:
                raise InputError(f"{name}: {array.size} ids for {n} points")
            return [int(i) for i in array.tolist()]

        return SplitRequest(
            sources=_edit_points(
                ids_for(source_supervoxels, len(sources), "source_supervoxels"), sources
            ),
            sinks=_edit_points(ids_for(sink_supervoxels, len(sinks), "sink_supervoxels"), sinks),
        )

    def _execute_split(
        self,
        source_points: Any,
        sink_points: Any,
        root_id: int,
        source_supervoxels: IdsLike | None = None,
        sink_supervoxels: IdsLike | None = None,
        resolution: Sequence[float] | None = None,
        mincut: bool = True,
    ) -> Plan[EditOutcome]:
        """Split a root between source and sink points with a multicut; unpacks as
        ``(operation_id, new_root_ids)``. Points are in nm, as CAVEclient takes them, or in
        voxels of ``resolution`` (nm per voxel, e.g. ``base_resolution``) when it is given."""
        body = self._split_body(
            source_points, sink_points, root_id, source_supervoxels, sink_supervoxels, resolution
        )
        server, table = yield from self._where()
        request = gen.call(
            server,
            split.build_request(
                table_id=table, body=body, priority=False, mincut=mincut, int64_as_str=False
            ),
            idempotent=False,
        )
        return self._edit_result(request, (yield request))

    def _preview_split(
        self,
        source_points: Any,
        sink_points: Any,
        root_id: int,
        source_supervoxels: IdsLike | None = None,
        sink_supervoxels: IdsLike | None = None,
        return_additional_ccs: bool = False,
        resolution: Sequence[float] | None = None,
    ) -> Plan[SplitPreview]:
        """What :meth:`execute_split` would do, without doing it: unpacks as ``(source, sink,
        successful)``, plus the other components with ``return_additional_ccs=True``. Points
        as for :meth:`execute_split` (nm, or voxels of ``resolution``)."""
        body = self._split_body(
            source_points, sink_points, root_id, source_supervoxels, sink_supervoxels, resolution
        )
        server, table = yield from self._where()
        request = gen.call(
            server,
            split_preview.build_request(table_id=table, body=body, int64_as_str=False),
            idempotent=True,
        )
        data = read_json(request, (yield request))
        components = [ids_from_json(c) for c in data["supervoxel_connected_components"]]
        empty = np.zeros(0, dtype=np.uint64)
        return SplitPreview(
            components[0] if components else empty,
            components[1] if len(components) > 1 else empty,
            not bool(data["illegal_split"]),
            components[2:],
            return_additional_ccs,
        )

    def _undo_operation(self, operation_id: int) -> Plan[EditOutcome]:
        """Undo an edit (a new operation that inverts it)."""
        server, table = yield from self._where()
        request = gen.call(
            server,
            undo.build_request(
                table_id=table,
                body=OperationIdRequest(operation_id=int(operation_id)),
                priority=False,
                int64_as_str=False,
            ),
            idempotent=False,
        )
        return self._edit_result(request, (yield request))

    def _redo_operation(self, operation_id: int) -> Plan[EditOutcome]:
        """Redo an undone edit."""
        server, table = yield from self._where()
        request = gen.call(
            server,
            redo.build_request(
                table_id=table,
                body=OperationIdRequest(operation_id=int(operation_id)),
                priority=False,
                int64_as_str=False,
            ),
            idempotent=False,
        )
        return self._edit_result(request, (yield request))

    def _remesh_level2_chunks(self, chunk_ids: IdsLike) -> Plan[None]:
        """Ask the meshing service to remesh these L2 ids."""
        ids = as_id_array(chunk_ids, name="chunk_ids")
        server, table = yield from self._where()
        request = gen.call(
            server,
            request_remeshing.build_request(
                table_id=table, body=RemeshingRequest(new_lvl2_ids=_json_ids(ids))
            ),
        )
        yield request

    # -- history --------------------------------------------------------------------------------
    def _get_change_log(self, root_id: int, filtered: bool = True) -> Plan[dict[str, Any]]:
        """Merges and splits in a root's past: counts, operation ids, past ids, per user."""
        root = as_id(root_id, name="root_id")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_change_log.build_request(
                table_id=table, root_id=root, filtered=filtered, int64_as_str=False
            ),
        )
        data = read_json(request, (yield request))
        return ChangeLog(
            n_mergers=int(data["n_mergers"]),
            n_splits=int(data["n_splits"]),
            operations_ids=ids_from_json(data["operations_ids"]),
            past_ids=ids_from_json(data["past_ids"]),
            user_info={
                str(user): ChangeLog(
                    n_mergers=int(c.get("n_mergers", 0)), n_splits=int(c.get("n_splits", 0))
                )
                for user, c in data["user_info"].items()
            },
        )

    def _get_merge_log(self, root_id: int) -> Plan[dict[str, Any]]:
        """The merges in a root's past: edges and their coordinates."""
        root = as_id(root_id, name="root_id")
        server, table = yield from self._where()
        request = gen.call(
            server, get_merge_log.build_request(table_id=table, root_id=root, int64_as_str=False)
        )
        data = read_json(request, (yield request))
        return {
            "merge_edges": [
                np.array(e, dtype=np.uint64).reshape(-1, 2) for e in data["merge_edges"]
            ],
            "merge_edge_coords": data["merge_edge_coords"],
        }

    def _get_tabular_change_log(
        self, root_ids: IdsLike, filtered: bool = True
    ) -> Plan[dict[int, pd.DataFrame]]:
        """One DataFrame of operations per root (timestamps as UTC datetimes)."""
        ids = as_id_array(root_ids, name="root_ids")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_tabular_change_log_many.build_request(
                table_id=table, body=RootIdsRequest(root_ids=_json_ids(ids)), filtered=filtered
            ),
        )
        data = read_json(request, (yield request))
        import pandas as pd  # only here: importing dafclient does not load pandas

        frames: dict[int, pd.DataFrame] = {}
        for key, text in data.items():
            columns = json.loads(text) if isinstance(text, str) else text
            frame = pd.DataFrame(columns)
            if "timestamp" in frame:
                frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
            for column in ("operation_id",):
                if column in frame:
                    frame[column] = frame[column].astype(np.int64)
            frames[int(key)] = frame.reset_index(drop=True)
        return frames

    def _get_lineage_graph(
        self,
        root_id: IdsLike,
        timestamp_past: TimestampLike | None = None,
        timestamp_future: TimestampLike | None = None,
        as_nx_graph: bool = False,
        exclude_links_to_future: bool = False,
        exclude_links_to_past: bool = False,
    ) -> Plan[Any]:
        """The lineage of roots: node-link dict, or a networkx DiGraph with ``as_nx_graph``."""
        ids = as_id_array(root_id, name="root_id")
        server, table = yield from self._where()
        past = optional_epoch(timestamp_past, name="timestamp_past")
        future = optional_epoch(timestamp_future, name="timestamp_future")
        request = gen.call(
            server,
            get_lineage_graph_multiple.build_request(
                table_id=table,
                body=RootIdsRequest(root_ids=_json_ids(ids)),
                timestamp_past=past if past is not None else 0.0,
                timestamp_future=future,
                int64_as_str=False,
            ),
            idempotent=True,
        )
        data = read_json(request, (yield request))
        if exclude_links_to_future or exclude_links_to_past:
            times = {int(n["id"]): float(n["timestamp"]) for n in data["nodes"]}
            keep = []
            for link in data["links"]:
                target_t = times.get(int(link["target"]))
                source_t = times.get(int(link["source"]))
                if (
                    exclude_links_to_future
                    and future is not None
                    and target_t is not None
                    and target_t > future
                ):
                    continue
                if (
                    exclude_links_to_past
                    and past is not None
                    and source_t is not None
                    and source_t < past
                ):
                    continue
                keep.append(link)
            data["links"] = keep
        if not as_nx_graph:
            return data
        import networkx as nx

        return nx.node_link_graph(data, directed=True, multigraph=False, edges="links")

    def _get_latest_roots(
        self, root_id: int, timestamp: TimestampLike | None = None
    ) -> Plan[IdArray]:
        """The roots that ``root_id`` became by ``timestamp`` (itself if still current)."""
        root = as_id(root_id, name="root_id")
        future = self._ts(timestamp, "timestamp")
        graph = yield from self._get_lineage_graph(root, timestamp_future=future)
        children: dict[int, list[int]] = {}
        for link in graph["links"]:
            children.setdefault(int(link["source"]), []).append(int(link["target"]))
        leaves, stack, seen = [], [root], set()
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            nxt = children.get(node, [])
            if nxt:
                stack.extend(nxt)
            else:
                leaves.append(node)
        candidates = np.array(sorted(leaves), dtype=np.uint64)
        latest = yield from self._is_latest_roots(candidates, timestamp=future)
        return candidates[latest]

    def _get_original_roots(
        self, root_id: int, timestamp_past: TimestampLike | None = None
    ) -> Plan[IdArray]:
        """The earliest ancestors of ``root_id`` (since ``timestamp_past``)."""
        root = as_id(root_id, name="root_id")
        graph = yield from self._get_lineage_graph(root, timestamp_past=timestamp_past)
        parents: dict[int, list[int]] = {}
        for link in graph["links"]:
            parents.setdefault(int(link["target"]), []).append(int(link["source"]))
        roots, stack, seen = [], [root], set()
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            before = parents.get(node, [])
            if before:
                stack.extend(before)
            else:
                roots.append(node)
        return np.array(sorted(roots), dtype=np.uint64)

    def _suggest_latest_roots(
        self,
        root_id: int,
        timestamp: TimestampLike | None = None,
        stop_layer: int | None = None,
        return_all: bool = False,
        return_fraction_overlap: bool = False,
    ) -> Plan[Any]:
        """The current root that best continues ``root_id``: the one holding most of its L2 nodes
        (or nodes at ``stop_layer``). ``return_all`` gives every candidate, best first;
        ``return_fraction_overlap`` adds the fraction of ``root_id`` each one holds."""
        root = as_id(root_id, name="root_id")
        layer = 2 if stop_layer is None else stop_layer
        latest = yield from self._is_latest_roots([root], timestamp=timestamp)
        if latest[0]:
            candidates, fractions = np.array([root], dtype=np.uint64), np.array([1.0])
        else:
            nodes = yield from self._get_leaves(root, stop_layer=layer)
            roots = yield from self._get_roots(nodes, timestamp=timestamp)
            candidates, counts = np.unique(roots[roots != 0], return_counts=True)
            order = np.argsort(-counts, kind="stable")
            candidates, fractions = candidates[order], counts[order] / max(1, nodes.size)
        if return_all:
            return (candidates, fractions) if return_fraction_overlap else candidates
        best = int(candidates[0]) if candidates.size else 0
        return (
            (best, float(fractions[0]) if fractions.size else 0.0)
            if return_fraction_overlap
            else best
        )

    def _get_past_ids(
        self,
        root_ids: IdsLike,
        timestamp_past: TimestampLike | None = None,
        timestamp_future: TimestampLike | None = None,
    ) -> Plan[dict[str, dict[int, Any]]]:
        """For each root, its ids at ``timestamp_past`` (``past_id_map``), and the reverse."""
        ids = as_id_array(root_ids, name="root_ids")
        server, table = yield from self._where()
        past = optional_epoch(timestamp_past, name="timestamp_past")
        request = gen.call(
            server,
            get_past_id_mapping.build_request(
                table_id=table,
                body=RootIdsRequest(root_ids=_json_ids(ids)),
                timestamp_past=past if past is not None else 0.0,
                timestamp_future=optional_epoch(timestamp_future, name="timestamp_future"),
                int64_as_str=False,
            ),
        )
        data = read_json(request, (yield request))
        return {
            "past_id_map": {int(k): ids_from_json(v) for k, v in data["past_id_map"].items()},
            "future_id_map": {int(k): int(v) for k, v in data["future_id_map"].items()},
        }

    def _get_delta_roots(
        self, timestamp_past: TimestampLike, timestamp_future: TimestampLike | None = None
    ) -> Plan[tuple[IdArray, IdArray]]:
        """Roots retired and roots created between two times: ``(old_roots, new_roots)``."""
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_delta_roots.build_request(
                table_id=table,
                timestamp_past=to_epoch_seconds(timestamp_past, name="timestamp_past"),
                timestamp_future=optional_epoch(timestamp_future, name="timestamp_future"),
                int64_as_str=False,
            ),
        )
        data = read_json(request, (yield request))
        return ids_from_json(data["old_roots"]), ids_from_json(data["new_roots"])

    def _get_oldest_timestamp(self) -> Plan[datetime]:
        """The earliest time the graph has data for."""
        server, table = yield from self._where()
        request = gen.call(server, get_oldest_timestamp.build_request(table_id=table))
        data = read_json(request, (yield request))
        return parse_server_datetime(str(data["iso"]))

    def _get_operation_details(self, operation_ids: Iterable[int] | int) -> Plan[OperationDetails]:
        """What each operation did (edges, coordinates, user, time, new roots), by operation
        id: string keys as in the service's JSON (CAVEclient's), ``int`` ids answer too."""
        ids = as_id_array(operation_ids, name="operation_ids")
        server, table = yield from self._where()
        request = gen.call(
            server,
            get_operation_details.build_request(
                table_id=table,
                operation_ids="[" + ",".join(str(i) for i in ids.tolist()) + "]",
                int64_as_str=False,
            ),
        )
        data = read_json(request, (yield request))
        details = OperationDetails()
        for key, value in data.items():
            record = dict(value)
            for name in ("operation_ts", "timestamp"):
                if isinstance(record.get(name), str):
                    record[name] = parse_server_datetime(record[name])
            details[str(int(key))] = record
        return details

    def _find_path(
        self,
        root_id: int,
        src_pt: Any,
        dst_pt: Any,
        precision_mode: bool = False,
    ) -> Plan[FoundPath]:
        """The shortest L2 path between two points (nm) of a root."""
        root = as_id(root_id, name="root_id")
        points = _points_nm(
            np.vstack([np.asarray(src_pt, float), np.asarray(dst_pt, float)]), (1, 1, 1), "points"
        )
        server, table = yield from self._where()
        request = gen.call(
            server,
            find_path.build_request(
                table_id=table,
                body=_edit_points([root, root], points),
                precision_mode=precision_mode,
                int64_as_str=False,
            ),
            idempotent=True,
        )
        data = read_json(request, (yield request))
        return FoundPath(
            np.asarray(data["centroids_list"], dtype=np.float64).reshape(-1, 3),
            ids_from_json(data["l2_path"]),
            ids_from_json(data["failed_l2_ids"]),
        )


class ChunkedGraphClient(SyncBinding, ChunkedGraphBase):
    """The datastack's chunkedgraph (segmentation) service, on its local server.

    Root lookups take an optional ``timestamp`` (default: :attr:`timestamp`, else now); edits are
    never retried once they may have reached the server.
    """

    get_roots = sync_op(ChunkedGraphBase._get_roots)
    get_root_id = sync_op(ChunkedGraphBase._get_root_id)
    is_latest_roots = sync_op(ChunkedGraphBase._is_latest_roots)
    get_root_timestamps = sync_op(ChunkedGraphBase._get_root_timestamps)
    get_minimal_covering_nodes = sync_op(ChunkedGraphBase._get_minimal_covering_nodes)
    is_valid_nodes = sync_op(ChunkedGraphBase._is_valid_nodes)
    get_leaves = sync_op(ChunkedGraphBase._get_leaves)
    get_leaves_many = sync_op(ChunkedGraphBase._get_leaves_many)
    get_children = sync_op(ChunkedGraphBase._get_children)
    get_subgraph = sync_op(ChunkedGraphBase._get_subgraph)
    level2_chunk_graph = sync_op(ChunkedGraphBase._level2_chunk_graph)
    do_merge = sync_op(ChunkedGraphBase._do_merge)
    execute_split = sync_op(ChunkedGraphBase._execute_split)
    preview_split = sync_op(ChunkedGraphBase._preview_split)
    undo_operation = sync_op(ChunkedGraphBase._undo_operation)
    redo_operation = sync_op(ChunkedGraphBase._redo_operation)
    remesh_level2_chunks = sync_op(ChunkedGraphBase._remesh_level2_chunks)
    get_change_log = sync_op(ChunkedGraphBase._get_change_log)
    get_merge_log = sync_op(ChunkedGraphBase._get_merge_log)
    get_tabular_change_log = sync_op(ChunkedGraphBase._get_tabular_change_log)
    get_lineage_graph = sync_op(ChunkedGraphBase._get_lineage_graph)
    get_latest_roots = sync_op(ChunkedGraphBase._get_latest_roots)
    suggest_latest_roots = sync_op(ChunkedGraphBase._suggest_latest_roots)
    get_original_roots = sync_op(ChunkedGraphBase._get_original_roots)
    get_past_ids = sync_op(ChunkedGraphBase._get_past_ids)
    get_delta_roots = sync_op(ChunkedGraphBase._get_delta_roots)
    get_oldest_timestamp = sync_op(ChunkedGraphBase._get_oldest_timestamp)
    get_operation_details = sync_op(ChunkedGraphBase._get_operation_details)
    find_path = sync_op(ChunkedGraphBase._find_path)
    get_table_name = sync_op(ChunkedGraphBase._get_table_name)
    get_segmentation_info = sync_op(ChunkedGraphBase._get_segmentation_info)
    get_base_resolution = sync_op(ChunkedGraphBase._get_base_resolution)
    get_cloudvolume_path = sync_op(ChunkedGraphBase._get_cloudvolume_path)

    @property
    def table_name(self) -> str:
        """The chunkedgraph table id."""
        return drive(self._get_table_name(), self._http)

    @property
    def segmentation_info(self) -> dict[str, Any]:
        """The graphene info of the table (fetched once)."""
        return drive(self._get_segmentation_info(), self._http)

    @property
    def base_resolution(self) -> npt.NDArray[np.float64]:
        """Voxel size (nm) of the segmentation's base scale."""
        return drive(self._get_base_resolution(), self._http)

    @property
    def cloudvolume_path(self) -> str:
        """``graphene://`` path for cloud-volume."""
        return drive(self._get_cloudvolume_path(), self._http)


class AsyncChunkedGraphClient(AsyncBinding, ChunkedGraphBase):
    """:class:`ChunkedGraphClient` with coroutine methods (``get_table_name()``,
    ``get_segmentation_info()``... instead of the properties)."""

    get_roots = async_op(ChunkedGraphBase._get_roots)
    get_root_id = async_op(ChunkedGraphBase._get_root_id)
    is_latest_roots = async_op(ChunkedGraphBase._is_latest_roots)
    get_root_timestamps = async_op(ChunkedGraphBase._get_root_timestamps)
    get_minimal_covering_nodes = async_op(ChunkedGraphBase._get_minimal_covering_nodes)
    is_valid_nodes = async_op(ChunkedGraphBase._is_valid_nodes)
    get_leaves = async_op(ChunkedGraphBase._get_leaves)
    get_leaves_many = async_op(ChunkedGraphBase._get_leaves_many)
    get_children = async_op(ChunkedGraphBase._get_children)
    get_subgraph = async_op(ChunkedGraphBase._get_subgraph)
    level2_chunk_graph = async_op(ChunkedGraphBase._level2_chunk_graph)
    do_merge = async_op(ChunkedGraphBase._do_merge)
    execute_split = async_op(ChunkedGraphBase._execute_split)
    preview_split = async_op(ChunkedGraphBase._preview_split)
    undo_operation = async_op(ChunkedGraphBase._undo_operation)
    redo_operation = async_op(ChunkedGraphBase._redo_operation)
    remesh_level2_chunks = async_op(ChunkedGraphBase._remesh_level2_chunks)
    get_change_log = async_op(ChunkedGraphBase._get_change_log)
    get_merge_log = async_op(ChunkedGraphBase._get_merge_log)
    get_tabular_change_log = async_op(ChunkedGraphBase._get_tabular_change_log)
    get_lineage_graph = async_op(ChunkedGraphBase._get_lineage_graph)
    get_latest_roots = async_op(ChunkedGraphBase._get_latest_roots)
    suggest_latest_roots = async_op(ChunkedGraphBase._suggest_latest_roots)
    get_original_roots = async_op(ChunkedGraphBase._get_original_roots)
    get_past_ids = async_op(ChunkedGraphBase._get_past_ids)
    get_delta_roots = async_op(ChunkedGraphBase._get_delta_roots)
    get_oldest_timestamp = async_op(ChunkedGraphBase._get_oldest_timestamp)
    get_operation_details = async_op(ChunkedGraphBase._get_operation_details)
    find_path = async_op(ChunkedGraphBase._find_path)
    get_table_name = async_op(ChunkedGraphBase._get_table_name)
    get_segmentation_info = async_op(ChunkedGraphBase._get_segmentation_info)
    get_base_resolution = async_op(ChunkedGraphBase._get_base_resolution)
    get_cloudvolume_path = async_op(ChunkedGraphBase._get_cloudvolume_path)
