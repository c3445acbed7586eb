"""Client settings: servers, timeouts, retries; defaults can come from the environment."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dafclient.errors import ConfigurationError

DEFAULT_SERVER_ADDRESS = "https://global.daf-apis.com"
ENV_SERVER_ADDRESS = "DAF_SERVER_ADDRESS"
ENV_AUTH_TOKEN = "DAF_AUTH_TOKEN"
ENV_TOKEN_FILE = "DAF_AUTH_TOKEN_FILE"


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait. Never unbounded.

    ``connect``, ``read``, ``write`` and ``pool`` bound each attempt (``read`` is the longest
    silence while an answer is awaited). ``total`` bounds a call with all its retries and the waits
    between them: each attempt's timeouts are cut to what is left, and a call that cannot get an
    answer in time raises :class:`~dafclient.errors.RequestTimeoutError` naming every attempt. A
    method that sends many requests (batches) gets ``total`` again after each answer, so a long
    job that makes progress is not cut. ``None``: no overall limit (each attempt is still bounded).
    """

    connect: float = 10.0
    read: float = 120.0
    write: float = 120.0
    pool: float = 30.0
    total: float | None = 600.0


@dataclass(frozen=True)
class RetrySettings:
    """Retries of idempotent requests on connection failures, broken or truncated answers, read
    timeouts and 429/502/503/504 (at most ``max_retries`` after the first attempt, within
    ``Timeouts.total``).

    Waits grow exponentially from ``backoff`` seconds with full jitter, capped at ``backoff_max``;
    a ``Retry-After`` header from the server is honoured up to ``retry_after_max`` seconds.
    A request that is not idempotent (an edit, an annotation write) is retried only when the
    connection failed before anything was sent.
    """

    max_retries: int = 4
    backoff: float = 0.25
    backoff_max: float = 10.0
    retry_after_max: float = 60.0
    statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 502, 503, 504}))


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses."""
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalize_server(address: str, *, allow_insecure_http: bool = False) -> str:
    """``address`` as ``scheme://host[:port]`` without a trailing slash, checked.

    Plain ``http://`` is refused for anything but loopback unless ``allow_insecure_http`` is set:
    the token would travel in clear text.
    """
    parts = urlsplit(address.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigurationError(f"server address must be an http(s) URL, got {address!r}")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"refusing plain http to {parts.hostname}: the token would be sent unencrypted; "
            "use https, or pass allow_insecure_http=True if you really mean it"
        )
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}"


def default_server_address() -> str:
    """The global server: ``$DAF_SERVER_ADDRESS`` or the public DAF global server."""
    return os.environ.get(ENV_SERVER_ADDRESS) or DEFAULT_SERVER_ADDRESS
