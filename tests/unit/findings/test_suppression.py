"""Suppression rules over a real SQLite store written through `FindingWriter`: transitions in
both directions, events, rules applied to new findings, expiry, validation, listing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dockwatch.errors import Conflict, InvalidInput, NotFound
from dockwatch.findings.build import FindingDraft
from dockwatch.findings.criteria import InvalidCriteria
from dockwatch.findings.service import FindingWriter, Target
from dockwatch.findings.suppression import (
    SuppressionRules,
    expire_due_rules,
    load_suppressor,
    suppressor_loader,
)
from dockwatch.findings.suppression_rule import rule_arn
from dockwatch.model.events import OutboxEvent
from dockwatch.model.finding import FindingDetail, VulnerablePackage
from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import outbox
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore, SqlUnitOfWork

TENANT = Tenant("123456789012", "us-east-1")
T0 = datetime(2025, 6, 1, tzinfo=UTC)
PAYLOAD_KEYS = {
    "findingId", "detailRef", "vulnerabilityId", "status", "severity", "fixAvailable",
    "firstObservedAt", "lastObservedAt", "updatedAt", "repositoryName", "imageDigest",
    "imageTags", "pushedAt", "changes",
}  # fmt: skip


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at


def _draft(vuln: str, severity: str = "HIGH", package: str = "openssl") -> FindingDraft:
    return FindingDraft(
        vuln,
        severity,
        "YES",
        FindingDetail(
            title=f"{vuln} - {package}", description=vuln, inspector_score=7.5,
            exploit_available="NO", epss_score=None, fix_available="YES",
            vulnerability_id=vuln, source="osv", source_url=None, vendor_severity=None,
            cvss=(), reference_urls=(), related_vulnerabilities=(),
            packages=(
                VulnerablePackage(
                    name=package, version="1.0", epoch=None, release=None, arch=None,
                    package_manager="OS", file_path=None, source_layer_hash="sha256:l1",
                    fixed_in_version="2.0", remediation=f"Upgrade {package} to 2.0",
                    purl=f"pkg:deb/debian/{package}@1.0", source_name=None,
                ),
            ),
            evidence=(),
        ),
        [f"ref-{package}"],
    )  # fmt: skip


class Store:
    """A migrated store with two repositories, a writer using the rules, and the service."""

    def __init__(self, path: Path) -> None:
        self.db = Database(f"sqlite:///{path}")
        migrate(self.db)
        self.clock = Clock()
        self.writer = FindingWriter(TENANT, suppressor_loader(TENANT, self.clock))
        self.rules = SuppressionRules(SqlStore(self.db), self.clock, TENANT)
        with self.db.write() as conn:
            for i, name in enumerate(("app", "web"), start=1):
                conn.execute(
                    t.repositories.insert().values(
                        id=i, account_id=TENANT.account_id, region=TENANT.region, name=name,
                        created_at=T0,
                    )
                )  # fmt: skip

    def scan(self, repo: str, digest: str, *vulns: str) -> None:
        repo_id = 1 if repo == "app" else 2
        with self.db.write() as conn:
            if (
                conn.execute(select(t.manifests.c.id).where(t.manifests.c.digest == digest)).first()
                is None
            ):
                conn.execute(
                    t.manifest_contents.insert().values(
                        digest=digest, media_type="x", size=1, content=b"{}"
                    )
                )
                conn.execute(
                    t.manifests.insert().values(
                        account_id=TENANT.account_id,
                        region=TENANT.region,
                        repository_id=repo_id,
                        digest=digest,
                        media_type="x",
                        size=1,
                        image_pushed_at=T0,
                        last_pushed_at=T0,
                    )
                )
                conn.execute(t.tags.insert().values(
                    account_id=TENANT.account_id, region=TENANT.region, repository_id=repo_id,
                    name=digest[-4:], manifest_digest=digest, updated_at=T0))  # fmt: skip
            drafts = {v: _draft(v, package="zlib" if v.endswith("9") else "openssl") for v in vulns}
            self.writer.apply(
                SqlUnitOfWork(conn), [Target(repo_id, repo, digest, drafts)], self.clock.now()
            )

    def status(self) -> dict[tuple[str, str], tuple[str, str | None]]:
        f = t.findings
        with self.db.read() as conn:
            return {
                (r.digest, r.vulnerability_id): (r.status, r.suppressed_by)
                for r in conn.execute(select(f))
            }

    def events(self) -> list[OutboxEvent]:
        with self.db.read() as conn:
            return outbox.SqlOutbox(conn).read_after(
                0, ["FindingUpdated", "FindingCreated"], limit=10_000
            )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "s.db")
    s.scan("app", "sha256:aaaa", "CVE-1", "CVE-2")
    s.scan("web", "sha256:bbbb", "CVE-1", "CVE-9")
    yield s
    s.db.close()


def _rule(vuln: str, name: str = "mute", **extra: Any) -> dict[str, Any]:
    return {
        "action": "SUPPRESS",
        "name": name,
        "reason": "accepted risk",
        "filterCriteria": {"vulnerabilityId": [{"comparison": "EQUALS", "value": vuln}]},
        **extra,
    }


def test_create_suppresses_and_delete_reactivates(store: Store) -> None:
    before = len(store.events())
    store.clock.at = T0 + timedelta(hours=1)
    change = store.rules.create(_rule("CVE-1"))
    rule = change.rule
    assert change.findings_changed == 2
    assert rule.arn == rule_arn(TENANT, rule.id)
    assert (
        rule.arn == f"arn:aws:inspector2:us-east-1:123456789012:owner/123456789012/filter/{rule.id}"
    )
    assert store.status() == {
        ("sha256:aaaa", "CVE-1"): ("SUPPRESSED", rule.id),
        ("sha256:aaaa", "CVE-2"): ("ACTIVE", None),
        ("sha256:bbbb", "CVE-1"): ("SUPPRESSED", rule.id),
        ("sha256:bbbb", "CVE-9"): ("ACTIVE", None),
    }
    events = store.events()[before:]
    assert len(events) == 2
    for e in events:
        assert e.event_type == "FindingUpdated"
        assert set(e.event.payload()) == PAYLOAD_KEYS
        assert e.event.payload()["status"] == "SUPPRESSED" and e.event.payload()["changes"] == [
            "status"
        ]
        assert e.event.payload()["updatedAt"] == store.clock.at.isoformat()
        assert e.event.payload()["imageTags"] in (["aaaa"], ["bbbb"])
    store.clock.at = T0 + timedelta(hours=2)
    gone = store.rules.delete(rule.arn)
    assert gone.findings_changed == 2
    assert all(v == ("ACTIVE", None) for v in store.status().values())
    last = store.events()[-2:]
    assert [e.event.payload()["status"] for e in last] == ["ACTIVE", "ACTIVE"]


def test_new_findings_are_born_suppressed(store: Store) -> None:
    rule = store.rules.create(_rule("CVE-7")).rule
    store.scan("app", "sha256:cccc", "CVE-7", "CVE-2")
    assert store.status()[("sha256:cccc", "CVE-7")] == ("SUPPRESSED", rule.id)
    assert store.status()[("sha256:cccc", "CVE-2")] == ("ACTIVE", None)
    created = [e for e in store.events() if e.event_type == "FindingCreated"]
    assert {
        e.event.payload()["vulnerabilityId"]: e.event.payload()["status"] for e in created[-2:]
    } == {
        "CVE-7": "SUPPRESSED",
        "CVE-2": "ACTIVE",
    }
    # re-observed: stays suppressed, no new event
    count = len(store.events())
    store.scan("app", "sha256:cccc", "CVE-7", "CVE-2")
    assert store.status()[("sha256:cccc", "CVE-7")] == ("SUPPRESSED", rule.id)
    assert len(store.events()) == count


def test_oldest_rule_is_named_and_deleting_it_hands_over(store: Store) -> None:
    first = store.rules.create(_rule("CVE-1", "by-id")).rule
    second = store.rules.create(
        {"action": "SUPPRESS", "name": "by-repo",
         "filterCriteria": {"ecrImageRepositoryName": [{"comparison": "EQUALS", "value": "web"}]}}
    ).rule  # fmt: skip
    assert store.status()[("sha256:bbbb", "CVE-1")] == ("SUPPRESSED", first.id)
    assert store.status()[("sha256:bbbb", "CVE-9")] == ("SUPPRESSED", second.id)
    count = len(store.events())
    change = store.rules.delete(first.id)
    assert change.findings_changed == 1  # aaaa/CVE-1 only; bbbb/CVE-1 stays suppressed
    assert store.status()[("sha256:bbbb", "CVE-1")] == ("SUPPRESSED", second.id)
    assert store.status()[("sha256:aaaa", "CVE-1")] == ("ACTIVE", None)
    assert len(store.events()) == count + 1


def test_update_moves_the_suppression(store: Store) -> None:
    rule = store.rules.create(_rule("CVE-1")).rule
    change = store.rules.update(
        rule.id,
        {"filterCriteria": {"vulnerabilityId": [{"comparison": "PREFIX", "value": "CVE-9"}]}},
    )
    assert change.findings_changed == 3
    assert store.status()[("sha256:bbbb", "CVE-9")] == ("SUPPRESSED", rule.id)
    assert store.status()[("sha256:aaaa", "CVE-1")] == ("ACTIVE", None)
    saved = store.rules.update(rule.arn, {"action": "NONE", "name": "saved-view"})
    assert saved.findings_changed == 1 and saved.rule.name == "saved-view"
    assert all(v == ("ACTIVE", None) for v in store.status().values())
    with store.db.read() as conn:
        assert load_suppressor(SqlUnitOfWork(conn), TENANT, store.clock.now()) is None


def test_closed_findings_are_left_alone(store: Store) -> None:
    store.scan("app", "sha256:aaaa", "CVE-2")  # CVE-1 closes on this image
    store.rules.create(_rule("CVE-1"))
    assert store.status()[("sha256:aaaa", "CVE-1")] == ("CLOSED", None)


def test_expiry(store: Store) -> None:
    rule = store.rules.create(_rule("CVE-1", expiresAt=(T0 + timedelta(days=2)).isoformat())).rule
    assert store.status()[("sha256:aaaa", "CVE-1")] == ("SUPPRESSED", rule.id)
    store.clock.at = T0 + timedelta(days=1)
    assert expire_due_rules(SqlStore(store.db), TENANT, store.clock.now()) == 0
    store.clock.at = T0 + timedelta(days=2, seconds=1)
    # a scan after expiry no longer applies the rule, even before the expiry pass
    store.scan("app", "sha256:dddd", "CVE-1")
    assert store.status()[("sha256:dddd", "CVE-1")] == ("ACTIVE", None)
    assert expire_due_rules(SqlStore(store.db), TENANT, store.clock.now()) == 1
    assert all(v[0] == "ACTIVE" for v in store.status().values())
    assert expire_due_rules(SqlStore(store.db), TENANT, store.clock.now()) == 0
    wire = store.rules.get(rule.id).to_wire(TENANT, store.clock.now())
    assert wire["state"] == "EXPIRED"
    # extending it brings it back into force
    store.rules.update(rule.id, {"expiresAt": (T0 + timedelta(days=9)).isoformat()})
    assert store.status()[("sha256:aaaa", "CVE-1")] == ("SUPPRESSED", rule.id)


def test_no_rules_is_the_fast_path(store: Store) -> None:
    with store.db.read() as conn:
        assert load_suppressor(SqlUnitOfWork(conn), TENANT, T0) is None
    store.rules.create({"action": "NONE", "name": "all-high", "filterCriteria": {}})
    with store.db.read() as conn:
        assert load_suppressor(SqlUnitOfWork(conn), TENANT, T0) is None
    assert all(v == ("ACTIVE", None) for v in store.status().values())


@pytest.mark.parametrize(
    ("body", "error", "words"),
    [
        ({**_rule("CVE-1"), "name": "a b"}, InvalidInput, "name must be 3 to 64"),
        ({**_rule("CVE-1"), "name": "ab"}, InvalidInput, "name must be 3 to 64"),
        ({**_rule("CVE-1"), "action": "HIDE"}, InvalidInput, "SUPPRESS or NONE"),
        ({**_rule("CVE-1"), "filterCriteria": {}}, InvalidCriteria, "at least one criterion"),
        ({**_rule("CVE-1"), "filterCriteria": None}, InvalidCriteria, "required"),
        ({**_rule("CVE-1"), "filterCriteria": {"cve": []}}, InvalidCriteria, "unknown filter"),
        (
            {
                **_rule("CVE-1"),
                "filterCriteria": {"findingStatus": [{"comparison": "EQUALS", "value": "ACTIVE"}]},
            },
            InvalidCriteria,
            "cannot depend on what it changes",
        ),
        ({**_rule("CVE-1"), "expiresAt": T0.isoformat()}, InvalidInput, "future"),
        ({**_rule("CVE-1"), "expiresAt": "soon"}, InvalidInput, "ISO 8601"),
        ({**_rule("CVE-1"), "reason": ""}, InvalidInput, "reason must be"),
        ({**_rule("CVE-1"), "tags": {"k": 1}}, InvalidInput, "tag"),
        ({**_rule("CVE-1"), "colour": "red"}, InvalidInput, "unknown field 'colour'"),
        ([], InvalidInput, "JSON object"),
    ],
)
def test_invalid_rules(store: Store, body: Any, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        store.rules.create(body)
    assert all(v[0] == "ACTIVE" for v in store.status().values())


def test_names_are_unique_and_refs_checked(store: Store) -> None:
    rule = store.rules.create(_rule("CVE-1")).rule
    with pytest.raises(Conflict):
        store.rules.create(_rule("CVE-2"))
    other = store.rules.create(_rule("CVE-2", "other")).rule
    with pytest.raises(Conflict):
        store.rules.update(other.id, {"name": "mute"})
    for ref in ("nope", rule.arn.replace("123456789012", "999999999999")):
        with pytest.raises(NotFound):
            store.rules.get(ref)
        with pytest.raises(NotFound):
            store.rules.delete(ref)
    assert store.rules.get(rule.arn) == rule


def test_list_pages_and_filters(store: Store) -> None:
    made = []
    for i in range(5):
        store.clock.at = T0 + timedelta(minutes=i)
        action = "NONE" if i % 2 else "SUPPRESS"
        made.append(store.rules.create({**_rule(f"CVE-{i}", f"rule-{i}"), "action": action}).rule)
    seen = []
    token = None
    while True:
        page, token = store.rules.list(max_results=2, next_token=token)
        seen += page
        if token is None:
            break
    assert [r.id for r in seen] == [r.id for r in made]
    suppress, _ = store.rules.list(action="SUPPRESS")
    assert [r.name for r in suppress] == ["rule-0", "rule-2", "rule-4"]
    picked, _ = store.rules.list(arns=[made[3].arn])
    assert picked == [made[3]]
    with pytest.raises(InvalidInput, match="nextToken"):
        store.rules.list(next_token="bad!")
    with pytest.raises(InvalidInput, match="maxResults"):
        store.rules.list(max_results=0)
    wire = made[0].to_wire(TENANT, store.clock.now())
    assert wire["criteria"] == {"vulnerabilityId": [{"comparison": "EQUALS", "value": "CVE-0"}]}
    assert {"arn", "ownerId", "name", "criteria", "action", "createdAt", "updatedAt"} <= set(wire)
    assert json.loads(json.dumps(wire)) == wire
