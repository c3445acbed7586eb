"""What the chunkedgraph client's operations return, beyond id arrays and datetimes."""

from __future__ import annotations

from typing import Any, NamedTuple, Self, TypedDict

import numpy as np
import numpy.typing as npt

from dafclient.ids import IdArray


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


class LineageGraph(TypedDict):
    """The lineage of roots in networkx's node-link form (the service's JSON): ``nodes`` carry
    ``id``, ``timestamp`` and, for a root made by an edit, ``operation_id``; each link goes from a
    root to the root an edit made of it."""

    directed: bool
    multigraph: bool
    graph: dict[str, Any]
    nodes: list[dict[str, Any]]
    links: list[dict[str, Any]]


class PastIds(TypedDict):
    """:meth:`get_past_ids`'s answer: each root's ids at the past time, and each past id's root."""

    past_id_map: dict[int, IdArray]
    future_id_map: dict[int, int]


class MergeLog(TypedDict):
    """The merges in a root's past: one N×2 array of supervoxel edges per merge, and their
    coordinates as the service sent them."""

    merge_edges: list[IdArray]
    merge_edge_coords: list[Any]
