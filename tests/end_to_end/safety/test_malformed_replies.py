"""Every operation of every sub-client, answered with success bodies of the wrong shape, either
returns (the body happened to be well-formed) or raises :class:`ResponseFormatError` naming the
route: never a bare ``KeyError``/``TypeError`` from deep inside the client.

Each client is warmed up against the real deployment first (API versions, the datastack record,
table names are then cached), so the malformed answers reach the operation's own requests.
Writes are never sent to the server: once armed, the transport answers every request itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safety_support import MakeClient, forward

from dafclient import FrameworkClient
from dafclient.errors import InputError, ResponseFormatError
from dafserver.runner import LocalServer
from dafserver.seed import ANNOTATION_TABLES, load_seed_record

SYNAPSES = ANNOTATION_TABLES["synapse"]
POINT = [1100, 600, 20]
SYNAPSE_ROW = {
    "pre_pt_position": POINT,
    "ctr_pt_position": POINT,
    "post_pt_position": POINT,
    "size": 1.0,
}


class Switchable:
    """Forwards to the real server until armed; then answers every request with ``reply``."""

    def __init__(self) -> None:
        self.reply: httpx.Response | None = None
        self.answered = 0
        self._real = httpx.HTTPTransport()
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if self.reply is None:
            return forward(self._real, request)
        request.read()
        self.answered += 1
        return httpx.Response(
            self.reply.status_code, headers=self.reply.headers, content=self.reply.content
        )

    def close(self) -> None:
        self._real.close()


@dataclass(frozen=True)
class Ids:
    """Real ids of the deployment, so every example call is a valid one."""

    supervoxel: int
    other_supervoxel: int
    root: int
    l2: int
    operation: int
    state: int


Example = Callable[[FrameworkClient, Ids], Any]

PAST = datetime(2020, 1, 1, tzinfo=UTC)


def _no_version_is_an_answer(call: Callable[[], Any]) -> Any:
    """An empty list of versions is a well-formed reply: the client's InputError then says the
    datastack has no (early enough) version, which is an answer, not a format error."""
    try:
        return call()
    except InputError as error:
        return error


def _uncached_info(client: FrameworkClient) -> Any:
    """The chunkedgraph client with its graphene info forgotten (it is read once per client and
    kept, and the warm-up read it), so the next call asks the server again."""
    client.chunkedgraph._segmentation_info = None
    return client.chunkedgraph


EXAMPLES: dict[str, Example] = {
    # auth
    "auth.get_user_me": lambda c, i: c.auth.get_user_me(),
    "auth.get_user_cache": lambda c, i: c.auth.get_user_cache(),
    "auth.get_tokens": lambda c, i: c.auth.get_tokens(),
    "auth.create_token": lambda c, i: c.auth.create_token(),
    "auth.get_user_information": lambda c, i: c.auth.get_user_information([1]),
    "auth.get_group_users": lambda c, i: c.auth.get_group_users(1),
    # info
    "info.get_datastacks": lambda c, i: c.info.get_datastacks(),
    "info.get_aligned_volumes": lambda c, i: c.info.get_aligned_volumes(),
    "info.get_datastack_info": lambda c, i: c.info.get_datastack_info(use_stored=False),
    "info.get_dataset_info": lambda c, i: c.info.get_dataset_info(use_stored=False),
    "info.get_aligned_volume_info": lambda c, i: c.info.get_aligned_volume_info(use_stored=False),
    "info.get_aligned_volume_info_by_id": lambda c, i: c.info.get_aligned_volume_info_by_id(1),
    "info.get_datastacks_by_aligned_volume": lambda c, i: c.info.get_datastacks_by_aligned_volume(),
    "info.segmentation_source": lambda c, i: c.info.segmentation_source(use_stored=False),
    "info.image_source": lambda c, i: c.info.image_source(use_stored=False),
    "info.viewer_resolution": lambda c, i: c.info.viewer_resolution(use_stored=False),
    "info.local_server": lambda c, i: c.info.local_server(use_stored=False),
    "info.synapse_table": lambda c, i: c.info.synapse_table(use_stored=False),
    "info.soma_table": lambda c, i: c.info.soma_table(use_stored=False),
    "info.viewer_site": lambda c, i: c.info.viewer_site(use_stored=False),
    "info.annotation_endpoint": lambda c, i: c.info.annotation_endpoint(use_stored=False),
    "info.flat_segmentation_source": lambda c, i: c.info.flat_segmentation_source(use_stored=False),
    "info.graphene_source": lambda c, i: c.info.graphene_source(use_stored=False),
    "info.pychunkedgraph_endpoint": lambda c, i: c.info.pychunkedgraph_endpoint(use_stored=False),
    "info.pychunkedgraph_segmentation_source": lambda c, i: (
        c.info.pychunkedgraph_segmentation_source(use_stored=False)
    ),
    "info.supervoxel_source": lambda c, i: c.info.supervoxel_source(use_stored=False),
    "info.synapse_segmentation_source": lambda c, i: c.info.synapse_segmentation_source(
        use_stored=False
    ),
    # schema
    "schema.get_schemas": lambda c, i: c.schema.get_schemas(),
    "schema.schema_definition": lambda c, i: c.schema.schema_definition("synapse"),
    "schema.schema_definition_multi": lambda c, i: c.schema.schema_definition_multi(
        ["synapse", "cell_type_local"]
    ),
    "schema.schema_definition_all": lambda c, i: c.schema.schema_definition_all(),
    # state
    "state.get_state_json": lambda c, i: c.state.get_state_json(i.state),
    "state.get_property_json": lambda c, i: c.state.get_property_json(i.state),
    "state.upload_state_json": lambda c, i: c.state.upload_state_json({"layers": []}),
    "state.upload_property_json": lambda c, i: c.state.upload_property_json({"p": 1}),
    "state.get_neuroglancer_info": lambda c, i: c.state.get_neuroglancer_info(c.server_address),
    # annotation
    "annotation.get_tables": lambda c, i: c.annotation.get_tables(),
    "annotation.get_table_metadata": lambda c, i: c.annotation.get_table_metadata(SYNAPSES),
    "annotation.get_annotation_count": lambda c, i: c.annotation.get_annotation_count(SYNAPSES),
    "annotation.get_annotation": lambda c, i: c.annotation.get_annotation(SYNAPSES, [1, 2]),
    "annotation.post_annotation": lambda c, i: c.annotation.post_annotation(
        SYNAPSES, [SYNAPSE_ROW]
    ),
    "annotation.post_annotation_df": lambda c, i: c.annotation.post_annotation_df(
        SYNAPSES, pd.DataFrame([SYNAPSE_ROW])
    ),
    "annotation.update_annotation": lambda c, i: c.annotation.update_annotation(
        SYNAPSES, [{**SYNAPSE_ROW, "id": 1}]
    ),
    "annotation.delete_annotation": lambda c, i: c.annotation.delete_annotation(SYNAPSES, [1]),
    "annotation.create_table": lambda c, i: c.annotation.create_table(
        "never_created", "synapse", voxel_resolution=(4, 4, 40)
    ),
    "annotation.update_metadata": lambda c, i: c.annotation.update_metadata(
        SYNAPSES, description="new words"
    ),
    "annotation.delete_table": lambda c, i: c.annotation.delete_table("never_created"),
    "annotation.bulk_post": lambda c, i: c.annotation.bulk_post(
        SYNAPSES, pd.DataFrame([SYNAPSE_ROW] * 3), progress=False
    ),
    "annotation.bulk_delete": lambda c, i: c.annotation.bulk_delete(
        SYNAPSES, [1, 2], progress=False
    ),
    # chunkedgraph
    "chunkedgraph.get_roots": lambda c, i: c.chunkedgraph.get_roots([i.supervoxel]),
    "chunkedgraph.get_root_id": lambda c, i: c.chunkedgraph.get_root_id(i.supervoxel),
    "chunkedgraph.is_latest_roots": lambda c, i: c.chunkedgraph.is_latest_roots([i.root]),
    "chunkedgraph.get_root_timestamps": lambda c, i: c.chunkedgraph.get_root_timestamps([i.root]),
    "chunkedgraph.get_minimal_covering_nodes": lambda c, i: (
        c.chunkedgraph.get_minimal_covering_nodes([i.supervoxel, i.other_supervoxel])
    ),
    "chunkedgraph.is_valid_nodes": lambda c, i: c.chunkedgraph.is_valid_nodes([i.root]),
    "chunkedgraph.get_leaves": lambda c, i: c.chunkedgraph.get_leaves(i.root),
    "chunkedgraph.get_leaves_many": lambda c, i: c.chunkedgraph.get_leaves_many([i.root]),
    "chunkedgraph.get_children": lambda c, i: c.chunkedgraph.get_children(i.root),
    "chunkedgraph.get_subgraph": lambda c, i: c.chunkedgraph.get_subgraph(i.root),
    "chunkedgraph.level2_chunk_graph": lambda c, i: c.chunkedgraph.level2_chunk_graph(i.root),
    "chunkedgraph.do_merge": lambda c, i: c.chunkedgraph.do_merge(
        [i.supervoxel, i.other_supervoxel], [POINT, POINT]
    ),
    "chunkedgraph.execute_split": lambda c, i: c.chunkedgraph.execute_split(
        [POINT], [POINT], i.root
    ),
    "chunkedgraph.preview_split": lambda c, i: c.chunkedgraph.preview_split(
        [POINT], [POINT], i.root
    ),
    "chunkedgraph.undo_operation": lambda c, i: c.chunkedgraph.undo_operation(i.operation),
    "chunkedgraph.redo_operation": lambda c, i: c.chunkedgraph.redo_operation(i.operation),
    "chunkedgraph.remesh_level2_chunks": lambda c, i: c.chunkedgraph.remesh_level2_chunks([i.l2]),
    "chunkedgraph.get_change_log": lambda c, i: c.chunkedgraph.get_change_log(i.root),
    "chunkedgraph.get_merge_log": lambda c, i: c.chunkedgraph.get_merge_log(i.root),
    "chunkedgraph.get_tabular_change_log": lambda c, i: c.chunkedgraph.get_tabular_change_log(
        [i.root]
    ),
    "chunkedgraph.get_lineage_graph": lambda c, i: c.chunkedgraph.get_lineage_graph(i.root),
    "chunkedgraph.get_latest_roots": lambda c, i: c.chunkedgraph.get_latest_roots(i.root),
    "chunkedgraph.suggest_latest_roots": lambda c, i: c.chunkedgraph.suggest_latest_roots(i.root),
    "chunkedgraph.get_original_roots": lambda c, i: c.chunkedgraph.get_original_roots(i.root),
    "chunkedgraph.get_past_ids": lambda c, i: c.chunkedgraph.get_past_ids([i.root]),
    "chunkedgraph.get_delta_roots": lambda c, i: c.chunkedgraph.get_delta_roots(PAST),
    "chunkedgraph.get_oldest_timestamp": lambda c, i: c.chunkedgraph.get_oldest_timestamp(),
    "chunkedgraph.get_operation_details": lambda c, i: c.chunkedgraph.get_operation_details(
        [i.operation]
    ),
    "chunkedgraph.find_path": lambda c, i: c.chunkedgraph.find_path(i.root, POINT, POINT),
    "chunkedgraph.get_segmentation_info": lambda c, i: _uncached_info(c).get_segmentation_info(),
    "chunkedgraph.get_base_resolution": lambda c, i: _uncached_info(c).get_base_resolution(),
    # l2cache
    "l2cache.get_l2data": lambda c, i: c.l2cache.get_l2data([i.l2]),
    "l2cache.get_l2data_table": lambda c, i: c.l2cache.get_l2data_table([i.l2]),
    "l2cache.get_attributes": lambda c, i: c.l2cache.get_attributes(),
    "l2cache.cache_metadata": lambda c, i: c.l2cache.cache_metadata(),
    "l2cache.table_mapping": lambda c, i: c.l2cache.table_mapping(),
    "l2cache.has_cache": lambda c, i: c.l2cache.has_cache(),
    # materialize (version 2 is a valid version of the seeded datastack)
    "materialize.get_versions": lambda c, i: c.materialize.get_versions(),
    "materialize.most_recent_version": lambda c, i: _no_version_is_an_answer(
        c.materialize.most_recent_version
    ),
    "materialize.get_version_metadata": lambda c, i: c.materialize.get_version_metadata(2),
    "materialize.get_timestamp": lambda c, i: c.materialize.get_timestamp(2),
    "materialize.get_versions_metadata": lambda c, i: c.materialize.get_versions_metadata(),
    "materialize.get_tables": lambda c, i: c.materialize.get_tables(2),
    "materialize.get_table_metadata": lambda c, i: c.materialize.get_table_metadata(SYNAPSES, 2),
    "materialize.get_tables_metadata": lambda c, i: c.materialize.get_tables_metadata(2),
    "materialize.get_annotation_count": lambda c, i: c.materialize.get_annotation_count(
        SYNAPSES, 2
    ),
    "materialize.query_table": lambda c, i: c.materialize.query_table(
        SYNAPSES, materialization_version=2, limit=5
    ),
    "materialize.live_query": lambda c, i: _no_version_is_an_answer(
        lambda: c.materialize.live_query(
            SYNAPSES, datetime.now(UTC), filter_in_dict={"pre_pt_root_id": [i.root]}
        )
    ),
    "materialize.synapse_query": lambda c, i: c.materialize.synapse_query(
        pre_ids=i.root, materialization_version=2
    ),
    "materialize.join_query": lambda c, i: c.materialize.join_query(
        [["nucleus_cell_types", "target_id"], ["nuclei", "id"]], materialization_version=2
    ),
    "materialize.live_live_query": lambda c, i: c.materialize.live_live_query(
        SYNAPSES, datetime.now(UTC), limit=5
    ),
    "materialize.get_views": lambda c, i: c.materialize.get_views(2),
    "materialize.get_view_metadata": lambda c, i: c.materialize.get_view_metadata(
        "synapse_graph", 2
    ),
    "materialize.get_view_schema": lambda c, i: c.materialize.get_view_schema("synapse_graph", 2),
    "materialize.get_view_schemas": lambda c, i: c.materialize.get_view_schemas(2),
    "materialize.query_view": lambda c, i: c.materialize.query_view(
        "synapse_graph", materialization_version=2, limit=5
    ),
    "materialize.get_unique_string_values": lambda c, i: c.materialize.get_unique_string_values(
        "cell_types"
    ),
}


def _warm_up(client: FrameworkClient) -> None:
    """Everything a first call of each service fetches and keeps."""
    client.info.get_datastack_info()
    client.info.get_datastacks()  # negotiates the info API version
    client.auth.get_user_me()
    client.schema.get_schemas()
    client.annotation.get_table_metadata(SYNAPSES)
    client.annotation.stage(SYNAPSES)
    client.chunkedgraph.get_segmentation_info()


@pytest.fixture(scope="module")
def ids(daf_server: LocalServer) -> Ids:
    deployment = daf_server.deployment
    manifest = deployment.manifest
    seed = load_seed_record(deployment.data_dir)
    assert manifest is not None and seed is not None
    edit = manifest.edits[0]
    supervoxel, other = (int(s) for s in edit.supervoxel_ids[:2])
    graph = deployment.graph
    return Ids(
        supervoxel=supervoxel,
        other_supervoxel=other,
        root=int(graph.get_roots([supervoxel])[0]),
        l2=int(graph.get_roots([supervoxel], stop_layer=2)[0]),
        operation=edit.operation_id,
        state=seed.state_ids[0],
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
bodies = st.one_of(
    json_values.map(lambda v: httpx.Response(200, json=v)),
    st.binary(max_size=24).map(
        lambda b: httpx.Response(
            200, content=b, headers={"Content-Type": "application/octet-stream"}
        )
    ),
    st.text(max_size=20).map(
        lambda t: httpx.Response(200, text=t, headers={"Content-Type": "text/html"})
    ),
)


@pytest.fixture
def armed(make_client: MakeClient) -> Iterator[tuple[FrameworkClient, Switchable]]:
    switch = Switchable()
    client = make_client(switch.transport)
    _warm_up(client)
    yield client, switch
    switch.close()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_malformed_success_body_is_a_format_error(
    armed: tuple[FrameworkClient, Switchable], ids: Ids, name: str
) -> None:
    client, switch = armed
    example = EXAMPLES[name]

    @settings(
        max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(bodies)
    def check(reply: httpx.Response) -> None:
        switch.reply = reply
        try:
            example(client, ids)
        except ResponseFormatError as error:
            assert error.url.startswith("http") and error.method in {"GET", "POST", "PUT", "DELETE"}
            assert error.reason.strip(), "the error does not say what was wrong"
            message = str(error)
            assert error.reason in message and f"{error.method} {error.url}" in message
            if not name.startswith("annotation.bulk_"):  # batches run outside the method's plan
                assert error.operation is not None
                assert error.operation.endswith("." + name.split(".")[1])
                assert message.startswith(error.operation + ": ")

    check()
    assert switch.answered > 0, f"{name} sent no request once armed"


def test_every_operation_has_an_example() -> None:
    from dafclient._plan import SyncOperation

    client = FrameworkClient("ds", server_address="https://daf.test", auth_token="t")
    operations = {
        f"{service}.{name}"
        for service in (
            "auth",
            "info",
            "schema",
            "state",
            "annotation",
            "chunkedgraph",
            "l2cache",
            "materialize",
        )
        for name, value in vars(type(getattr(client, service))).items()
        if isinstance(value, SyncOperation)
    }
    client.close()
    # Operations that make no request of their own once the client is warm, or whose input is
    # the result of another operation; each is covered through the operation it builds on.
    covered_elsewhere = {
        "annotation.bulk_update",  # bulk_post's machinery
        "annotation.update_annotation_df",  # update_annotation's request
        "annotation.resume",  # needs a BulkResult: bulk_post's reads
        "annotation.stage",  # the table metadata request
        "annotation.stage_annotations",  # stage's
        "annotation.get_aligned_volume_name",  # the datastack record
        "state.build_neuroglancer_url",  # no request
        "info.refresh_stored_data",  # no request
        "schema.schema",  # get_schemas
        "info.get_datasets",  # the legacy info API v1; the client negotiated v2
        # Read once per client and kept: answered during the warm-up.
        "chunkedgraph.get_table_name",
        "chunkedgraph.get_cloudvolume_path",
    }
    missing = operations - set(EXAMPLES) - covered_elsewhere
    assert not missing, sorted(missing)
    assert set(EXAMPLES) <= operations


def test_an_upload_answered_without_a_state_id_is_a_format_error(
    armed: tuple[FrameworkClient, Switchable],
) -> None:
    client, switch = armed
    switch.reply = httpx.Response(200, json="")
    with pytest.raises(ResponseFormatError, match="ending in its id"):
        client.state.upload_state_json({"layers": []})
