"""validate_1m: columnar validation of 1M synapse rows (no server involved).

dafclient's ``validate_dataframe`` on ``_x/_y/_z`` columns and on ``_position`` list columns;
CAVEclient's ``StagedAnnotations.add_dataframe`` (jsonschema per row) on a 10k-row subset,
extrapolated linearly (for scale). The answer is the number of rows accepted.
"""

from __future__ import annotations

from contextlib import ExitStack

from bench_annotations import synapse_frame
from bench_checks import both
from bench_registry import Measured, System, Verdict, Workload
from bench_target import Target

NAME = "validate_1m"
ROWS = 1_000_000
SUBSET = 10_000
SPLIT, LISTS, CAVE = "dafclient (x/y/z columns)", "dafclient (position lists)", "CAVEclient stage"


def build(target: Target, stack: ExitStack) -> Workload:
    from dafclient.annotations import validate_dataframe

    n = target.count(ROWS)
    split = synapse_frame(n, split=True)
    lists = synapse_frame(n, split=False)

    systems = [
        System(SPLIT, lambda: validate_dataframe("synapse", split).length),
        System(LISTS, lambda: validate_dataframe("synapse", lists).length),
    ]
    if target.installed("caveclient"):
        from caveclient.tools.stage import StagedAnnotations

        subset = lists.iloc[: min(SUBSET, n)]
        raw = _raw_schema()

        def run_cave() -> int:
            stage = StagedAnnotations(raw, name="synapse")
            stage.add_dataframe(subset)
            return n if len(stage) == len(subset) else len(stage)

        scale = n / len(subset)
        systems.append(
            System(CAVE, run_cave, note=f"{len(subset):,} rows ×{scale:g}", time_scale=scale)
        )
    else:
        systems.append(System(CAVE, None, missing="not installed"))

    def goal(m: Measured) -> dict[str, Verdict]:
        verdicts = {}
        for name in (SPLIT, LISTS):
            seconds = m.seconds.get(name)
            rate = None if seconds is None else n / seconds
            text = "n/a" if rate is None else f"{rate / 1e6:.2f}M rows/s"
            verdicts[name] = both((f"≥1M rows/s ({text})", None if rate is None else rate >= 1e6))
        return verdicts

    return Workload(
        name=NAME,
        description=f"{n:,} synapse rows",
        systems=systems,
        reference=SPLIT,
        goal=goal,
        same=lambda a, b: a == b,
    )


def _raw_schema() -> dict:
    """The synapse JSON Schema as the schema service serves it (what CAVEclient validates with)."""
    import json
    from importlib import resources

    text = resources.files("dafserver").joinpath("data/annotation_schemas/synapse.json")
    if text.is_file():
        return json.loads(text.read_text("utf-8"))
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    return json.loads((root / "specs/annotation_schemas/synapse.json").read_text("utf-8"))
