"""``dafclient serve``: a fresh folder gets a dataset; a killed server loses nothing."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from dafclient import FrameworkClient
from dafserver.dataset.manifest import load_manifest
from dafserver.seed import DATASTACK, load_seed_record


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(data_dir: Path, port: int) -> Iterator[str]:
    command = [
        sys.executable,
        "-m",
        "dafclient.cli",
        "serve",
        "--data",
        str(data_dir),
        "--port",
        str(port),
        "--size",
        "tiny",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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


def test_serve_builds_a_dataset_and_keeps_everything_across_a_kill(tmp_path: Path) -> None:
    port = _free_port()
    with serve(tmp_path, port) as base:
        token = (tmp_path / "admin_token").read_text().strip()
        seed = load_seed_record(tmp_path)
        assert seed is not None and seed.datastack == DATASTACK
        last_edit = load_manifest(tmp_path).edits[-1]
        with FrameworkClient(DATASTACK, server_address=base, auth_token=token) as client:
            table = "survives_restart"
            client.annotation.create_table(
                table, "bound_tag", description="restart test", voxel_resolution=[8, 8, 40]
            )
            ids = client.annotation.post_annotation(
                table,
                [
                    {"pt": {"position": [10, 20, 30]}, "tag": "kept"},
                    {"pt": {"position": [1, 2, 3]}, "tag": "also"},
                ],
            )
            state_id = client.state.upload_state_json({"survives": True, "ids": ids})
            undo = client.chunkedgraph.undo_operation(last_edit.operation_id)
            supervoxel = last_edit.supervoxel_ids[0]
            root_after_undo = client.chunkedgraph.get_root_id(supervoxel)
    assert root_after_undo in undo.new_root_ids.tolist()
    with (
        serve(tmp_path, port) as base,
        FrameworkClient(DATASTACK, server_address=base, auth_token=token) as client,
    ):
        rows = client.annotation.get_annotation("survives_restart", ids)
        assert [r["tag"] for r in rows] == ["kept", "also"]
        assert client.state.get_state_json(state_id) == {"survives": True, "ids": ids}
        assert client.chunkedgraph.get_root_id(supervoxel) == root_after_undo
        assert client.chunkedgraph.is_latest_roots(undo.new_root_ids).all()
        synapses = seed.annotation_tables["synapse"]
        assert client.annotation.get_annotation_count(synapses) == seed.row_counts[synapses]
