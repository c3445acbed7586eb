"""client.schema: annotation types and their JSON Schemas."""

from __future__ import annotations

from typing import Any

from . import Fixtures, snippet


@snippet("schema.get_schemas")
def schema_names(client: Any, fx: Fixtures) -> Any:
    return sorted(client.schema.get_schemas())


@snippet("schema.schema_definition")
def synapse_schema(client: Any, fx: Fixtures) -> Any:
    definition = client.schema.schema_definition("synapse")
    return {
        "ref": definition["$ref"],
        "fields": sorted(definition["definitions"]["SynapseSchema"]["properties"]),
        "whole": definition,
    }


@snippet("schema.schema_definition_multi")
def two_schemas(client: Any, fx: Fixtures) -> Any:
    return client.schema.schema_definition_multi(["synapse", "cell_type_local"])


@snippet("schema.schema_definition_all")
def every_schema(client: Any, fx: Fixtures) -> Any:
    return client.schema.schema_definition_all()
