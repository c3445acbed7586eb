"""The clients under test, made the same way in every workload."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from bench_target import Target


def daf_client(target: Target, stack: ExitStack) -> Any:
    """A dafclient FrameworkClient for the target's datastack, closed with ``stack``."""
    from dafclient import FrameworkClient

    return stack.enter_context(
        FrameworkClient(target.datastack, server_address=target.base_url, auth_token=target.token)
    )


def cave_client(target: Target) -> Any:
    """A CAVEclient for the target's datastack (caller checks it is installed)."""
    from caveclient import CAVEclient

    return CAVEclient(
        target.datastack,
        server_address=target.base_url,
        auth_token=target.token,
        write_server_cache=False,
    )
