"""Plans of edits: merge, split (and its preview), undo, redo, and remeshing requests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import httpx
import numpy as np

from dafclient import _generated as gen
from dafclient._plan import Call, Plan
from dafclient._wire.chunkedgraph_v1.api.chunkedgraph import (
    merge,
    redo,
    request_remeshing,
    split,
    split_preview,
    undo,
)
from dafclient._wire.chunkedgraph_v1.models import (
    OperationIdRequest,
    RemeshingRequest,
    SplitRequest,
)
from dafclient._wire.chunkedgraph_v1.types import Unset
from dafclient.errors import InputError
from dafclient.ids import IdsLike, as_id, as_id_array
from dafclient.services.chunkedgraph.base import ChunkedGraphLocation
from dafclient.services.chunkedgraph.results import EditOutcome, SplitPreview
from dafclient.services.chunkedgraph.wire import (
    edit_points,
    ids_from_json,
    json_id,
    json_ids,
    points_nm,
)


def _edit_outcome(request: Call, response: httpx.Response) -> EditOutcome:
    """What every edit route answers (merge, split, undo, redo share one reply shape)."""
    reply = gen.read(merge.parse_success, request, response)
    return EditOutcome(
        json_id(reply.operation_id),
        ids_from_json(reply.new_root_ids, what="new_root_ids", request=request),
    )


class _OperationRequest(Protocol):
    """The generated ``undo``/``redo`` request builders (one shape)."""

    def __call__(
        self,
        table_id: str,
        *,
        body: OperationIdRequest,
        priority: bool | Unset | None = ...,
        remesh: bool | Unset | None = ...,
        int64_as_str: bool | Unset | None = ...,
    ) -> dict[str, Any]: ...


class EditPlans(ChunkedGraphLocation):
    """Plans of the edits; see :class:`ChunkedGraphClient`."""

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
        points = points_nm(coords, resolution, "coords")
        if points.shape[0] != 2:
            raise InputError(f"coords: a merge takes exactly 2 points, got {points.shape[0]}")
        server, table = yield from self._where()
        request = gen.call(
            server,
            merge.build_request(
                table_id=table,
                body=edit_points(ids.tolist(), points),
                priority=False,
                int64_as_str=False,
            ),
            idempotent=False,
        )
        return _edit_outcome(request, (yield request))

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
        sources = points_nm(source_points, resolution, "source_points")
        sinks = points_nm(sink_points, resolution, "sink_points")
        root = as_id(root_id, name="root_id")

        def ids_for(given: IdsLike | None, n: int, name: str) -> list[int]:
            if given is None:
                return [root] * n
            array = as_id_array(given, name=name)
            if array.size != n:
                raise InputError(f"{name}: {array.size} ids for {n} points")
            return [int(i) for i in array.tolist()]

        return SplitRequest(
            sources=edit_points(
                ids_for(source_supervoxels, len(sources), "source_supervoxels"), sources
            ),
            sinks=edit_points(ids_for(sink_supervoxels, len(sinks), "sink_supervoxels"), sinks),
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
        return _edit_outcome(request, (yield request))

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
        reply = gen.read(split_preview.parse_success, request, (yield request))
        components = [
            ids_from_json(c, what="supervoxel_connected_components", request=request)
            for c in reply.supervoxel_connected_components
        ]
        empty = np.zeros(0, dtype=np.uint64)
        return SplitPreview(
            components[0] if components else empty,
            components[1] if len(components) > 1 else empty,
            not bool(reply.illegal_split),
            components[2:],
            return_additional_ccs,
        )

    def _undo_operation(self, operation_id: int) -> Plan[EditOutcome]:
        """Undo an edit (a new operation that inverts it)."""
        return (yield from self._replay(undo.build_request, operation_id))

    def _redo_operation(self, operation_id: int) -> Plan[EditOutcome]:
        """Redo an undone edit."""
        return (yield from self._replay(redo.build_request, operation_id))

    def _replay(self, build: _OperationRequest, operation_id: int) -> Plan[EditOutcome]:
        """An edit named by an earlier operation (undo or redo: the same request shape)."""
        server, table = yield from self._where()
        request = gen.call(
            server,
            build(
                table_id=table,
                body=OperationIdRequest(operation_id=int(operation_id)),
                priority=False,
                int64_as_str=False,
            ),
            idempotent=False,
        )
        return _edit_outcome(request, (yield request))

    def _remesh_level2_chunks(self, chunk_ids: IdsLike) -> Plan[None]:
        """Ask the meshing service to remesh these L2 ids."""
        ids = as_id_array(chunk_ids, name="chunk_ids")
        server, table = yield from self._where()
        request = gen.call(
            server,
            request_remeshing.build_request(
                table_id=table, body=RemeshingRequest(new_lvl2_ids=json_ids(ids))
            ),
        )
        yield request
