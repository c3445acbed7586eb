"""The original client's documentation, run as written against dafserver.

The code below is the documentation's, verbatim, in its order. Only what names *their* deployment is
substituted (``SUBSTITUTIONS``): the package name, the dataset name, supervoxel/root/state ids, and the
moment in time chosen "from a day in early 2019". Two lines the documentation relies on but never
wrote are marked ``# (missing in the documentation)``. The server address and the token come from the
environment (``DAF_SERVER_ADDRESS``, ``DAF_AUTH_TOKEN``) and a private secrets folder, as they would on
a user's machine.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from dafserver.runner import LocalServer
from dafserver.seed import DATASTACK

DOCUMENTATION = """
from annotationframeworkclient import FrameworkClient

dataset_name = 'pinky100'
client = FrameworkClient(dataset_name)
print(f"The image source is: {client.info.image_source()}")

auth = client.auth
print(f"My current token is: {auth.token}")
auth.get_new_token()
new_token = 'fake_token_123'
auth.save_token(token=new_token)
print(f"My token is now: {auth.token}")

client = FrameworkClient(dataset_name)
print(f"Now my basic token is: {client.auth.token}")
client_direct = FrameworkClient(dataset_name, auth_token='another_fake_token_678')
print(f"A directly specified token is: {client_direct.auth.token}")

all_tables = client.annotation.get_tables()
all_tables[0]
table_name = all_tables[0]['table_name']      # 'ais_analysis_soma'
annotation_id = 100
client.annotation.get_annotation(annotation_id=annotation_id, table_name=table_name)
client.annotation.create_table(table_name='test_table',
                               schema_name='microns_func_coreg')
new_data = {'type': 'microns_func_coreg',
            'pt': {'position': [1,2,3]},
            'func_id': 0}
client.annotation.post_annotation(table_name='test_table', data=[new_data])

sv_id = 104200755619042523
client.chunkedgraph.get_root_id(supervoxel_id=sv_id)
import datetime
# I looked up the UTC POSIX timestamp from a day in early 2019.
timestamp = datetime.datetime.utcfromtimestamp(1546595253)
sv_id = 104200755619042523
client.chunkedgraph.get_root_id(supervoxel_id=sv_id, timestamp=timestamp)
root_id = 648518346349541252
client.chunkedgraph.get_leaves(root_id)

client = FrameworkClient(dataset_name)
print(f"This is an info client for {client.info.dataset_name} on {client.info.server_address}")
info = client.info  # (missing in the documentation)
info.get_dataset_info()
info.graphene_source()
neuroglancer_style_source = info.image_source(format_for='neuroglancer')
print(f"With gs-style: { neuroglancer_style_source }")
cloudvolume_style_source = info.image_source(format_for='cloudvolume')
print(f"With https-style: { cloudvolume_style_source }")

client.schema.schema()
example_schema = client.schema.schema_definition('microns_func_coreg')
example_schema
example_schema['definitions']['FunctionalCoregistration']

client.state
example_id = 4845531975188480
example_state = client.state.get_state_json(test_id)
example_state['layers'][0]
example_state['layers'][0]['name'] = 'example_name'
new_id = client.state.upload_state_json(example_state)
test_state = client.state.get_state_json(new_id)
test_state['layers'][0]['name']
"""


def test_the_documentation_runs_as_written(
    daf_server: LocalServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    close_clients_made: list[object],
) -> None:
    deployment = daf_server.deployment
    manifest = deployment.manifest
    assert manifest is not None
    edit = manifest.edits[0]
    supervoxel = edit.supervoxel_ids[0]
    from dafserver.seed import load_seed_record

    seed = load_seed_record(deployment.data_dir)
    assert seed is not None
    substitutions = {
        "annotationframeworkclient": "dafclient",
        "'pinky100'": repr(DATASTACK),
        "104200755619042523": str(supervoxel),
        "1546595253": str(int(edit.timestamp) - 60),
        "648518346349541252": str(edit.roots_after[0]),
        "4845531975188480": str(seed.state_ids[0]),
        "(test_id)": "(example_id)",  # the documentation reads a variable it named example_id
    }
    code = DOCUMENTATION
    for theirs, ours in substitutions.items():
        assert theirs in code, theirs
        code = code.replace(theirs, ours)
    code = code.replace(
        "info = client.info  # (missing in the documentation)", "info = client.info"
    )
    monkeypatch.setenv("DAF_SERVER_ADDRESS", daf_server.base_url)
    monkeypatch.setenv("DAF_AUTH_TOKEN", daf_server.admin_token)
    monkeypatch.setenv("DAF_SECRETS_DIR", str(tmp_path / "secrets"))
    namespace: dict[str, object] = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "original-documentation", "exec"), namespace)
    assert len(close_clients_made) == 4  # the documentation closes none; the fixture does

    # What the walk-through shows, checked against the deployment itself.
    assert f"The image source is: precomputed://{manifest.image_cloudpath}" in printed.getvalue()
    assert (
        tmp_path / "secrets" / "chunkedgraph-secret.json"
    ).read_text() == '{"token": "fake_token_123"}'
    assert "A directly specified token is: another_fake_token_678" in printed.getvalue()
    assert namespace["table_name"] in seed.annotation_tables.values()
    assert namespace["test_state"]["layers"][0]["name"] == "example_name"
    client = namespace["client"]
    root_then = client.chunkedgraph.get_root_id(
        supervoxel_id=supervoxel, timestamp=namespace["timestamp"]
    )
    assert root_then == edit.roots_before[0] != edit.roots_after[0]
    assert supervoxel in client.chunkedgraph.get_leaves(edit.roots_after[0]).tolist()
    assert client.annotation.get_annotation_count("test_table") >= 1
