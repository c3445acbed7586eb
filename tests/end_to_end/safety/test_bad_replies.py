"""Malformed server replies end in the exact documented error class, with the server's words."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safety_support import Handler, Intercepting, MakeClient

from dafclient import FrameworkClient
from dafclient.errors import (
    DafHTTPError,
    NotFoundError,
    ResponseFormatError,
    ServerError,
    UnprocessableError,
)

FIXTURES = [HealthCheck.function_scoped_fixture]
LEAVES = "/leaves"
ROOTS = "/roots_binary"


@pytest.fixture
def faulty(make_client: MakeClient) -> Iterator[Any]:
    """A client whose requests to one route are answered by a handler; the rest is real."""
    made: list[Intercepting] = []

    def make(marker: str, handler: Handler) -> FrameworkClient:
        intercepting = Intercepting(marker, handler)
        made.append(intercepting)
        return make_client(intercepting.transport)

    yield make
    for intercepting in made:
        intercepting.close()


def reply(status: int, content: bytes, content_type: str = "application/json") -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers={"Content-Type": content_type})

    return handle


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"<html><body>oops</body></html>", b"\xff\xfe\x00", b"nul"],
    ids=["empty", "truncated", "html", "binary", "bare word"],
)
def test_a_success_that_is_not_json_is_a_format_error(faulty: Any, content: bytes) -> None:
    client = faulty(LEAVES, reply(200, content))
    with pytest.raises(ResponseFormatError) as caught:
        client.chunkedgraph.get_leaves(1)
    assert "expected JSON" in str(caught.value) and LEAVES in caught.value.url


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
leaf_shapes = st.one_of(
    json_values,
    st.fixed_dictionaries({"leaf_ids": json_values}),
    st.fixed_dictionaries({"leaf_ids": st.lists(json_values, max_size=3)}),
)


def _leaf_ids(body: Any) -> list[int] | None:
    """The ids ``body`` carries if it is a well-formed leaves answer."""
    if not isinstance(body, dict):
        return None
    if "leaf_ids" not in body:  # required by the spec: the reply is read as its declared model
        return None
    ids = body["leaf_ids"]
    if not isinstance(ids, list):
        return None
    if not all(
        (isinstance(i, int) and not isinstance(i, bool) and 0 <= i < 2**64)
        or (isinstance(i, str) and i.isascii() and i.isdigit() and int(i) < 2**64)
        for i in ids
    ):
        return None
    return [int(i) for i in ids]


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(leaf_shapes)
def test_json_of_the_wrong_shape_is_a_format_error(faulty: Any, body: Any) -> None:
    client = faulty(LEAVES, reply(200, json.dumps(body).encode()))
    expected = _leaf_ids(body)
    if expected is None:
        with pytest.raises(ResponseFormatError) as caught:
            client.chunkedgraph.get_leaves(1)
        assert LEAVES in caught.value.url
    else:
        assert client.chunkedgraph.get_leaves(1).tolist() == expected


@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURES)
@given(st.binary(max_size=40), st.integers(min_value=1, max_value=4))
def test_a_binary_roots_body_must_be_one_uint64_per_id(
    faulty: Any, content: bytes, count: int
) -> None:
    client = faulty(ROOTS, reply(200, content, "application/octet-stream"))
    ids = list(range(1, count + 1))
    if len(content) == 8 * count:
        assert (
            client.chunkedgraph.get_roots(ids).tolist()
            == np.frombuffer(content, dtype="<u8").tolist()
        )
    else:
        with pytest.raises(ResponseFormatError) as caught:
            client.chunkedgraph.get_roots(ids)
        message = str(caught.value)
        assert ("not a multiple of 8" in message) if len(content) % 8 else ("roots" in message)


PAGE = (
    "<!doctype html><html><head><title>{status} Bad Gateway</title></head>"
    "<body><h1>Bad Gateway</h1><p>The upstream server {word}.</p></body></html>"
)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_an_html_error_page_is_a_server_error_with_its_text(faulty: Any, status: int) -> None:
    page = PAGE.format(status=status, word=f"fell over ({status})")
    client = faulty(LEAVES, reply(status, page.encode(), "text/html"))
    with pytest.raises(ServerError) as caught:
        client.chunkedgraph.get_leaves(1)
    assert caught.value.status == status
    assert f"fell over ({status})" in caught.value.message
    assert f"{status} Bad Gateway" in caught.value.message


@pytest.mark.parametrize(
    "status, cls", [(500, ServerError), (502, ServerError), (404, NotFoundError)]
)
def test_an_empty_error_body_keeps_the_status_class(
    faulty: Any, status: int, cls: type[DafHTTPError]
) -> None:
    client = faulty(LEAVES, reply(status, b""))
    with pytest.raises(cls) as caught:
        client.chunkedgraph.get_leaves(1)
    assert type(caught.value) is cls
    assert caught.value.message == "(empty body)"


@pytest.mark.parametrize(
    "body, cls, words",
    [
        ({"code": 500, "message": "[404]: Unknown node 1"}, NotFoundError, "Unknown node 1"),
        ({"message": "422 Unprocessable Entity: bad row"}, UnprocessableError, "bad row"),
        ({"message": "disk on fire"}, ServerError, "disk on fire"),
        ("plain text explanation", ServerError, "plain text explanation"),
    ],
)
def test_a_500_error_body_decides_the_class_and_message(
    faulty: Any, body: Any, cls: type[DafHTTPError], words: str
) -> None:
    content = json.dumps(body).encode() if not isinstance(body, str) else body.encode()
    client = faulty(LEAVES, reply(500, content, "text/plain"))
    with pytest.raises(cls) as caught:
        client.chunkedgraph.get_leaves(1)
    assert type(caught.value) is cls
    assert caught.value.status == 500
    assert words in caught.value.message


@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURES)
@given(st.sampled_from([400, 404, 409, 413, 422, 500, 502, 503]), st.binary(max_size=60))
def test_any_error_body_gives_an_http_error(faulty: Any, status: int, content: bytes) -> None:
    client = faulty(LEAVES, reply(status, content, "text/plain"))
    with pytest.raises(DafHTTPError) as caught:
        client.chunkedgraph.get_leaves(1)
    assert caught.value.status == status
    assert caught.value.message
