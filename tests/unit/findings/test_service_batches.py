"""The batched findings writer (`FindingWriter.apply`: tuples through `executemany`, new
findings many rows to an INSERT on SQLite, rollups counted once per batch, finding events
encoded by the outbox's own codec) ends exactly where a simple writer ends: one image at a
time, one statement per finding with the rollup triggers counting each row, one outbox row per
event through the generic event codec.

Hypothesis draws sequences of updates (evaluations of image resources sharing vulnerabilities
and packages, full scans and scoped re-evaluations as a rescan makes them, images closed) and
runs each through both writers on two SQLite stores; after every step the findings, the
details, the four rollup tables and the outbox rows (type, subject, payload, time) are equal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, insert, select, update

from dockwatch.findings.build import FindingDraft, score_severity
from dockwatch.findings.lifecycle import FindingStatus, StoredFinding, reconcile
from dockwatch.findings.service import FindingWriter, Target, detail_packages
from dockwatch.findings.shape import detail_json
from dockwatch.model.events import FindingChanged, FindingClosed, FindingCreated, FindingUpdated
from dockwatch.model.identity import ImageResource, Tenant
from dockwatch.model.times import as_utc, as_utc_or_none
from dockwatch.storage.finding_repo import detail_document
from dockwatch.storage.sql import finding_tenants, rollup_batches
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.finding_repo import image_facts
from dockwatch.storage.sql.unit_of_work import SqlUnitOfWork
from tests.support.outbox_events import events_of
from tests.unit.storage.sql.test_rollup_batches import IMAGES, ROLLUPS, T0, _accounts, _database
from tests.unit.storage.sql.test_rollup_batches import _step as _small_step


def _band(score: float | None) -> str | None:
    return None if score is None else score_severity(score)


def _event(kind: type[FindingChanged], tenant: Tenant, now: datetime, row: dict[str, Any],
           changes: tuple[str, ...], conn: Connection) -> None:  # fmt: skip
    """Append one event, one statement, through the generic payload codec."""
    facts = image_facts(conn, [(row["repository_id"], row["digest"])]).get(
        (row["repository_id"], row["digest"])
    )
    event = kind(
        tenant, now, finding_id=row["id"], detail_ref=row["detail_ref"],
        vulnerability_id=row["vulnerability_id"], status=row["status"], severity=row["severity"],
        fix_available=row["fix_available"], first_observed_at=row["first_observed_at"],
        last_observed_at=row["last_observed_at"], updated_at=row["updated_at"],
        repository_name=row["repository_name"], image_digest=row["digest"],
        image_tags=() if facts is None else facts.tags,
        pushed_at=None if facts is None else facts.pushed_at, changes=changes,
    )  # fmt: skip
    conn.execute(
        insert(t.outbox).values(
            account_id=tenant.account_id, region=tenant.region, event_type=event.name,
            subject=event.subject, created_at=now,
            payload=json.dumps(event.payload(), sort_keys=True, separators=(",", ":")),
        )
    )  # fmt: skip


def _state(draft: FindingDraft, ref: str, now: datetime) -> dict[str, Any]:
    d = draft.detail
    return {
        "status": "ACTIVE", "suppressed_by": None, "severity": draft.severity,
        "fix_available": draft.fix_available, "exploit_available": d.exploit_available or "NO",
        "inspector_score": d.inspector_score, "epss_score": d.epss_score,
        "source": d.source or "", "last_observed_at": now, "updated_at": now, "detail_ref": ref,
    }  # fmt: skip


def _detail(conn: Connection, draft: FindingDraft, now: datetime) -> str:
    ref, doc = detail_document(detail_json(draft.detail))
    if conn.execute(select(t.finding_details.c.ref).where(t.finding_details.c.ref == ref)).first():
        return ref
    conn.execute(insert(t.finding_details).values(
        ref=ref, doc=doc, title=draft.detail.title, created_at=now))  # fmt: skip
    for seq, p in enumerate(detail_packages(draft)):
        conn.execute(insert(t.detail_packages).values(
            detail_ref=ref, seq=seq, pkg_ref=p.pkg_ref, name=p.name, version=p.version,
            package_manager=p.package_manager, source_layer_hash=p.source_layer_hash,
            fixed_in_version=p.fixed_in_version, file_path=p.file_path))  # fmt: skip
    return ref


def simple_apply(conn: Connection, tenant: Tenant, targets: list[Target], now: datetime) -> None:
    """The simple writer: each image read and written on its own, one row per statement."""
    f = t.findings
    for x in targets:
        rows = [
            {**r._mapping, "first_observed_at": as_utc(r.first_observed_at),
             "last_observed_at": as_utc(r.last_observed_at),
             "closed_at": as_utc_or_none(r.closed_at)}
            for r in conn.execute(
                select(f).where(f.c.repository_id == x.repository_id, f.c.digest == x.digest)
                .order_by(f.c.vulnerability_id, f.c.generation))
        ]  # fmt: skip
        latest = {r["vulnerability_id"]: r for r in rows}  # the newest generation wins
        if x.scope is not None:
            latest = {v: r for v, r in latest.items() if v in x.scope}
        plan = reconcile(
            ImageResource(tenant, x.repository, x.digest),
            {v: StoredFinding(r["id"], v, FindingStatus(r["status"]), r["closed_at"],
                              r["generation"]) for v, r in latest.items()},
            x.drafts.keys(), now, x.epoch,
        )  # fmt: skip
        by_id = {r["id"]: r for r in latest.values()}
        for fid, vuln, generation in plan.opened:
            draft = x.drafts[vuln]
            row = {
                "id": fid, "account_id": tenant.account_id, "region": tenant.region,
                "tenant_key": finding_tenants.ensure_keys(conn, [tenant])[tenant],
                "repository_id": x.repository_id, "repository_name": x.repository,
                "digest": x.digest, "vulnerability_id": vuln, "generation": generation,
                "first_observed_at": now, "closed_at": None,
                **_state(draft, _detail(conn, draft, now), now),
            }  # fmt: skip
            conn.execute(insert(f).values(**row))
            _event(FindingCreated, tenant, now, row, (), conn)
        for fid in plan.reopened + plan.unchanged:
            old = by_id[fid]
            draft = x.drafts[old["vulnerability_id"]]
            new = _state(draft, _detail(conn, draft, now), now)
            changes = tuple(
                name
                for name, col in (("status", "status"), ("severity", "severity"),
                                  ("fixAvailable", "fix_available"),
                                  ("exploitAvailable", "exploit_available"))
                if old[col] != new[col]
            ) + (("inspectorScore",) if _band(old["inspector_score"])
                 != _band(new["inspector_score"]) else ())  # fmt: skip
            same = new["detail_ref"] == old["detail_ref"] and old["suppressed_by"] is None
            if not changes and same:
                conn.execute(update(f).where(f.c.id == fid).values(last_observed_at=now))
                continue
            conn.execute(update(f).where(f.c.id == fid).values(**new, closed_at=None))
            if changes:
                _event(FindingUpdated, tenant, now, {**old, **new}, changes, conn)
        for fid in plan.closed:
            old = by_id[fid]
            conn.execute(update(f).where(f.c.id == fid).values(
                status="CLOSED", closed_at=now, updated_at=now, suppressed_by=None))  # fmt: skip
            _event(FindingClosed, tenant, now, {**old, "status": "CLOSED", "updated_at": now},
                   ("status",), conn)  # fmt: skip


def simple_close_all(conn: Connection, tenant: Tenant, images: list[tuple[int, str, str]],
                     now: datetime) -> None:  # fmt: skip
    """Every open finding of the images closed, one by one."""
    simple_apply(conn, tenant, [Target(r, n, d, {}) for r, n, d in images], now)


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[tuple[Database, Database]]:
    batched, simple = _database(tmp_path / "batched.db"), _database(tmp_path / "simple.db")
    try:
        yield batched, simple
    finally:
        batched.close()
        simple.close()


def _targets(repos: dict[str, int], evaluations: Any) -> list[Target]:
    latest = {i: (drafts, scope) for i, drafts, scope in evaluations}
    return [
        Target(repos[IMAGES[i][0]], IMAGES[i][0], IMAGES[i][1],
               {d.vulnerability_id: d for d in drafts
                if scope is None or d.vulnerability_id in scope}, scope)
        for i, (drafts, scope) in sorted(latest.items())
    ]  # fmt: skip


def _snapshot(db: Database, account: str) -> dict[str, Any]:
    with db.read() as conn:
        f = t.findings
        return {
            "findings": [tuple(r) for r in conn.execute(  # all but `seq`, the stored order
                select(*[c for c in f.c if c.name != "seq"])
                .where(f.c.account_id == account).order_by(f.c.id))],
            "rollups": {x.name: sorted(tuple(r) for r in conn.execute(
                select(x).where(x.c.account_id == account))) for x in ROLLUPS},
            "events": events_of(conn, account),
            "details": sorted((r.ref, orjson.loads(r.doc), r.title) for r in conn.execute(
                select(t.finding_details))),
            "packages": sorted(tuple(r) for r in conn.execute(select(t.detail_packages))),
        }  # fmt: skip


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(_small_step, min_size=1, max_size=6), gap=st.sampled_from((1, 100, 200)))
def test_batched_writer_equals_simple_writer(
    databases: tuple[Database, Database], steps: list[tuple[str, Any]], gap: int
) -> None:
    batched, simple = databases
    tenant = Tenant(str(next(_accounts)), "eu-west-1")
    repos: list[dict[str, int]] = []
    for db in databases:
        with db.write() as conn:
            for name in ("app", "web"):
                conn.execute(insert(t.repositories).values(
                    account_id=tenant.account_id, region=tenant.region, name=name,
                    created_at=T0))  # fmt: skip
            repos.append({r.name: r.id for r in conn.execute(
                select(t.repositories).where(t.repositories.c.account_id == tenant.account_id))})  # fmt: skip
    writer = FindingWriter(tenant)
    for n, (kind, what) in enumerate(steps):
        now = T0 + timedelta(hours=n * gap)  # gaps past the reopen window recur as new findings
        with mock.patch.object(rollup_batches, "BATCH_MIN", 1), batched.write() as conn:
            uow = SqlUnitOfWork(conn)
            if kind == "close":
                images = [IMAGES[i] for i in sorted(set(what))]
                writer.close_all(uow, [(repos[0][r], r, d) for r, d in images], now)
            else:
                writer.apply(uow, _targets(repos[0], what), now)
        with simple.write() as conn:
            if kind == "close":
                images = [IMAGES[i] for i in sorted(set(what))]
                simple_close_all(conn, tenant, [(repos[1][r], r, d) for r, d in images], now)
            else:
                simple_apply(conn, tenant, _targets(repos[1], what), now)
        got, want = _snapshot(batched, tenant.account_id), _snapshot(simple, tenant.account_id)
        assert got["findings"] == want["findings"]
        assert got["events"] == want["events"]
        assert got["rollups"] == want["rollups"]
        assert got["details"] == want["details"]
        assert got["packages"] == want["packages"]
