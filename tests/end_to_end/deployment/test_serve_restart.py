"""``dafclient serve``: a fresh folder gets a dataset; the token lands where the client looks; a
killed server loses nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from dafclient import FrameworkClient
from dafserver.dataset.manifest import load_manifest
from dafserver.seed import DATASTACK, load_seed_record


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(data_dir: Path, port: int, secrets: Path) -> Iterator[str]:
    command = [sys.executable, "-m", "dafclient.cli", "serve", "--data", str(data_dir)]
    command += ["--port", str(port), "--size", "tiny", "--write-token"]
    env = {**os.environ, "DAF_SECRETS_DIR": str(secrets)}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                if httpx.get(f"{base}/info/api/versions", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "dafclient serve did not come up"
            time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if process.stdout:
            process.stdout.close()


def test_serve_builds_a_dataset_and_keeps_everything_across_a_kill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, secrets, port = tmp_path / "data", tmp_path / "secrets", _free_port()
    monkeypatch.setenv("DAF_SECRETS_DIR", str(secrets))
    monkeypatch.delenv("DAF_AUTH_TOKEN", raising=False)
    with serve(data, port, secrets) as base:
        seed = load_seed_record(data)
        assert seed is not None and seed.datastack == DATASTACK
        last_edit = load_manifest(data).edits[-1]
        # No token given: the client finds the one serve saved for this server.
        with FrameworkClient(DATASTACK, server_address=base) as client:
            assert client.auth.token == (data / "admin_token").read_text().strip()
            table = "survives_restart"
            client.annotation.create_table(
                table, "bound_tag", description="restart test", voxel_resolution=[8, 8, 40]
            )
            rows = [{"pt": {"position": [10, 20, 30]}, "tag": "kept"}]
            rows.append({"pt": {"position": [1, 2, 3]}, "tag": "also"})
            ids = client.annotation.post_annotation(table, rows)
            state_id = client.state.upload_state_json({"survives": True, "ids": ids})
            undo = client.chunkedgraph.undo_operation(last_edit.operation_id)
            supervoxel = last_edit.supervoxel_ids[0]
            root_after_undo = client.chunkedgraph.get_root_id(supervoxel)
    assert root_after_undo in undo.new_root_ids.tolist()
    with (
        serve(data, port, secrets) as base,
        FrameworkClient(DATASTACK, server_address=base) as client,
    ):
        got = client.annotation.get_annotation("survives_restart", ids)
        assert [r["tag"] for r in got] == ["kept", "also"]
        assert client.state.get_state_json(state_id) == {"survives": True, "ids": ids}
        assert client.chunkedgraph.get_root_id(supervoxel) == root_after_undo
        assert client.chunkedgraph.is_latest_roots(undo.new_root_ids).all()
        synapses = seed.annotation_tables["synapse"]
        assert client.annotation.get_annotation_count(synapses) == seed.row_counts[synapses]
