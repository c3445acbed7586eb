"""Where the token is read from (header > query > cookie) and the auth error bodies."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from auth_service_support import Account, bearer

QUERY = "middle_auth_token"


def _cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{QUERY}={token}"}


def _whoami(
    http: httpx.Client,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    return http.get("/user/cache", headers=headers, params=params)


def test_each_transport_alone_authenticates(
    http: httpx.Client, make_account: Callable[..., Account]
) -> None:
    user = make_account()
    for headers, params in (
        (bearer(user.token), None),
        (None, {QUERY: user.token}),
        (_cookie(user.token), None),
    ):
        response = _whoami(http, headers, params)
        assert response.status_code == 200, (headers, params)
        assert response.json()["id"] == user.id


def test_header_beats_query_beats_cookie(
    http: httpx.Client, make_account: Callable[..., Account]
) -> None:
    header_user, query_user, cookie_user = make_account(), make_account(), make_account()
    all_three = _whoami(
        http,
        headers={**bearer(header_user.token), **_cookie(cookie_user.token)},
        params={QUERY: query_user.token},
    )
    assert all_three.json()["id"] == header_user.id
    query_and_cookie = _whoami(
        http, headers=_cookie(cookie_user.token), params={QUERY: query_user.token}
    )
    assert query_and_cookie.json()["id"] == query_user.id


def test_invalid_higher_priority_token_wins_over_a_valid_one(
    http: httpx.Client, make_account: Callable[..., Account]
) -> None:
    user = make_account()
    bad = "f" * 32
    cases = (
        (bearer(bad), {QUERY: user.token}),
        (_cookie(user.token), {QUERY: bad}),
        ({**bearer(bad), **_cookie(user.token)}, None),
    )
    for headers, params in cases:
        response = _whoami(http, headers, params)
        assert response.status_code == 401, (headers, params)
        assert response.json() == {
            "error": "invalid_token",
            "message": "Unauthorized - Token is Invalid or Expired",
        }
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_malformed_header_is_refused_even_with_a_valid_query_token(
    http: httpx.Client, make_account: Callable[..., Account]
) -> None:
    user = make_account()
    response = _whoami(
        http, headers={"Authorization": f"Token {user.token}"}, params={QUERY: user.token}
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "bad_auth_header",
        "message": "Authorization header must begin with 'Bearer'",
    }
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer realm=")
    assert 'error="invalid_request"' in challenge


def test_missing_token(http: httpx.Client) -> None:
    for path in ("/user/cache", "/create_token", "/user/token", "/table/t/has_public"):
        response = http.get(path)
        assert response.status_code == 401, path
        assert response.json() == {
            "error": "no_token",
            "message": "Unauthorized - No Token Provided",
        }
        assert response.headers["www-authenticate"].startswith("Bearer realm=")
