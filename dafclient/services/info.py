"""The info service: datastacks, aligned volumes and their data sources (API v2, legacy v1)."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from dafclient import _generated as gen
from dafclient._context import ApiVersions
from dafclient._plan import Plan, adrive, async_op, drive, sync_op
from dafclient._service import AsyncBinding, ServiceClient, SyncBinding, datastack_record
from dafclient._wire.info_v1.api.info import get_dataset, get_datasets
from dafclient._wire.info_v1.models import DataSet
from dafclient._wire.info_v2.api.info import (
    get_aligned_volume_by_id,
    get_aligned_volumes,
    get_datastacks,
    get_datastacks_by_aligned_volume,
)
from dafclient._wire.info_v2.models import AlignedVolume, DataStackFull
from dafclient.cloudvolumes import make_cloudvolume
from dafclient.errors import ConfigurationError
from dafclient.format_utils import FormatFor, format_source

INFO_API = ApiVersions("info", known=(1, 2), versions_path="/info/api/versions")

T = TypeVar("T")


class InfoServiceBase(ServiceClient):
    """Plans of the info service client; see :class:`InfoServiceClient` for the API."""

    API = INFO_API

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._datasets: dict[str, DataSet] = {}

    @property
    def server_address(self) -> str:
        """The info service's server (the global server)."""
        return self._explicit_server or self._ctx.server_address

    @property
    def dataset_name(self) -> str | None:
        """The seed-era name of :attr:`datastack_name`."""
        return self.datastack_name

    # -- v2: datastacks and aligned volumes ------------------------------------------------------
    def _get_datastacks(self) -> Plan[list[str]]:
        """Names of the datastacks you may view."""
        yield from self._require_version(2, "get_datastacks")
        request = gen.call((yield from self._server()), get_datastacks.build_request())
        return gen.read(get_datastacks.parse_success, request, (yield request))

    def _get_datastack_info(
        self, datastack_name: str | None = None, use_stored: bool = True
    ) -> Plan[DataStackFull]:
        """The datastack's info record (cached unless ``use_stored=False``)."""
        return (yield from datastack_record(self._ctx, datastack_name, use_stored))

    def _get_aligned_volumes(self) -> Plan[list[str]]:
        """Names of the aligned volumes you may view."""
        yield from self._require_version(2, "get_aligned_volumes")
        request = gen.call((yield from self._server()), get_aligned_volumes.build_request())
        return gen.read(get_aligned_volumes.parse_success, request, (yield request))

    def _get_aligned_volume_info(
        self, datastack_name: str | None = None, use_stored: bool = True
    ) -> Plan[AlignedVolume]:
        """The aligned volume of the datastack (from its info record)."""
        record = yield from datastack_record(self._ctx, datastack_name, use_stored)
        return record.aligned_volume

    def _get_aligned_volume_info_by_id(self, aligned_volume_id: int) -> Plan[AlignedVolume]:
        """An aligned volume by its numeric id."""
        yield from self._require_version(2, "get_aligned_volume_info_by_id")
        request = gen.call(
            (yield from self._server()),
            get_aligned_volume_by_id.build_request(aligned_volume_id=aligned_volume_id),
        )
        return gen.parse(AlignedVolume, request, (yield request))

    def _get_datastacks_by_aligned_volume(
        self, aligned_volume: str | None = None
    ) -> Plan[list[str]]:
        """Datastacks built on ``aligned_volume`` (default: this datastack's)."""
        yield from self._require_version(2, "get_datastacks_by_aligned_volume")
        if aligned_volume is None:
            aligned_volume = (yield from datastack_record(self._ctx)).aligned_volume.name
        request = gen.call(
            (yield from self._server()),
            get_datastacks_by_aligned_volume.build_request(aligned_volume_name=aligned_volume),
        )
        return gen.read(get_datastacks_by_aligned_volume.parse_success, request, (yield request))

    def _refresh_stored_data(self) -> Plan[None]:
        """Forget cached records and fetch this datastack's again."""
        self._ctx.forget_datastacks()
        self._datasets.clear()
        if self.datastack_name:
            yield from datastack_record(self._ctx, use_stored=False)

    # -- fields of the record, formatted ------------------------------------------------------
    def _version(self) -> Plan[int]:
        return (yield from self._api_version())

    def _local_server(
        self, datastack_name: str | None = None, use_stored: bool = True
    ) -> Plan[str]:
        """Base URL of the datastack's local services (annotation, segmentation)."""
        record = yield from datastack_record(self._ctx, datastack_name, use_stored)
        return record.local_server

    def _annotation_endpoint(
        self, datastack_name: str | None = None, use_stored: bool = True
    ) -> Plan[str]:
        """URL of the AnnotationEngine serving the datastack."""
        if (yield from self._version()) == 1:
            value = (
                yield from self._dataset(datastack_name, use_stored)
            ).annotation_engine_endpoint
            if value is None:
                raise ConfigurationError("the dataset record has no annotation_engine_endpoint")
            return value
        return (yield from self._local_server(datastack_name, use_stored)) + "/annotation"

    def _image_source(
        self,
        datastack_name: str | None = None,
        use_stored: bool = True,
        format_for: FormatFor = "raw",
    ) -> Plan[str | None]:
        """Cloud path of the EM imagery, formatted for ``format_for``."""
        if (yield from self._version()) == 1:
            value: str | None = (yield from self._dataset(datastack_name, use_stored)).image_source
        else:
            record = yield from datastack_record(self._ctx, datastack_name, use_stored)
            value = record.aligned_volume.image_source
        return format_source(value, format_for)

    def _segmentation_source(
        self,
        datastack_name: str | None = None,
        use_stored: bool | FormatFor = True,
        format_for: FormatFor | bool = "raw",
    ) -> Plan[str | None]:
        """Cloud path of the segmentation (graphene for a chunkedgraph), formatted.

        CAVEclient's positional order; the original client's ``(datastack_name, format_for,
        use_stored)`` is recognised too (a format name in ``use_stored``'s place)."""
        if isinstance(use_stored, str):
            use_stored, format_for = (
                format_for if isinstance(format_for, bool) else True,
                use_stored,
            )
        assert isinstance(use_stored, bool) and isinstance(format_for, str)
        if (yield from self._version()) == 1:
            dataset = yield from self._dataset(datastack_name, use_stored)
            value = dataset.graphene_source or dataset.flat_segmentation_source
        else:
            value = (
                yield from datastack_record(self._ctx, datastack_name, use_stored)
            ).segmentation_source
        return format_source(value, format_for, default_layer=_layer_of(value))

    def _viewer_site(
        self, datastack_name: str | None = None, use_stored: bool = True
    ) -> Plan[str | None]:
        """The Neuroglancer deployment for this datastack."""
        return (yield from datastack_record(self._ctx, datastack_name, use_stored)).viewer_site

    def _viewer_resolution(
        self, datastack_name: str | None = None, use_stored: bool = True
    ) -> Plan[npt.NDArray[np.float64]]:
        """Voxel size (nm, x/y/z) the viewer uses for this datastack."""
        record = yield from datastack_record(self._ctx, datastack_name, use_stored)
        values = (
            record.viewer_resolution_x,
            record.viewer_resolution_y,
            record.viewer_resolution_z,
        )
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    def _synapse_table(
        self, datastack_name: str | None = None, use_stored: bool = True
    ) -> Plan[str | None]:
        """The datastack's default synapse table."""
        return (yield from datastack_record(self._ctx, datastack_name, use_stored)).synapse_table

    def _soma_table(
        self, datastack_name: str | None = None, use_stored: bool = True
    ) -> Plan[str | None]:
        """The datastack's default soma table."""
        return (yield from datastack_record(self._ctx, datastack_name, use_stored)).soma_table

    # -- legacy v1: dataset records ----------------------------------------------------------
    def _dataset(self, dataset_name: str | None, use_stored: bool) -> Plan[DataSet]:
        name = self._ctx.require_datastack(dataset_name)
        if use_stored and name in self._datasets:
            return self._datasets[name]
        request = gen.call(
            (yield from self._server()), get_dataset.build_request(dataset_name=name)
        )
        record = gen.parse(DataSet, request, (yield request))
        self._datasets[name] = record
        return record

    def _get_datasets(self) -> Plan[list[str]]:
        """Names of the datasets in the legacy (v1) registry."""
        yield from self._require_version(1, "get_datasets")
        request = gen.call((yield from self._server()), get_datasets.build_request())
        return gen.read(get_datasets.parse_success, request, (yield request))

    def _get_dataset_info(
        self, dataset_name: str | None = None, use_stored: bool = True
    ) -> Plan[DataSet | DataStackFull]:
        """Everything the info service knows about the dataset: the legacy (v1) dataset record,
        or with API v2 the datastack record."""
        if (yield from self._version()) == 2:
            return (yield from datastack_record(self._ctx, dataset_name, use_stored))
        return (yield from self._dataset(dataset_name, use_stored))

    def _legacy_field(
        self,
        field: str,
        dataset_name: str | None,
        use_stored: bool,
        format_for: FormatFor,
        layer: str,
    ) -> Plan[str | None]:
        record = yield from self._dataset(dataset_name, use_stored)
        value = getattr(record, field)
        assert value is None or isinstance(value, str)
        return format_source(value, format_for, default_layer=layer)

    def _flat_segmentation_source(
        self,
        dataset_name: str | None = None,
        use_stored: bool = True,
        format_for: FormatFor = "raw",
    ) -> Plan[str | None]:
        """Cloud path of the flat segmentation (legacy dataset record)."""
        return (
            yield from self._legacy_field(
                "flat_segmentation_source", dataset_name, use_stored, format_for, "precomputed"
            )
        )

    def _supervoxel_source(
        self,
        dataset_name: str | None = None,
        use_stored: bool = True,
        format_for: FormatFor = "raw",
    ) -> Plan[str | None]:
        """Cloud path of the supervoxel (watershed) volume (legacy dataset record)."""
        return (
            yield from self._legacy_field(
                "pychunkedgraph_supervoxel_source",
                dataset_name,
                use_stored,
                format_for,
                "precomputed",
            )
        )

    def _graphene_source(
        self,
        dataset_name: str | None = None,
        use_stored: bool = True,
        format_for: FormatFor = "raw",
    ) -> Plan[str | None]:
        """Graphene path of the chunkedgraph segmentation."""
        if (yield from self._version()) == 2:
            return (yield from self._segmentation_source(dataset_name, use_stored, format_for))
        return (
            yield from self._legacy_field(
                "graphene_source", dataset_name, use_stored, format_for, "graphene"
            )
        )

    def _pychunkedgraph_endpoint(
        self, dataset_name: str | None = None, use_stored: bool = True
    ) -> Plan[str | None]:
        """URL of the chunkedgraph server (legacy dataset record)."""
        return (yield from self._dataset(dataset_name, use_stored)).pychunkgraph_endpoint

    def _pychunkedgraph_segmentation_source(
        self,
        dataset_name: str | None = None,
        use_stored: bool = True,
        format_for: FormatFor = "raw",
    ) -> Plan[str | None]:
        """Chunkedgraph segmentation source (legacy dataset record)."""
        return (
            yield from self._legacy_field(
                "pychunkgraph_segmentation_source", dataset_name, use_stored, format_for, "graphene"
            )
        )

    def _synapse_segmentation_source(
        self,
        datastack_name: str | None = None,
        use_stored: bool = True,
        format_for: FormatFor = "raw",
        *,
        dataset_name: str | None = None,
    ) -> Plan[str | None]:
        """Cloud path of the synapse segmentation: the datastack record's
        ``synapse_segmentation_source`` key (API v2; ``None`` when it has none) or the legacy
        dataset record's (``dataset_name=`` is the original client's name for the datastack)."""
        name = datastack_name or dataset_name
        if (yield from self._version()) == 2:
            record = yield from datastack_record(self._ctx, name, use_stored)
            value = record.additional_properties.get("synapse_segmentation_source")
            return format_source(value if isinstance(value, str) else None, format_for)
        return (
            yield from self._legacy_field(
                "synapse_segmentation_source", name, use_stored, format_for, "precomputed"
            )
        )


def _layer_of(source: str | None) -> str:
    return "graphene" if source and source.startswith("graphene://") else "precomputed"


class InfoServiceClient(SyncBinding, InfoServiceBase):
    """The info service: datastack records, aligned volumes and their data sources.

    Lives on the global server. Datastack records are fetched once and cached; pass
    ``use_stored=False`` to refetch. ``format_for`` reformats paths for ``"cloudvolume"`` or
    ``"neuroglancer"``. The legacy dataset API (v1) of the original client is available too.
    """

    get_datastacks = sync_op(InfoServiceBase._get_datastacks)
    get_datastack_info = sync_op(InfoServiceBase._get_datastack_info)
    get_aligned_volumes = sync_op(InfoServiceBase._get_aligned_volumes)
    get_aligned_volume_info = sync_op(InfoServiceBase._get_aligned_volume_info)
    get_aligned_volume_info_by_id = sync_op(InfoServiceBase._get_aligned_volume_info_by_id)
    get_datastacks_by_aligned_volume = sync_op(InfoServiceBase._get_datastacks_by_aligned_volume)
    refresh_stored_data = sync_op(InfoServiceBase._refresh_stored_data)
    local_server = sync_op(InfoServiceBase._local_server)
    annotation_endpoint = sync_op(InfoServiceBase._annotation_endpoint)
    image_source = sync_op(InfoServiceBase._image_source)
    segmentation_source = sync_op(InfoServiceBase._segmentation_source)
    viewer_site = sync_op(InfoServiceBase._viewer_site)
    viewer_resolution = sync_op(InfoServiceBase._viewer_resolution)
    synapse_table = sync_op(InfoServiceBase._synapse_table)
    soma_table = sync_op(InfoServiceBase._soma_table)
    get_datasets = sync_op(InfoServiceBase._get_datasets)
    get_dataset_info = sync_op(InfoServiceBase._get_dataset_info)
    flat_segmentation_source = sync_op(InfoServiceBase._flat_segmentation_source)
    supervoxel_source = sync_op(InfoServiceBase._supervoxel_source)
    graphene_source = sync_op(InfoServiceBase._graphene_source)
    pychunkedgraph_endpoint = sync_op(InfoServiceBase._pychunkedgraph_endpoint)
    pychunkedgraph_segmentation_source = sync_op(
        InfoServiceBase._pychunkedgraph_segmentation_source
    )
    synapse_segmentation_source = sync_op(InfoServiceBase._synapse_segmentation_source)

    @property
    def aligned_volume_name(self) -> str:
        """Name of the datastack's aligned volume (from its info record)."""
        return drive(self._get_aligned_volume_info(), self._http).name

    @property
    def aligned_volume_id(self) -> int:
        """Numeric id of the datastack's aligned volume (from its info record)."""
        return drive(self._get_aligned_volume_info(), self._http).id

    def image_cloudvolume(self, **kwargs: Any) -> Any:
        """A ``CloudVolume`` of the EM imagery (keyword arguments go to ``CloudVolume``)."""
        source = drive(self._image_source(format_for="cloudvolume"), self._http)
        if source is None:
            raise ConfigurationError("the datastack has no image source")
        return make_cloudvolume(source, self._ctx, **kwargs)

    def segmentation_cloudvolume(self, **kwargs: Any) -> Any:
        """A ``CloudVolume`` of the segmentation (graphene sources get this client's token)."""
        source = drive(self._segmentation_source(format_for="cloudvolume"), self._http)
        if source is None:
            raise ConfigurationError("the datastack has no segmentation source")
        return make_cloudvolume(source, self._ctx, **kwargs)


class AsyncInfoServiceClient(AsyncBinding, InfoServiceBase):
    """:class:`InfoServiceClient` with coroutine methods (``get_aligned_volume_info()`` instead
    of the ``aligned_volume_name`` / ``aligned_volume_id`` properties)."""

    async def image_cloudvolume(self, **kwargs: Any) -> Any:
        """A ``CloudVolume`` of the EM imagery (keyword arguments go to ``CloudVolume``)."""
        source = await adrive(self._image_source(format_for="cloudvolume"), self._http)
        if source is None:
            raise ConfigurationError("the datastack has no image source")
        return await asyncio.to_thread(make_cloudvolume, source, self._ctx, **kwargs)

    async def segmentation_cloudvolume(self, **kwargs: Any) -> Any:
        """A ``CloudVolume`` of the segmentation (graphene sources get this client's token)."""
        source = await adrive(self._segmentation_source(format_for="cloudvolume"), self._http)
        if source is None:
            raise ConfigurationError("the datastack has no segmentation source")
        return await asyncio.to_thread(make_cloudvolume, source, self._ctx, **kwargs)

    get_datastacks = async_op(InfoServiceBase._get_datastacks)
    get_datastack_info = async_op(InfoServiceBase._get_datastack_info)
    get_aligned_volumes = async_op(InfoServiceBase._get_aligned_volumes)
    get_aligned_volume_info = async_op(InfoServiceBase._get_aligned_volume_info)
    get_aligned_volume_info_by_id = async_op(InfoServiceBase._get_aligned_volume_info_by_id)
    get_datastacks_by_aligned_volume = async_op(InfoServiceBase._get_datastacks_by_aligned_volume)
    refresh_stored_data = async_op(InfoServiceBase._refresh_stored_data)
    local_server = async_op(InfoServiceBase._local_server)
    annotation_endpoint = async_op(InfoServiceBase._annotation_endpoint)
    image_source = async_op(InfoServiceBase._image_source)
    segmentation_source = async_op(InfoServiceBase._segmentation_source)
    viewer_site = async_op(InfoServiceBase._viewer_site)
    viewer_resolution = async_op(InfoServiceBase._viewer_resolution)
    synapse_table = async_op(InfoServiceBase._synapse_table)
    soma_table = async_op(InfoServiceBase._soma_table)
    get_datasets = async_op(InfoServiceBase._get_datasets)
    get_dataset_info = async_op(InfoServiceBase._get_dataset_info)
    flat_segmentation_source = async_op(InfoServiceBase._flat_segmentation_source)
    supervoxel_source = async_op(InfoServiceBase._supervoxel_source)
    graphene_source = async_op(InfoServiceBase._graphene_source)
    pychunkedgraph_endpoint = async_op(InfoServiceBase._pychunkedgraph_endpoint)
    pychunkedgraph_segmentation_source = async_op(
        InfoServiceBase._pychunkedgraph_segmentation_source
    )
    synapse_segmentation_source = async_op(InfoServiceBase._synapse_segmentation_source)
