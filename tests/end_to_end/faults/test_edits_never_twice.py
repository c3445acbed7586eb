"""Edits are never sent twice: when a merge, split or undo fails in a way that leaves its outcome
unknown, the client reports the failure and does not try again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dafclient import FrameworkClient
from dafclient.config import RetrySettings
from dafclient.errors import ConnectionFailedError, ServerError
from dafserver.faults import FaultConfig
from dafserver.runner import running_server
from dafserver.seed import DATASTACK

EDIT_ROUTES = ("/segmentation/api/v1/table/",)


@pytest.mark.parametrize(("phase", "landed"), [("after", 1), ("before", 0)])
def test_failed_edits_reach_the_server_at_most_once(
    tmp_path: Path, phase: str, landed: int
) -> None:
    faults = FaultConfig(
        rate=1.0,
        seed=3,
        kinds=("502", "504", "reset"),
        routes=EDIT_ROUTES,
        methods=("POST",),
        phase=phase,  # type: ignore[arg-type]
    )
    with running_server(tmp_path, size="tiny", faults=faults) as server:
        graph = server.deployment.graph
        manifest = server.deployment.manifest
        assert manifest is not None
        merge = next(e for e in manifest.edits if e.kind == "merge")
        sv_a, sv_b = merge.source_ids[0], merge.sink_ids[0]
        coords = np.array([merge.source_coords[0], merge.sink_coords[0]])
        operations_before = graph.max_operation_id
        retries = RetrySettings(max_retries=6, backoff=0.0, backoff_max=0.0)
        with FrameworkClient(
            DATASTACK,
            server_address=server.base_url,
            auth_token=server.admin_token,
            retries=retries,
        ) as client:
            cg = client.chunkedgraph
            resolution = cg.base_resolution  # a GET: not faulted
            edits = [
                lambda: cg.undo_operation(merge.operation_id),
                lambda: cg.do_merge([sv_a, sv_b], coords, resolution=resolution),
                lambda: cg.execute_split(
                    coords[:1],
                    coords[1:],
                    int(graph.get_roots([sv_a])[0]),
                    source_supervoxels=[sv_a],
                    sink_supervoxels=[sv_b],
                    resolution=resolution,
                ),
            ]
            for edit in edits:
                with pytest.raises((ServerError, ConnectionFailedError)):
                    edit()
                # exactly `landed` operations per attempted edit: never a second copy
                operations_before += landed
                assert graph.max_operation_id == operations_before
        roots = graph.get_roots([sv_a, sv_b])
        if landed:  # undo, merge and split all happened once: the two supervoxels are apart
            assert roots[0] != roots[1]
        else:  # nothing happened: the scripted merge still holds them together
            assert roots[0] == roots[1]
