"""Finding, reading and saving auth tokens.

Where a token comes from, first match wins:

1. ``auth_token=`` given to the client;
2. the ``DAF_AUTH_TOKEN`` environment variable;
3. ``auth_token_file=`` (or ``$DAF_AUTH_TOKEN_FILE``), under ``auth_token_key`` (default ``"token"``);
4. in the secrets folder (``~/.cloudvolume/secrets``, or ``$DAF_SECRETS_DIR``):
   ``{host}-cave-secret.json`` for the server, then ``cave-secret.json``, then the original
   client's ``chunkedgraph-secret.json``.

Token files are JSON objects (``{"token": "..."}``), shared with cloud-volume. They are written
atomically, readable by their owner only (0600, folder 0700), and never overwritten without
``overwrite=True``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dafclient.errors import ConfigurationError, InputError

ENV_TOKEN = "DAF_AUTH_TOKEN"
ENV_TOKEN_FILE = "DAF_AUTH_TOKEN_FILE"
ENV_SECRETS_DIR = "DAF_SECRETS_DIR"
DEFAULT_TOKEN_KEY = "token"
SEED_TOKEN_FILE = "chunkedgraph-secret.json"
CAVE_TOKEN_FILE = "cave-secret.json"


def secrets_dir() -> Path:
    """The folder holding token files."""
    override = os.environ.get(ENV_SECRETS_DIR)
    return Path(override).expanduser() if override else Path("~/.cloudvolume/secrets").expanduser()


def server_token_file(server_address: str) -> Path:
    """The token file for one server: ``{host}-cave-secret.json``."""
    host = urlsplit(server_address).netloc
    return secrets_dir() / f"{host}-cave-secret.json"


def default_token_file() -> Path:
    """Where :func:`save_token` writes by default (the original client's location)."""
    return secrets_dir() / SEED_TOKEN_FILE


@dataclass(frozen=True)
class TokenSource:
    """A token and where it was found (never printed with the token)."""

    token: str | None
    origin: str

    def __repr__(self) -> str:
        state = "set" if self.token else "none"
        return f"TokenSource(token={state}, origin={self.origin!r})"


def read_token_file(path: Path, key: str = DEFAULT_TOKEN_KEY) -> str | None:
    """The token stored under ``key`` in ``path``; None if the file or key is absent.

    A file that is not a JSON object, or whose value is not a string, is a
    :class:`ConfigurationError` naming the file.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigurationError(f"cannot read token file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise ConfigurationError(
            f'token file {path} is not valid JSON (expected {{"{key}": "..."}})'
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"token file {path} must hold a JSON object, not {type(data).__name__}"
        )
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"token file {path}: key {key!r} does not hold a token string")
    return value.strip()


def find_token(
    server_address: str,
    *,
    auth_token: str | None = None,
    auth_token_file: str | os.PathLike[str] | None = None,
    auth_token_key: str | None = None,
) -> TokenSource:
    """The token for ``server_address``, following the order in the module docstring."""
    key = auth_token_key or DEFAULT_TOKEN_KEY
    if auth_token:
        return TokenSource(auth_token, "auth_token argument")
    env_token = os.environ.get(ENV_TOKEN)
    if env_token:
        return TokenSource(env_token.strip(), f"${ENV_TOKEN}")
    file_arg = auth_token_file or os.environ.get(ENV_TOKEN_FILE)
    if file_arg:
        path = Path(file_arg).expanduser()
        return TokenSource(read_token_file(path, key), str(path))
    for path in (
        server_token_file(server_address),
        secrets_dir() / CAVE_TOKEN_FILE,
        default_token_file(),
    ):
        token = read_token_file(path, key)
        if token:
            return TokenSource(token, str(path))
    return TokenSource(None, "not found")


def write_token_file(
    path: Path, token: str, *, key: str = DEFAULT_TOKEN_KEY, overwrite: bool = False
) -> Path:
    """Store ``token`` under ``key`` in ``path`` atomically (file 0600, new folders 0700).

    Other keys already in the file are kept. An existing different token under ``key`` is only
    replaced with ``overwrite=True``.
    """
    if not token or not token.strip():
        raise InputError("token: refusing to save an empty token")
    path = Path(path).expanduser()
    data: dict[str, object] = {}
    if path.exists():
        try:
            existing = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            existing = None
        if not isinstance(existing, dict):
            if not overwrite:
                raise ConfigurationError(
                    f"token file {path} exists but is not a JSON object; pass overwrite=True to replace it"
                )
            existing = {}
        current = existing.get(key)
        if current not in (None, token) and not overwrite:
            raise ConfigurationError(
                f"token file {path} already holds a different token under {key!r}; "
                "pass overwrite=True to replace it"
            )
        data = existing
    data[key] = token.strip()
    missing = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    for folder in reversed(missing):  # every new folder 0700, not just the last one
        folder.mkdir(mode=0o700, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o600)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path
