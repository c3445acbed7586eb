"""init: ``import`` + client creation + the first root look-up, each repeat in a fresh interpreter.

The seconds are import + init as timed inside the subprocess (interpreter start-up excluded).
Round trips are the HTTP requests before the answer: all requests counted on the wire minus the
one roots request itself. dafclient makes no request when created, so its set-up requests happen
on the first call; counting through the first answer treats both clients alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from bench_checks import both
from bench_inputs import supervoxel_ids
from bench_registry import Measured, Outcome, System, Verdict, Workload
from bench_target import Target

NAME = "init"
PROBE = Path(__file__).resolve().parent / "init_probe.py"
DAF, CAVE = "dafclient", "CAVEclient"
MODULES = {DAF: "dafclient", CAVE: "caveclient"}


def _probe(target: Target, module: str, supervoxel: int) -> Outcome:
    # Bytecode caches as after a normal install (pip compiles them; uv and some CI images do not):
    # the warm-up run writes them, so the timed runs measure imports, not compilation.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["BENCH_TOKEN"] = target.token
    args = [target.base_url, target.datastack, str(supervoxel), repr(target.epoch)]
    done = subprocess.run(
        [sys.executable, str(PROBE), module, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"init probe for {module} failed:\n{done.stderr[-2000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return Outcome(
        answer=data["answer"],
        seconds=data["import_s"] + data["init_s"],
        metrics={
            "import s": data["import_s"],
            "init s": data["init_s"],
            "round trips": data["requests"] - 1,
        },
    )


def _system(target: Target, name: str, supervoxel: int) -> System:
    module = MODULES[name]
    if not target.installed(module):
        return System(name, None, missing="not installed")
    return System(
        name, lambda: _probe(target, module, supervoxel), note="fresh interpreter, bytecode cached"
    )


def _goal(m: Measured) -> dict[str, Verdict]:
    metrics = m.metrics.get(DAF)
    if metrics is None:
        return {DAF: Verdict("import ≤0.3 s; init ≤2 round trips", None)}
    imp, trips = metrics["import s"], metrics["round trips"]
    return {
        DAF: both(
            (f"import ≤0.3 s ({imp:.3f} s)", imp <= 0.3),
            (f"init ≤2 round trips ({trips:g})", trips <= 2),
        )
    }


def build(target: Target, stack: ExitStack) -> Workload:
    ids, _ = supervoxel_ids(target, 1, seed=3)
    supervoxel = int(ids[0])
    return Workload(
        name=NAME,
        description="import + create the client + first get_roots of one id",
        systems=[_system(target, DAF, supervoxel), _system(target, CAVE, supervoxel)],
        reference=CAVE,
        goal=_goal,
        same=lambda a, b: bool(a == b),
    )
