"""The segmentation service (PyChunkedGraph): roots, leaves, edits and history of a datastack.

Ids come back as ``numpy.uint64`` arrays (or exact Python ints for single ids), times as
timezone-aware UTC datetimes, tabular logs as DataFrames. Timestamps may be given as datetimes
(naive means UTC), pandas Timestamps or unix seconds; ``None`` means "now" on the server.

The package mirrors the server side (``dafserver/chunkedgraph``), one module per job:

``wire``       ids, points and boxes in the service's forms
``results``    what operations return beyond arrays (EditOutcome, SplitPreview, ChangeLog, ...)
``lineage``    graph algorithms over the lineage graph (one walk for latest and original roots)
``base``       where the service lives: server, API version, table, default timestamp
``roots``, ``hierarchy``, ``edits``, ``history``   the plans, by subject
``clients``    ChunkedGraphClient / AsyncChunkedGraphClient: the plans bound as public methods
"""

from dafclient.services.chunkedgraph.base import CHUNKEDGRAPH_API
from dafclient.services.chunkedgraph.clients import (
    AsyncChunkedGraphClient,
    ChunkedGraphBase,
    ChunkedGraphClient,
)
from dafclient.services.chunkedgraph.history import SuggestedRoots
from dafclient.services.chunkedgraph.results import (
    ChangeLog,
    EditOutcome,
    FoundPath,
    LineageGraph,
    MergeLog,
    OperationDetails,
    PastIds,
    SplitPreview,
)
from dafclient.services.chunkedgraph.roots import ROOTS_BATCH
from dafclient.services.chunkedgraph.wire import Bounds, ids_from_json, package_bounds

__all__ = [
    "CHUNKEDGRAPH_API",
    "ROOTS_BATCH",
    "AsyncChunkedGraphClient",
    "Bounds",
    "ChangeLog",
    "ChunkedGraphBase",
    "ChunkedGraphClient",
    "EditOutcome",
    "FoundPath",
    "LineageGraph",
    "MergeLog",
    "OperationDetails",
    "PastIds",
    "SplitPreview",
    "SuggestedRoots",
    "ids_from_json",
    "package_bounds",
]
