"""The info service (InfoService 3.17.1): datastacks and aligned volumes, plus the legacy dataset API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from dafserver.auth.guard import ErrorStyle, check_permission, require_token
from dafserver.auth.store import AuthStore, UserContext
from dafserver.errors import ServiceError
from dafserver.responses import flask_json_bytes
from dafserver.services.info_store import (
    DATASTACK_OPTIONAL_TEXT,
    LEGACY_DATASET_FIELDS,
    InfoStore,
    Placeholders,
)

User = Annotated[UserContext, Depends(require_token(ErrorStyle.JSON))]

_AV_KEYS = ("id", "name", "display_name", "description", "image_source")
_FULL_KEYS = (
    "segmentation_source",
    "analysis_database",
    "viewer_site",
    "synapse_table",
    "soma_table",
    "local_server",
    "description",
    "viewer_resolution_x",
    "viewer_resolution_y",
    "viewer_resolution_z",
    "proofreading_status_table",
    "cell_identification_table",
    "proofreading_review_table",
)
_FLAT_KEYS = (
    "id",
    "name",
    "display_name",
    "viewer_layer_name",
    "segmentation_source",
    "analysis_database",
    "viewer_site",
    "synapse_table",
    "soma_table",
    "proofreading_status_table",
    "cell_identification_table",
    "proofreading_review_table",
    "local_server",
    "description",
    "viewer_resolution_x",
    "viewer_resolution_y",
    "viewer_resolution_z",
    "base_link_id",
)
assert set(_FLAT_KEYS) >= set(DATASTACK_OPTIONAL_TEXT)


def _json(content: Any) -> Response:
    return Response(flask_json_bytes(content, sort_keys=False), media_type="application/json")


def _store(request: Request) -> InfoStore:
    store = request.app.state.info
    assert isinstance(store, InfoStore)
    return store


def _placeholders(request: Request) -> Placeholders:
    data_dir = request.app.state.deployment.data_dir
    return Placeholders(server=str(request.base_url).rstrip("/"), data_dir=str(data_dir))


def _not_found(request: Request) -> ServiceError:
    return ServiceError(
        404,
        "The requested URL was not found on the server. If you entered the URL manually please "
        f"check your spelling and try again. You have requested this URI [{request.url.path}]",
    )


def _viewable(request: Request, user: UserContext, namespace: str, names: list[str]) -> list[str]:
    auth = request.app.state.auth
    assert isinstance(auth, AuthStore)
    keep = []
    for name in names:
        dataset = auth.dataset_for(namespace, name)
        if dataset is not None and user.has_permission(dataset, "view"):
            keep.append(name)
    return keep


def _aligned_volume_record(av: dict[str, Any]) -> dict[str, Any]:
    return {key: av[key] for key in _AV_KEYS}


def build_router() -> APIRouter:
    router = APIRouter()
    v2 = "/info/api/v2"

    @router.get("/info/api/versions")
    def get_api_versions() -> Response:
        return _json([2])

    @router.get(f"{v2}/datastacks")
    def get_datastacks(request: Request, user: User) -> Response:
        return _json(_viewable(request, user, "datastack", _store(request).datastack_names()))

    def _datastack(request: Request, user: UserContext, name: str) -> dict[str, Any]:
        check_permission(request, user, "view", "datastack", name)
        row = _store(request).datastack(name)
        if row is None:
            raise _not_found(request)
        return _placeholders(request).apply(row)

    @router.get(f"{v2}/datastack/full/{{datastack_name}}")
    def get_datastack_full(request: Request, datastack_name: str, user: User) -> Response:
        row = _datastack(request, user, datastack_name)
        av = _store(request).aligned_volume_by_id(row["aligned_volume_id"])
        assert av is not None
        record = {"aligned_volume": _placeholders(request).apply(_aligned_volume_record(av))}
        record.update({key: row[key] for key in _FULL_KEYS})
        return _json(record)

    @router.get(f"{v2}/datastack/{{datastack_name}}")
    def get_datastack(request: Request, datastack_name: str, user: User) -> Response:
        row = _datastack(request, user, datastack_name)
        record = {"aligned_volume": f"{v2}/aligned_volume/id/{row['aligned_volume_id']}"}
        record.update({key: row[key] for key in _FLAT_KEYS})
        return _json(record)

    @router.get(f"{v2}/aligned_volume")
    def get_aligned_volumes(request: Request, user: User) -> Response:
        names = _store(request).aligned_volume_names()
        return _json(_viewable(request, user, "aligned_volume", names))

    @router.get(f"{v2}/aligned_volume/id/{{aligned_volume_id}}")
    def get_aligned_volume_by_id(request: Request, aligned_volume_id: str) -> Response:
        # Production routes this as ``<int:id>`` (anything else matches no route); the contract
        # answers every id that names no aligned volume with the same JSON 404.
        if (
            not aligned_volume_id.isascii()
            or not aligned_volume_id.isdigit()
            or int(aligned_volume_id) > 2**63 - 1
        ):
            raise _not_found(request)
        av = _store(request).aligned_volume_by_id(int(aligned_volume_id))
        if av is None:
            raise _not_found(request)
        return _json(_placeholders(request).apply(_aligned_volume_record(av)))

    @router.get(f"{v2}/aligned_volume/{{aligned_volume_name}}/datastacks")
    def get_datastacks_by_aligned_volume(
        request: Request, aligned_volume_name: str, user: User
    ) -> Response:
        if _store(request).aligned_volume(aligned_volume_name) is None:
            raise _not_found(request)
        names = _store(request).datastack_names(aligned_volume_name)
        return _json(_viewable(request, user, "datastack", names))

    @router.get(f"{v2}/aligned_volume/{{aligned_volume_name}}")
    def get_aligned_volume(request: Request, aligned_volume_name: str, user: User) -> Response:
        check_permission(request, user, "view", "aligned_volume", aligned_volume_name)
        av = _store(request).aligned_volume(aligned_volume_name)
        if av is None:
            raise _not_found(request)
        return _json(_placeholders(request).apply(_aligned_volume_record(av)))

    @router.get(f"{v2}/ngl_info")
    def get_ngl_info(request: Request, user: User) -> Response:
        store, fill = _store(request), _placeholders(request)
        result: dict[str, Any] = {}
        for av_name in _viewable(request, user, "aligned_volume", store.aligned_volume_names()):
            av = store.aligned_volume(av_name)
            assert av is not None
            av = fill.apply(av)
            layers = []
            for ds_name in _viewable(request, user, "datastack", store.datastack_names(av_name)):
                ds = fill.apply(store.datastack(ds_name) or {})
                layer = {
                    "name": ds_name,
                    "description": ds["description"],
                    "segmentation_source": ds["segmentation_source"],
                }
                if ds["base_link_id"] is not None:
                    layer["initial_state_id"] = ds["base_link_id"]
                layers.append(layer)
            result[av["display_name"] or av["name"]] = {
                "image_layers": [
                    {
                        "image_source": av["image_source"],
                        "ngl_image_name": "img",
                        "name": av["name"],
                        "description": av["description"],
                    }
                ],
                "segmentation_layers": layers,
                "description": av["description"],
            }
        return _json(result)

    _add_permission_group_routes(router, v2)
    _add_legacy_routes(router)
    return router


def _auth(request: Request) -> AuthStore:
    auth = request.app.state.auth
    assert isinstance(auth, AuthStore)
    return auth


def _add_permission_group_routes(router: APIRouter, v2: str) -> None:
    """The InfoService's own (legacy) permission-group registry, served from the auth tables."""

    @router.get(f"{v2}/permissiongroups")
    def get_permission_groups(request: Request, user: User) -> Response:
        return _json([d["name"] for d in _auth(request).datasets()])

    @router.get(f"{v2}/permissiongroup/name/{{pg_name}}")
    def get_permission_group(request: Request, pg_name: str, user: User) -> Response:
        found = [d for d in _auth(request).datasets() if d["name"] == pg_name]
        if not found:
            raise _not_found(request)
        return _json(found[0])

    @router.get(f"{v2}/tablemapping")
    def get_table_mappings(request: Request, user: User) -> Response:
        return _json([_mapping_full(m) for m in _auth(request).table_mappings()])

    @router.get(f"{v2}/tablemapping/service/{{service_name}}")
    def get_table_mappings_by_service(request: Request, service_name: str, user: User) -> Response:
        return _json(
            [
                {"id": m["id"], "table_name": m["table_name"], "service_name": m["service_name"]}
                for m in _auth(request).table_mappings(service_name)
            ]
        )

    def _one(request: Request, service_name: str, table_name: str) -> dict[str, Any]:
        for mapping in _auth(request).table_mappings(service_name):
            if mapping["table_name"] == table_name:
                return mapping
        raise _not_found(request)

    @router.get(f"{v2}/tablemapping/service/{{service_name}}/table/{{table_name}}")
    def get_table_mapping(
        request: Request, service_name: str, table_name: str, user: User
    ) -> Response:
        return _json(_mapping_full(_one(request, service_name, table_name)))

    @router.get(f"{v2}/tablemapping/service/{{service_name}}/table/{{table_name}}/permission_group")
    def get_table_mapping_permission_group(
        request: Request, service_name: str, table_name: str
    ) -> Response:
        return _json(_one(request, service_name, table_name)["dataset_name"])


def _mapping_full(mapping: dict[str, Any]) -> dict[str, Any]:
    return {
        "permission_group": {"id": mapping["dataset_id"], "name": mapping["dataset_name"]},
        "table_name": mapping["table_name"],
        "service_name": mapping["service_name"],
    }


def _add_legacy_routes(router: APIRouter) -> None:
    """The dataset API of InfoService 1.x (2018–2020), which the original client's v1 info client used."""

    @router.get("/info/api/datasets")
    def get_datasets(request: Request) -> Response:
        return _json(_store(request).legacy_dataset_names())

    @router.get("/info/api/dataset/{dataset_name}")
    def get_dataset(request: Request, dataset_name: str) -> Response:
        row = _store(request).legacy_dataset(dataset_name)
        if row is None:
            raise HTTPException(404)
        row = _placeholders(request).apply(row)
        return _json(
            {"id": row["id"], "name": row["name"], "image_source": row["image_source"]}
            | {key: row[key] for key in LEGACY_DATASET_FIELDS}
        )
