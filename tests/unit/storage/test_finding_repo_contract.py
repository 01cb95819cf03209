"""The `FindingRepo` contract, exercised through the protocol only (`Store` -> `UnitOfWork` ->
`findings`), against every backend built here (SQLite now; PostgreSQL joins the list when it
lands). Images and repositories are set up with plain table rows: they belong to other
repositories' contracts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockwatch.findings.criteria import parse_criteria
from dockwatch.model.identity import Tenant
from dockwatch.storage.finding_repo import (
    DetailPackage,
    FindingState,
    ImageFacts,
    NewDetail,
    NewFinding,
    RuleRecord,
    detail_document,
)
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.storage.unit_of_work import Store

TENANT = Tenant("123456789012", "eu-west-1")
OTHER = Tenant("210987654321", "eu-west-1")
T0 = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _sqlite(tmp_path: Path) -> tuple[Store, Database]:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(db)
    return SqlStore(db), db


@pytest.fixture(params=["sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made, db = _sqlite(tmp_path)
    with db.write() as conn:  # two repositories, three images (one tagged twice, one untagged)
        for rid, name in ((1, "app"), (2, "web")):
            conn.execute(t.repositories.insert().values(
                id=rid, account_id=TENANT.account_id, region=TENANT.region, name=name,
                created_at=T0))  # fmt: skip
        for rid, digest, pushed in ((1, "sha256:a1", T0), (1, "sha256:a2", T0 + DAY),
                                    (2, "sha256:w1", T0)):  # fmt: skip
            conn.execute(t.manifest_contents.insert().values(
                digest=digest, media_type="x", size=1, content=b"{}"))  # fmt: skip
            conn.execute(t.manifests.insert().values(
                account_id=TENANT.account_id, region=TENANT.region, repository_id=rid,
                digest=digest, media_type="x", size=1, image_pushed_at=pushed,
                last_pushed_at=pushed))  # fmt: skip
        for rid, tag, digest in ((1, "v2", "sha256:a1"), (1, "latest", "sha256:a1"),
                                 (1, "v1", "sha256:a2")):  # fmt: skip
            conn.execute(t.tags.insert().values(
                account_id=TENANT.account_id, region=TENANT.region, repository_id=rid, name=tag,
                manifest_digest=digest, updated_at=T0))  # fmt: skip
    try:
        yield made
    finally:
        made.close()


def _detail(vuln: str, *packages: str) -> tuple[NewDetail, dict[str, object]]:
    doc: dict[str, object] = {
        "title": f"{vuln} - {', '.join(packages)}",
        "packageVulnerabilityDetails": {
            "vulnerabilityId": vuln,
            "vulnerablePackages": [{"name": p, "version": "1.0"} for p in packages],
        },
    }
    ref, raw = detail_document(doc)
    pkgs = tuple(
        DetailPackage(f"pkg-{p}", p, "1.0", "OS", "sha256:l1", "2.0", None) for p in packages
    )
    return NewDetail(ref, raw, pkgs), doc


def _state(ref: str, at: datetime, status: str = "ACTIVE", rule: str | None = None) -> FindingState:
    return FindingState(status, rule, "HIGH", "YES", "NO", 7.5, None, "osv", at, at, ref)


def _finding(fid: str, rid: int, digest: str, vuln: str, ref: str, gen: int = 0) -> NewFinding:
    name = "app" if rid == 1 else "web"
    return NewFinding(fid, TENANT, rid, name, digest, vuln, gen, T0, _state(ref, T0))


def test_details_are_stored_once_and_read_back(store: Store) -> None:
    one, doc_one = _detail("CVE-1", "openssl", "zlib")
    two, doc_two = _detail("CVE-2", "zlib")
    with store.write() as uow:
        assert uow.findings.missing_details([one.ref, two.ref]) == {one.ref, two.ref}
        uow.findings.insert_details([one, two], T0)
    with store.read() as uow:
        repo = uow.findings
        assert repo.missing_details([one.ref, two.ref, "nope"]) == {"nope"}
        assert repo.load_details([one.ref, two.ref]) == {one.ref: doc_one, two.ref: doc_two}
        assert repo.package_refs_of_details([one.ref, two.ref]) == {
            one.ref: {"pkg-openssl", "pkg-zlib"},
            two.ref: {"pkg-zlib"},
        }
        assert repo.details_with_packages(["pkg-zlib"]) == {one.ref, two.ref}
        assert repo.details_with_packages(["pkg-openssl", "pkg-none"]) == {one.ref}


def test_details_naming_advisories(store: Store) -> None:
    """Against the documents parsed one by one: evidence only, any spelling JSON allows."""
    evidence = {
        "a": [{"advisory": "osv:PyPI/GHSA-1"}, {"advisory": "debian/DSA-9"}],
        "b": [{"advisory": "osv:PyPI/GHSA-2", "name": "osv:PyPI/GHSA-1"}],
        "c": [],
        "d": [{"advisory": 'osv:PyPI/GHSA-\u00e9 "q"'}],
    }
    details: dict[str, NewDetail] = {}
    docs: dict[str, dict[str, object]] = {}
    for key, ev in evidence.items():
        new, doc = _detail(f"CVE-{key}", "zlib")
        doc = {**doc, "evidence": ev, "description": '"advisory":"osv:PyPI/GHSA-3"'}
        ref, raw = detail_document(doc)
        details[key], docs[ref] = NewDetail(ref, raw, new.packages), doc
    spaced: dict[str, object] = {"evidence": [{"advisory": "osv:PyPI/GHSA-4"}]}
    raw = b'{"evidence" : [ {"advisory" : "osv:PyPI/GHSA-4"} ]}'
    details["e"], docs["e" * 32] = NewDetail("e" * 32, raw, ()), spaced
    with store.write() as uow:
        uow.findings.insert_details(list(details.values()), T0)
    asked = [
        {"osv:PyPI/GHSA-1"}, {"osv:PyPI/GHSA-2", "debian/DSA-9"}, {"osv:PyPI/GHSA-3"},
        {'osv:PyPI/GHSA-\u00e9 "q"'}, {"osv:PyPI/GHSA-4"}, set(),
    ]  # fmt: skip
    with store.read() as uow:
        for wanted in asked:
            expected = {
                ref for ref, doc in docs.items()
                if any(e.get("advisory") in wanted for e in doc.get("evidence", ()))  # type: ignore[attr-defined]
            }  # fmt: skip
            assert uow.findings.details_naming(docs, wanted) == expected, wanted


def test_findings_are_read_per_resource_and_per_vulnerability(store: Store) -> None:
    detail, doc = _detail("CVE-1", "openssl")
    rows = [
        _finding("f3", 1, "sha256:a1", "CVE-2", detail.ref),
        _finding("f1", 1, "sha256:a1", "CVE-1", detail.ref, gen=1),
        _finding("f0", 1, "sha256:a1", "CVE-1", detail.ref, gen=0),
        _finding("f4", 2, "sha256:w1", "CVE-1", detail.ref),
    ]
    with store.write() as uow:
        uow.findings.insert_details([detail], T0)
        uow.findings.insert_findings(rows)
    with store.read() as uow:
        repo = uow.findings
        mine = repo.stored_of([(1, "sha256:a1")])
        assert [(s.id, s.vulnerability_id, s.generation) for s in mine] == [
            ("f0", "CVE-1", 0),
            ("f1", "CVE-1", 1),
            ("f3", "CVE-2", 0),
        ]
        first = mine[0]
        assert (first.status, first.severity, first.fix_available, first.inspector_score) == (
            "ACTIVE", "HIGH", "YES", 7.5,
        )  # fmt: skip
        assert first.first_observed_at == T0 and first.closed_at is None
        assert first.detail_ref == detail.ref and first.suppressed_by is None
        assert {s.id for s in repo.stored_for_vulnerabilities(["CVE-1"])} == {"f0", "f1", "f4"}
        full = repo.findings_of(1, "sha256:a1")
        assert [f.id for f in full] == ["f0", "f1", "f3"]
        assert all(f.repository_name == "app" and f.detail == doc for f in full)
        assert repo.stored_of([(2, "sha256:nothing")]) == []


def test_states_observations_and_closing(store: Store) -> None:
    detail, _ = _detail("CVE-1", "openssl")
    other, _ = _detail("CVE-1", "openssl", "zlib")
    with store.write() as uow:
        uow.findings.insert_details([detail, other], T0)
        uow.findings.insert_findings(
            [_finding(f"f{i}", 1, "sha256:a1", f"CVE-{i}", detail.ref) for i in range(3)]
        )
    later = T0 + DAY
    with store.write() as uow:
        uow.findings.close(["f0"], later)
        uow.findings.mark_observed(["f1"], later)
        uow.findings.set_states({"f2": _state(other.ref, later, "SUPPRESSED", "rule-1")})
    with store.read() as uow:
        by_id = {s.id: s for s in uow.findings.stored_of([(1, "sha256:a1")])}
        assert (by_id["f0"].status, by_id["f0"].closed_at, by_id["f0"].updated_at) == (
            "CLOSED", later, later,
        )  # fmt: skip
        assert by_id["f1"].last_observed_at == later and by_id["f1"].updated_at == T0
        assert by_id["f2"].status == "SUPPRESSED" and by_id["f2"].suppressed_by == "rule-1"
        assert by_id["f2"].detail_ref == other.ref
        assert {s.id for s in uow.findings.open_findings_with_details([detail.ref])} == {"f1"}
    with store.write() as uow:  # a closed finding given a state again is open again
        uow.findings.close(["f2"], later)
        uow.findings.set_states({"f0": _state(detail.ref, later + DAY)})
    with store.read() as uow:
        by_id = {s.id: s for s in uow.findings.stored_of([(1, "sha256:a1")])}
        assert by_id["f0"].status == "ACTIVE" and by_id["f0"].closed_at is None
        assert by_id["f2"].status == "CLOSED" and by_id["f2"].suppressed_by is None


def test_image_facts(store: Store) -> None:
    with store.read() as uow:
        facts = uow.findings.image_facts([(1, "sha256:a1"), (1, "sha256:a2"), (2, "sha256:w1"),
                                          (2, "sha256:gone")])  # fmt: skip
    assert facts == {
        (1, "sha256:a1"): ImageFacts(("latest", "v2"), T0),
        (1, "sha256:a2"): ImageFacts(("v1",), T0 + DAY),
        (2, "sha256:w1"): ImageFacts((), T0),
    }


def _rule(rid: str, name: str, created: datetime, **extra: object) -> RuleRecord:
    values: dict[str, object] = {
        "id": rid, "arn": f"arn:rule/{rid}", "name": name, "action": "SUPPRESS",
        "criteria": {"vulnerabilityId": [{"comparison": "EQUALS", "value": "CVE-1"}]},
        "description": None, "reason": "risk accepted", "tags": {"team": "a"},
        "expires_at": None, "expired_at": None, "created_at": created, "updated_at": created,
    }  # fmt: skip
    values.update(extra)
    return RuleRecord(**values)  # type: ignore[arg-type]


def test_suppression_rules_round_trip_page_and_expire(store: Store) -> None:
    rules = [
        _rule("r1", "first", T0),
        _rule("r2", "second", T0 + DAY, expires_at=T0 + 3 * DAY),
        _rule("r0", "third", T0 + DAY, action="NONE"),
    ]
    with store.write() as uow:
        for r in rules:
            uow.findings.insert_rule(TENANT, r)
        uow.findings.insert_rule(OTHER, _rule("x1", "first", T0))
    with store.read() as uow:
        repo = uow.findings
        assert repo.find_rule(TENANT, "r2") == rules[1]
        assert repo.find_rule(TENANT, "x1") is None
        assert repo.rule_named(TENANT, "second") == "r2" and repo.rule_named(TENANT, "x") is None
        everything = repo.list_rules(TENANT, action=None, arns=(), after=None, limit=10)
        assert [r.id for r in everything] == ["r1", "r0", "r2"]  # created, then id
        page = repo.list_rules(TENANT, action=None, arns=(), after=(T0 + DAY, "r0"), limit=10)
        assert [r.id for r in page] == ["r2"]
        assert [r.id for r in repo.list_rules(TENANT, action="NONE", arns=(), after=None,
                                              limit=10)] == ["r0"]  # fmt: skip
        assert [r.id for r in repo.list_rules(TENANT, action=None, arns=["arn:rule/r1"],
                                              after=None, limit=10)] == ["r1"]  # fmt: skip
        assert [r.id for r in repo.rules_in_force(TENANT, T0 + 2 * DAY)] == ["r1", "r2"]
        assert [r.id for r in repo.rules_in_force(TENANT, T0 + 3 * DAY)] == ["r1"]
        assert repo.due_rules(TENANT, T0 + 2 * DAY) == []
        assert repo.due_rules(TENANT, T0 + 3 * DAY) == ["r2"]
    with store.write() as uow:
        uow.findings.mark_rule_expired(TENANT, "r2", T0 + 3 * DAY)
        uow.findings.replace_rule(TENANT, _rule("r1", "renamed", T0, updated_at=T0 + DAY))
        uow.findings.delete_rule(TENANT, "r0")
    with store.read() as uow:
        repo = uow.findings
        assert repo.due_rules(TENANT, T0 + 4 * DAY) == []
        found = repo.find_rule(TENANT, "r2")
        assert found is not None and found.expired_at == T0 + 3 * DAY
        assert repo.rule_named(TENANT, "renamed") == "r1"
        assert repo.find_rule(TENANT, "r0") is None
        assert repo.find_rule(OTHER, "x1") is not None


def test_suppression_candidates_and_changes(store: Store) -> None:
    detail, _ = _detail("CVE-1", "openssl")
    rows = [
        _finding("a", 1, "sha256:a1", "CVE-1", detail.ref),
        _finding("b", 1, "sha256:a1", "CVE-2", detail.ref),
        _finding("c", 2, "sha256:w1", "CVE-1", detail.ref),
    ]
    cve1 = parse_criteria({"vulnerabilityId": [{"comparison": "EQUALS", "value": "CVE-1"}]})
    with store.write() as uow:
        uow.findings.insert_details([detail], T0)
        uow.findings.insert_findings(rows)
        uow.findings.set_states({"b": _state(detail.ref, T0, "SUPPRESSED", "r9")})
        uow.findings.close(["c"], T0)
    with store.read() as uow:
        repo = uow.findings
        assert set(repo.suppression_candidates(TENANT, active_matching=cve1)) == {"a"}
        assert set(repo.suppression_candidates(TENANT, suppressed_by="r9")) == {"b"}
        both = repo.suppression_candidates(TENANT, suppressed_by="r9", active_matching=cve1)
        assert set(both) == {"a", "b"}
        assert (both["b"].status, both["b"].suppressed_by, both["b"].repository_name) == (
            "SUPPRESSED", "r9", "app",
        )  # fmt: skip
        assert repo.suppression_candidates(OTHER, active_matching=cve1) == {}
        assert repo.ids_matching(["a", "b", "c"], cve1) == {"a", "c"}
    later = T0 + DAY
    with store.write() as uow:
        uow.findings.set_suppression({"a": ("SUPPRESSED", "r1")}, later)
        uow.findings.set_suppression({"b": ("SUPPRESSED", "r2")}, None)
    with store.read() as uow:
        by_id = {s.id: s for s in uow.findings.stored_of([(1, "sha256:a1")])}
    assert (by_id["a"].status, by_id["a"].suppressed_by, by_id["a"].updated_at) == (
        "SUPPRESSED", "r1", later,
    )  # fmt: skip
    assert (by_id["b"].suppressed_by, by_id["b"].updated_at) == ("r2", T0)


def test_purge_deletes_what_is_due_and_orphaned_details(store: Store) -> None:
    kept_detail, _ = _detail("CVE-1", "openssl")
    old_detail, _ = _detail("CVE-2", "zlib")
    rows = [
        _finding("open", 1, "sha256:a1", "CVE-1", kept_detail.ref),
        _finding("closed-long-ago", 1, "sha256:a1", "CVE-2", old_detail.ref),
        _finding("closed-recently", 1, "sha256:a1", "CVE-3", kept_detail.ref),
        _finding("gone-image", 2, "sha256:gone", "CVE-1", kept_detail.ref),
    ]
    with store.write() as uow:
        uow.findings.insert_details([kept_detail, old_detail], T0)
        uow.findings.insert_findings(rows)
        uow.findings.close(["closed-long-ago"], T0)
        uow.findings.close(["closed-recently", "gone-image"], T0 + 20 * DAY)
    now = T0 + 31 * DAY
    with store.write() as uow:
        purged = uow.findings.purge_closed(TENANT, now, closed_after=30 * DAY, gone_after=3 * DAY)
        # 31 days after T0: the first closed finding is past 30 days; the two closed 11 days
        # ago are past 3 days and their images are not eligible (no scan state) or gone
        assert purged.findings == 3
        assert purged.details == 1
    with store.read() as uow:
        assert [s.id for s in uow.findings.stored_of([(1, "sha256:a1"), (2, "sha256:gone")])] == [
            "open"
        ]
        assert uow.findings.missing_details([kept_detail.ref, old_detail.ref]) == {old_detail.ref}
        assert (
            uow.findings.purge_closed(
                TENANT, now, closed_after=30 * DAY, gone_after=3 * DAY
            ).findings
            == 0
        )


def test_purge_keeps_closed_findings_of_eligible_images_for_30_days(store: Store) -> None:
    detail, _ = _detail("CVE-1", "openssl")
    with store.write() as uow:
        uow.findings.insert_details([detail], T0)
        uow.findings.insert_findings([_finding("f", 1, "sha256:a1", "CVE-1", detail.ref)])
        uow.findings.close(["f"], T0)
    db = store.db if isinstance(store, SqlStore) else None  # scan state: another repo's rows
    assert db is not None
    with db.write() as conn:
        conn.execute(t.image_scans.insert().values(
            account_id=TENANT.account_id, region=TENANT.region, repository_id=1,
            digest="sha256:a1", scan_type="ENHANCED", status_code="ACTIVE", reason="x",
            updated_at=T0))  # fmt: skip
    with store.write() as uow:
        assert (
            uow.findings.purge_closed(
                TENANT, T0 + 29 * DAY, closed_after=30 * DAY, gone_after=3 * DAY
            ).findings
            == 0
        )
        assert (
            uow.findings.purge_closed(
                TENANT, T0 + 30 * DAY, closed_after=30 * DAY, gone_after=3 * DAY
            ).findings
            == 1
        )
