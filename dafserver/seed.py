"""Register a built dataset with every service: auth mappings, info records, annotation tables,
and a few Neuroglancer states. Runs once per deployment, right after the dataset is built."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from dafserver.dataset.builder import synthetic_annotations
from dafserver.dataset.manifest import DatasetManifest
from dafserver.materialize.seed import seed_materialization
from dafserver.services.annotation_store import INSERT_LIMIT, NewAnnotation
from dafserver.services.annotation_validation import compile_annotation_schema
from dafserver.services.state_store import DocumentKind

if TYPE_CHECKING:
    from dafserver.deployment import Deployment

SEED_FILE = "seed.json"

DATASET = "synthetic"
"""The auth service's dataset covering everything below."""
DATASTACK = "synthetic"
ALIGNED_VOLUME = "synthetic_em"
DEFAULT_GROUP = "default"
VIEWER_GROUP = "viewers"
VIEWER_SITE = "https://neuroglancer-demo.appspot.com"
ANNOTATION_TABLES = {
    "synapse": "synapses",
    "cell_type_local": "cell_types",
    "microns_func_coreg": "functional_coreg",
}
"""Schema type of each synthetic table → its table name."""


@dataclass(frozen=True)
class SeedRecord:
    """What seeding registered (``seed.json`` in the data folder)."""

    datastack: str
    aligned_volume: str
    dataset: str
    pcg_table: str
    annotation_tables: dict[str, str]
    row_counts: dict[str, int]
    state_ids: list[int]


def load_seed_record(data_dir: Path) -> SeedRecord | None:
    path = data_dir / SEED_FILE
    if not path.is_file():
        return None
    return SeedRecord(**json.loads(path.read_text(encoding="utf-8")))


def _file_source(manifest: DatasetManifest, relative: str) -> str:
    """A ``file://`` source under the data folder, stored with the ``{data_dir}`` placeholder."""
    return "precomputed://file://{data_dir}/" + relative


def seed_deployment(deployment: Deployment, manifest: DatasetManifest) -> SeedRecord:
    """Register ``manifest``'s dataset with every service of ``deployment`` (once)."""
    existing = load_seed_record(deployment.data_dir)
    if existing is not None:
        return existing
    table_id = manifest.graph.table_id
    _seed_auth(deployment, table_id)
    _seed_info(deployment, manifest)
    counts = _seed_annotations(deployment, manifest)
    seed_materialization(
        deployment,
        manifest,
        aligned_volume=ALIGNED_VOLUME,
        datastack=DATASTACK,
        synapse_table=ANNOTATION_TABLES["synapse"],
        cell_type_table=ANNOTATION_TABLES["cell_type_local"],
    )
    states = _seed_states(deployment, manifest)
    record = SeedRecord(
        datastack=DATASTACK,
        aligned_volume=ALIGNED_VOLUME,
        dataset=DATASET,
        pcg_table=table_id,
        annotation_tables=dict(ANNOTATION_TABLES),
        row_counts=counts,
        state_ids=states,
    )
    path = deployment.data_dir / SEED_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return record


def _seed_auth(deployment: Deployment, table_id: str) -> None:
    auth = deployment.auth
    auth.grant(DEFAULT_GROUP, DATASET, ["view", "edit", "admin_view"])
    auth.grant(VIEWER_GROUP, DATASET, ["view"])
    admin = auth.user_id_by_email("admin@dafserver.local")
    if admin is not None:
        auth.add_to_group(admin, DEFAULT_GROUP)
    for namespace, name in (
        ("datastack", DATASTACK),
        ("aligned_volume", ALIGNED_VOLUME),
        ("pychunkedgraph", table_id),
    ):
        auth.map_table(namespace, name, DATASET)


def _seed_info(deployment: Deployment, manifest: DatasetManifest) -> None:
    info = deployment.info
    resolution = manifest.graph.resolution
    table_id = manifest.graph.table_id
    image = _file_source(manifest, manifest.image_path)
    supervoxels = _file_source(manifest, manifest.segmentation_path)
    info.add_aligned_volume(
        ALIGNED_VOLUME,
        display_name="Synthetic EM",
        description=f"Synthetic EM volume ({manifest.size}, seed {manifest.seed}).",
        image_source=image,
    )
    info.add_datastack(
        DATASTACK,
        aligned_volume=ALIGNED_VOLUME,
        local_server="{server}",
        segmentation_source=f"graphene://{{server}}/segmentation/table/{table_id}",
        viewer_site=VIEWER_SITE,
        synapse_table=ANNOTATION_TABLES["synapse"],
        soma_table=ANNOTATION_TABLES["cell_type_local"],
        description=f"Synthetic datastack ({manifest.size}, seed {manifest.seed}) of dafserver.",
        viewer_resolution_x=resolution[0],
        viewer_resolution_y=resolution[1],
        viewer_resolution_z=resolution[2],
    )
    info.add_legacy_dataset(
        DATASTACK,
        image_source=image,
        graphene_source=f"graphene://{{server}}/segmentation/table/{table_id}",
        pychunkgraph_segmentation_source=f"graphene://{{server}}/segmentation/table/{table_id}",
        pychunkgraph_endpoint="{server}/segmentation",
        annotation_engine_endpoint="{server}/annotation",
        pychunkedgraph_supervoxel_source=supervoxels,
        pychunkedgraph_viewer_source=f"graphene://{{server}}/segmentation/table/{table_id}",
    )


def _nested(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Flat ``{point}_position`` / ``{point}_supervoxel_id`` columns as nested annotations."""
    points = [c.removesuffix("_position") for c in frame.columns if c.endswith("_position")]
    records: list[dict[str, Any]] = []
    for row in frame.to_dict(orient="records"):
        item: dict[str, Any] = {}
        for raw_key, value in row.items():
            key = str(raw_key)
            point = next((p for p in points if key.startswith(p + "_")), None)
            if key == "id":
                continue
            if point is None:
                item[key] = value.item() if hasattr(value, "item") else value
            elif key == f"{point}_position":
                item.setdefault(point, {})["position"] = [int(v) for v in value]
        records.append(item)
    return records


def _seed_annotations(deployment: Deployment, manifest: DatasetManifest) -> dict[str, int]:
    store = deployment.annotation
    admin = deployment.auth.user_id_by_email("admin@dafserver.local")
    frames = synthetic_annotations(manifest.data_dir)
    counts: dict[str, int] = {}
    for schema_type, table_name in ANNOTATION_TABLES.items():
        document = deployment.schemas.get(schema_type)
        assert document is not None, schema_type
        plan = compile_annotation_schema(schema_type, document)
        table = store.create_table(
            ALIGNED_VOLUME,
            table_name,
            schema_type,
            description=f"Synthetic {schema_type} annotations of the {manifest.size} dataset.",
            user_id=str(admin),
            voxel_resolution=manifest.graph.resolution,
            read_permission="PUBLIC",
            write_permission="PRIVATE",
        )
        items = [
            NewAnnotation(explicit_id=None, target_id=None, data=plan.load(item))
            for item in _nested(frames[schema_type])
        ]
        for start in range(0, len(items), INSERT_LIMIT):
            store.insert(table, items[start : start + INSERT_LIMIT])
        counts[table_name] = len(items)
    return counts


def _seed_states(deployment: Deployment, manifest: DatasetManifest) -> list[int]:
    """A viewer state of the dataset's volumes, and one with a few supervoxels selected."""
    admin = str(deployment.auth.user_id_by_email("admin@dafserver.local"))
    root = int(deployment.graph.get_latest_roots()[0])
    leaves = deployment.graph.get_leaves(root)[:5]
    base = {
        "layers": [
            {"type": "image", "name": "em", "source": "precomputed://" + manifest.image_cloudpath},
            {
                "type": "segmentation",
                "name": "supervoxels",
                "source": "precomputed://" + manifest.segmentation_cloudpath,
                "segments": [],
            },
        ],
        "navigation": {
            "pose": {
                "position": {"voxelCoordinates": [int(v) // 2 for v in manifest.graph.volume_size]}
            }
        },
        "layout": "xy-3d",
    }
    selected = json.loads(json.dumps(base))
    selected["layers"][1]["segments"] = [str(int(r)) for r in leaves]
    ids = []
    for state in (base, selected):
        raw = json.dumps(state).encode("utf-8")
        ids.append(deployment.state.save(raw, column=DocumentKind.STATE, user_id=admin))
    return ids
