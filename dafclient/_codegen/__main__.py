"""Compile specs/ into dafclient/_wire/: ``python -m dafclient._codegen [--check]``.

Every (service, version) OpenAPI document listed in ``dafclient/_codegen/config.toml`` becomes a typed
request package (openapi-python-client), and the annotation JSONSchemas become validating models
(datamodel-code-generator). Everything is generated into a temporary folder first; ``--check``
compares that folder with the committed tree and fails on any difference, otherwise the committed
tree is replaced.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from dafclient._codegen.build import build
from dafclient._codegen.config import load_config
from dafclient._codegen.services import CodegenError
from dafclient._codegen.tree import compare_trees

REPO_ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dafclient._codegen", description=__doc__)
    parser.add_argument(
        "--check",
        action="store_true",
        help="regenerate into a temporary folder and fail if dafclient/_wire/ differs",
    )
    parser.add_argument(
        "--root", type=Path, default=REPO_ROOT, help="repository root (default: this checkout)"
    )
    args = parser.parse_args(argv)
    config = load_config(args.root.resolve())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="wire-") as tmp:
        fresh = Path(tmp) / config.package
        try:
            build(config, fresh)
        except CodegenError as exc:
            print(f"codegen: {exc}", file=sys.stderr)
            return 2
        elapsed = time.perf_counter() - started
        if args.check:
            diff = compare_trees(fresh, config.output)
            if not diff.clean:
                print(
                    f"codegen: {config.output.relative_to(config.root)} is stale; "
                    "run `python -m dafclient._codegen` and commit the result.\n" + diff.describe(),
                    file=sys.stderr,
                )
                return 1
            print(
                f"codegen: {config.output.relative_to(config.root)} is up to date ({elapsed:.1f} s)"
            )
            return 0
        if config.output.exists():
            shutil.rmtree(config.output)
        shutil.copytree(fresh, config.output)
    print(f"codegen: wrote {config.output.relative_to(config.root)} ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
