"""The public chunkedgraph clients: every plan bound as a blocking or a coroutine method.

Methods whose result depends on a flag (``get_lineage_graph(as_nx_graph=...)``,
``suggest_latest_roots(return_all=..., return_fraction_overlap=...)``) are declared with
``@overload`` for type checkers beside their binding, so mypy and IDEs see each result type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import numpy.typing as npt

from dafclient._plan import async_op, drive, sync_op
from dafclient._service import AsyncBinding, SyncBinding
from dafclient.records import SegmentationInfo
from dafclient.services.chunkedgraph.edits import EditPlans
from dafclient.services.chunkedgraph.history import HistoryPlans

if TYPE_CHECKING:
    import networkx as nx

    from dafclient.ids import IdArray, IdsLike
    from dafclient.services.chunkedgraph.history import SuggestedRoots
    from dafclient.services.chunkedgraph.results import LineageGraph
    from dafclient.timestamps import TimestampLike


class ChunkedGraphBase(HistoryPlans, EditPlans):
    """Plans of the chunkedgraph client (roots, hierarchy, edits, history); see
    :class:`ChunkedGraphClient`."""


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
    get_latest_roots = sync_op(ChunkedGraphBase._get_latest_roots)
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

    if TYPE_CHECKING:  # the overloads of flag-dependent results, for mypy and IDEs

        @overload
        def get_lineage_graph(
            self,
            root_id: IdsLike,
            timestamp_past: TimestampLike | None = None,
            timestamp_future: TimestampLike | None = None,
            as_nx_graph: Literal[False] = False,
            exclude_links_to_future: bool = False,
            exclude_links_to_past: bool = False,
        ) -> LineageGraph: ...
        @overload
        def get_lineage_graph(
            self,
            root_id: IdsLike,
            timestamp_past: TimestampLike | None = None,
            timestamp_future: TimestampLike | None = None,
            *,
            as_nx_graph: Literal[True],
            exclude_links_to_future: bool = False,
            exclude_links_to_past: bool = False,
        ) -> nx.DiGraph: ...
        @overload
        def get_lineage_graph(
            self,
            root_id: IdsLike,
            timestamp_past: TimestampLike | None = None,
            timestamp_future: TimestampLike | None = None,
            as_nx_graph: bool = False,
            exclude_links_to_future: bool = False,
            exclude_links_to_past: bool = False,
        ) -> LineageGraph | nx.DiGraph: ...
        def get_lineage_graph(self, *args: Any, **kwargs: Any) -> Any: ...
        @overload
        def suggest_latest_roots(
            self,
            root_id: int,
            timestamp: TimestampLike | None = None,
            stop_layer: int | None = None,
            return_all: Literal[False] = False,
            return_fraction_overlap: Literal[False] = False,
        ) -> int: ...
        @overload
        def suggest_latest_roots(
            self,
            root_id: int,
            timestamp: TimestampLike | None = None,
            stop_layer: int | None = None,
            return_all: Literal[False] = False,
            *,
            return_fraction_overlap: Literal[True],
        ) -> tuple[int, float]: ...
        @overload
        def suggest_latest_roots(
            self,
            root_id: int,
            timestamp: TimestampLike | None = None,
            stop_layer: int | None = None,
            *,
            return_all: Literal[True],
            return_fraction_overlap: Literal[False] = False,
        ) -> IdArray: ...
        @overload
        def suggest_latest_roots(
            self,
            root_id: int,
            timestamp: TimestampLike | None = None,
            stop_layer: int | None = None,
            *,
            return_all: Literal[True],
            return_fraction_overlap: Literal[True],
        ) -> tuple[IdArray, npt.NDArray[np.float64]]: ...
        @overload
        def suggest_latest_roots(
            self,
            root_id: int,
            timestamp: TimestampLike | None = None,
            stop_layer: int | None = None,
            return_all: bool = False,
            return_fraction_overlap: bool = False,
        ) -> SuggestedRoots: ...
        def suggest_latest_roots(self, *args: Any, **kwargs: Any) -> Any: ...
    else:
        get_lineage_graph = sync_op(ChunkedGraphBase._get_lineage_graph)
        suggest_latest_roots = sync_op(ChunkedGraphBase._suggest_latest_roots)

    @property
    def table_name(self) -> str:
        """The chunkedgraph table id."""
        return drive(self._get_table_name(), self._http)

    @property
    def segmentation_info(self) -> SegmentationInfo:
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
    get_latest_roots = async_op(ChunkedGraphBase._get_latest_roots)
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

    if TYPE_CHECKING:  # the overloads of flag-dependent results, for mypy and IDEs

        @overload
        async def get_lineage_graph(
            self,
            root_id: IdsLike,
            timestamp_past: TimestampLike | None = None,
            timestamp_future: TimestampLike | None = None,
            as_nx_graph: Literal[False] = False,
            exclude_links_to_future: bool = False,
            exclude_links_to_past: bool = False,
        ) -> LineageGraph: ...
        @overload
        async def get_lineage_graph(
            self,
            root_id: IdsLike,
            timestamp_past: TimestampLike | None = None,
            timestamp_future: TimestampLike | None = None,
            *,
            as_nx_graph: Literal[True],
            exclude_links_to_future: bool = False,
            exclude_links_to_past: bool = False,
        ) -> nx.DiGraph: ...
        @overload
        async def get_lineage_graph(
            self,
            root_id: IdsLike,
            timestamp_past: TimestampLike | None = None,
            timestamp_future: TimestampLike | None = None,
            as_nx_graph: bool = False,
            exclude_links_to_future: bool = False,
            exclude_links_to_past: bool = False,
        ) -> LineageGraph | nx.DiGraph: ...
        async def get_lineage_graph(self, *args: Any, **kwargs: Any) -> Any: ...
        @overload
        async def suggest_latest_roots(
            self,
            root_id: int,
            timestamp: TimestampLike | None = None,
            stop_layer: int | None = None,
            return_all: Literal[False] = False,
            return_fraction_overlap: Literal[False] = False,
        ) -> int: ...
        @overload
        async def suggest_latest_roots(
            self,
            root_id: int,
            timestamp: TimestampLike | None = None,
            stop_layer: int | None = None,
            return_all: Literal[False] = False,
            *,
            return_fraction_overlap: Literal[True],
        ) -> tuple[int, float]: ...
        @overload
        async def suggest_latest_roots(
            self,
            root_id: int,
            timestamp: TimestampLike | None = None,
            stop_layer: int | None = None,
            *,
            return_all: Literal[True],
            return_fraction_overlap: Literal[False] = False,
        ) -> IdArray: ...
        @overload
        async def suggest_latest_roots(
            self,
            root_id: int,
            timestamp: TimestampLike | None = None,
            stop_layer: int | None = None,
            *,
            return_all: Literal[True],
            return_fraction_overlap: Literal[True],
        ) -> tuple[IdArray, npt.NDArray[np.float64]]: ...
        @overload
        async def suggest_latest_roots(
            self,
            root_id: int,
            timestamp: TimestampLike | None = None,
            stop_layer: int | None = None,
            return_all: bool = False,
            return_fraction_overlap: bool = False,
        ) -> SuggestedRoots: ...
        async def suggest_latest_roots(self, *args: Any, **kwargs: Any) -> Any: ...
    else:
        get_lineage_graph = async_op(ChunkedGraphBase._get_lineage_graph)
        suggest_latest_roots = async_op(ChunkedGraphBase._suggest_latest_roots)
