"""Shared types of the contract tests and the schemathesis harness (its config and command)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import yaml

from dafclient._codegen.config import ServiceTarget, load_config
from dafserver.runner import LocalServer
from dafserver.seed import ALIGNED_VOLUME, DATASTACK
from tests.paths import REPO

TARGETS: tuple[ServiceTarget, ...] = load_config(REPO).services
"""Every (service, version) spec."""


@dataclass(frozen=True)
class ContractServer:
    server: LocalServer
    token: str
    """A superadmin with every permission on the dataset."""
    spare_token: str
    """A second user's token, for operations that invalidate the token they are called with."""


# Operations whose documented behaviour a generic check misreads (each with the reason):
EXPECTED_REFUSALS = {
    # dafserver only has API keys, and middle_auth refuses to log out an API key (422).
    "logout",
    # refresh_token refuses users with more than one key (400), which the fuzzer creates.
    "refresh_token",
    # Whether an annotation is valid depends on the table's schema type, which the request
    # schema cannot express (posting synapses into a cell-type table is a correct 422).
    "post_annotations",
    "update_annotations",
    # A table name that exists already is refused (400) however valid the request looks.
    "create_table",
    # Binary id bodies must be whole uint64s (a length the schema cannot state), root assertions
    # and layer-2 chunk ids depend on the graph, and undo/redo of an operation with nothing left
    # to change is refused: all documented 400s of schema-valid requests.
    "get_roots",
    "get_roots_binary",
    "get_root_timestamps",
    "get_minimal_covering_nodes",
    "get_valid_nodes",
    "get_l2_chunk_children",
    "get_l2_chunk_children_binary",
    "undo",
    "redo",
    # Materialize queries name tables and columns in their filters and selections (a filter on a
    # column the table lacks, or a live root-id filter naming a root that is not current, is a
    # documented 400), and reading an expired version's data is a documented 410.
    "query_table",
    "join_query",
    "live_query",
    "query_view",
    "get_view_schema",
    "get_view_schemas",
}
# The ME labels Arrow bodies `Content-Type: data.arrow` (not a `type/subtype` media type; CAVEclient
# compares the string exactly), which the media-type and body checks cannot parse.
NONSTANDARD_MEDIA = {"query_table", "join_query", "live_query", "query_view"}
# PyChunkedGraph and the L2 cache parse booleans leniently: an unparsable value silently means
# the default (documented on each parameter), so "schema-violating value accepted" is their real
# behaviour.
LENIENT_SPECS = {"chunkedgraph", "l2cache"}
# The AnnotationEngine deletes tables softly (only ``deleted`` is set): a deleted table still
# answers its count and metadata, as production's does, so "deleted resource still available"
# is its real behaviour.
SOFT_DELETE_SPECS = {"annotation"}
# These read their optional body with Flask's ``silent=True``: a body that is not JSON is
# ignored, so "schema-violating body accepted" is the documented behaviour.
BODY_IGNORED = {"create_user_token"}
# These invalidate the token they are sent with, so they get a spare user's token.
TOKEN_KILLERS = {"refresh_token", "delete_user_token", "logout"}


# Realistic values for path parameters naming things that exist in the deployment, so that
# schema-valid requests reach the handlers instead of stopping at "unknown table".
KNOWN_NAMES = {
    "aligned_volume_name": ALIGNED_VOLUME,
    "datastack_name": DATASTACK,
    "table_id": "synthetic_tiny",
    "view_name": "synapse_graph",
}


def operation_ids(spec: Path) -> set[str]:
    document = yaml.safe_load(spec.read_text(encoding="utf-8"))
    return {
        operation["operationId"]
        for item in document["paths"].values()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    }


def write_config(
    contract: ContractServer,
    spec: Path,
    directory: Path,
    refusals: Collection[str] = frozenset(),
) -> Path:
    """A ``schemathesis.toml`` for ``spec``: credentials, known names, documented exclusions.

    ``refusals`` adds operations to :data:`EXPECTED_REFUSALS` (for heavier fuzzing runs).
    """
    operations = operation_ids(spec)
    lines = ["[auth.openapi.bearerAuth]", f'bearer = "{contract.token}"', ""]
    checks = []
    if spec.parent.name in LENIENT_SPECS:
        checks.append("negative_data_rejection.enabled = false")
    if spec.parent.name in SOFT_DELETE_SPECS:
        checks.append("use_after_free.enabled = false")
    if checks:
        lines += ["[checks]", *checks, ""]
    lines.append("[parameters]")
    lines += [f'"path.{name}" = "{value}"' for name, value in KNOWN_NAMES.items()]
    lines.append("")
    for operation in sorted(BODY_IGNORED & operations):
        lines += [
            "[[operations]]",
            f'include-operation-id = "{operation}"',
            "checks.negative_data_rejection.enabled = false",
            "",
        ]
    for operation in sorted(NONSTANDARD_MEDIA & operations):
        lines += [
            "[[operations]]",
            f'include-operation-id = "{operation}"',
            "checks.content_type_conformance.enabled = false",
            "checks.response_schema_conformance.enabled = false",
            "",
        ]
    for operation in sorted((EXPECTED_REFUSALS | set(refusals)) & operations):
        lines += [
            "[[operations]]",
            f'include-operation-id = "{operation}"',
            "checks.positive_data_acceptance.enabled = false",
            "",
        ]
    for operation in sorted(TOKEN_KILLERS & operations):
        lines += [
            "[[operations]]",
            f'include-operation-id = "{operation}"',
            f'headers = {{ Authorization = "Bearer {contract.spare_token}" }}',
            "",
        ]
    path = directory / "schemathesis.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def schemathesis_command(
    config: Path, spec: Path, base_url: str, max_examples: int, *extra: str
) -> list[str]:
    """The schemathesis CLI run of ``spec`` against ``base_url`` with a fixed seed."""
    return [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        str(spec),
        "--url",
        base_url,
        "--max-examples",
        str(max_examples),
        "--seed",
        "20261125",
        "--request-timeout",
        "30",
        *extra,
    ]


def operation_path(spec: Path, operation_id: str) -> str | None:
    document = yaml.safe_load(spec.read_text(encoding="utf-8"))
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return f"{method.upper()} {path}"
    return None


def auth_failed_operations(output: str) -> set[str | None]:
    """The operations schemathesis lists under its "Authentication failed" warning."""
    found: set[str | None] = set()
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("Authentication failed"):
            for entry in lines[index + 1 :]:
                entry = entry.strip()
                if entry.startswith("- "):
                    found.add(entry[2:])
                elif entry and not entry.startswith(("401", "403")):
                    break
    return found


def run_schemathesis(
    contract: ContractServer,
    target: ServiceTarget,
    directory: Path,
    max_examples: int,
    *extra: str,
    refusals: Collection[str] = frozenset(),
) -> subprocess.CompletedProcess[str]:
    """Write the config for ``target``'s spec and run schemathesis on it against ``contract``."""
    config = write_config(contract, target.spec, directory, refusals)
    command = schemathesis_command(
        config, target.spec, contract.server.base_url, max_examples, *extra
    )
    return subprocess.run(command, capture_output=True, text=True, cwd=directory, check=False)


def revoking_operations(target: ServiceTarget) -> set[str | None]:
    """Paths of the operations that revoke the token they are called with (they may fail auth)."""
    return {operation_path(target.spec, op) for op in TOKEN_KILLERS}
