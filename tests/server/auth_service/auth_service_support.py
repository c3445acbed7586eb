"""Shared values for the middle_auth route tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

API = "/auth/api/v1"
TOKEN_PATTERN = re.compile(r"[0-9a-f]{32}")
TEXT_HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class Account:
    """A user created for one test, with its first API key."""

    id: int
    name: str
    email: str
    token: str


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def rfc822(timestamp: float) -> str:
    """How the server writes a stored epoch timestamp."""
    return format_datetime(datetime.fromtimestamp(timestamp, UTC), usegmt=True)
