"""The main job: the demo runs end to end against an embedded deployment."""

from __future__ import annotations

from pathlib import Path

from dafclient.demo import run_demo


def test_demo_walks_through_every_service(tmp_path: Path) -> None:
    lines: list[str] = []
    run_demo(tmp_path, echo=lines.append, size="tiny")
    text = "\n".join(lines)
    assert lines[-1].strip() == "Done."
    assert "row 42: pt_position: not 3 finite numbers" in text
    assert "9,999 done, 0 failed, 0 unknown, 0 pending" in text
    assert "it reads back equal: True" in text
