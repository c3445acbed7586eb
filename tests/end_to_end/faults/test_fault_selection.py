"""Which requests fail: determinism under a seed, the rate, route and method filters, phases."""

from __future__ import annotations

import json

import httpx
import pytest
from typer.testing import CliRunner

import dafserver.runner
from dafclient.cli import app as cli_app
from dafserver.faults import FaultConfig, config_from_env, decide, parse_fields, parse_spec
from dafserver.services.state_store import DocumentKind
from tests.end_to_end.faults.conftest import Serve

STATUS_KINDS = ("502", "503", "504", "429")
PATHS = ("/info/api/v2/datastacks", "/schema/api/v2/type", "/info/api/versions")


def _run(base_url: str, token: str, rounds: int) -> list[tuple[str, int]]:
    """GET every path ``rounds`` times, in a fixed order; (path, status) per request."""
    seen: list[tuple[str, int]] = []
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as http:
        for _ in range(rounds):
            for path in PATHS:
                seen.append((path, http.get(path).status_code))
    return seen


def _predicted(config: FaultConfig, rounds: int) -> list[int | None]:
    """The fault status ``decide`` gives each request of :func:`_run` (None: no fault)."""
    out: list[int | None] = []
    for n in range(rounds):
        for path in PATHS:
            fault = decide(config, "GET", path, n)
            out.append(None if fault is None else int(fault.kind))
    return out


def test_same_seed_same_outcomes_and_they_follow_decide(serve: Serve) -> None:
    config = FaultConfig(rate=0.4, seed=11, kinds=STATUS_KINDS)
    runs = []
    for _ in range(2):
        with serve(config) as server:
            runs.append(_run(server.base_url, server.admin_token, rounds=10))
    assert runs[0] == runs[1]
    predicted = _predicted(config, rounds=10)
    assert any(p is not None for p in predicted) and any(p is None for p in predicted)
    for (_, status), fault in zip(runs[0], predicted, strict=True):
        assert status == fault if fault is not None else status < 400


def test_different_seed_different_outcomes(serve: Serve) -> None:
    outcomes = []
    for seed in (1, 2):
        with serve(FaultConfig(rate=0.4, seed=seed, kinds=STATUS_KINDS)) as server:
            outcomes.append(_run(server.base_url, server.admin_token, rounds=10))
    assert outcomes[0] != outcomes[1]


def test_rate_zero_injects_nothing(serve: Serve) -> None:
    with serve(FaultConfig(rate=0.0, seed=3)) as server:
        seen = _run(server.base_url, server.admin_token, rounds=10)
    assert all(status < 400 for _, status in seen)


def test_route_and_method_filters(serve: Serve) -> None:
    config = FaultConfig(rate=1.0, kinds=("503",), routes=("/schema/",), methods=("get",))
    with serve(config) as server:
        seen = _run(server.base_url, server.admin_token, rounds=2)
        unmatched_method = httpx.post(server.base_url + "/schema/api/v2/type")
    for path, status in seen:
        assert (status == 503) == path.startswith("/schema/")
    assert unmatched_method.status_code != 503


def _post_state(base_url: str, token: str, state_id: int, state: object) -> httpx.Response:
    return httpx.post(
        f"{base_url}/nglstate/api/v1/post/{state_id}",
        content=json.dumps(state).encode(),
        headers={"Authorization": f"Bearer {token}"},
        timeout=5.0,
    )


@pytest.mark.parametrize(
    ("kind", "phase"), [("502", "after"), ("reset", "after"), ("502", "before")]
)
def test_write_fault_phase(serve: Serve, kind: str, phase: str) -> None:
    faults = FaultConfig(
        rate=1.0,
        kinds=(kind,),
        phase="after" if phase == "after" else "before",
        routes=("/nglstate/api/v1/post/",),
        methods=("POST",),
    )
    state = {"layers": [], "marker": f"{kind}-{phase}"}
    with serve(faults) as server:
        store = server.deployment.state
        state_id = 4_000_000 + sum(ord(c) for c in f"{kind}{phase}")
        assert store.load(state_id, DocumentKind.STATE) is None
        try:
            response = _post_state(server.base_url, server.admin_token, state_id, state)
            assert response.status_code == int(kind)
        except (httpx.ReadError, httpx.RemoteProtocolError):
            assert kind == "reset"
        stored = store.load(state_id, DocumentKind.STATE)
    if phase == "after":
        assert stored is not None and json.loads(stored) == state
    else:
        assert stored is None


def test_parsing_forms_agree() -> None:
    expected = FaultConfig(rate=0.2, seed=1, kinds=("503", "reset"))
    assert parse_spec("rate=0.2,seed=1,kinds=503+reset") == expected
    assert parse_spec("rate=0.2, seed=1, kinds=503,reset") == expected
    assert parse_fields({"rate": "0.2", "seed": "1", "kinds": "503,reset"}) == expected
    assert config_from_env({"DAFSERVER_FAULTS": "rate=0.2,seed=1,kinds=503+reset"}) == expected
    assert config_from_env({}) is None
    full = parse_spec("rate=1,routes=/a/+/b/,methods=post,phase=after,hang=2.5,retry_after=3")
    assert full.routes == ("/a/", "/b/") and full.methods == ("POST",)
    assert (full.phase, full.hang_seconds, full.retry_after) == ("after", 2.5, 3)
    for bad in ("rate=2", "kinds=418", "phase=during", "color=red", "0.2"):
        with pytest.raises(ValueError):
            parse_spec(bad)


def test_environment_variable_enables_faults(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAFSERVER_FAULTS", "rate=1,kinds=503,routes=/info/api/versions")
    with serve(None) as server:
        assert httpx.get(server.base_url + "/info/api/versions").status_code == 503


def test_cli_flags_build_the_config(monkeypatch: pytest.MonkeyPatch, data_dir: object) -> None:
    received: dict[str, object] = {}

    def fake_serve_forever(*args: object, **kwargs: object) -> None:
        received.update(kwargs)

    monkeypatch.setattr(dafserver.runner, "serve_forever", fake_serve_forever)
    argv = [
        "serve",
        "--data",
        str(data_dir),
        "--size",
        "tiny",
        "--faults",
        "0.25",
        "--fault-seed",
        "5",
        "--fault-kinds",
        "502+reset",
        "--fault-routes",
        "/segmentation/",
        "--fault-phase",
        "after",
    ]
    result = CliRunner().invoke(cli_app, argv)
    assert result.exit_code == 0, result.output
    assert received["faults"] == FaultConfig(
        rate=0.25, seed=5, kinds=("502", "reset"), routes=("/segmentation/",), phase="after"
    )
    result = CliRunner().invoke(cli_app, ["serve", "--data", str(data_dir), "--size", "tiny"])
    assert result.exit_code == 0 and received["faults"] is None
