"""Migration events/2 on both backends: an outbox made before batch rows gets their columns,
its rows read back as before, and batches append after them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, inspect, text

from dockwatch.model.events import FindingCreated
from dockwatch.storage.sql import tables
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore

from .conftest import BACKENDS, empty_database_url
from .test_outbox_batches import T, finding, other


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_older_outbox_gets_batch_rows(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = empty_database_url(backend, request, tmp_path, "old.db")
    db = Database(url)
    try:
        migrate(db)
        old = other(1)
        with db.write() as conn:  # back to the outbox of an older database, with one event
            conn.execute(text("ALTER TABLE outbox DROP COLUMN packed"))
            conn.execute(text("ALTER TABLE outbox DROP COLUMN events"))
            m = tables.schema_migrations
            conn.execute(delete(m).where(m.c.subsystem == "events", m.c.number == 2))
            conn.execute(
                text(
                    "INSERT INTO outbox (account_id, region, event_type, subject, payload, "
                    "created_at) VALUES (:a, :r, :t, :s, :p, :c)"
                ),
                {"a": T.account_id, "r": T.region, "t": old.name, "s": old.subject,
                 "p": json.dumps(old.payload()), "c": old.at},
            )  # fmt: skip
        with db.read() as conn:
            assert "events" not in {c["name"] for c in inspect(conn).get_columns("outbox")}
        assert [(a.subsystem, a.number) for a in migrate(db)] == [("events", 2)]
        store = SqlStore(db)
        batch = [finding(FindingCreated, n) for n in range(4)]
        with store.write() as uow:
            assert uow.outbox.append_many(batch) == 4
        with store.read() as uow:
            read = uow.outbox.read_after(0)
        assert [e.event for e in read] == [old, *batch]
        assert [e.id for e in read] == list(range(read[0].id, read[0].id + 5))
    finally:
        db.close()
