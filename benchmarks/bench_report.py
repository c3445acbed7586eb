"""The Markdown table of a run."""

from __future__ import annotations

from collections.abc import Sequence

from bench_runner import SystemResult, WorkloadResult

HEADER = (
    "| workload | system | median s | × ref | details | goal | result |\n"
    "|---|---|---:|---:|---|---|---|"
)


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if value < 0.1 else f"{value:.3f}" if value < 100 else f"{value:.0f}"


def _details(s: SystemResult) -> str:
    parts = [s.note] if s.note else []
    for key, value in s.median_metrics().items():
        parts.append(f"{key} {value:g}" if float(value).is_integer() else f"{key} {value:.3f}")
    if s.matched is True:
        parts.append("answers match")
    elif s.matched is False:
        parts.append("**ANSWERS DIFFER**")
    return "; ".join(parts)


def _row(w: WorkloadResult, s: SystemResult, reference: float | None) -> str:
    verdict = w.verdicts.get(s.name)
    goal = verdict.text if verdict else ""
    result = ""
    if verdict is not None:
        result = {True: "PASS", False: "MISS", None: "n/a"}[verdict.passed]
    if s.missing is not None:
        result = s.missing
    elif s.error is not None:
        result = f"**ERROR** {s.error[:200]}"
    if s.matched is False:
        result = f"**MISMATCH** {result}".strip()
    median = s.median
    times = "—" if median is None or not reference else f"{median / reference:.2f}"
    name = f"{s.name} (ref)" if s.name == w.reference else s.name
    cells = [w.name, name, _seconds(median), times, _details(s), goal, result]
    return "| " + " | ".join(c.replace("|", "/") for c in cells) + " |"


def markdown(results: Sequence[WorkloadResult], heading: str) -> str:
    """The table: one row per (workload, system), then one line per workload description."""
    lines = [heading, "", HEADER]
    for w in results:
        reference = next((s.median for s in w.systems if s.name == w.reference), None)
        lines.extend(_row(w, s, reference) for s in w.systems)
    lines.append("")
    for w in results:
        status = "answers match" if w.answers_match else "**MISMATCH**"
        lines.append(f"- `{w.name}`: {w.description}; {w.repeats} repeats; {status}.")
    return "\n".join(lines) + "\n"
