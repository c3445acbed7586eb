"""Every spec fuzzed hard (slow): many examples, negative data, the coverage phase.

The same harness as the contract tests, with more examples: no 5xx, no response outside the
spec, authentication enforced as documented.
"""

from __future__ import annotations

import os
import time
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

# Examples per operation: 15 keeps the whole slow session near 5 minutes on 2 cores (the
# chunkedgraph spec alone takes about 4.5 s per example); set DAF_FUZZ_EXAMPLES for longer runs.
MAX_EXAMPLES = int(os.environ.get("DAF_FUZZ_EXAMPLES", "15"))
FUZZ_OPTIONS = ("--mode", "all", "--phases", "coverage,fuzzing")
# Split ids given as decimal strings match the schema's digits-only pattern at any length (JSON
# Schema cannot bound a string's numeric value), so a string id above 2^64-1 is schema-valid yet
# a documented 400; with many examples the fuzzer finds one.
FUZZ_REFUSALS = {"split", "split_preview"}


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS, ids=lambda t: f"{t.service}-{t.version}")
def test_spec_holds_under_heavy_fuzzing(
    target: ServiceTarget, hardened_server: ContractServer, tmp_path: Path
) -> None:
    started = time.monotonic()
    result = run_schemathesis(
        hardened_server, target, tmp_path, MAX_EXAMPLES, *FUZZ_OPTIONS, refusals=FUZZ_REFUSALS
    )
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    print(f"{target.service}-{target.version}: {elapsed:.1f} s at {MAX_EXAMPLES} examples")
    assert result.returncode == 0, _failures(output)
    assert auth_failed_operations(output) <= revoking_operations(target), output[-8000:]


def _failures(output: str) -> str:
    """The FAILURES section of a schemathesis report (else its end)."""
    start = output.find("FAILURES")
    return output[start : start + 20000] if start >= 0 else output[-8000:]
