"""The one exception tree of dafclient.

Everything dafclient raises on purpose derives from :class:`DafError`:

- :class:`InputError` (also a ``ValueError``): the caller's input is wrong; nothing was sent.
- :class:`ConfigurationError`: the client cannot be set up as asked (no datastack, unknown API
  version, no token for an operation that needs one).
- :class:`DafTransportError`: no usable HTTP answer (:class:`ConnectionFailedError`,
  :class:`RequestTimeoutError`).
- :class:`DafHTTPError`: the server answered with an error status; one subclass per kind of failure.
  Each carries the method, the URL (with any token removed), the status and the server's message
  parsed from whichever error body the service uses.
- :class:`ResponseFormatError`: a success status with a body that cannot be what the route promises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TOKEN_PARAM = "middle_auth_token"


def redact_url(url: str) -> str:
    """``url`` with the value of any ``middle_auth_token`` query parameter replaced by ``***``."""
    parts = urlsplit(url)
    if TOKEN_PARAM not in parts.query:
        return url
    query = urlencode(
        [(k, "***" if k == TOKEN_PARAM else v) for k, v in parse_qsl(parts.query, True)]
    )
    return urlunsplit(parts._replace(query=query))


class DafError(Exception):
    """Base class of every error dafclient raises."""


class InputError(DafError, ValueError):
    """Invalid input, detected before anything was sent.

    ``problems`` lists what was wrong, each entry naming where (row, field) when that applies.
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        self.problems = tuple(problems)
        detail = "" if not self.problems else "\n  " + "\n  ".join(self.problems[:20])
        more = len(self.problems) - 20
        if more > 0:
            detail += f"\n  ... and {more} more"
        super().__init__(message + detail)


class ConfigurationError(DafError):
    """The client cannot do what was asked with the configuration it has."""


class DafTransportError(DafError):
    """The request got no usable HTTP answer.

    ``sent`` is False only when the request certainly never reached the server (the connection
    could not be made); otherwise a write may or may not have taken effect. ``attempts`` says
    what each try of the request came to (``"ReadTimeout: ... after 3.00 s"``, ``"HTTP 502 ..."``).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        sent: bool = True,
        attempts: tuple[str, ...] = (),
    ) -> None:
        self.method = method
        self.url = redact_url(url)
        self.sent = sent
        self.attempts = attempts
        super().__init__(f"{message} ({method} {self.url})")


class ConnectionFailedError(DafTransportError):
    """The connection could not be made, or broke before an answer arrived."""


class RequestTimeoutError(DafTransportError):
    """The server did not answer within the configured timeout."""


class ResponseFormatError(DafError):
    """A success response whose body is not what the route returns (e.g. truncated binary).

    ``reason`` says what was wrong; ``operation`` names the dafclient method that read it
    (``ChunkedGraphClient.get_root_id``), when known; the message names all of them with the
    method and URL.
    """

    def __init__(
        self, message: str, *, method: str, url: str, operation: str | None = None
    ) -> None:
        self.reason = message
        self.method = method
        self.url = redact_url(url)
        self.operation = operation
        super().__init__(f"{message} ({method} {self.url})")

    def __str__(self) -> str:
        where = f"{self.operation}: " if self.operation else ""
        return f"{where}{self.reason} ({self.method} {self.url})"


_REQUEST_ID_HEADERS = frozenset({"x-request-id", "x-amzn-requestid", "x-cloud-trace-context"})


class DafHTTPError(DafError):
    """The server answered with an error status.

    Attributes:
        method, url: the request (``url`` has any token removed).
        status: the HTTP status received.
        intended_status: the status the service meant, when it differs from ``status``
            (the AnnotationEngine sends every error as 500 with ``"400 Bad Request: ..."``).
        message: the server's explanation, parsed from its error body.
        error_code: the machine-readable code in middle_auth bodies (``missing_permission``...).
        data: extra structured data from the body (``tos_form_url``...), if any.
        body: the raw body text (truncated to 10 kB).
        headers: the response's headers.
        request_id: the server's id for the request (``X-Request-ID``), when it sent one.
    """

    def __init__(
        self,
        *,
        method: str,
        url: str,
        status: int,
        message: str,
        intended_status: int | None = None,
        error_code: str | None = None,
        data: Mapping[str, Any] | None = None,
        body: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.method = method
        self.url = redact_url(url)
        self.status = status
        self.headers: Mapping[str, str] = dict(headers or {})
        self.request_id = next(
            (v for k, v in self.headers.items() if k.lower() in _REQUEST_ID_HEADERS), None
        )
        self.intended_status = intended_status if intended_status is not None else status
        self.message = message
        self.error_code = error_code
        self.data: Mapping[str, Any] = data or {}
        self.body = body[:10_000]
        code = f" [{error_code}]" if error_code else ""
        super().__init__(f"{status}{code} from {method} {self.url}: {message}")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, method={self.method!r}, url={self.url!r})"
        )


class BadRequestError(DafHTTPError):
    """400: the request was malformed or refers to something invalid."""


class AuthenticationError(DafHTTPError):
    """401: no token, or the token is invalid or expired (or a table refused the caller)."""


class PermissionDeniedError(DafHTTPError):
    """403: the caller lacks a permission, or must accept terms of service first.

    ``tos_url`` is the page to accept the terms, when that is the reason; dafclient never opens it.
    """

    @property
    def tos_url(self) -> str | None:
        value = self.data.get("tos_form_url")
        return value if isinstance(value, str) else None


class NotFoundError(DafHTTPError):
    """404: no such route, table, node, state or annotation."""


class ConflictError(DafHTTPError):
    """409: the change conflicts with the current state (e.g. the annotation was superseded)."""


class PayloadTooLargeError(DafHTTPError):
    """413: too much in one request (e.g. more than 10,000 annotations in one POST)."""


class UnprocessableError(DafHTTPError):
    """422: the content was understood but is invalid (e.g. an annotation failing its schema)."""


class RateLimitedError(DafHTTPError):
    """429: too many requests; ``retry_after`` seconds if the server said."""

    retry_after: float | None = None


class ServerError(DafHTTPError):
    """5xx: the server failed."""


_BY_STATUS: dict[int, type[DafHTTPError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: BadRequestError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: UnprocessableError,
    429: RateLimitedError,
}

# "400 Bad Request: Table t already exists" (AnnotationEngine), "[400]: ..." (PyChunkedGraph).
_STATUS_PREFIX = re.compile(r"^\[?(?P<status>[1-5]\d\d)\]?(?: [A-Za-z' -]+)?: ")


def error_class(status: int) -> type[DafHTTPError]:
    """The exception class for an HTTP ``status``."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return BadRequestError


def _strip_html(text: str) -> str:
    title = re.search(r"<title>(.*?)</title>", text, re.S | re.I)
    paragraph = re.search(r"<p>(.*?)</p>", text, re.S | re.I)
    parts = [m.group(1).strip() for m in (title, paragraph) if m]
    return " - ".join(parts) if parts else re.sub(r"<[^>]+>", " ", text).strip()


def parse_error_body(
    body: Any, text: str
) -> tuple[str, str | None, Mapping[str, Any] | None, int | None]:
    """(message, error_code, data, intended_status) from any DAF service's error body.

    Understands the middle_auth ``{"error", "message", "data"}``, PyChunkedGraph and
    AnnotationEngine ``{"code", "message"}``, flask-restx ``{"message"[, "errors"]}``,
    flask-accepts ``{"schema_errors"}``, a bare JSON string, plain text and HTML pages.
    """
    message: str
    error_code: str | None = None
    data: Mapping[str, Any] | None = None
    if isinstance(body, dict):
        error_code = body.get("error") if isinstance(body.get("error"), str) else None
        data = body.get("data") if isinstance(body.get("data"), dict) else None
        if isinstance(body.get("message"), str):
            message = body["message"]
            if isinstance(body.get("errors"), dict):
                message += ": " + "; ".join(f"{k}: {v}" for k, v in body["errors"].items())
        elif "schema_errors" in body:
            message = f"invalid request body: {body['schema_errors']}"
        else:
            message = text.strip()[:2000]
    elif isinstance(body, str):
        message = body
    else:
        message = _strip_html(text) if "<" in text else text.strip()
    intended: int | None = None
    match = _STATUS_PREFIX.match(message)
    if match:
        intended = int(match.group("status"))
    return message or "(empty body)", error_code, data, intended


_RENAMED = {"HTTPError": "DafHTTPError", "TransportError": "DafTransportError"}


def __getattr__(name: str) -> Any:
    """The old names of :class:`DafHTTPError` and :class:`DafTransportError` (renamed so they
    cannot be confused with httpx's exceptions of those names), with a deprecation warning."""
    if name in _RENAMED:
        import warnings

        new = _RENAMED[name]
        warnings.warn(f"dafclient.errors.{name} is now {new}", DeprecationWarning, stacklevel=2)
        return globals()[new]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
