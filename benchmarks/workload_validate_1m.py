"""validate_1m: columnar validation of 1M synapse rows (no server involved).

dafclient's ``validate_dataframe`` on the forms a position column comes in: ``_x/_y/_z``
columns; ``_position`` columns of Python lists (rows read back as JSON), of numpy arrays, and of
Arrow fixed-size lists (what a materialized query returns); CAVEclient's
``StagedAnnotations.add_dataframe`` (jsonschema per row) on a 10k-row subset, extrapolated
linearly (for scale). The answer is the number of rows accepted. Goals: ≥5M rows/s for x/y/z
columns, ≥2M rows/s for every one-column form.
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
SPLIT = "dafclient (x/y/z columns)"
LISTS = "dafclient (position lists)"
ARRAYS = "dafclient (position arrays)"
ARROW = "dafclient (Arrow position lists)"
CAVE = "CAVEclient stage"
GOALS = {SPLIT: 5e6, LISTS: 2e6, ARRAYS: 2e6, ARROW: 2e6}
"""Rows per second each dafclient form must reach."""


def build(target: Target, stack: ExitStack) -> Workload:
    from dafclient.annotations import validate_dataframe

    n = target.count(ROWS)
    frames = {
        SPLIT: synapse_frame(n, split=True),
        LISTS: synapse_frame(n, split=False),
        ARRAYS: synapse_frame(n, split=False, form="arrays"),
        ARROW: synapse_frame(n, split=False, form="arrow"),
    }
    lists = frames[LISTS]

    def validate(name: str) -> System:
        frame = frames[name]
        return System(name, lambda: validate_dataframe("synapse", frame).length)

    systems = [validate(name) for name in GOALS]
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
        for name, goal_rate in GOALS.items():
            seconds = m.seconds.get(name)
            rate = None if seconds is None else n / seconds
            text = "n/a" if rate is None else f"{rate / 1e6:.2f}M rows/s"
            verdicts[name] = both(
                (
                    f"≥{goal_rate / 1e6:g}M rows/s ({text})",
                    None if rate is None else rate >= goal_rate,
                )
            )
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
