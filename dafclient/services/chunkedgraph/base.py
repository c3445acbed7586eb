"""Where the chunkedgraph lives: its server, API version, table and default timestamp."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from dafclient import _generated as gen
from dafclient._context import ApiVersions
from dafclient._plan import Plan
from dafclient._service import ServiceClient, datastack_record
from dafclient._wire.chunkedgraph_v1.api.chunkedgraph import get_table_info
from dafclient.errors import InputError
from dafclient.format_utils import table_id_from_source
from dafclient.records import SegmentationInfo
from dafclient.timestamps import (
    TimestampLike,
    from_epoch_seconds,
    optional_epoch,
    to_epoch_seconds,
)

CHUNKEDGRAPH_API = ApiVersions(
    "chunkedgraph", known=(1,), versions_path="/segmentation/api/versions"
)


class ChunkedGraphLocation(ServiceClient):
    """What every chunkedgraph plan starts from: the server, the table and the default time."""

    API = CHUNKEDGRAPH_API
    LOCAL = True

    def __init__(
        self,
        *args: Any,
        table_name: str | None = None,
        timestamp: TimestampLike | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._table_name = table_name
        self._default_timestamp = optional_epoch(timestamp)
        self._segmentation_info: SegmentationInfo | None = None

    @property
    def timestamp(self) -> datetime | None:
        """Default time of root queries (``None``: now)."""
        return (
            None if self._default_timestamp is None else from_epoch_seconds(self._default_timestamp)
        )

    @timestamp.setter
    def timestamp(self, value: TimestampLike | None) -> None:
        self._default_timestamp = optional_epoch(value)

    def _ts(self, value: TimestampLike | None, name: str = "timestamp") -> float | None:
        return self._default_timestamp if value is None else to_epoch_seconds(value, name=name)

    def _table(self) -> Plan[str]:
        if self._table_name is None:
            record = yield from datastack_record(self._ctx)
            if not record.segmentation_source:
                raise InputError("the datastack has no segmentation source")
            self._table_name = table_id_from_source(record.segmentation_source)
        return self._table_name

    def _where(self) -> Plan[tuple[str, str]]:
        server = yield from self._server()
        yield from self._ctx.api_version(self.API, server)
        return server, (yield from self._table())

    def _get_table_name(self) -> Plan[str]:
        """The chunkedgraph table id (last path element of the segmentation source)."""
        return (yield from self._table())

    def _get_segmentation_info(self) -> Plan[SegmentationInfo]:
        """The graphene info of the table (cached)."""
        if self._segmentation_info is None:
            server, table = yield from self._where()
            request = gen.call(server, get_table_info.build_request(table_id=table))
            info = gen.read_dict(get_table_info.parse_success, request, (yield request))
            self._segmentation_info = cast(SegmentationInfo, info)
        return self._segmentation_info

    def _get_base_resolution(self) -> Plan[npt.NDArray[np.float64]]:
        """Voxel size (nm) of the segmentation's base scale."""
        info = yield from self._get_segmentation_info()
        return np.asarray(info["scales"][0]["resolution"], dtype=np.float64)

    def _get_cloudvolume_path(self) -> Plan[str]:
        """``graphene://`` path for cloud-volume."""
        server, table = yield from self._where()
        return f"graphene://{server}/segmentation/api/v1/{table}"
