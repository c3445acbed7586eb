"""Every public method of every sub-client looks hand-written to the tools users read it with
(``help()``, Jupyter's ``?``, ``inspect``), and the sync and async clients offer the same ones."""

from __future__ import annotations

import inspect
import json
import pydoc
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dafclient import AsyncFrameworkClient, FrameworkClient
from dafclient._plan import AsyncOperation, SyncOperation
from dafclient.errors import ConfigurationError
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


FREE_FORM_RESULTS = {
    # cloudvolume.CloudVolume objects: the library has no type hints.
    "info.image_cloudvolume",
    "info.segmentation_cloudvolume",
    # Neuroglancer documents: any JSON the user stored.
    "state.get_state_json",
    "state.get_property_json",
    # A viewer deployment's own version.json (not a DAF service; its keys are not specified).
    "state.get_neuroglancer_info",
    # JSON Schema documents of annotation types.
    "schema.schema_definition",
    "schema.schema_definition_multi",
    "schema.schema_definition_all",
    # Annotation rows: their keys are the columns of the table's annotation type, chosen by
    # whoever made the table.
    "annotation.get_annotation",
    "annotation.process_position_columns",
    # A stage of a table whose annotation type (its model class) is learned at run time.
    "annotation.stage_annotations",
}
"""Methods whose result has no fixed shape on the wire, so it is typed with ``Any``
(``dict[str, Any]``...); every other result type is concrete, with the dict answers of
CAVEclient typed by ``dafclient.records``."""


def _resolved(method: Any, operation: object) -> Any:
    """The return annotation of ``method`` evaluated where its plan was written (names
    imported only for type checkers are supplied), so aliases show what they stand for."""
    import networkx
    import numpy
    import numpy.typing
    import pandas

    returned = inspect.signature(method).return_annotation
    if not isinstance(returned, str):
        return returned
    plan = getattr(operation, "_plan", method)
    namespace = {
        **vars(sys.modules[plan.__module__]),
        "np": numpy,
        "npt": numpy.typing,
        "pd": pandas,
        "nx": networkx,
    }
    for _ in range(5):
        try:
            return eval(returned, namespace)
        except NameError as error:  # a class imported for type checkers only
            namespace[error.name] = _dafclient_class(error.name)
    raise AssertionError(f"cannot resolve {returned!r}")


def _dafclient_class(name: str) -> type:
    """The dafclient class called ``name``, from the modules imported by now and those the
    clients import lazily (typed queries)."""
    import dafclient.services.materialize_tables  # noqa: F401

    for module_name, module in list(sys.modules.items()):
        value = vars(module).get(name) if module_name.startswith("dafclient.") else None
        if isinstance(value, type):
            return value
    raise AssertionError(f"no dafclient class named {name!r}")


def _has_any(annotation: Any) -> bool:
    """Whether ``Any`` is part of ``annotation`` (a numpy array's shape parameter aside)."""
    import numpy

    if annotation is Any:
        return True
    if typing.get_origin(annotation) is numpy.ndarray:
        return False
    return any(_has_any(arg) for arg in typing.get_args(annotation))


@pytest.mark.parametrize("service", SUB_CLIENTS)
def test_results_are_typed_where_the_wire_shape_is_known(
    clients: tuple[FrameworkClient, AsyncFrameworkClient], service: str
) -> None:
    client = clients[0]
    untyped = []
    for name, method in _public_methods(getattr(client, service)):
        if f"{service}.{name}" in FREE_FORM_RESULTS:
            continue
        operation = inspect.getattr_static(type(getattr(client, service)), name)
        returned = _resolved(method, operation)
        text = inspect.formatannotation(returned)
        if _has_any(returned) or returned is object or "Plan[" in text or "Generator[" in text:
            untyped.append(f"{name} -> {text}")
    assert untyped == []


@pytest.mark.parametrize("service", SUB_CLIENTS)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_properties_are_typed_where_the_wire_shape_is_known(
    clients: tuple[FrameworkClient, AsyncFrameworkClient], service: str, mode: str
) -> None:
    """Properties too (``chunkedgraph.segmentation_info`` is a record type, not a bare dict)."""
    owner = type(getattr(clients[0] if mode == "sync" else clients[1], service))
    untyped = []
    for name in dir(owner):
        static = inspect.getattr_static(owner, name)
        if name.startswith("_") or not isinstance(static, property):
            continue
        returned = _resolved(static.fget, None)
        if returned is inspect.Signature.empty or _has_any(returned):
            untyped.append(f"{name} -> {inspect.formatannotation(returned)}")
    assert untyped == []


def test_free_form_results_are_typed_as_free_form(
    clients: tuple[FrameworkClient, AsyncFrameworkClient],
) -> None:
    """The allow-list holds only methods whose result does have ``Any`` in it."""
    for qualified in FREE_FORM_RESULTS:
        service, name = qualified.split(".")
        method = getattr(getattr(clients[0], service), name)
        operation = inspect.getattr_static(type(getattr(clients[0], service)), name)
        assert _has_any(_resolved(method, operation)), qualified


def test_free_form_results_are_methods_that_exist(
    clients: tuple[FrameworkClient, AsyncFrameworkClient],
) -> None:
    for qualified in FREE_FORM_RESULTS:
        service, name = qualified.split(".")
        assert callable(getattr(getattr(clients[0], service), name)), qualified


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


@pytest.mark.parametrize("cls", [FrameworkClient, AsyncFrameworkClient])
def test_constructor_parameters_are_explicit(cls: type[Any]) -> None:
    parameters = inspect.signature(cls).parameters
    assert all(p.kind is not inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    positional = [
        name for name, p in parameters.items() if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]
    # The original client's and CAVEclient's positional order.
    assert positional == [
        "datastack_name",
        "server_address",
        "auth_token_file",
        "auth_token_key",
        "auth_token",
        "global_only",
    ]
    for name in ("timeouts", "retries", "api_versions", "transport", "allow_insecure_http"):
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters[name].annotation is not inspect.Parameter.empty


def test_a_positional_token_file_is_read_not_sent_as_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAF_AUTH_TOKEN", raising=False)
    token_file = tmp_path / "token.json"
    token_file.write_text(json.dumps({"token": "from-the-file", "other": "other-key"}))
    with FrameworkClient("ds", SERVER, str(token_file)) as client:
        assert client._ctx.auth.token == "from-the-file"
    with FrameworkClient("ds", SERVER, str(token_file), "other") as client:
        assert client._ctx.auth.token == "other-key"


def test_global_only_ignores_the_datastack() -> None:
    with FrameworkClient("ds", SERVER, auth_token="t", global_only=True) as client:
        assert client.datastack_name is None
        with pytest.raises(ConfigurationError, match="global-only"):
            _ = client.chunkedgraph
    with FrameworkClient("ds", SERVER, auth_token="t") as client:
        assert client.datastack_name == "ds"


def test_a_transport_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="sync transport"):
        FrameworkClient("ds", SERVER, auth_token="t", transport=httpx.AsyncHTTPTransport())
    with pytest.raises(ConfigurationError, match="async transport"):
        AsyncFrameworkClient("ds", SERVER, auth_token="t", transport=httpx.HTTPTransport())
