"""Typed errors raised by the chunkedgraph engine.

The HTTP layer maps them to status codes: ``PreconditionError`` and ``PostconditionError`` to
400 (PyChunkedGraph answers 400 for both on the edit routes), ``NodeNotFound`` and
``OperationNotFound`` to 404 (PyChunkedGraph answers 500 there, see ARCHITECTURE.md on status
codes).
"""

from __future__ import annotations


class ChunkedGraphError(Exception):
    """Base class of every error raised by the engine."""


class PreconditionError(ChunkedGraphError):
    """The request cannot be applied to the graph as it is (illegal merge or split, bad input)."""


class PostconditionError(ChunkedGraphError):
    """The edit ran but produced no usable result (e.g. the min-cut removed no edge)."""


class NodeNotFound(ChunkedGraphError):
    """A node id does not exist in the graph (or not at the requested time)."""


class OperationNotFound(ChunkedGraphError):
    """An operation id does not exist in the operation log."""
