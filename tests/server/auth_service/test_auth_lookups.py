"""Service-table → dataset mapping and the public-root helpers."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from auth_service_support import TEXT_HTML, Account, bearer

from dafserver.auth.store import AuthStore

UINT64_MAX = 2**64 - 1


def test_dataset_for_service_table(
    http: httpx.Client, store: AuthStore, make_account: Callable[..., Account]
) -> None:
    user = make_account()
    dataset, table = f"dataset-{user.id}", f"stack-{user.id}"
    store.map_table("datastack", table, dataset)
    response = http.get(f"/service/datastack/table/{table}/dataset", headers=bearer(user.token))
    assert response.status_code == 200
    assert response.json() == store.dataset_for("datastack", table) == dataset
    for service, name in (("aligned_volume", table), ("datastack", f"{table}-other")):
        missing = http.get(f"/service/{service}/table/{name}/dataset", headers=bearer(user.token))
        assert missing.status_code == 404
        assert missing.text == "No dataset for given service and table names"
        assert missing.headers["content-type"] == TEXT_HTML


def test_no_root_is_public(http: httpx.Client, make_account: Callable[..., Account]) -> None:
    user = make_account()
    auth = bearer(user.token)
    has_public = http.get("/table/pcg_table/has_public", headers=auth)
    assert (has_public.status_code, has_public.json()) == (200, False)
    for root in (0, 864691135000000001, UINT64_MAX):
        response = http.get(f"/table/pcg_table/root/{root}/is_public", headers=auth)
        assert (response.status_code, response.json()) == (200, False)
    for bad_root in ("-1", "abc", str(UINT64_MAX + 1), "1" * 5000):
        response = http.get(f"/table/pcg_table/root/{bad_root}/is_public", headers=auth)
        assert response.status_code == 400, bad_root
        assert response.json()["error"] == "bad_request"


def test_root_all_public_validates_the_body(
    http: httpx.Client, make_account: Callable[..., Account]
) -> None:
    user = make_account()
    auth = bearer(user.token)
    path = "/table/pcg_table/root_all_public"
    valid = http.post(path, json=[864691135000000001, 864691135000000002], headers=auth)
    assert (valid.status_code, valid.json()) == (200, False)
    integral_float = http.post(
        path, content=b"[2.0]", headers={**auth, "Content-Type": "application/json"}
    )
    assert (integral_float.status_code, integral_float.json()) == (200, False)
    for content in (b"", b"not json", b"[]", b"{}", b"5", b"null"):
        response = http.post(
            path, content=content, headers={**auth, "Content-Type": "application/json"}
        )
        assert response.status_code == 400, content
        assert response.json() == {"error": "missing_root_ids"}
    for body in (["1"], [-1], [UINT64_MAX + 1], [True], [1.5]):
        response = http.post(path, json=body, headers=auth)
        assert response.status_code == 400, body
        assert response.json()["error"] == "invalid_root_ids"
