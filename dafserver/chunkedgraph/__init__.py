"""Local reference PyChunkedGraph: a versioned supervoxel hierarchy with PCG's ids and history."""

from dafserver.chunkedgraph.errors import (
    ChunkedGraphError,
    NodeNotFound,
    OperationNotFound,
    PostconditionError,
    PreconditionError,
)
from dafserver.chunkedgraph.graph import ChunkedGraph, EditResult, SplitPreview
from dafserver.chunkedgraph.ids import IdLayout, compute_bitmasks
from dafserver.chunkedgraph.meta import GraphMeta
from dafserver.chunkedgraph.store import CHUNKEDGRAPH_METADATA, GraphStore

__all__ = [
    "CHUNKEDGRAPH_METADATA",
    "ChunkedGraph",
    "ChunkedGraphError",
    "EditResult",
    "GraphMeta",
    "GraphStore",
    "IdLayout",
    "NodeNotFound",
    "OperationNotFound",
    "PostconditionError",
    "PreconditionError",
    "SplitPreview",
    "compute_bitmasks",
]
