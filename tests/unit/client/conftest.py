"""Plans stepped by hand: a framework client that never sends (its sub-clients' plans are driven
by the tests), the response to a plan's request, and the plan's result."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dafclient import FrameworkClient
from dafclient._plan import Call, Plan

SERVER = "https://daf.test"
DATASTACK = "ds"


@pytest.fixture
def framework() -> Iterator[FrameworkClient]:
    """Every service's API version given, so no plan asks the server for one first."""
    with FrameworkClient(
        DATASTACK,
        server_address=SERVER,
        auth_token="t",
        api_versions={"materialize": 3, "chunkedgraph": 1, "annotation": 2, "l2cache": 1},
    ) as client:
        yield client


def answer(call: Call, status: int = 200, **content: Any) -> httpx.Response:
    """The response to ``call`` (``json=``, ``content=`` as for httpx.Response)."""
    return httpx.Response(status, request=httpx.Request(**call.request_kwargs()), **content)


def finish(plan: Plan[Any], response: httpx.Response) -> Any:
    """Send the last response; the plan must then return its result."""
    with pytest.raises(StopIteration) as done:
        plan.send(response)
    return done.value.value
