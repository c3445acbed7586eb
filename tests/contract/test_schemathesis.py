"""Every operation of every spec, fuzzed by schemathesis against a running dafserver.

The run fails on any server error (5xx), any response that violates the spec (status, headers,
content type, body schema), and on authentication that is not enforced as documented.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from contract_support import (
    TOKEN_KILLERS,
    ContractServer,
    auth_failed_operations,
    operation_path,
    schemathesis_command,
    write_config,
)

from codegen.config import ServiceTarget, load_config

ROOT = Path(__file__).resolve().parents[2]
TARGETS = load_config(ROOT).services
MAX_EXAMPLES = int(os.environ.get("DAF_CONTRACT_EXAMPLES", "8"))


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: f"{t.service}-{t.version}")
def test_spec_holds_against_dafserver(
    target: ServiceTarget, contract_server: ContractServer, tmp_path: Path
) -> None:
    config = write_config(contract_server, target.spec, tmp_path)
    command = schemathesis_command(
        config, target.spec, contract_server.server.base_url, MAX_EXAMPLES
    )
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    # Every operation must have been exercised with working credentials, except those that
    # revoke the token they are called with.
    revoking = {operation_path(target.spec, op) for op in TOKEN_KILLERS}
    assert auth_failed_operations(output) <= revoking, output[-8000:]
