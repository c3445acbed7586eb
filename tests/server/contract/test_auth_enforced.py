"""Every authenticated operation of every spec refuses a missing or invalid token as documented."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import yaml
from contract_support import TARGETS, ContractServer

from dafserver.seed import ALIGNED_VOLUME, DATASTACK

HTTP_METHODS = ("get", "put", "post", "delete", "patch")
PATH_VALUES = {
    "aligned_volume_name": ALIGNED_VOLUME,
    "datastack_name": DATASTACK,
    "table_id": "synthetic_tiny",
}
INVALID_TOKEN = "0123456789abcdef0123456789abcdef"


def _authenticated_operations() -> list[tuple[str, str, str, dict[str, Any]]]:
    found = []
    for target in TARGETS:
        spec = yaml.safe_load(target.spec.read_text(encoding="utf-8"))
        default_security = spec.get("security", [])
        for path, item in spec["paths"].items():
            for method in HTTP_METHODS:
                operation = item.get(method)
                if operation is None or not operation.get("security", default_security):
                    continue
                found.append((target.spec.parent.name, method.upper(), path, operation))
    return found


OPERATIONS = [
    pytest.param(*entry, id=f"{entry[0]}:{entry[1]} {entry[2]}")
    for entry in _authenticated_operations()
]


def _url(base: str, path: str) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + "1" + path[end + 1 :]
    return base + path


def _check_401(service: str, response: httpx.Response, expected_error: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="')
    if service == "state":  # middle-auth-client 3.6: plain text
        assert response.headers["content-type"].startswith("text/html")
        assert response.text == (
            "Unauthorized" if expected_error == "no_token" else "Invalid/Expired Token"
        )
    else:
        assert response.json()["error"] == expected_error


@pytest.mark.parametrize(
    ("service", "method", "path", "operation"),
    OPERATIONS,
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_missing_and_invalid_tokens_get_the_documented_401(
    contract_server: ContractServer, service: str, method: str, path: str, operation: dict[str, Any]
) -> None:
    assert "401" in operation["responses"], f"{method} {path} does not document its 401"
    url = _url(contract_server.server.base_url, path)
    with httpx.Client(timeout=30) as http:
        _check_401(
            service, http.request(method, url, headers={"X-Requested-With": "test"}), "no_token"
        )
        bad = {"Authorization": f"Bearer {INVALID_TOKEN}"}
        _check_401(service, http.request(method, url, headers=bad), "invalid_token")
        cookie = http.request(method, url, headers={"Cookie": f"middle_auth_token={INVALID_TOKEN}"})
        _check_401(service, cookie, "invalid_token")
