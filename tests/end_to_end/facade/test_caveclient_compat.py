"""dafclient's CAVEclient-compatible surface against a real dafserver (the side-by-side
comparison with CAVEclient itself is ``nox -s compat``)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import dafclient
from dafclient import FrameworkClient
from dafclient.errors import ConfigurationError, InputError
from dafclient.services.annotation import process_position_columns
from dafserver.runner import LocalServer
from dafserver.seed import DATASTACK

CAVECLIENT_PARAMETERS = [
    "datastack_name",
    "server_address",
    "auth_token_file",
    "auth_token_key",
    "auth_token",
    "global_only",
    "max_retries",
    "pool_maxsize",
    "pool_block",
    "desired_resolution",
    "info_cache",
    "write_server_cache",
    "version",
]


def test_the_constructor_has_caveclients_signature(daf_server: LocalServer) -> None:
    assert list(inspect.signature(dafclient.CAVEclient).parameters) == CAVECLIENT_PARAMETERS
    client = dafclient.CAVEclient(
        DATASTACK,
        daf_server.base_url,
        None,
        None,
        daf_server.admin_token,
        max_retries=1,
        pool_maxsize=2,
        pool_block=True,
        write_server_cache=False,
    )
    with client:
        assert isinstance(client, FrameworkClient)
        assert client._ctx.retries.max_retries == 1
        assert client.chunkedgraph.table_name
    with pytest.raises(ConfigurationError, match="max_retries"):
        dafclient.CAVEclient(DATASTACK, daf_server.base_url, auth_token="t", max_retries=-1)


def test_info_cache_is_used_instead_of_the_info_service(daf_server: LocalServer) -> None:
    with FrameworkClient(
        DATASTACK, daf_server.base_url, auth_token=daf_server.admin_token
    ) as plain:
        record = plain.info.get_datastack_info().to_dict()
    record["segmentation_source"] = "graphene://https://cached.example.org/segmentation/table/x"
    with dafclient.CAVEclient(
        DATASTACK,
        daf_server.base_url,
        auth_token=daf_server.admin_token,
        info_cache={DATASTACK: record},
    ) as cached:
        assert cached.info.segmentation_source() == record["segmentation_source"]


def test_records_answer_their_keys(client: Any) -> None:
    info = client.info.get_datastack_info()
    assert info["segmentation_source"] == info.segmentation_source
    assert info["aligned_volume"]["name"] == info.aligned_volume.name
    assert "synapse_table" in info and "nope" not in info
    assert info.get("nope", 5) == 5
    assert dict(info)["local_server"] == info.local_server
    with pytest.raises(KeyError):
        info["nope"]
    metadata = client.annotation.get_table_metadata("synapses")
    assert metadata["voxel_resolution"] == [
        metadata.voxel_resolution_x,
        metadata.voxel_resolution_y,
        metadata.voxel_resolution_z,
    ]


def test_info_in_caveclients_order_and_names(client: Any) -> None:
    info = client.info
    raw = info.segmentation_source()
    assert info.segmentation_source(None, True, "cloudvolume") == info.segmentation_source(
        format_for="cloudvolume"
    )
    # The original client's order, (datastack_name, format_for, use_stored), still works.
    assert info.segmentation_source(None, "cloudvolume", True) == info.segmentation_source(
        format_for="cloudvolume"
    )
    assert info.segmentation_source(format_for="spelunker") == raw.replace(
        "graphene://", "graphene://middleauth+"
    )
    assert info.synapse_segmentation_source(datastack_name=DATASTACK) is None
    record = info.get_aligned_volume_info()
    assert (info.aligned_volume_name, info.aligned_volume_id) == (record.name, record.id)
    assert client.annotation.aligned_volume_name == record.name


def test_position_columns_may_be_a_mapping() -> None:
    df = pd.DataFrame({"soma_xyz": [[1, 2, 3]], "cell_type": ["a"]})
    assert process_position_columns(df, {"soma_xyz": "pt"}) == [
        {"pt": {"position": [1, 2, 3]}, "cell_type": "a"}
    ]
    assert process_position_columns(df, ["soma_xyz"]) == [
        {"soma": {"position": [1, 2, 3]}, "cell_type": "a"}
    ]
    with pytest.raises(InputError, match="not in the DataFrame"):
        process_position_columns(df, {"nope": "pt"})


def test_staged_annotations_upload(client: Any) -> None:
    table = client.annotation.create_table("compat_staged", "cell_type_local", "s", [4, 4, 40])
    stage = client.annotation.stage_annotations(table, annotation_resolution=[8, 8, 40])
    stage.add(cell_type="a", classification_system="s", pt_position=[1, 2, 3])
    [new] = client.annotation.upload_staged_annotations(stage, progress=False)
    [row] = client.annotation.get_annotation(table, [new])
    assert row["pt_position"] == [2, 4, 3]  # converted to the table's resolution
    update = client.annotation.stage_annotations(table, update=True)
    update.add(id=new, cell_type="b", classification_system="s", pt_position=[1, 1, 1])
    mapping = client.annotation.upload_staged_annotations(update, progress=False)
    assert list(mapping) == [str(new)] and mapping[new] == mapping[str(new)]
    offline = client.annotation.stage_annotations(schema_name="cell_type_local")
    with pytest.raises(InputError, match="made for a table"):
        client.annotation.upload_staged_annotations(offline)


def test_auth_pages_and_token_files(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAF_SECRETS_DIR", str(tmp_path / "secrets"))
    server = client.server_address
    assert client.auth.get_token_page(open=False) == f"{server}/sticky_auth/settings/tokens"
    assert "create_token" in client.auth.setup_token(open=False)
    assert "sticky_auth/settings/tokens" in client.auth.setup_token(make_new=False, open=False)
    token = client.auth.token
    assert client.auth.local_server is None and client.auth.local_server_filepath is None
    client.auth.local_server = "https://local.example.org"
    try:
        mirror = client.auth.local_server_filepath
        assert mirror is not None and mirror.name == "local.example.org-cave-secret.json"
        mine = tmp_path / "mine.json"
        client.auth.save_token(token=token, token_file=mine, switch_token=False)
        assert mine.exists() and mirror.exists()
        assert mirror.parent == tmp_path / "secrets"
    finally:
        client.auth.local_server = None


def test_state_urls_and_neuroglancer_info(client: Any) -> None:
    state = client.state
    assert state.ngl_url == client.info.viewer_site()
    url = state.build_neuroglancer_url(
        "https://b.example.org/s.json", ngl_url="https://ngl.example.org", static_url=True
    )
    assert url == "https://ngl.example.org/?json_url=https://b.example.org/s.json"
    assert state.build_neuroglancer_url(5, format_properties=True) == (
        f"precomputed://middleauth+{client.server_address}/nglstate/api/v1/property/5"
    )
    assert state.get_neuroglancer_info(client.server_address) == {}  # no version.json: {}


def test_preview_split_unpacks_as_caveclients(client: Any, manifest: Any) -> None:
    merge = next(e for e in manifest.edits if e.kind == "merge" and e.undone_operation_id is None)
    cg = client.chunkedgraph
    sv_a, sv_b = merge.source_ids[0], merge.sink_ids[0]
    root = cg.get_root_id(sv_a)
    if root != cg.get_root_id(sv_b):
        pytest.fail("the scripted merge should hold in the shared deployment")
    nm = np.asarray([merge.source_coords[0], merge.sink_coords[0]]) * cg.base_resolution
    source, sink, ok = cg.preview_split(nm[:1], nm[1:], root, [sv_a], [sv_b])
    assert ok and sv_a in source.tolist() and sv_b in sink.tolist()
    *_, others = cg.preview_split(nm[:1], nm[1:], root, [sv_a], [sv_b], True)
    assert others == []
    details = cg.get_operation_details([merge.operation_id])
    assert list(details) == [str(merge.operation_id)]
    assert details[merge.operation_id] is details[str(merge.operation_id)]
    log = cg.get_change_log(root)
    assert log["n_mergers"] == log["n_merges"] >= 1


def test_setup_token_asks_until_a_token_works(
    daf_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAF_SECRETS_DIR", str(tmp_path))
    answers = iter(["not a token", "0" * 32, daf_server.admin_token])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    saved = dafclient.CAVEclient.setup_token(daf_server.base_url, open=False)
    assert saved.parent == tmp_path
    assert json.loads(saved.read_text())["token"] == daf_server.admin_token
    assert next(answers, None) is None  # every answer was asked for
