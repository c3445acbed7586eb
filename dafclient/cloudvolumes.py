"""cloud-volume objects for a datastack's sources, with the token only where it belongs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from dafclient._context import ClientContext
from dafclient.errors import ConfigurationError
from dafclient.format_utils import split_source


def cloudvolume_kwargs(source: str, context: ClientContext, **kwargs: Any) -> dict[str, Any]:
    """Arguments for ``CloudVolume(source, ...)``.

    A ``graphene://`` source on one of this client's DAF servers gets the token as its secret (and
    plain http on loopback); any other source (cloud buckets, files) gets no token.
    """
    layer, location = split_source(source)
    options: dict[str, Any] = {"progress": False, **kwargs}
    if layer == "graphene":
        url = location.removeprefix("middleauth+")
        if url in context.trusted and context.auth.token:
            options.setdefault("secrets", {"token": context.auth.token})
        if urlsplit(url).scheme == "http":
            options.setdefault("use_https", False)
    return options


def make_cloudvolume(source: str, context: ClientContext, **kwargs: Any) -> Any:
    """``cloudvolume.CloudVolume`` for ``source`` (needs the ``cloudvolume`` extra)."""
    try:
        from cloudvolume import CloudVolume
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError(
            "cloud-volume is not installed: pip install 'dafclient[cloudvolume]'"
        ) from exc
    return CloudVolume(source, **cloudvolume_kwargs(source, context, **kwargs))
