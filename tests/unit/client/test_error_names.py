"""dafclient's exceptions cannot be mistaken for httpx's, and keep what the response said."""

from __future__ import annotations

import httpx
import pytest

import dafclient.errors as errors
from dafclient import FrameworkClient
from dafclient.errors import DafError, DafHTTPError, DafTransportError, NotFoundError


def test_no_public_name_is_shared_with_httpx() -> None:
    ours = {name for name in vars(errors) if isinstance(getattr(errors, name), type)}
    assert ours & set(dir(httpx)) == set()
    assert issubclass(DafHTTPError, DafError) and issubclass(DafTransportError, DafError)


@pytest.mark.parametrize(
    ("old", "new"), [("HTTPError", DafHTTPError), ("TransportError", DafTransportError)]
)
def test_the_old_names_still_work_with_a_warning(old: str, new: type[DafError]) -> None:
    with pytest.warns(DeprecationWarning, match=new.__name__):
        assert getattr(errors, old) is new


def test_an_error_status_keeps_status_headers_and_request_id() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            404,
            json={"message": "no such type"},
            headers={"X-Request-ID": "req-123", "X-Other": "kept"},
        )

    with (
        FrameworkClient(
            server_address="https://daf.test",
            auth_token="t",
            transport=httpx.MockTransport(respond),
            api_versions={"schema": 2},
        ) as client,
        pytest.raises(NotFoundError) as caught,
    ):
        client.schema.schema_definition("nothing")
    error = caught.value
    assert error.status == 404
    assert error.request_id == "req-123"
    assert error.headers["x-other"] == "kept"
    assert "no such type" in str(error)
