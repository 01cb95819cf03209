"""`ix_findings_image` led by the image key (migration findings/14), on both backends.

The image key is 12 characters of a digest, so two images of a repository may share it (an
attacker pushing images can make two such digests): every read of an image's findings names the
digest as well, and must answer exactly that image's findings. Reads of a vulnerability's
findings across tenants seek the tenant-keyed sort index now that `ix_findings_vuln` is gone.
Each answer is checked against the rows stored, filtered here in Python.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, delete, inspect, text

from dockwatch.findings.criteria import parse_criteria
from dockwatch.model.finding_sort import Sort
from dockwatch.model.identity import Tenant
from dockwatch.storage.finding_repo import FindingState, NewFinding
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from tests.unit.storage.test_finding_repo_contract import _detail

from .conftest import BACKENDS, empty_database_url, listed_ids

T0 = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
A, B = Tenant("123456789012", "eu-west-1"), Tenant("210987654321", "eu-west-1")
TWIN_1 = "sha256:" + "ab" * 6 + "1" * 52
TWIN_2 = "sha256:" + "ab" * 6 + "2" * 52  # the same first 12 digits: the same image key
LONE = "sha256:" + "cd" * 32
IMAGES = [  # (tenant, repository id, name, digest, tag)
    (A, 1, "app", TWIN_1, "v1"),
    (A, 1, "app", TWIN_2, "v2"),
    (A, 1, "app", LONE, "v3"),
    (A, 2, "web", TWIN_1, "v1"),
    (B, 3, "app", TWIN_2, "v1"),
]


def _store(db: Database) -> list[NewFinding]:
    """Each image with findings of CVE-1 and of a CVE of its own; returns the findings."""
    detail, _ = _detail("CVE-1", "openssl")
    findings = []
    with db.write() as conn:
        for digest in sorted({image[3] for image in IMAGES}):
            conn.execute(
                t.manifest_contents.insert().values(
                    digest=digest, media_type="x", size=1, content=b"{}"
                )
            )
        for tenant, rid, name in sorted({image[:3] for image in IMAGES}, key=lambda i: i[1]):
            row = {"account_id": tenant.account_id, "region": tenant.region}
            conn.execute(t.repositories.insert().values(id=rid, name=name, created_at=T0, **row))
        for tenant, rid, _name, digest, tag in IMAGES:
            row = {"account_id": tenant.account_id, "region": tenant.region}
            conn.execute(
                t.manifests.insert().values(
                    repository_id=rid, digest=digest, media_type="x", size=1,
                    image_pushed_at=T0, last_pushed_at=T0, **row,
                )
            )  # fmt: skip
            conn.execute(
                t.tags.insert().values(
                    repository_id=rid, name=tag, manifest_digest=digest, updated_at=T0, **row
                )
            )
    state = FindingState("ACTIVE", None, "HIGH", "YES", "NO", 7.5, None, "osv", T0, T0, detail.ref)
    for n, (tenant, rid, name, digest, _tag) in enumerate(IMAGES):
        for vuln in ("CVE-1", f"CVE-{100 + n}"):
            fid = f"{rid}-{digest[7:19]}-{digest[-1]}-{vuln}"
            findings.append(NewFinding(fid, tenant, rid, name, digest, vuln, 0, T0, state))
    store = SqlStore(db)
    with store.write() as uow:
        uow.findings.insert_details([detail], T0)
        uow.findings.insert_findings(findings)
    return findings


def _old_indexes(conn: Connection) -> None:
    """As before findings/14: the image index led by the digest, `ix_findings_vuln`."""
    conn.execute(text("DROP INDEX ix_findings_image"))
    conn.execute(
        text("CREATE INDEX ix_findings_image ON findings (repository_id, digest, vulnerability_id)")
    )
    conn.execute(text("CREATE INDEX ix_findings_vuln ON findings (vulnerability_id)"))
    m = t.schema_migrations
    conn.execute(delete(m).where(m.c.subsystem == "findings", m.c.number == 14))


def _indexes(db: Database) -> dict[str, list[Any]]:
    with db.read() as conn:
        return {
            str(ix["name"]): list(ix["column_names"])
            for ix in inspect(conn).get_indexes("findings")
        }


def _reads(db: Database, findings: list[NewFinding]) -> None:
    """Every way of reading an image's or a vulnerability's findings, against the rows."""

    def ids(which: Any) -> set[str]:
        return {f.id for f in findings if which(f)}

    store = SqlStore(db)
    with store.read() as uow:
        repo = uow.findings
        for _tenant, rid, _name, digest, _tag in IMAGES:
            mine = ids(lambda f, r=rid, d=digest: (f.repository_id, f.digest) == (r, d))
            assert {s.id for s in repo.stored_of([(rid, digest)])} == mine
            assert {f.id for f in repo.findings_of(rid, digest)} == mine
        several = [(1, TWIN_2), (2, TWIN_1), (1, TWIN_2), (3, TWIN_2)]  # a repeat, two tenants
        got = [s.id for s in repo.stored_of(several)]
        assert sorted(got) == sorted(ids(lambda f: (f.repository_id, f.digest) in several))
        assert repo.stored_of([(1, "sha256:" + "ab" * 6 + "9" * 52)]) == []
        for vulns in (["CVE-1"], ["CVE-1", "CVE-101", "CVE-104"]):
            across = {s.id for s in repo.stored_for_vulnerabilities(vulns)}
            assert across == ids(lambda f, v=vulns: f.vulnerability_id in v)
    with db.read() as conn:
        for tenant in (A, B):
            for doc, test in (
                ({"ecrImageHash": [{"comparison": "EQUALS", "value": TWIN_2}]},
                 lambda f: f.digest == TWIN_2),
                ({"ecrImageHash": [{"comparison": "EQUALS", "value": TWIN_1},
                                   {"comparison": "EQUALS", "value": LONE}]},
                 lambda f: f.digest in (TWIN_1, LONE)),
                ({"ecrImageTags": [{"comparison": "EQUALS", "value": "v2"}]},
                 lambda f: f.digest == TWIN_2 and f.repository_id == 1),
                ({"ecrImageTags": [{"comparison": "EQUALS", "value": "v1"}]},
                 lambda f: f.repository_id in (2, 3) or f.digest == TWIN_1),
                ({"resourceId": [{"comparison": "EQUALS", "value":
                  f"arn:aws:ecr:{tenant.region}:{tenant.account_id}:repository/app/{TWIN_2}"}]},
                 lambda f: f.digest == TWIN_2 and f.repository_name == "app"),
            ):  # fmt: skip
                listed = listed_ids(conn, tenant, Sort(), parse_criteria(doc))
                assert sorted(listed) == sorted(
                    ids(lambda f, w=test, x=tenant: f.tenant == x and w(f))
                ), (tenant, doc)


@pytest.mark.parametrize("backend", BACKENDS)
def test_images_sharing_a_key_are_read_apart_before_and_after_the_migration(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fresh = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    migrate(fresh)
    fresh_indexes = _indexes(fresh)
    fresh.close()
    db = Database(empty_database_url(backend, request, tmp_path))
    try:
        migrate(db)
        findings = _store(db)
        assert TWIN_1[7:19] == TWIN_2[7:19] and TWIN_1 != TWIN_2
        _reads(db, findings)
        with db.write() as conn:
            _old_indexes(conn)
        _reads(db, findings)  # the old index answers the same

        applied = migrate(db)

        assert [(a.subsystem, a.number) for a in applied] == [("findings", 14)]
        indexes = _indexes(db)
        assert "ix_findings_vuln" not in indexes
        assert indexes["ix_findings_image"] == fresh_indexes["ix_findings_image"] == [
            "repository_id", "image_key", "vulnerability_id",
        ]  # fmt: skip
        _reads(db, findings)
        assert migrate(db) == []
    finally:
        db.close()
