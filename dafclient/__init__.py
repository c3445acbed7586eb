"""dafclient: a typed Python client for the Dynamic Annotation Framework (CAVE) services."""

from __future__ import annotations

__version__ = "0.1.0"

from dafclient.compat import CAVEclient
from dafclient.framework import AsyncFrameworkClient, FrameworkClient

__all__ = ["AsyncFrameworkClient", "CAVEclient", "FrameworkClient", "__version__"]
