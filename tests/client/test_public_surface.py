"""Every public method of every sub-client looks hand-written to the tools users read it with
(``help()``, Jupyter's ``?``, ``inspect``), and the sync and async clients offer the same ones."""

from __future__ import annotations

import inspect
import pydoc
from collections.abc import Iterator
from typing import Any

import pytest

from dafclient import AsyncFrameworkClient, FrameworkClient
from dafclient._plan import AsyncOperation, SyncOperation
from dafclient.framework import SubClient

SERVER = "https://daf.test"


def _sub_client_names() -> list[str]:
    return sorted(
        name
        for name, value in vars(FrameworkClient).items()
        if isinstance(value, SubClient) and value._alias_of is None
    )


def _public_methods(client: Any) -> Iterator[tuple[str, Any]]:
    """(name, bound method) of the public methods (not properties, constants or classes)."""
    for name in dir(type(client)):
        if name.startswith("_"):
            continue
        static = inspect.getattr_static(type(client), name)
        if isinstance(static, (property, type, str, int, frozenset)) or static is None:
            continue
        value = getattr(client, name)
        if callable(value):
            yield name, value


@pytest.fixture(scope="module")
def clients() -> Iterator[tuple[FrameworkClient, AsyncFrameworkClient]]:
    sync = FrameworkClient("ds", server_address=SERVER, auth_token="t")
    asynchronous = AsyncFrameworkClient("ds", server_address=SERVER, auth_token="t")
    yield sync, asynchronous
    sync.close()


SUB_CLIENTS = _sub_client_names()


def test_there_are_sub_clients_to_check() -> None:
    assert {"annotation", "auth", "chunkedgraph", "info", "schema", "state"} <= set(SUB_CLIENTS)


@pytest.mark.parametrize("service", SUB_CLIENTS)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_public_methods_look_hand_written(
    clients: tuple[FrameworkClient, AsyncFrameworkClient], service: str, mode: str
) -> None:
    client = getattr(clients[0] if mode == "sync" else clients[1], service)
    methods = dict(_public_methods(client))
    assert methods, f"{service} has no public methods"
    problems: list[str] = []
    for name, method in methods.items():
        signature = inspect.signature(method)
        returned = str(signature.return_annotation)
        if method.__name__ != name:
            problems.append(f"{name}: __name__ is {method.__name__!r}")
        if method.__qualname__.rpartition(".")[2] != name:
            problems.append(f"{name}: __qualname__ is {method.__qualname__!r}")
        operation = isinstance(
            inspect.getattr_static(type(client), name), (SyncOperation, AsyncOperation)
        )
        if operation and not method.__qualname__.endswith(f"{type(client).__name__}.{name}"):
            problems.append(f"{name}: __qualname__ is {method.__qualname__!r}")
        if "self" in signature.parameters:
            problems.append(f"{name}: signature shows self")
        if signature.return_annotation is inspect.Signature.empty or "Plan[" in returned:
            problems.append(f"{name}: return annotation {returned!r}")
        if not inspect.getdoc(method):
            problems.append(f"{name}: no docstring")
        if operation and (mode == "async") != inspect.iscoroutinefunction(method):
            problems.append(f"{name}: not a coroutine function")
        rendered = pydoc.render_doc(method, renderer=pydoc.plaintext)
        if f"{name}(" not in rendered or "_" + name + "(" in rendered:
            problems.append(f"{name}: help() shows {rendered.splitlines()[2]!r}")
    assert problems == []


def _parameters(method: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(method).parameters.values()]


@pytest.mark.parametrize("service", SUB_CLIENTS)
def test_sync_and_async_clients_offer_the_same_methods(
    clients: tuple[FrameworkClient, AsyncFrameworkClient], service: str
) -> None:
    sync = dict(_public_methods(getattr(clients[0], service)))
    asynchronous = dict(_public_methods(getattr(clients[1], service)))
    assert sorted(sync) == sorted(asynchronous)
    for name, method in sync.items():
        assert _parameters(method) == _parameters(asynchronous[name]), name
        assert (
            inspect.signature(method).return_annotation
            == inspect.signature(asynchronous[name]).return_annotation
        ), name
