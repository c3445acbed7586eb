"""The main job: a walk through the original client's documentation against a local deployment."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dafclient.framework import FrameworkClient

Echo = Callable[[str], None]


def run_demo(data_dir: Path | None = None, echo: Echo = print, size: str = "small") -> None:
    """Start dafserver with the synthetic dataset (built on first use) and exercise every service."""
    from dafserver.runner import running_server
    from dafserver.seed import DATASTACK, load_seed_record

    with tempfile.TemporaryDirectory(prefix="dafclient-demo-") as scratch:
        folder = data_dir or Path(scratch)
        echo(f"Starting dafserver with the {size} synthetic dataset in {folder} ...")
        with running_server(folder, size=size) as server:
            seed = load_seed_record(server.deployment.data_dir)
            manifest = server.deployment.manifest
            assert seed is not None and manifest is not None
            echo(f"dafserver is listening on {server.base_url}\n")
            with FrameworkClient(
                DATASTACK, server_address=server.base_url, auth_token=server.admin_token
            ) as client:
                _walk(client, echo, seed.annotation_tables, manifest)


def _section(echo: Echo, title: str) -> None:
    echo(f"\n== {title} " + "=" * max(0, 66 - len(title)))


def _bulk_upload(client: FrameworkClient, echo: Callable[[str], object], table: str) -> None:
    """Stage 10,000 coregistrations (one of them bad), then bulk-post the good ones."""
    import numpy as np
    import pandas as pd

    from dafclient.annotations import AnnotationStage, AnnotationValidationError

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "pt_position_x": rng.integers(0, 256, 10_000),
            "pt_position_y": rng.integers(0, 256, 10_000),
            "pt_position_z": rng.integers(0, 64, 10_000).astype(float),
            "func_id": np.arange(10_000),
        }
    )
    frame.loc[42, "pt_position_z"] = np.nan
    stage: AnnotationStage[Any] = client.annotation.stage(table)
    try:
        stage.add_dataframe(frame)
    except AnnotationValidationError as exc:
        echo(f"staging 10,000 rows: {str(exc).splitlines()[1].strip()}")
        stage.add_dataframe(frame.drop(index=frame.index[exc.bad_rows]))
    result = client.annotation.bulk_post(table, stage, batch_size=2_500)
    echo(f"bulk_post: {result.summary()}; ids {result.ids.min()}..{result.ids.max()}")


def _walk(client: FrameworkClient, echo: Echo, tables: dict[str, str], manifest: object) -> None:
    from dafserver.dataset.manifest import DatasetManifest

    assert isinstance(manifest, DatasetManifest)
    echo(repr(client))

    _section(echo, "Info service")
    echo(f"datastacks:          {client.info.get_datastacks()}")
    echo(f"image source:        {client.info.image_source()}")
    echo(f"  for cloudvolume:   {client.info.image_source(format_for='cloudvolume')}")
    echo(f"segmentation source: {client.info.segmentation_source()}")
    echo(f"viewer resolution:   {client.info.viewer_resolution().tolist()} nm")

    _section(echo, "Auth")
    me = client.auth.get_user_cache()
    echo(
        f"token belongs to {me.name} <{me.email}>, permissions: {me.permissions_v2.additional_properties}"
    )

    _section(echo, "EMAnnotationSchemas")
    schemas = client.schema.get_schemas()
    echo(f"{len(schemas)} annotation types, e.g. {schemas[:4]}")
    definition = client.schema.schema_definition("microns_func_coreg")
    echo(
        f"microns_func_coreg fields: {sorted(definition['definitions']['FunctionalCoregistration']['properties'])}"
    )

    _section(echo, "AnnotationEngine")
    all_tables = client.annotation.get_tables()
    echo(f"tables: {all_tables}")
    synapses = tables["synapse"]
    echo(f"{synapses}: {client.annotation.get_annotation_count(synapses)} rows; first row:")
    echo(f"  {client.annotation.get_annotation(synapses, [1])[0]}")
    table = f"demo_coreg_{datetime.now(UTC):%H%M%S%f}"
    client.annotation.create_table(table_name=table, schema_name="microns_func_coreg")
    new_data = {"type": "microns_func_coreg", "pt": {"position": [1, 2, 3]}, "func_id": 0}
    ids = client.annotation.post_annotation(table_name=table, data=[new_data])
    echo(f"created table {table!r}, posted annotation ids {ids}; read back:")
    echo(f"  {client.annotation.get_annotation(table_name=table, annotation_ids=ids)}")
    _bulk_upload(client, echo, table)

    _section(echo, "ChunkedGraph")
    edit = manifest.edits[0]
    sv_id = edit.supervoxel_ids[0]
    before = datetime.fromtimestamp(edit.timestamp, UTC) - timedelta(seconds=1)
    echo(f"supervoxel {sv_id}")
    echo(f"  root now:                    {client.chunkedgraph.get_root_id(supervoxel_id=sv_id)}")
    echo(
        f"  root at {before:%Y-%m-%d %H:%M:%S} UTC:  {client.chunkedgraph.get_root_id(supervoxel_id=sv_id, timestamp=before)}"
    )
    echo(
        f"  (edit {edit.operation_id}, a {edit.kind}, happened at {datetime.fromtimestamp(edit.timestamp, UTC):%H:%M:%S})"
    )
    root_id = client.chunkedgraph.get_root_id(supervoxel_id=sv_id)
    leaves = client.chunkedgraph.get_leaves(root_id)
    echo(f"  root {root_id} has {leaves.size} supervoxels")
    roots = client.chunkedgraph.get_roots(leaves[:1000])
    echo(f"  get_roots on 1000 of them: {set(roots.tolist()) == {root_id}} (all the same root)")
    change_log = client.chunkedgraph.get_change_log(root_id)
    echo(f"  change log: {change_log['n_merges']} merges, {change_log['n_splits']} splits")

    _section(echo, "JSON state service")
    state = {"layers": [{"type": "segmentation", "name": "seg", "segments": [str(root_id)]}]}
    state_id = client.state.upload_state_json(state)
    echo(
        f"uploaded state {state_id}; it reads back equal: {client.state.get_state_json(state_id) == state}"
    )
    echo(f"viewer link: {client.state.build_neuroglancer_url(state_id)}")
    echo("\nDone.")
