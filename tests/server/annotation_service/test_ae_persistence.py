"""Tables and annotations survive a restart of the deployment on the same data folder."""

from __future__ import annotations

from pathlib import Path

from annotation_service_support import (
    API,
    Caller,
    annotation_server,
    count,
    create_table,
    get_rows,
    make_caller,
    post_ok,
    provision,
    synapse,
)


def test_tables_and_rows_survive_a_restart(tmp_path: Path) -> None:
    with annotation_server(tmp_path) as first:
        provision(first)
        owner = make_caller(first, "owner", ["editors"])
        table = create_table(owner, notice_text="kept")
        ids = post_ok(owner, table, [synapse(i) for i in range(25)])
        new_id = owner.http.put(
            f"{API}/table/{table}/annotations", json={"annotations": [{**synapse(99), "id": 1}]}
        ).json()["1"]
        before = get_rows(owner, table, [*ids, new_id])
        metadata = owner.http.get(f"{API}/table/{table}").json()
        token = owner.token
        owner.http.close()

    with annotation_server(tmp_path) as second:
        provision(second)
        http = make_caller(second, "other", ["editors"]).http
        http.headers["Authorization"] = f"Bearer {token}"
        try:
            again = Caller(owner.id, token, http)
            assert table in http.get(f"{API}/table").json()
            assert http.get(f"{API}/table/{table}").json() == metadata
            assert get_rows(again, table, [*ids, new_id]) == before
            assert count(again, table) == 26
            # The id sequence continues where it stopped.
            assert post_ok(again, table, [synapse(1)]) == [new_id + 1]
        finally:
            http.close()
