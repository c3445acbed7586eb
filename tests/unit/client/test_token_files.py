"""Token files: written atomically and privately, never silently replaced, errors name the file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from dafclient import FrameworkClient
from dafclient.errors import ConfigurationError
from dafclient.tokens import (
    CAVE_TOKEN_FILE,
    SEED_TOKEN_FILE,
    read_token_file,
    server_token_file,
    write_token_file,
)

TOKEN = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"
SERVER = "https://daf.example.org"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_token_file_is_private(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "secrets"
    path = write_token_file(folder / "cave-secret.json", TOKEN)
    assert json.loads(path.read_text(encoding="utf-8")) == {"token": TOKEN}
    assert _mode(path) == 0o600
    assert _mode(folder) == 0o700
    assert _mode(folder.parent) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == ["cave-secret.json"]


def test_an_existing_different_token_is_kept_without_overwrite(tmp_path: Path) -> None:
    path = write_token_file(tmp_path / "secret.json", TOKEN)
    with pytest.raises(ConfigurationError) as caught:
        write_token_file(path, OTHER)
    assert str(path) in str(caught.value) and "overwrite=True" in str(caught.value)
    assert read_token_file(path) == TOKEN
    write_token_file(path, TOKEN)  # the same token again is fine
    write_token_file(path, OTHER, overwrite=True)
    assert read_token_file(path) == OTHER
    assert _mode(path) == 0o600


def test_other_keys_survive_a_write(tmp_path: Path) -> None:
    path = tmp_path / "secret.json"
    path.write_text(json.dumps({"other": "kept"}), encoding="utf-8")
    write_token_file(path, TOKEN)
    assert json.loads(path.read_text(encoding="utf-8")) == {"other": "kept", "token": TOKEN}


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_token_file(tmp_path / "secret.json", TOKEN)
    before = path.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "disk failure")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk failure"):
        write_token_file(path, OTHER, overwrite=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["secret.json"]


CORRUPT = {
    "not JSON": "{token: abc",
    "a list": json.dumps([TOKEN]),
    "a string": json.dumps(TOKEN),
    "a number value": json.dumps({"token": 12345}),
    "a list value": json.dumps({"token": [TOKEN]}),
    "an empty value": json.dumps({"token": "  "}),
}


@pytest.mark.parametrize("content", CORRUPT.values(), ids=CORRUPT.keys())
def test_a_corrupt_token_file_is_reported_with_its_name(tmp_path: Path, content: str) -> None:
    path = tmp_path / "secret.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        read_token_file(path)
    assert str(path) in str(caught.value)
    with pytest.raises(ConfigurationError) as refused:  # nor silently written over
        write_token_file(path, TOKEN)
    assert str(path) in str(refused.value)
    assert path.read_text(encoding="utf-8") == content


@pytest.mark.parametrize("name", ["{host}", CAVE_TOKEN_FILE, SEED_TOKEN_FILE])
@pytest.mark.parametrize("content", CORRUPT.values(), ids=CORRUPT.keys())
def test_the_framework_client_reports_a_corrupt_file_in_the_secrets_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, content: str
) -> None:
    monkeypatch.setenv("DAF_SECRETS_DIR", str(tmp_path))
    path = server_token_file(SERVER) if name == "{host}" else tmp_path / name
    assert path.parent == tmp_path
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        FrameworkClient(server_address=SERVER)
    assert str(path) in str(caught.value)


def test_a_valid_file_in_the_secrets_folder_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAF_SECRETS_DIR", str(tmp_path))
    write_token_file(server_token_file(SERVER), TOKEN)
    with FrameworkClient(server_address=SERVER) as client:
        assert client._ctx.auth.token == TOKEN
        assert TOKEN not in repr(client)
