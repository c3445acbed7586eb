"""Every operation of every spec, fuzzed by schemathesis against a running dafserver.

The run fails on any server error (5xx), any response that violates the spec (status, headers,
content type, body schema), and on authentication that is not enforced as documented.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from contract_support import (
    TARGETS,
    ContractServer,
    auth_failed_operations,
    revoking_operations,
    run_schemathesis,
)

from dafclient._codegen.config import ServiceTarget

MAX_EXAMPLES = int(os.environ.get("DAF_CONTRACT_EXAMPLES", "8"))


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: f"{t.service}-{t.version}")
def test_spec_holds_against_dafserver(
    target: ServiceTarget, contract_server: ContractServer, tmp_path: Path
) -> None:
    result = run_schemathesis(contract_server, target, tmp_path, MAX_EXAMPLES)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    # Every operation must have been exercised with working credentials, except those that
    # revoke the token they are called with.
    assert auth_failed_operations(output) <= revoking_operations(target), output[-8000:]
