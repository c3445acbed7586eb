"""Every snippet of the corpus (``snippets/``) gives the same answer with CAVEclient 8.2.1 and
with ``dafclient.CAVEclient`` against the same dafserver.

Each side gets a fresh client made with the same ``CAVEclient(...)`` call; CAVEclient runs
first, then dafclient, so read snippets see the same state. Snippets that write use names of
their own per side and return what does not depend on the ids the service hands out.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from snippets import SNIPPETS, Entry, Fixtures, plain

import dafclient
from dafserver.runner import LocalServer
from dafserver.seed import DATASTACK


@pytest.fixture(scope="module")
def facts(daf_server: LocalServer) -> dict[str, Any]:
    manifest = daf_server.deployment.manifest
    assert manifest is not None
    merge = next(e for e in manifest.edits if e.kind == "merge" and e.undone_operation_id is None)
    with dafclient.FrameworkClient(
        DATASTACK, server_address=daf_server.base_url, auth_token=daf_server.admin_token
    ) as daf:
        resolution = daf.chunkedgraph.base_resolution.tolist()
        merged = daf.chunkedgraph.get_root_id(merge.source_ids[0]) == daf.chunkedgraph.get_root_id(
            merge.sink_ids[0]
        )
    assert merged, "the corpus's edit snippet starts from the merged pair"
    return {
        "supervoxels": [int(s) for s in manifest.edits[0].supervoxel_ids],
        "merge_operation": merge.operation_id,
        "merged_supervoxels": (int(merge.source_ids[0]), int(merge.sink_ids[0])),
        "merge_coords": [list(merge.source_coords[0]), list(merge.sink_coords[0])],
        "base_resolution": resolution,
    }


def _fixtures(
    side: str, server: LocalServer, facts: dict[str, Any], tmp: Path, make: Any
) -> Fixtures:
    folder = tmp / side
    folder.mkdir()
    return Fixtures(
        side=side,
        server=server.base_url,
        token=server.admin_token,
        datastack=DATASTACK,
        tmp=folder,
        make=make,
        **facts,
    )


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Token files of both clients go to a folder of the test's own."""
    folder = tmp_path / "secrets"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DAF_SECRETS_DIR", str(folder))
    yield folder


def _run(entry: Entry, side: str, make: Any, fx: Fixtures) -> Any:
    client = make(
        DATASTACK, server_address=fx.server, auth_token=fx.token, write_server_cache=False
    )
    run = entry.cave_run if side == "cave" and entry.cave_run is not None else entry.run
    return plain(run(client, fx))


@pytest.mark.parametrize("entry", SNIPPETS, ids=[e.name for e in SNIPPETS])
def test_snippet_answers_as_caveclient_does(
    entry: Entry, daf_server: LocalServer, facts: dict[str, Any], tmp_path: Path, secrets: Path
) -> None:
    from caveclient import CAVEclient

    cave = _run(
        entry, "cave", CAVEclient, _fixtures("cave", daf_server, facts, tmp_path, CAVEclient)
    )
    daf = _run(
        entry,
        "daf",
        dafclient.CAVEclient,
        _fixtures("daf", daf_server, facts, tmp_path, dafclient.CAVEclient),
    )
    assert daf == cave


def _cave_members() -> dict[str, set[str]]:
    from caveclient.annotationengine import AnnotationClient
    from caveclient.auth import AuthClient
    from caveclient.chunkedgraph import ChunkedGraphClient
    from caveclient.emannotationschemas import SchemaClient
    from caveclient.frameworkclient import CAVEclientFull
    from caveclient.infoservice import InfoServiceClient
    from caveclient.jsonservice import JSONService
    from caveclient.l2cache import L2CacheClient
    from caveclient.materializationengine import MaterializationClient

    classes = {
        "CAVEclient": CAVEclientFull,
        "annotation": AnnotationClient,
        "auth": AuthClient,
        "chunkedgraph": ChunkedGraphClient,
        "info": InfoServiceClient,
        "schema": SchemaClient,
        "state": JSONService,
        "materialize": MaterializationClient,
        "l2cache": L2CacheClient,
    }
    return {name: {m for m, _ in inspect.getmembers(cls)} for name, cls in classes.items()}


def test_the_corpus_touches_real_caveclient_members() -> None:
    members = _cave_members()
    touched = sorted({name for entry in SNIPPETS for name in entry.touches})
    unknown = [t for t in touched if t.partition(".")[2] not in members[t.partition(".")[0]]]
    assert unknown == []
    print(f"\n{len(SNIPPETS)} snippets touch {len(touched)} CAVEclient members")
    assert len(SNIPPETS) >= 50 and len(touched) >= 80


def test_plain_keeps_what_matters() -> None:
    assert plain({"1": np.uint64(5)}) == {"1": 5}
    assert plain({1: 5}) != plain({"1": 5})  # key types are compared
    assert plain((np.array([1, 2]), [3])) == [[1, 2], [3]]
