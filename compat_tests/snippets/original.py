"""The original client's style (FrameworkClient, its names and positional orders), each
compared with CAVEclient's way of doing the same against the same deployment."""

from __future__ import annotations

from typing import Any

from . import Fixtures, snippet


def _cave_schemas(client: Any, fx: Fixtures) -> Any:
    return sorted(client.schema.get_schemas())


@snippet("schema.get_schemas", style="original", cave=_cave_schemas)
def original_schemas_alias(client: Any, fx: Fixtures) -> Any:
    return sorted(client.schemas.get_schemas())


def _cave_dataset_name(client: Any, fx: Fixtures) -> Any:
    return client.datastack_name


@snippet("CAVEclient.datastack_name", style="original", cave=_cave_dataset_name)
def original_dataset_name(client: Any, fx: Fixtures) -> Any:
    return client.dataset_name


def _cave_segmentation(client: Any, fx: Fixtures) -> Any:
    return client.info.segmentation_source(format_for="cloudvolume")


@snippet("info.segmentation_source", style="original", cave=_cave_segmentation)
def original_segmentation_source_order(client: Any, fx: Fixtures) -> Any:
    # The original client's order: (datastack_name, format_for, use_stored).
    return client.info.segmentation_source(None, "cloudvolume", True)


def _cave_record(client: Any, fx: Fixtures) -> Any:
    return client.info.get_datastack_info()["segmentation_source"]


@snippet("info.get_datastack_info", style="original", cave=_cave_record)
def original_dataset_info(client: Any, fx: Fixtures) -> Any:
    return client.info.get_dataset_info()["segmentation_source"]


def _cave_tables(client: Any, fx: Fixtures) -> Any:
    return sorted(client.annotation.get_tables())


@snippet("annotation.get_tables", style="original", cave=_cave_tables)
def original_table_records(client: Any, fx: Fixtures) -> Any:
    return sorted(t["table_name"] for t in client.annotation.get_tables())


def _cave_one_row(client: Any, fx: Fixtures) -> Any:
    return client.annotation.get_annotation("synapses", [1])


@snippet("annotation.get_annotation", style="original", cave=_cave_one_row)
def original_annotation_id(client: Any, fx: Fixtures) -> Any:
    return client.annotation.get_annotation("synapses", annotation_id=1)


def _cave_root(client: Any, fx: Fixtures) -> Any:
    return client.chunkedgraph.get_root_id(fx.supervoxels[0])


@snippet("chunkedgraph.get_root_id", style="original", cave=_cave_root)
def original_positional_token_file(client: Any, fx: Fixtures) -> Any:
    # FrameworkClient(dataset_name, server_address, auth_token_file): positional, as documented.
    import json

    from dafclient import FrameworkClient

    path = fx.tmp / "original-token.json"
    path.write_text(json.dumps({"token": fx.token}))
    with FrameworkClient(fx.datastack, fx.server, str(path)) as original:
        return original.chunkedgraph.get_root_id(fx.supervoxels[0])
