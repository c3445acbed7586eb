"""User records, the permission object, user look-ups and group members."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import httpx
from auth_service_support import TEXT_HTML, Account, bearer, rfc822

from dafserver.auth.store import PERMISSION_LEVELS, AuthStore

PUBLIC_KEYS = {"id", "service_account", "name", "created", "pi", "affiliations"}
FULL_KEYS = PUBLIC_KEYS | {"gdpr_consent", "admin_datasets", "admin", "email"}


def _public_form(store: AuthStore, user_id: int) -> dict[str, Any]:
    record = store.user_record(user_id)
    assert record is not None
    return {
        "id": user_id,
        "service_account": record["parent_id"] is not None,
        "name": record["name"],
        "created": rfc822(record["created"]),
        "pi": record["pi"],
        "affiliations": [[]],
    }


def _assert_admin_only(response: httpx.Response) -> None:
    assert response.status_code == 403
    assert response.text == "Requires admin privilege."
    assert response.headers["content-type"] == TEXT_HTML


def test_user_me_is_the_full_record(
    http: httpx.Client, store: AuthStore, make_account: Callable[..., Account]
) -> None:
    user = make_account()
    response = http.get("/user/me", headers=bearer(user.token))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == FULL_KEYS
    assert {k: body[k] for k in PUBLIC_KEYS} == _public_form(store, user.id)
    assert body["email"] == user.email
    assert body["admin"] is False
    assert body["admin_datasets"] == []


def test_user_me_of_a_service_account_names_its_parent(
    http: httpx.Client,
    store: AuthStore,
    make_account: Callable[..., Account],
    make_service_account: Callable[[Account], Account],
) -> None:
    owner = make_account()
    service = make_service_account(owner)
    body = http.get("/user/me", headers=bearer(service.token)).json()
    assert body["service_account"] is True
    assert body["parent_id"] == owner.id
    assert body["parent"] == _public_form(store, owner.id)


def test_user_cache_reflects_grants(
    http: httpx.Client, store: AuthStore, make_account: Callable[..., Account]
) -> None:
    user = make_account()
    lab, readers = f"lab-{user.id}", f"readers-{user.id}"
    edited, viewed = f"edited-{user.id}", f"viewed-{user.id}"
    store.add_to_group(user.id, lab)
    store.add_to_group(user.id, readers)
    store.grant(lab, edited, ["edit", "view"])
    store.grant(readers, viewed, ["view"])
    store.grant(readers, edited, ["view"])
    response = http.get("/user/cache", headers=bearer(user.token))
    assert response.status_code == 200
    cache = response.json()
    expected_v2 = {edited: ["view", "edit"], viewed: ["view"]}
    assert cache == {
        "id": user.id,
        "parent_id": None,
        "service_account": False,
        "name": user.name,
        "email": user.email,
        "admin": False,
        "pi": "",
        "affiliations": [[]],
        "groups": sorted([lab, readers]),
        "permissions": {
            ds: max(PERMISSION_LEVELS[p] for p in ps) for ds, ps in expected_v2.items()
        },
        "permissions_v2": expected_v2,
        "permissions_v2_ignore_tos": expected_v2,
        "missing_tos": [],
        "datasets_admin": [],
        "groups_admin": [],
    }
    context = store.authenticate(user.token)
    assert context is not None
    assert {ds: sorted(ps) for ds, ps in cache["permissions_v2"].items()} == {
        ds: sorted(ps) for ds, ps in context.permissions.items()
    }


def test_user_cache_of_superadmin_and_service_account(
    http: httpx.Client,
    server_admin_token: str,
    make_account: Callable[..., Account],
    make_service_account: Callable[[Account], Account],
) -> None:
    admin_cache = http.get("/user/cache", headers=bearer(server_admin_token)).json()
    assert admin_cache["admin"] is True
    owner = make_account()
    service = make_service_account(owner)
    cache = http.get("/user/cache", headers=bearer(service.token)).json()
    assert (cache["id"], cache["parent_id"], cache["service_account"]) == (
        service.id,
        owner.id,
        True,
    )


def test_usernames(http: httpx.Client, make_account: Callable[..., Account]) -> None:
    first, second = make_account(), make_account()
    ids = f"{second.id},,{first.id},{2**80}"
    response = http.get("/username", params={"id": ids}, headers=bearer(first.token))
    assert response.status_code == 200
    assert response.json() == [
        {"id": first.id, "name": first.name},
        {"id": second.id, "name": second.name},
    ]
    empty = http.get("/username", headers=bearer(first.token))
    assert empty.json() == []
    bad = http.get("/username", params={"id": "1,x"}, headers=bearer(first.token))
    assert bad.status_code == 400
    assert set(bad.json()) == {"error", "message"}


def test_user_lookup_needs_an_admin_role(
    http: httpx.Client,
    make_account: Callable[..., Account],
    make_service_account: Callable[[Account], Account],
) -> None:
    user = make_account()
    for params in ({"id": str(user.id)}, {}):
        _assert_admin_only(http.get("/user", params=params, headers=bearer(user.token)))
    service = make_service_account(user)
    response = http.get("/user", params={"id": str(user.id)}, headers=bearer(service.token))
    assert response.status_code == 200
    [record] = response.json()
    assert set(record) == FULL_KEYS
    assert record["email"] == user.email


def test_user_lookup_filters(
    http: httpx.Client,
    store: AuthStore,
    server_admin_token: str,
    make_account: Callable[..., Account],
) -> None:
    first, second = make_account("filtered"), make_account("filtered")
    admin = bearer(server_admin_token)
    by_id = http.get("/user", params={"id": f"{second.id},x,{first.id}"}, headers=admin).json()
    assert [r["id"] for r in by_id] == [first.id, second.id]
    assert by_id[0] == {
        **_public_form(store, first.id),
        "gdpr_consent": False,
        "admin_datasets": [],
        "admin": False,
        "email": first.email,
    }
    by_email = http.get("/user", params={"email": first.email.upper()}, headers=admin).json()
    assert [r["id"] for r in by_email] == [first.id]
    by_name = http.get("/user", params={"name": second.name}, headers=admin).json()
    assert [r["id"] for r in by_name] == [second.id]
    bad_page = http.get("/user", params={"id": str(first.id), "page": "0"}, headers=admin)
    assert bad_page.status_code == 400
    assert bad_page.json()["error"] == "bad_request"


def test_user_listing_pages(
    http: httpx.Client,
    store: AuthStore,
    server_admin_token: str,
    make_account: Callable[..., Account],
    make_service_account: Callable[[Account], Account],
) -> None:
    owner = make_account()
    make_service_account(owner)
    make_account()
    humans = [r["id"] for r in store.human_users()]
    per_page = 2
    pages = math.ceil(len(humans) / per_page)
    admin = bearer(server_admin_token)
    seen: list[int] = []
    for page in range(1, pages + 1):
        params = {"page": str(page), "per_page": str(per_page)}
        body = http.get("/user", params=params, headers=admin).json()
        assert body["pages"] == pages
        seen.extend(r["id"] for r in body["items"])
    assert seen == humans
    default = http.get("/user", headers=admin).json()
    assert [r["id"] for r in default["items"]] == humans[:20]
    past = http.get("/user", params={"page": str(pages + 1)}, headers=admin)
    assert past.status_code == 404
    for bad in ({"page": "0"}, {"per_page": "-3"}):
        assert http.get("/user", params=bad, headers=admin).status_code == 404
    for bad in ({"page": "x"}, {"per_page": "1.5"}):
        response = http.get("/user", params=bad, headers=admin)
        assert response.status_code == 400
        assert response.json()["error"] == "bad_request"


def test_get_user_forms(
    http: httpx.Client,
    store: AuthStore,
    server_admin_token: str,
    make_account: Callable[..., Account],
) -> None:
    target, caller = make_account(), make_account()
    public = http.get(f"/user/{target.id}", headers=bearer(caller.token))
    assert public.status_code == 200
    assert public.json() == _public_form(store, target.id)
    full = http.get(f"/user/{target.id}", headers=bearer(server_admin_token)).json()
    assert set(full) == FULL_KEYS
    assert full["email"] == target.email


def test_get_user_not_found(
    http: httpx.Client,
    make_account: Callable[..., Account],
    make_service_account: Callable[[Account], Account],
) -> None:
    caller = make_account()
    service = make_service_account(caller)
    for user_id in (service.id, 2**70, 0):
        response = http.get(f"/user/{user_id}", headers=bearer(caller.token))
        assert response.status_code == 404, user_id
        assert response.text == "User doesn't exist"
    unrouted = http.get("/user/-1", headers=bearer(caller.token))
    assert unrouted.status_code == 404
    assert "<title>404 Not Found</title>" in unrouted.text


def test_user_permissions_match_their_cache(
    http: httpx.Client,
    store: AuthStore,
    server_admin_token: str,
    make_account: Callable[..., Account],
) -> None:
    target = make_account()
    group = f"perm-{target.id}"
    store.add_to_group(target.id, group)
    store.grant(group, f"ds-{target.id}", ["view"])
    own = http.get("/user/cache", headers=bearer(target.token)).json()
    response = http.get(f"/user/{target.id}/permissions", headers=bearer(server_admin_token))
    assert response.status_code == 200
    assert response.json() == own
    _assert_admin_only(http.get(f"/user/{target.id}/permissions", headers=bearer(target.token)))
    missing = http.get(f"/user/{2**40}/permissions", headers=bearer(server_admin_token))
    assert missing.status_code == 404
    assert missing.text == "User doesn't exist"


def test_group_users(
    http: httpx.Client,
    store: AuthStore,
    server_admin_token: str,
    make_account: Callable[..., Account],
    make_service_account: Callable[[Account], Account],
) -> None:
    first, second = make_account(), make_account()
    service = make_service_account(first)
    group = f"members-{first.id}"
    for member in (second, first, service):
        store.add_to_group(member.id, group)
    group_id = store.ensure_group(group)
    admin = bearer(server_admin_token)
    response = http.get(f"/group/{group_id}/user", headers=admin)
    assert response.status_code == 200
    assert response.json() == [
        {"id": first.id, "name": first.name, "admin": False},
        {"id": second.id, "name": second.name, "admin": False},
    ]
    assert http.get(f"/group/{2**70}/user", headers=admin).json() == []
    malformed = http.get("/group/abc/user", headers=admin)
    assert malformed.status_code == 400
    assert malformed.json()["error"] == "bad_request"
    _assert_admin_only(http.get(f"/group/{group_id}/user", headers=bearer(first.token)))
    by_service = http.get(f"/group/{group_id}/user", headers=bearer(service.token))
    assert by_service.status_code == 200
