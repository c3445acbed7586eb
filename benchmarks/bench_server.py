"""dafserver in its own process: ``dafclient serve`` on a free loopback port, until the block exits."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

QUERY_LIMIT = 2_000_000
"""Rows one materialization query may answer: above the million-row table of
``bench_big_table`` (production's default cap is 200,000, a deployment setting)."""

READY_TIMEOUT_S = 1800.0
"""A first start builds the dataset (medium: a few minutes on 2 cores)."""


@dataclass(frozen=True)
class ServerProcess:
    base_url: str
    token: str
    pid: int
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _token(log: Path) -> str | None:
    found = re.search(r"admin token (\S+)", log.read_text(encoding="utf-8", errors="replace"))
    return found.group(1) if found else None


def _wait_ready(proc: subprocess.Popen[bytes], base_url: str, log: Path) -> str:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dafserver exited with {proc.returncode}; see {log}")
        token = _token(log)
        if token is not None:
            try:
                response = httpx.get(f"{base_url}/info/api/versions", timeout=2)
                if response.status_code == 200:
                    return token
            except httpx.TransportError:
                pass
        time.sleep(0.5)
    raise RuntimeError(f"dafserver not ready after {READY_TIMEOUT_S:.0f} s; see {log}")


@contextmanager
def serve(data_dir: Path, size: str, log: Path) -> Iterator[ServerProcess]:
    """Start ``dafclient serve`` (building the dataset on first use) and wait until it answers."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "dafclient.cli", "serve"]
    command += ["--data", str(data_dir), "--size", size, "--port", str(port)]
    command += ["--query-limit", str(QUERY_LIMIT)]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        token = _wait_ready(proc, base_url, log)
        yield ServerProcess(base_url=base_url, token=token, pid=proc.pid, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
