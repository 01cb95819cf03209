"""A SQLite findings store filled with random, awkward findings, for criteria and listing tests.

Rows are inserted the way `FindingWriter` stores them (row columns derived from the detail
document, `detail_packages` rows in `vulnerablePackages` order), over a small vocabulary of
values chosen to collide: prefixes of one another, case variants, absent values, untagged and
deleted images, several tags, a second tenant.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from dockwatch.model.finding_criteria import Criteria
from dockwatch.model.finding_sort import Sort
from dockwatch.model.identity import Tenant
from dockwatch.queries import aggregations as ag
from dockwatch.queries.listing import shape
from dockwatch.storage.sql import finding_repo
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.finding_query_repo import SqlFindingQueryRepo
from dockwatch.storage.sql.migrations import migrate

TENANT = Tenant("123456789012", "us-east-1")
OTHER = Tenant("210987654321", "eu-west-1")
BASE = datetime(2025, 3, 1, tzinfo=UTC)

REPOS = ("app", "app-prod", "prod-api", "Prod-api", "dev/web", "ünï/cödé")
TAGS = ("latest", "v1", "v1.2", "V1", "prod", "prod-1")
VULNS = ("CVE-2024-0001", "CVE-2024-0002", "CVE-2024-00021", "GHSA-aaaa-bbbb", "PYSEC-2024-1")
NAMES = ("openssl", "openssl-libs", "zlib", "Zlib", "requests", "req")
VERSIONS = ("1.0", "1.0.1", "2.0")
LAYERS = ("sha256:aa11", "sha256:aa", "sha256:b2", None)
ARCHES = ("amd64", "arm64", None)
RELEASES = ("1.el9", "1.el9_2", None)
EPOCHS = (None, 0, 1, 2)
PATHS = ("/usr/lib/python3/x", "/usr/lib/python3/xy", None)
SOURCES = ("osv", "debian", "nvd", None)
VENDOR = ("HIGH", "high", "MODERATE", None)
RELATED = ("GHSA-1", "GHSA-12", "PYSEC-1", "CVE-1", 'GHSA-"\\é1')  # the last escaped in JSON
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNTRIAGED")
STATUSES = ("ACTIVE", "SUPPRESSED", "CLOSED")
SCORES = (None, 0.0, 4.5, 7.0, 9.8, 10.0)
EPSS = (None, 0.0, 0.001, 0.5, 0.97)


@dataclass
class FindingsDb:
    """The store and every finding of `TENANT` as Inspector shapes it."""

    db: Database
    shaped: dict[str, dict[str, Any]]
    """Inspector `Finding` by finding id (TENANT only)."""
    digests: list[str]


def _digest(i: int) -> str:
    return "sha256:" + hashlib.sha256(f"image{i}".encode()).hexdigest()


def _package(rnd: random.Random) -> dict[str, Any]:
    name = rnd.choice(NAMES)
    return {
        "name": name,
        "version": rnd.choice(VERSIONS),
        "epoch": rnd.choice(EPOCHS),
        "release": rnd.choice(RELEASES),
        "arch": rnd.choice(ARCHES),
        "packageManager": rnd.choice(("OS", "PYTHONPKG")),
        "filePath": rnd.choice(PATHS),
        "sourceLayerHash": rnd.choice(LAYERS),
        "fixedInVersion": rnd.choice(("2.1", "NotAvailable")),
        "remediation": "upgrade",
    }


def build_db(path: Path, seed: int, images: int = 24, per_image: int = 6) -> FindingsDb:
    """A migrated SQLite store at `path` with random findings (same seed, same store)."""
    rnd = random.Random(seed)
    db = Database(f"sqlite:///{path}")
    migrate(db)
    digests = [_digest(i) for i in range(images)]
    used: set[tuple[int, str]] = set()
    with db.write() as conn:
        for tenant, offset in ((TENANT, 0), (OTHER, 100)):
            for i, name in enumerate(REPOS):
                conn.execute(
                    t.repositories.insert().values(
                        id=offset + i + 1,
                        account_id=tenant.account_id,
                        region=tenant.region,
                        name=name,
                        created_at=BASE,
                    )
                )
        for d in digests:
            conn.execute(
                t.manifest_contents.insert().values(
                    digest=d, media_type="application/json", size=2, content=b"{}"
                )
            )
        for i, d in enumerate(digests):
            tenant, offset = (OTHER, 100) if i % 7 == 6 else (TENANT, 0)
            repo_id = offset + rnd.randrange(len(REPOS)) + 1
            if i % 5 != 4:  # every fifth image is deleted: its findings have no push time
                pushed = BASE + timedelta(hours=rnd.randrange(0, 500))
                conn.execute(
                    t.manifests.insert().values(
                        account_id=tenant.account_id,
                        region=tenant.region,
                        repository_id=repo_id,
                        digest=d,
                        media_type="application/json",
                        size=2,
                        image_pushed_at=pushed,
                        last_pushed_at=pushed,
                    )
                )
                for tag in rnd.sample(TAGS, rnd.choice((0, 1, 1, 2, 3))):
                    if (repo_id, tag) in used:  # a tag names one image per repository
                        continue
                    used.add((repo_id, tag))
                    conn.execute(
                        t.tags.insert().values(
                            account_id=tenant.account_id,
                            region=tenant.region,
                            repository_id=repo_id,
                            name=tag,
                            manifest_digest=d,
                            updated_at=BASE,
                        )
                    )
            name = REPOS[(repo_id - offset - 1)]
            for vuln in rnd.sample(VULNS, min(per_image, len(VULNS))):
                packages = [_package(rnd) for _ in range(rnd.choice((1, 1, 2, 3)))]
                score = rnd.choice(SCORES)
                epss = rnd.choice(EPSS)
                source = rnd.choice(SOURCES)
                detail: dict[str, Any] = {
                    "title": f"{vuln} - {', '.join(sorted({p['name'] for p in packages}))}",
                    "description": "d",
                    "inspectorScore": score,
                    "exploitAvailable": rnd.choice(("YES", "NO")),
                    "epss": None if epss is None else {"score": epss},
                    "packageVulnerabilityDetails": {
                        "vulnerabilityId": vuln,
                        "source": source,
                        "vendorSeverity": rnd.choice(VENDOR),
                        "relatedVulnerabilities": rnd.sample(RELATED, rnd.randrange(0, 3)),
                        "vulnerablePackages": packages,
                    },
                }
                ref, doc = finding_repo.detail_document(detail)
                if finding_repo.missing_details(conn, [ref]):
                    finding_repo.insert_details(
                        conn,
                        {
                            ref: (
                                doc,
                                [
                                    {
                                        "pkg_ref": hashlib.sha256(repr(p).encode()).hexdigest()[
                                            :32
                                        ],
                                        "name": p["name"],
                                        "version": p["version"],
                                        "package_manager": p["packageManager"],
                                        "source_layer_hash": p["sourceLayerHash"],
                                        "fixed_in_version": p["fixedInVersion"],
                                        "file_path": p["filePath"],
                                    }
                                    for p in packages
                                ],
                            )
                        },
                        BASE,
                    )
                first = BASE + timedelta(hours=rnd.randrange(0, 500), seconds=rnd.randrange(60))
                status = rnd.choice(STATUSES)
                finding_repo.insert_findings(
                    conn,
                    [
                        {
                            "id": hashlib.sha256(f"{d}{vuln}".encode()).hexdigest()[:32],
                            "account_id": tenant.account_id,
                            "region": tenant.region,
                            "repository_id": repo_id,
                            "repository_name": name,
                            "digest": d,
                            "vulnerability_id": vuln,
                            "generation": 0,
                            "status": status,
                            "severity": rnd.choice(SEVERITIES),
                            "fix_available": rnd.choice(("YES", "NO", "PARTIAL")),
                            "exploit_available": detail["exploitAvailable"],
                            "inspector_score": score,
                            "epss_score": epss,
                            "source": source or "",
                            "first_observed_at": first,
                            "last_observed_at": first + timedelta(hours=rnd.randrange(0, 48)),
                            "updated_at": first + timedelta(hours=rnd.randrange(0, 72)),
                            "closed_at": first if status == "CLOSED" else None,
                            "detail_ref": ref,
                            "suppressed_by": "rule1" if status == "SUPPRESSED" else None,
                        }
                    ],
                )
    with db.read() as conn:
        rows = conn.execute(
            select(t.findings).where(
                t.findings.c.account_id == TENANT.account_id,
                t.findings.c.region == TENANT.region,
            )
        ).all()
        found = SqlFindingQueryRepo(conn).list_findings(TENANT, Criteria(), Sort(), len(rows) + 1)
        assert found.next is None and len(found.findings) == len(rows)
        shaped = dict(
            zip([r.id for r in found.findings], shape(TENANT, found.findings), strict=True)
        )
    return FindingsDb(db, shaped, digests)


def filtered_ids(db: Database, doc: dict[str, Any]) -> set[str]:
    """The ids of TENANT's findings that `criteria_sql.sql_filter` of the criteria `doc` keeps."""
    from dockwatch.findings.criteria import parse_criteria
    from dockwatch.storage.sql.finding_queries.criteria_sql import sql_filter

    f = t.findings
    with db.read() as conn:
        return set(
            conn.execute(
                select(f.c.id).where(
                    f.c.account_id == TENANT.account_id,
                    f.c.region == TENANT.region,
                    sql_filter(parse_criteria(doc)),
                )
            ).scalars()
        )


def aggregation_pages(
    conn: Connection, body: dict[str, Any], tenant: Tenant = TENANT
) -> list[dict[str, Any]]:
    """Every response of ListFindingAggregations for `body`, page after page, in order: each
    page of the aggregation type asked, and none empty that names a next one."""
    out: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(1000):
        request = dict(body, **({"nextToken": token} if token else {}))
        answer = ag.aggregate(SqlFindingQueryRepo(conn), tenant, ag.parse_request(request))
        assert answer["aggregationType"] == body["aggregationType"]
        out += answer["responses"]
        token = answer.get("nextToken")
        if token is None:
            return out
        assert answer["responses"], "a page with a nextToken is never empty"
    raise AssertionError("pagination did not end")
