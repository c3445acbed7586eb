"""A running dafserver shared by the AnnotationEngine route tests, and the callers they use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from annotation_service_support import Caller, annotation_server, make_caller, provision

from dafserver.runner import LocalServer


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with annotation_server(tmp_path_factory.mktemp("annotation_service")) as local:
        provision(local)
        yield local


def _caller(server: LocalServer, name: str, groups: list[str]) -> Iterator[Caller]:
    caller = make_caller(server, name, groups)
    yield caller
    caller.http.close()


@pytest.fixture(scope="session")
def owner(server: LocalServer) -> Iterator[Caller]:
    """Can edit the dataset; shares the group ``lab`` with ``peer``."""
    yield from _caller(server, "owner", ["editors", "lab"])


@pytest.fixture(scope="session")
def peer(server: LocalServer) -> Iterator[Caller]:
    """Can edit the dataset and shares a group with ``owner``."""
    yield from _caller(server, "peer", ["other_editors", "lab"])


@pytest.fixture(scope="session")
def stranger(server: LocalServer) -> Iterator[Caller]:
    """Can edit the dataset and shares no group with ``owner``."""
    yield from _caller(server, "stranger", ["other_editors"])


@pytest.fixture(scope="session")
def viewer(server: LocalServer) -> Iterator[Caller]:
    """Has only the view permission on the dataset."""
    yield from _caller(server, "viewer", ["viewers"])
