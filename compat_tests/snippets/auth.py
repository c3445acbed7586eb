"""client.auth: the token, and the auth service's look-ups."""

from __future__ import annotations

import json
from typing import Any

from . import Fixtures, snippet


@snippet("auth.token", "auth.request_header")
def token_and_header(client: Any, fx: Fixtures) -> Any:
    return {
        "token_is_ours": client.auth.token == fx.token,
        "header": client.auth.request_header == {"Authorization": f"Bearer {fx.token}"},
    }


@snippet("auth.get_user_information")
def user_names(client: Any, fx: Fixtures) -> Any:
    # dafclient reads the public names (any token may); CAVEclient the admin-only user records,
    # which hold more keys: compare the id and name both give.
    return sorted((u["id"], u["name"]) for u in client.auth.get_user_information([1, 2]))


@snippet("auth.get_tokens")
def my_tokens(client: Any, fx: Fixtures) -> Any:
    tokens = client.auth.get_tokens()
    return sorted([(t["id"], t["user_id"]) for t in tokens])


@snippet("auth.get_group_users")
def group_members(client: Any, fx: Fixtures) -> Any:
    return sorted(client.auth.get_group_users(1), key=lambda m: m["id"])


@snippet("auth.get_token_page")
def token_page(client: Any, fx: Fixtures) -> Any:
    return client.auth.get_token_page(open=False).removeprefix(fx.server)


@snippet("auth.save_token", "auth.get_token")
def save_and_read_token(client: Any, fx: Fixtures) -> Any:
    path = fx.tmp / "secret.json"
    client.auth.save_token(token="a-new-token", token_key="other", token_file=str(path))
    saved = json.loads(path.read_text())
    switched = client.auth.token
    client.auth.get_token(token_key="missing")  # loads that key's token (none) into the client
    unset = client.auth.token
    client.auth.get_token(token_key="other")
    return {"file": saved, "switched": switched, "unset": unset, "reloaded": client.auth.token}
