"""The L2 cache (PCGL2Cache): shape features of level-2 nodes, without downloading meshes.

Every L2 node (the part of a neuron inside one atomic chunk of the chunkedgraph) has cached
features, computed from the segmentation inside its chunk. Units are nanometres:

============================= ================================================================
``size_nm3``                  volume (nm³)
``area_nm2``                  surface area inside the chunk (nm²; faces on the chunk border
                              are not counted)
``max_dt_nm``, ``mean_dt_nm`` largest and mean distance (nm) from the node's voxels to its
                              boundary
``rep_coord_nm``              a point deep inside the node, near its middle (world nm, x/y/z)
``chunk_intersect_count``     voxels of the node on each face of its chunk (low x/y/z faces,
                              then high x/y/z faces)
``pca``, ``pca_val``          principal axes (unit vectors, decreasing variance) and their
                              singular values (nm·√voxels); absent for nodes under 0.01 µm³
============================= ================================================================

:meth:`~L2CacheClient.get_l2data` returns a DataFrame indexed by L2 id (``uint64``, sorted,
one row per unique id). Scalar attributes are ``float64`` columns. Vector attributes are split
into the columns CAVEclient's ``get_l2data_table`` uses (``rep_coord_nm_x``…, ``pca_0_x``…,
``pca_val_0``…, ``chunk_intersect_count_x_bottom``…``_z_top``), or, with
``split_columns=False``, kept as one column of numpy arrays. A value the cache does not have
(an uncached id, or ``pca`` of a small node) is NaN (``None`` in an array column).
``as_dict=True`` returns the server's answer as CAVEclient's ``get_l2data`` does: ``{"<l2
id>": {attribute: value}}``, ``{}`` for uncached ids. Ids are sent in batches of
:data:`L2DATA_BATCH`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast, overload
from urllib.parse import urlsplit

import numpy as np

from dafclient import _generated as gen
from dafclient._context import ApiVersions
from dafclient._plan import Plan, async_op, drive, read_json, sync_op
from dafclient._service import AsyncBinding, ServiceClient, SyncBinding, datastack_record
from dafclient._wire.l2cache_v1.api.l2cache import (
    get_attribute_metadata,
    get_attributes,
    get_table_mapping,
)
from dafclient._wire.l2cache_v1.models import L2IdsRequest
from dafclient.errors import InputError, NotFoundError, ResponseFormatError
from dafclient.format_utils import table_id_from_source
from dafclient.ids import IdArray, IdsLike, as_id_array
from dafclient.records import L2CacheConfig, L2Features

if TYPE_CHECKING:
    import pandas as pd

L2CACHE_API = ApiVersions("l2cache", known=(1,), versions_path=None)
"""The service has one API version and no versions route."""

L2DATA_BATCH = 10_000
"""L2 ids per attributes request."""

SCALAR_ATTRIBUTES = ("area_nm2", "max_dt_nm", "mean_dt_nm", "size_nm3")
SPLIT_COLUMNS: dict[str, tuple[str, ...]] = {
    "rep_coord_nm": ("rep_coord_nm_x", "rep_coord_nm_y", "rep_coord_nm_z"),
    "pca": tuple(f"pca_{i}_{a}" for i in range(3) for a in "xyz"),
    "pca_val": ("pca_val_0", "pca_val_1", "pca_val_2"),
    "chunk_intersect_count": tuple(
        f"chunk_intersect_count_{a}_{side}" for side in ("bottom", "top") for a in "xyz"
    ),
}
"""The flat columns of each vector attribute (CAVEclient's ``get_l2data_table`` names)."""
_SHAPES = {"pca": (3, 3), "chunk_intersect_count": (2, 3)}
ATTRIBUTES = tuple(sorted((*SCALAR_ATTRIBUTES, *SPLIT_COLUMNS)))
"""Every attribute PCGL2Cache 1.3.1 serves."""

L2Data = dict[str, L2Features]
"""The raw answer: decimal L2 id → ``{attribute: value}``."""


def _attribute_list(attributes: str | Iterable[str] | None) -> list[str] | None:
    if attributes is None:
        return None
    names = [attributes] if isinstance(attributes, str) else list(attributes)
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise InputError("attributes: expected a non-empty list of attribute names")
    return [n.strip() for n in names]


def l2data_frame(
    data: L2Data,
    ids: IdArray,
    attributes: Sequence[str] | None = None,
    split_columns: bool = True,
) -> pd.DataFrame:
    """The DataFrame of an attributes answer for ``ids`` (sorted unique): see the module doc."""
    import pandas as pd

    names = list(ATTRIBUTES if attributes is None else attributes)
    rows = [data.get(str(i), {}) for i in ids.tolist()]
    nan = float("nan")
    columns: dict[str, Any] = {}
    for name in names:
        if name not in SPLIT_COLUMNS:
            columns[name] = np.array([r.get(name, nan) for r in rows], dtype=np.float64)
            continue
        flat = SPLIT_COLUMNS[name]
        shape = _SHAPES.get(name, (len(flat),))
        missing = np.full(shape, nan).tolist()
        values = np.array([r.get(name, missing) for r in rows], dtype=np.float64)
        values = values.reshape(len(rows), len(flat))
        if split_columns:
            columns.update({column: values[:, k] for k, column in enumerate(flat)})
        else:
            columns[name] = [None if np.isnan(v[0]) else v.reshape(shape) for v in values]
    index = pd.Index(ids, dtype="uint64", name="l2_id")
    return pd.DataFrame(columns, index=index)


class L2CacheBase(ServiceClient):
    """Plans of the L2 cache client; see :class:`L2CacheClient`."""

    API = L2CACHE_API
    LOCAL = True

    def __init__(self, *args: Any, table_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._table_name = table_name
        self._table_mapping_cache: dict[str, L2CacheConfig] | None = None
        self._metadata: dict[str, str] | None = None

    def _table(self) -> Plan[str]:
        if self._table_name is None:
            record = yield from datastack_record(self._ctx)
            if not record.segmentation_source:
                raise InputError("the datastack has no segmentation source")
            self._table_name = table_id_from_source(record.segmentation_source)
        return self._table_name

    def _l2data_batches(self, ids: IdArray, attributes: list[str] | None) -> Plan[L2Data]:
        server = yield from self._server()
        table = yield from self._table()
        names = None if attributes is None else ",".join(attributes)
        merged: L2Data = {}
        for start in range(0, ids.size, L2DATA_BATCH):
            batch = ids[start : start + L2DATA_BATCH]
            request = gen.call(
                server,
                get_attributes.build_request(
                    table_id=table,
                    body=gen.raw_body(L2IdsRequest, {"l2_ids": batch.tolist()}),
                    attribute_names=names,
                    int64_as_str=False,
                ),
                idempotent=True,
            )
            data = read_json(request, (yield request))
            if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
                raise ResponseFormatError(
                    "expected {l2 id: {attribute: value}}", method="POST", url=request.url
                )
            merged.update(data)
        return merged

    def _get_l2data(
        self,
        l2_ids: IdsLike,
        attributes: str | Iterable[str] | None = None,
        *,
        split_columns: bool = True,
        as_dict: bool = False,
    ) -> Plan[pd.DataFrame | L2Data]:
        """Features of L2 nodes: a DataFrame indexed by L2 id (see the module doc for the
        columns and units), or with ``as_dict`` the raw ``{"<l2 id>": {attribute: value}}``.

        ``attributes`` (default: all) names the attributes to fetch.
        """
        ids = np.unique(as_id_array(l2_ids, name="l2_ids"))
        names = _attribute_list(attributes)
        data = (yield from self._l2data_batches(ids, names)) if ids.size else {}
        if as_dict:
            return {str(i): data.get(str(i), {}) for i in ids.tolist()}
        return self._frame(data, ids, names, split_columns)

    def _get_l2data_table(
        self,
        l2_ids: IdsLike,
        attributes: str | Iterable[str] | None = None,
        split_columns: bool = True,
    ) -> Plan[pd.DataFrame]:
        """CAVEclient's name for :meth:`get_l2data` returning a DataFrame."""
        ids = np.unique(as_id_array(l2_ids, name="l2_ids"))
        names = _attribute_list(attributes)
        data = (yield from self._l2data_batches(ids, names)) if ids.size else {}
        return self._frame(data, ids, names, split_columns)

    @staticmethod
    def _frame(
        data: L2Data, ids: IdArray, names: list[str] | None, split_columns: bool
    ) -> pd.DataFrame:
        """The DataFrame of the answers. It is made inside the plan, so values of the wrong
        shape or type (a ``TypeError``/``ValueError`` here) reach the drivers' checked step,
        which turns them into a ResponseFormatError naming the last request."""
        return l2data_frame(data, ids, names, split_columns)

    def _cache_metadata(self) -> Plan[dict[str, str]]:
        """Attribute name → the numpy dtype it is *stored* in (``"<class 'numpy.uint32'>"``)."""
        if self._metadata is None:
            request = gen.call((yield from self._server()), get_attribute_metadata.build_request())
            stored = gen.read(get_attribute_metadata.parse_success, request, (yield request))
            self._metadata = {str(k): str(v) for k, v in stored.additional_properties.items()}
        return dict(self._metadata)

    def _get_attributes(self) -> Plan[list[str]]:
        """Names of the attributes the cache serves."""
        return list((yield from self._cache_metadata()))

    def _table_mapping(self) -> Plan[dict[str, L2CacheConfig]]:
        """Chunkedgraph table id → ``{cv_path, l2cache_id}`` of every table with a cache
        (fetched once)."""
        if self._table_mapping_cache is None:
            request = gen.call((yield from self._server()), get_table_mapping.build_request())
            mapping = gen.read_dict(get_table_mapping.parse_success, request, (yield request))
            self._table_mapping_cache = cast(dict[str, L2CacheConfig], mapping)
        return dict(self._table_mapping_cache)

    def _has_cache(self, datastack_name: str | None = None) -> Plan[bool]:
        """Whether the datastack's segmentation is a graphene table with an L2 cache (a service
        without ``table_mapping`` means no cache)."""
        record = yield from datastack_record(self._ctx, datastack_name)
        source = record.segmentation_source or ""
        if urlsplit(source).scheme != "graphene":
            return False
        table = table_id_from_source(source)
        try:
            mapping = yield from self._table_mapping()
        except NotFoundError:
            return False
        return table in mapping


class L2CacheClient(SyncBinding, L2CacheBase):
    """The datastack's L2 cache, on its local server."""

    get_l2data_table = sync_op(L2CacheBase._get_l2data_table)

    if TYPE_CHECKING:  # the result depends on as_dict: overloads for mypy and IDEs

        @overload
        def get_l2data(
            self,
            l2_ids: IdsLike,
            attributes: str | Iterable[str] | None = None,
            *,
            split_columns: bool = True,
            as_dict: Literal[False] = False,
        ) -> pd.DataFrame: ...
        @overload
        def get_l2data(
            self,
            l2_ids: IdsLike,
            attributes: str | Iterable[str] | None = None,
            *,
            split_columns: bool = True,
            as_dict: Literal[True],
        ) -> L2Data: ...
        @overload
        def get_l2data(
            self,
            l2_ids: IdsLike,
            attributes: str | Iterable[str] | None = None,
            *,
            split_columns: bool = True,
            as_dict: bool = False,
        ) -> pd.DataFrame | L2Data: ...
        def get_l2data(self, *args: Any, **kwargs: Any) -> Any: ...
    else:
        get_l2data = sync_op(L2CacheBase._get_l2data)

    cache_metadata = sync_op(L2CacheBase._cache_metadata)
    get_attributes = sync_op(L2CacheBase._get_attributes)
    table_mapping = sync_op(L2CacheBase._table_mapping)
    has_cache = sync_op(L2CacheBase._has_cache)

    @property
    def attributes(self) -> list[str]:
        """Names of the attributes the cache serves."""
        return drive(self._get_attributes(), self._http)


class AsyncL2CacheClient(AsyncBinding, L2CacheBase):
    """:class:`L2CacheClient` with coroutine methods (``get_attributes()`` instead of the
    ``attributes`` property)."""

    get_l2data_table = async_op(L2CacheBase._get_l2data_table)

    if TYPE_CHECKING:  # the result depends on as_dict: overloads for mypy and IDEs

        @overload
        async def get_l2data(
            self,
            l2_ids: IdsLike,
            attributes: str | Iterable[str] | None = None,
            *,
            split_columns: bool = True,
            as_dict: Literal[False] = False,
        ) -> pd.DataFrame: ...
        @overload
        async def get_l2data(
            self,
            l2_ids: IdsLike,
            attributes: str | Iterable[str] | None = None,
            *,
            split_columns: bool = True,
            as_dict: Literal[True],
        ) -> L2Data: ...
        @overload
        async def get_l2data(
            self,
            l2_ids: IdsLike,
            attributes: str | Iterable[str] | None = None,
            *,
            split_columns: bool = True,
            as_dict: bool = False,
        ) -> pd.DataFrame | L2Data: ...
        async def get_l2data(self, *args: Any, **kwargs: Any) -> Any: ...
    else:
        get_l2data = async_op(L2CacheBase._get_l2data)

    cache_metadata = async_op(L2CacheBase._cache_metadata)
    get_attributes = async_op(L2CacheBase._get_attributes)
    table_mapping = async_op(L2CacheBase._table_mapping)
    has_cache = async_op(L2CacheBase._has_cache)


__all__ = [
    "ATTRIBUTES",
    "L2DATA_BATCH",
    "AsyncL2CacheClient",
    "L2CacheClient",
    "l2data_frame",
]
