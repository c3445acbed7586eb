"""API key routes: create, list, delete, ttl, refresh, logout."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from auth_service_support import TEXT_HTML, TOKEN_PATTERN, Account, bearer, rfc822

from dafserver.auth.store import AuthStore


def _cache_id(http: httpx.Client, token: str) -> int:
    response = http.get("/user/cache", headers=bearer(token))
    assert response.status_code == 200, response.text
    return int(response.json()["id"])


def test_create_token_adds_a_working_key_and_keeps_the_old_one(
    http: httpx.Client, store: AuthStore, make_account: Callable[..., Account]
) -> None:
    user = make_account()
    response = http.get("/create_token", headers=bearer(user.token))
    assert response.status_code == 200
    new = response.json()
    assert TOKEN_PATTERN.fullmatch(new)
    assert new != user.token
    assert store.token_owner(new) == user.id
    assert _cache_id(http, new) == user.id
    assert _cache_id(http, user.token) == user.id


def test_post_user_token_stores_the_description(
    http: httpx.Client, store: AuthStore, make_account: Callable[..., Account]
) -> None:
    user = make_account()
    label = f"key for {user.name}"
    response = http.post("/user/token", headers=bearer(user.token), json={"description": label})
    assert response.status_code == 200
    new = response.json()
    assert TOKEN_PATTERN.fullmatch(new)
    stored = {k["key"]: k["description"] for k in store.list_tokens(user.id)}
    assert stored == {user.token: None, new: label}


def test_post_user_token_ignores_a_body_that_is_not_json(
    http: httpx.Client, store: AuthStore, make_account: Callable[..., Account]
) -> None:
    user = make_account()
    response = http.post(
        "/user/token",
        headers={**bearer(user.token), "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert response.status_code == 200
    assert store.token_owner(response.json()) == user.id


def test_post_user_token_rejects_json_of_the_wrong_shape(
    http: httpx.Client, store: AuthStore, make_account: Callable[..., Account]
) -> None:
    user = make_account()
    for body in ([1, 2], {"description": 5}, "text"):
        response = http.post("/user/token", headers=bearer(user.token), json=body)
        assert response.status_code == 400, body
        assert response.json()["error"] == "bad_request"
    assert [k["key"] for k in store.list_tokens(user.id)] == [user.token]


def test_list_tokens_newest_first_with_store_values(
    http: httpx.Client, store: AuthStore, make_account: Callable[..., Account]
) -> None:
    user = make_account()
    unused = store.create_token(user.id, description="unused")
    http.get("/user/cache", headers=bearer(user.token))  # marks the first key as used
    response = http.get("/user/token", headers=bearer(user.token))
    assert response.status_code == 200
    listed = response.json()
    stored = {k["id"]: k for k in store.list_tokens(user.id)}
    assert [k["id"] for k in listed] == sorted(stored, reverse=True)
    assert [k["token"] for k in listed] == [unused, user.token]
    for item in listed:
        row = stored[item["id"]]
        assert item["user_id"] == user.id
        assert item["token"] == row["key"]
        assert item["description"] == row["description"]
        assert item["created"] == rfc822(row["created"])
        assert item["updated"] == rfc822(row["updated"])
    by_token = {k["token"]: k for k in listed}
    assert by_token[unused]["last_used"] is None
    assert by_token[user.token]["last_used"] is not None


def test_delete_token_stops_it_at_once(
    http: httpx.Client, store: AuthStore, make_account: Callable[..., Account]
) -> None:
    user = make_account()
    spare = store.create_token(user.id)
    spare_id = next(k["id"] for k in store.list_tokens(user.id) if k["key"] == spare)
    response = http.delete(f"/user/token/{spare_id}", headers=bearer(user.token))
    assert response.status_code == 200
    assert response.json() == "success"
    assert store.token_owner(spare) is None
    refused = http.get("/user/cache", headers=bearer(spare))
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
    again = http.delete(f"/user/token/{spare_id}", headers=bearer(user.token))
    assert again.status_code == 404
    assert again.text == "Token doesn't exist"
    assert again.headers["content-type"] == TEXT_HTML


def test_delete_token_of_another_user_is_not_found(
    http: httpx.Client, store: AuthStore, make_account: Callable[..., Account]
) -> None:
    owner, other = make_account(), make_account()
    owner_key_id = store.list_tokens(owner.id)[0]["id"]
    response = http.delete(f"/user/token/{owner_key_id}", headers=bearer(other.token))
    assert response.status_code == 404
    assert response.text == "Token doesn't exist"
    assert _cache_id(http, owner.token) == owner.id


def test_delete_token_with_malformed_or_huge_id(
    http: httpx.Client, make_account: Callable[..., Account]
) -> None:
    user = make_account()
    malformed = http.delete("/user/token/abc", headers=bearer(user.token))
    assert malformed.status_code == 404
    assert "<title>404 Not Found</title>" in malformed.text
    huge = http.delete(f"/user/token/{2**70}", headers=bearer(user.token))
    assert huge.status_code == 404
    assert huge.text == "Token doesn't exist"


def test_token_ttl(http: httpx.Client, make_account: Callable[..., Account]) -> None:
    user, other = make_account(), make_account()
    own = http.get(f"/user/token/{user.token}/ttl", headers=bearer(user.token))
    assert own.status_code == 200
    assert own.json() == -1
    for key in (other.token, "0" * 32):
        response = http.get(f"/user/token/{key}/ttl", headers=bearer(user.token))
        assert response.status_code == 404
        assert response.json() == {
            "error": "invalid_token",
            "message": "Token does not exist or is not asociated with your account.",
        }


def test_refresh_token_replaces_a_single_key(
    http: httpx.Client, store: AuthStore, make_account: Callable[..., Account]
) -> None:
    user = make_account()
    response = http.get("/refresh_token", headers=bearer(user.token))
    assert response.status_code == 200
    new = response.json()
    assert TOKEN_PATTERN.fullmatch(new)
    assert [k["key"] for k in store.list_tokens(user.id)] == [new]
    assert http.get("/user/cache", headers=bearer(user.token)).status_code == 401
    assert _cache_id(http, new) == user.id


def test_refresh_token_refuses_several_keys(
    http: httpx.Client, store: AuthStore, make_account: Callable[..., Account]
) -> None:
    user = make_account()
    second = store.create_token(user.id)
    response = http.get("/refresh_token", headers=bearer(user.token))
    assert response.status_code == 400
    assert response.text == "Refresh token does not work for accounts with more than one API Key"
    assert response.headers["content-type"] == TEXT_HTML
    assert {k["key"] for k in store.list_tokens(user.id)} == {user.token, second}


def test_logout_refuses_an_api_key(
    http: httpx.Client, store: AuthStore, make_account: Callable[..., Account]
) -> None:
    user = make_account()
    response = http.get("/logout", headers=bearer(user.token))
    assert response.status_code == 422
    assert response.text == "Can't logout an API Key."
    assert store.token_owner(user.token) == user.id
