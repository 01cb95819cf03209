"""The stored events of one account, one tuple per event whatever rows hold them (single or
batch rows), for tests that compare two writers' outboxes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from dockwatch.storage.sql.outbox import SqlOutbox, payload_json


def events_of(conn: Connection, account: str) -> list[tuple[str, str, str, datetime]]:
    """(type, subject, payload JSON, created at) of every event of `account`, in id order."""
    return [
        (e.event_type, e.event.subject, payload_json(e.event), e.created_at)
        for e in SqlOutbox(conn).read_after(0, limit=10**9)
        if e.tenant.account_id == account
    ]
