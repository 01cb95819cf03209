"""Findings written in batches (rollups counted once per batch) end exactly where the per-row
writer (the rollup triggers counting each row) ends.

Hypothesis draws sequences of evaluations (image resources sharing vulnerabilities, drafts of
random severity, fix, exploit flag and vulnerable packages over shared layers, full scans and
scoped re-evaluations, images deleted) and runs each through the same `FindingWriter` on two
SQLite stores: one counts every batch itself (new rows and updates from their own values, other
writes with the set-oriented statements), the other keeps the per-row triggers. After every
step the findings, the eight rollup tables and the outbox events must be equal, and seven of
the rollups (the first-seen one keyed by whole seconds of instants that are not) must equal a
recount of the findings in plain Python (the detail rollup's titles and package names: those
of each row's detail document).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from dockwatch.findings.build import FindingDraft
from dockwatch.findings.service import FindingWriter, Target
from dockwatch.model.finding import FindingDetail, VulnerablePackage
from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import rollup_batches
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlUnitOfWork
from tests.support.outbox_events import events_of

T0 = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
IMAGES = [("app", "sha256:a1"), ("app", "sha256:a2"), ("web", "sha256:w1")]
VULNS = ("CVE-2031-0001", "CVE-2031-0002", "CVE-2031-0003", "GHSA-aaaa-bbbb-cccc")
PACKAGES = ("openssl", "zlib", "requests")
LAYERS = ("sha256:l1", "sha256:l2", None)
ROLLUPS = (
    t.finding_image_counts,
    t.finding_layer_counts,
    t.finding_package_counts,
    t.finding_title_counts,
    t.finding_detail_counts,
    t.finding_image_fix_counts,
    t.finding_image_first_counts,
)
COMPARED = (*ROLLUPS, t.finding_image_score_counts)
"""The rollup tables held equal between the two stores."""
_accounts = itertools.count(100000000000)


def _draft(
    vuln: str,
    severity: str,
    fix: str,
    exploit: str,
    pkgs: list[tuple[int, int]],
    scores: tuple[float | None, float | None] = (None, None),
) -> Any:
    packages = tuple(
        VulnerablePackage(
            name=PACKAGES[p], version="1.0", epoch=None, release=None, arch=None,
            package_manager="OS", file_path=None, source_layer_hash=LAYERS[layer],
            fixed_in_version="2.0" if fix != "NO" else "NotAvailable", remediation="upgrade",
            purl=f"pkg:deb/debian/{PACKAGES[p]}@1.0", source_name=None,
        )
        for p, layer in pkgs
    )  # fmt: skip
    detail = FindingDetail(
        title=f"{vuln} - {severity.lower()}", description="", inspector_score=scores[0],
        exploit_available=exploit, epss_score=scores[1], fix_available=fix, vulnerability_id=vuln,
        source="NVD" if scores[0] is None else "GHSA", source_url=None, vendor_severity=None, cvss=(), reference_urls=(),
        related_vulnerabilities=(), packages=packages, evidence=(),
    )  # fmt: skip
    return FindingDraft(vuln, severity, fix, detail, [f"ref-{p}-{layer}" for p, layer in pkgs])


_drafts = st.builds(
    _draft,
    st.sampled_from(VULNS),
    st.sampled_from(("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNTRIAGED")),
    st.sampled_from(("YES", "NO", "PARTIAL")),
    st.sampled_from(("YES", "NO")),
    st.lists(
        st.tuples(st.integers(0, len(PACKAGES) - 1), st.integers(0, len(LAYERS) - 1)),
        min_size=1,
        max_size=3,
        unique=True,  # one package name may come from two layers: it counts once
    ),
    st.tuples(st.sampled_from((None, 0.0, 9.8)), st.sampled_from((None, 0.5))),
)
_evaluation = st.tuples(
    st.sampled_from(range(len(IMAGES))),
    st.lists(_drafts, max_size=4, unique_by=lambda d: d.vulnerability_id),
    st.none() | st.frozensets(st.sampled_from(VULNS), min_size=1),
)
"""(image, drafts, scope): the drafts outside a scope are left out, as the rescan's are."""
_step = st.one_of(
    st.tuples(st.just("write"), st.lists(_evaluation, min_size=1, max_size=4)),
    st.tuples(st.just("close"), st.lists(st.sampled_from(range(len(IMAGES))), max_size=2)),
)


def _database(path: Path) -> Database:
    db = Database(f"sqlite:///{path}")
    migrate(db)
    return db


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[tuple[Database, Database]]:
    batched, per_row = _database(tmp_path / "batched.db"), _database(tmp_path / "per-row.db")
    try:
        yield batched, per_row
    finally:
        batched.close()
        per_row.close()


def _apply(
    db: Database,
    tenant: Tenant,
    repos: dict[str, int],
    step: tuple[str, Any, datetime],
    least: int,
) -> None:
    """One step through the writer, batches counted at `least` rows and up."""
    writer = FindingWriter(tenant)
    now = step[2]
    with mock.patch.object(rollup_batches, "BATCH_MIN", least), db.write() as conn:
        uow = SqlUnitOfWork(conn)
        if step[0] == "close":
            images = [IMAGES[i] for i in sorted(set(step[1]))]
            writer.close_all(uow, [(repos[n], n, d) for n, d in images], now)
            return
        latest = {i: (drafts, scope) for i, drafts, scope in step[1]}
        targets = [
            Target(repos[IMAGES[i][0]], IMAGES[i][0], IMAGES[i][1],
                   {d.vulnerability_id: d for d in drafts
                    if scope is None or d.vulnerability_id in scope}, scope)
            for i, (drafts, scope) in sorted(latest.items())
        ]  # fmt: skip
        writer.apply(uow, targets, now)


def _state(db: Database, account: str) -> dict[str, Any]:
    with db.read() as conn:
        findings = [
            tuple(r)
            for r in conn.execute(
                select(t.findings)
                .where(t.findings.c.account_id == account)
                .order_by(t.findings.c.id)
            )
        ]
        rollups = {
            table.name: sorted(
                tuple(r) for r in conn.execute(select(table).where(table.c.account_id == account))
            )
            for table in COMPARED
        }
        events = [e[:3] for e in events_of(conn, account)]
        docs = {r.ref: orjson.loads(r.doc) for r in conn.execute(select(t.finding_details))}
    return {"findings": findings, "rollups": rollups, "events": events, "docs": docs}


def _recount(state: dict[str, Any]) -> dict[str, Counter[tuple[Any, ...]]]:
    """The rollups, recounted from the finding rows and their detail documents."""
    f = t.findings.c
    cols = [c.name for c in t.findings.columns]
    out: dict[str, Counter[tuple[Any, ...]]] = {x.name: Counter() for x in ROLLUPS}
    for raw in state["findings"]:
        row = dict(zip(cols, raw, strict=True))
        doc = state["docs"][row[f.detail_ref.name]]
        pkgs = doc["packageVulnerabilityDetails"]["vulnerablePackages"]
        sev, status = row["severity"].lower(), row["status"]
        image = (status, row["repository_id"], row["digest"])
        out["finding_image_counts"][(*image, sev)] += 1
        out["finding_image_counts"][(*image, "fix_" + row["fix_available"].lower())] += 1
        out["finding_image_counts"][(*image, "exploit_" + row["exploit_available"].lower())] += 1
        fixes = (row["fix_available"], row["exploit_available"])
        for layer in {p.get("sourceLayerHash") for p in pkgs} - {None}:
            out["finding_layer_counts"][(*image, layer, *fixes, sev)] += 1
        for name in {p["name"] for p in pkgs}:
            out["finding_package_counts"][(status, name, sev)] += 1
        out["finding_title_counts"][(status, row["vulnerability_id"], doc["title"], sev)] += 1
        scores = [-1.0 if s is None else s for s in (row["inspector_score"], row["epss_score"])]
        detail = [row[c] for c in ("detail_ref", "vulnerability_id", "fix_available",
                                   "exploit_available", "source")]  # fmt: skip
        out["finding_detail_counts"][(status, *detail, *scores, sev)] += 1
        out["finding_image_fix_counts"][(*image, *fixes, sev)] += 1
        first = row["first_observed_at"]
        second = (*image, first - timedelta(microseconds=first.microsecond))
        out["finding_image_first_counts"][(*second, sev)] += 1
        out["finding_image_first_counts"][(*second, "fix_" + row["fix_available"].lower())] += 1
        exploit = "exploit_" + row["exploit_available"].lower()
        out["finding_image_first_counts"][(*second, exploit)] += 1
    return out


def detail_names(docs: dict[str, Any]) -> dict[str, tuple[Any, list[str]]]:
    """Each detail's (title, package names in name order), read from its document."""
    out = {}
    for ref, doc in docs.items():
        pkgs = doc["packageVulnerabilityDetails"]["vulnerablePackages"]
        out[ref] = (doc.get("title"), sorted({p["name"] for p in pkgs}))
    return out


def carried_mismatches(rows: list[dict[str, Any]], docs: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Detail rollup rows (as mappings) whose `title` or `package_names` differ from their
    detail document's title and distinct package names."""
    want = detail_names(docs)
    return [
        (r["detail_ref"], r["title"], r["package_names"], want.get(r["detail_ref"]))
        for r in rows
        if r["package_names"] is None
        or (r["title"], orjson.loads(r["package_names"])) != want.get(r["detail_ref"])
    ]


def _stored_carried(state: dict[str, Any]) -> list[tuple[Any, ...]]:
    names = [c.name for c in t.finding_detail_counts.columns]
    rows = [dict(zip(names, raw, strict=True)) for raw in state["rollups"]["finding_detail_counts"]]
    assert rows or not state["findings"]
    return carried_mismatches(rows, state["docs"])


def _stored_counts(state: dict[str, Any]) -> dict[str, Counter[tuple[Any, ...]]]:
    """The rollup rows as the same (key..., counter name) -> count, zero counts left out."""
    out: dict[str, Counter[tuple[Any, ...]]] = {x.name: Counter() for x in ROLLUPS}
    for table in ROLLUPS:
        names = [c.name for c in table.columns]
        key = [c.name for c in table.primary_key.columns if c.name not in ("account_id", "region")]
        counters = [*t.ROLLUP_SEVERITIES, "fix_yes", "fix_partial", "exploit_yes"]
        for raw in state["rollups"][table.name]:
            row = dict(zip(names, raw, strict=True))
            for c in counters:
                if row.get(c):
                    out[table.name][(*[row[k] for k in key], c)] += row[c]
    return out


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(_step, min_size=1, max_size=5))
def test_batched_writes_equal_per_row_writes(
    databases: tuple[Database, Database], steps: list[tuple[str, Any]]
) -> None:
    batched, per_row = databases
    tenant = Tenant(str(next(_accounts)), "eu-west-1")
    repos: list[dict[str, int]] = []
    for db in databases:
        with db.write() as conn:
            for name in ("app", "web"):
                conn.execute(t.repositories.insert().values(
                    account_id=tenant.account_id, region=tenant.region, name=name,
                    created_at=T0))  # fmt: skip
            repos.append({
                r.name: r.id
                for r in conn.execute(
                    select(t.repositories).where(t.repositories.c.account_id == tenant.account_id)
                )
            })  # fmt: skip
    assert repos[0] == repos[1]
    for n, (kind, what) in enumerate(steps):
        # steps a fraction of a second into a second: the first-seen rollup keys whole seconds
        step = (kind, what, T0 + timedelta(hours=n, microseconds=250_001 * n))
        _apply(batched, tenant, repos[0], step, least=1)
        _apply(per_row, tenant, repos[1], step, least=10**9)
        got, want = _state(batched, tenant.account_id), _state(per_row, tenant.account_id)
        assert got["findings"] == want["findings"]
        assert got["events"] == want["events"]
        assert got["rollups"] == want["rollups"]
        recounted = _recount(want)
        for name, counts in _stored_counts(got).items():
            expected = Counter(
                {k: v for k, v in recounted[name].items() if k[-1] in _COUNTERS[name]}
            )
            assert counts == expected, name
        assert _stored_carried(got) == []


_COUNTERS = {
    "finding_image_counts": {*t.ROLLUP_SEVERITIES, "fix_yes", "fix_partial", "exploit_yes"},
    "finding_layer_counts": set(t.ROLLUP_SEVERITIES),
    "finding_package_counts": set(t.ROLLUP_SEVERITIES),
    "finding_title_counts": set(t.ROLLUP_SEVERITIES),
    "finding_detail_counts": set(t.ROLLUP_SEVERITIES),
    "finding_image_fix_counts": set(t.ROLLUP_SEVERITIES),
    "finding_image_first_counts": {*t.ROLLUP_SEVERITIES, "fix_yes", "fix_partial", "exploit_yes"},
}
