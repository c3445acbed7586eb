"""``CAVEclient(...)``: CAVEclient's constructor, returning dafclient's :class:`FrameworkClient`.

Code written for CAVEclient migrates by changing one import (``from dafclient import
CAVEclient``); see docs/migration.md for every method and the differences that remain.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import httpx

from dafclient._plan import Plan, sync_op
from dafclient.config import RetrySettings
from dafclient.errors import AuthenticationError, ConfigurationError, PermissionDeniedError
from dafclient.framework import FrameworkClient, SubClient
from dafclient.ids import IdsLike
from dafclient.services.l2cache import L2CacheBase, L2CacheClient, L2Data
from dafclient.transport import LIMITS

_TOKEN = re.compile(r"^[0-9a-f]{32}$")


class _DictL2CacheBase(L2CacheBase):
    def _get_l2data_as_dict(
        self, l2_ids: IdsLike, attributes: str | Iterable[str] | None = None
    ) -> Plan[L2Data]:
        """Features of L2 nodes as CAVEclient answers them: ``{"<l2 id>": {attribute: value}}``
        (``get_l2data_table`` gives the DataFrame)."""
        data = yield from self._get_l2data(l2_ids, attributes, as_dict=True)
        return cast(L2Data, data)


class CAVEL2CacheClient(L2CacheClient, _DictL2CacheBase):
    """The L2 cache client of a client made with :data:`CAVEclient`: ``get_l2data`` answers
    CAVEclient's dict, as notebooks written for CAVEclient index it."""

    get_l2data = sync_op(_DictL2CacheBase._get_l2data_as_dict)  # type: ignore[assignment]


class CAVEFrameworkClient(FrameworkClient):
    """The :class:`FrameworkClient` :data:`CAVEclient` returns: the same client, with the few
    answers whose default shape differs from CAVEclient's in CAVEclient's shape
    (``l2cache.get_l2data`` is a dict)."""

    l2cache: SubClient[CAVEL2CacheClient] = SubClient(
        "dafclient.compat:CAVEL2CacheClient",
        local=True,
        doc="The datastack's L2 cache client; get_l2data answers CAVEclient's dict.",
    )


class _CAVEclientConstructor:
    """``CAVEclient``: called, CAVEclient's constructor; ``CAVEclient.setup_token`` as in
    CAVEclient."""

    def __call__(
        self,
        datastack_name: str | None = None,
        server_address: str | None = None,
        auth_token_file: str | os.PathLike[str] | None = None,
        auth_token_key: str | None = None,
        auth_token: str | None = None,
        global_only: bool = False,
        max_retries: int | None = None,
        pool_maxsize: int | None = None,
        pool_block: bool | None = None,
        desired_resolution: Iterable[float] | None = None,
        info_cache: Mapping[str, Mapping[str, Any]] | None = None,
        write_server_cache: bool = True,
        version: int | None = None,
    ) -> FrameworkClient:
        """A :class:`FrameworkClient` made with CAVEclient 8's constructor (same parameters, same
        positional order).

        Args:
            datastack_name, server_address, auth_token_file, auth_token_key, auth_token,
                global_only: as for :class:`FrameworkClient`.
            max_retries: retries of idempotent requests (``RetrySettings.max_retries``; writes that
                may have reached the server are never retried).
            pool_maxsize: the most connections the client keeps open at once.
            pool_block: accepted and without effect: httpx waits for a free connection (within the
                call's timeout) rather than opening more.
            desired_resolution: the resolution (nm per voxel) materialization queries give
                positions in when they name none (:attr:`FrameworkClient.desired_resolution`).
            version: pin a materialization version (:attr:`FrameworkClient.version`).
            info_cache: datastack records already fetched (``{datastack: record}``); they are used
                instead of asking the info service.
            write_server_cache: accepted and without effect: dafclient keeps no file of which server
                hosts which datastack (the server comes from ``server_address`` or
                ``$DAF_SERVER_ADDRESS``).

        Like dafclient's own constructor, this makes no request.
        """
        del pool_block, write_server_cache  # documented above: nothing to do
        options: dict[str, Any] = {}
        if max_retries is not None:
            if max_retries < 0:
                raise ConfigurationError(f"max_retries must be >= 0, got {max_retries}")
            options["retries"] = replace(RetrySettings(), max_retries=int(max_retries))
        if pool_maxsize is not None:
            if pool_maxsize < 1:
                raise ConfigurationError(f"pool_maxsize must be >= 1, got {pool_maxsize}")
            limits = httpx.Limits(
                max_connections=pool_maxsize,
                max_keepalive_connections=min(pool_maxsize, LIMITS.max_keepalive_connections or 0),
            )
            options["transport"] = httpx.HTTPTransport(limits=limits)
        if desired_resolution is not None:
            options["desired_resolution"] = tuple(desired_resolution)
        client = CAVEFrameworkClient(
            datastack_name,
            server_address,
            auth_token_file,
            auth_token_key,
            auth_token,
            global_only,
            version=version,
            **options,
        )
        if info_cache:
            from dafclient import _generated as gen
            from dafclient._wire.info_v2.models import DataStackFull

            gen.readable_as_mapping(DataStackFull)
            for name, record in info_cache.items():
                client._ctx.remember_datastack(name, DataStackFull.from_dict(dict(record)))
        return client

    @staticmethod
    def setup_token(server_address: str, overwrite: bool = True, open: bool = True) -> Path:
        """Set up a token for ``server_address`` interactively, as CAVEclient's does: show (and
        with ``open``, open) the token page, ask for the token (hidden), check it by listing the
        datastacks, and save it to the default token file; returns that file. There is no
        server cache to fill: pass ``server_address`` (or set ``$DAF_SERVER_ADDRESS``)."""
        with FrameworkClient(server_address=server_address, auth_token="unset") as setup:
            page = setup.auth.get_token_page(open=open)
        print(f"Visit {page} and copy an existing token or create a new one.")
        while True:
            token = getpass.getpass("Paste your auth token (input will be hidden): ").strip()
            if not _TOKEN.match(token.lower()):
                print("That is not a token: 32 hexadecimal characters (0-9, a-f).")
                continue
            with FrameworkClient(server_address=server_address, auth_token=token) as check:
                try:
                    check.info.get_datastacks()
                except (AuthenticationError, PermissionDeniedError):
                    print("The server refused that token; check it and try again.")
                    continue
                saved = check.auth.save_token(token=token, overwrite=overwrite)
            print("Setup complete.")
            return saved


CAVEclient = _CAVEclientConstructor()
"""CAVEclient's constructor (same parameters, same positional order), returning a
:class:`FrameworkClient`; ``CAVEclient.setup_token(server_address)`` sets up a token."""
