"""Side-by-side benchmarks of dafclient against a dafserver started in its own process.

    python benchmarks/run.py [--size medium] [--repeats 5] [--only WORKLOAD ...]

Prints a Markdown table and writes it to ``benchmarks/results/latest.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_registry import discover  # noqa: E402
from bench_report import markdown  # noqa: E402
from bench_server import serve  # noqa: E402
from bench_suite import run_suite  # noqa: E402
from bench_target import discover_target  # noqa: E402

REPO = HERE.parent


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", default="medium", help="dataset size (tiny, small, medium)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per system")
    parser.add_argument(
        "--only", action="append", choices=sorted(discover()), help="run only this workload"
    )
    parser.add_argument("--data", type=Path, help="data folder (default .bench-data/SIZE)")
    parser.add_argument("--datastack", default="synthetic")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every input count (quick checks)"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "latest.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    data = args.data or REPO / ".bench-data" / args.size
    with serve(data, args.size, args.out.parent / f"server-{args.size}.log") as server:
        target = discover_target(server.base_url, server.token, args.datastack, scale=args.scale)
        results = run_suite(target, args.repeats, args.only)
    heading = (
        f"## dafclient benchmarks: {args.size} dataset, {args.repeats} repeats"
        f"{'' if args.scale == 1 else f', inputs ×{args.scale:g}'}\n\n"
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; Python {platform.python_version()}; "
        f"{os.cpu_count()} cores; dafserver in a separate process on loopback."
    )
    table = markdown(results, heading)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table, encoding="utf-8")
    failed = any(not w.answers_match for w in results)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
