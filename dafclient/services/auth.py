"""The auth service (middle_auth): the token this client uses, and token and user look-ups."""

from __future__ import annotations

import os
import webbrowser
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dafclient import _generated as gen
from dafclient._context import ApiVersions
from dafclient._plan import Plan, async_op, sync_op
from dafclient._service import AsyncBinding, ServiceClient, SyncBinding
from dafclient._wire.auth_v1.api.auth import (
    create_token,
    get_group_users,
    get_user_cache,
    get_user_me,
    get_user_tokens,
    get_usernames,
)
from dafclient._wire.auth_v1.models import ApiKey, GroupMember, User, UserCache, UserName
from dafclient.errors import InputError
from dafclient.ids import as_id_array
from dafclient.tokens import (
    DEFAULT_TOKEN_KEY,
    default_token_file,
    read_token_file,
    server_token_file,
    write_token_file,
)

AUTH_API = ApiVersions("auth", known=(1,), versions_path=None)


class AuthClientBase(ServiceClient):
    """Plans and token handling of the auth client; see :class:`AuthClient`."""

    API = AUTH_API

    def __init__(
        self,
        *args: Any,
        token_file: str | os.PathLike[str] | None = None,
        token_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._token_file = Path(token_file).expanduser() if token_file else default_token_file()
        self._token_key = token_key or DEFAULT_TOKEN_KEY
        self._local_server: str | None = None

    @property
    def local_server(self) -> str | None:
        """A local server whose own token file (``{host}-cave-secret.json``) :meth:`save_token`
        keeps in step (CAVEclient's; None: none). The token is sent to the datastack's local
        server whatever this says."""
        return self._local_server

    @local_server.setter
    def local_server(self, value: str | None) -> None:
        self._local_server = value

    @property
    def local_server_filepath(self) -> Path | None:
        """The token file of :attr:`local_server` (None when it is not set)."""
        return server_token_file(self._local_server) if self._local_server else None

    # -- the token in use ---------------------------------------------------------------------
    @property
    def token(self) -> str | None:
        """The token sent to the DAF servers (``None`` if there is none)."""
        return self._ctx.auth.token

    @token.setter
    def token(self, value: str | None) -> None:
        self._ctx.auth.set_token(value)

    @property
    def request_header(self) -> dict[str, str]:
        """The ``Authorization`` header this client sends to its servers."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    @property
    def server_address(self) -> str:
        return self._explicit_server or self._ctx.server_address

    def get_token(self, token_key: str | None = None) -> str | None:
        """Load the token stored under ``token_key`` in this client's token file: the client
        uses it from now on (as CAVEclient's and the original client's ``get_token`` do), and
        it is returned (``None`` when the file has no such key)."""
        key = token_key or self._token_key
        token = read_token_file(self._token_file, key)
        self._token_key = key
        self.token = token
        return token

    def save_token(
        self,
        token: str | None = None,
        token_key: str = DEFAULT_TOKEN_KEY,
        overwrite: bool = False,
        token_file: str | os.PathLike[str] | None = None,
        switch_token: bool = True,
        write_to_server_file: bool = False,
        ignore_readonly: bool = False,
        local_server: bool = True,
    ) -> Path:
        """Save ``token`` (default: the current one) to a token file and return its path.

        The file is written atomically and readable only by you; an existing different token is
        kept unless ``overwrite=True``. With ``switch_token`` the client uses the saved token.
        ``write_to_server_file`` also writes the global server's own file
        (``{host}-cave-secret.json``; off by default, unlike CAVEclient, because the default file
        is read for every server), ``local_server`` the :attr:`local_server`'s file when one is
        set; ``ignore_readonly`` skips files in folders you cannot write to.
        """
        value = token if token is not None else self.token
        if value is None:
            raise InputError("token: there is no token to save")
        path = Path(token_file).expanduser() if token_file else self._token_file
        extra: list[tuple[Path, bool]] = []
        if write_to_server_file:
            extra.append((server_token_file(self.server_address), overwrite))
        if local_server and self.local_server_filepath is not None:
            extra.append((self.local_server_filepath, True))  # kept in step, as CAVEclient does
        for other, replace in extra:
            if not (ignore_readonly and not _writable(other)):
                write_token_file(other, value, key=token_key, overwrite=replace)
        if ignore_readonly and not _writable(path):
            return path
        written = write_token_file(path, value, key=token_key, overwrite=overwrite)
        if switch_token:
            self.token = value
            self._token_file, self._token_key = path, token_key
        return written

    def get_new_token(self, open: bool = False, no_text: bool = False) -> str:
        """How to get a new token, as text (opens the page in a browser only if ``open=True``;
        ``no_text`` is CAVEclient's switch for printing, and nothing is printed here)."""
        del no_text
        url = f"{self.server_address}/auth/api/v1/create_token"
        if open:
            webbrowser.open(url)
        return (
            f"Log in and create a token at {url}, then save it with "
            "client.auth.save_token(token=...). Creating a new token does not end older ones."
        )

    def get_token_page(self, open: bool = True) -> str:
        """The URL of middle_auth's page listing your tokens (opened in a browser when
        ``open``); :meth:`get_tokens` reads the same list through the API."""
        url = f"{self.server_address}/sticky_auth/settings/tokens"
        if open:
            webbrowser.open(url)
        return url

    def setup_token(self, make_new: bool = True, open: bool = True) -> str:
        """Instructions for getting a token: a new one (:meth:`get_new_token`), or with
        ``make_new=False`` an existing one from the token page (:meth:`get_token_page`)."""
        if make_new:
            return self.get_new_token(open=open)
        url = self.get_token_page(open=open)
        return (
            f"Copy one of your tokens from {url}, then save it with "
            "client.auth.save_token(token=...) (or set client.auth.token for this session)."
        )

    def __repr__(self) -> str:
        state = "set" if self.token else "none"
        return f"{type(self).__name__}(server={self.server_address!r}, token={state})"

    # -- plans --------------------------------------------------------------------------------
    def _get_tokens(self) -> Plan[list[ApiKey]]:
        """Your API tokens, newest first."""
        request = gen.call((yield from self._server()), get_user_tokens.build_request())
        return gen.parse_list(ApiKey, request, (yield request))

    def _create_token(self) -> Plan[str]:
        """Create a new API token (older tokens stay valid) and return it."""
        request = gen.call(
            (yield from self._server()), create_token.build_request(), idempotent=False
        )
        return gen.read(create_token.parse_success, request, (yield request))

    def _get_user_cache(self) -> Plan[UserCache]:
        """Your identity, groups and per-dataset permissions, as services see them."""
        request = gen.call((yield from self._server()), get_user_cache.build_request())
        return gen.parse(UserCache, request, (yield request))

    def _get_user_me(self) -> Plan[User]:
        """Your user record."""
        request = gen.call((yield from self._server()), get_user_me.build_request())
        return gen.parse(User, request, (yield request))

    def _get_user_information(self, user_ids: Iterable[int] | int) -> Plan[list[UserName]]:
        """Names of users by id."""
        ids = ",".join(str(i) for i in as_id_array(user_ids, name="user_ids").tolist())
        request = gen.call((yield from self._server()), get_usernames.build_request(id=ids))
        return gen.parse_list(UserName, request, (yield request))

    def _get_group_users(self, group_id: int) -> Plan[list[GroupMember]]:
        """Members of a group (needs an admin role)."""
        request = gen.call(
            (yield from self._server()), get_group_users.build_request(group_id=group_id)
        )
        return gen.parse_list(GroupMember, request, (yield request))


def _writable(path: Path) -> bool:
    """Whether ``path`` can be written (it, or the nearest existing folder above it)."""
    target = path
    while not target.exists() and target != target.parent:
        target = target.parent
    return os.access(target, os.W_OK)


class AuthClient(SyncBinding, AuthClientBase):
    """Your token, and the auth service's token and user look-ups.

    The token is attached only to this client's DAF servers. It never appears in ``repr``,
    exceptions or logs.
    """

    get_tokens = sync_op(AuthClientBase._get_tokens)
    create_token = sync_op(AuthClientBase._create_token)
    get_user_cache = sync_op(AuthClientBase._get_user_cache)
    get_user_me = sync_op(AuthClientBase._get_user_me)
    get_user_information = sync_op(AuthClientBase._get_user_information)
    get_group_users = sync_op(AuthClientBase._get_group_users)


class AsyncAuthClient(AsyncBinding, AuthClientBase):
    """:class:`AuthClient` with coroutine methods."""

    get_tokens = async_op(AuthClientBase._get_tokens)
    create_token = async_op(AuthClientBase._create_token)
    get_user_cache = async_op(AuthClientBase._get_user_cache)
    get_user_me = async_op(AuthClientBase._get_user_me)
    get_user_information = async_op(AuthClientBase._get_user_information)
    get_group_users = async_op(AuthClientBase._get_group_users)
