"""Reading the scripted edit history of the synthetic dataset."""

from __future__ import annotations

from dafserver.dataset.manifest import DatasetManifest, EditRecord


def first_merge(manifest: DatasetManifest) -> tuple[EditRecord, float]:
    """The first merge and a time after it but before the next edit."""
    edits = sorted(manifest.edits, key=lambda e: e.timestamp)
    for i, edit in enumerate(edits):
        if edit.kind == "merge":
            later = edits[i + 1].timestamp if i + 1 < len(edits) else edit.timestamp + 120
            return edit, (edit.timestamp + later) / 2
    raise AssertionError("the dataset has no merge")
