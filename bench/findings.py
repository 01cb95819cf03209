"""Findings queries at scale: listings and aggregations over HTTP, 1,000,000 findings on SQLite.

Builds a registry of 10,000 images in 500 repositories (20 each) with 1,000,000 findings in a
temp data folder, the way a real registry looks: 20 base images (two layers each) whose OS
findings every image built on them shares, three dependency layers per repository shared by its
images, and a few findings in each image's own layer; finding details are content-addressed, so
shared layers share details (about 100,000 details for 1,000,000 findings). 85% of the findings
are ACTIVE, the oldest images' are CLOSED (expired), and the findings of 2% of the
vulnerabilities are SUPPRESSED by a rule. Rows are bulk-inserted with the exact columns
FindingWriter writes (its own code computes the ids, detail refs and package rows), with the
rollup triggers off; the rollups are then built once by `rollups.install` (timed).

Then `dockwatch serve` (test mode, enhanced continuous scanning, its worker running) serves the
data folder; after a warm-up, each query runs `--reps` times in sequence and its p50/p95 are
printed with MET or MISSED against the targets: listing page p95 <= 50 ms, aggregation p95 <=
200 ms (also with filterCriteria: `FILTERED_AGGREGATIONS`, among them the grains of an image
filtered by a finding's own columns: fix availability, score, first observation), and the
database's bytes per stored finding (pages in use, by table and index) <= 1 KB. "A page 1,000 deep" is the 1,000th page of
100 findings (offset 99,900) of the unfiltered listing, reached by following 999 `nextToken`s;
that page's request is then timed. "A repository's images" is the console's and DescribeImages'
list of one repository's 20 images, each with its scan status and ACTIVE findings by severity
(read from the findings of those images), held to the listing target.

On PostgreSQL (`--postgres`: a throwaway cluster; `--database-url URL` or
DOCKWATCH_DATABASE_URL: that empty database) the same data set, built in SQLite, is copied in
with `dockwatch migrate-store`'s table copy (`storage/store_copy.py`) and served from there;
with more than one backend the p50/p95 are printed side by side (bench/backends.py). A data set
of fewer than 200,000 findings takes its deep page at half the listing's depth.

The registry belongs to account `--account` (default 123456789012, a real 12-digit id: the
disk target holds for any account id, not only the install's default 000000000000); the server
is started as that tenant.

    python bench/findings.py [--small] [--reps 30] [--images N --findings N] [--keep]
        [--account ID] [--sqlite] [--postgres] [--database-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.servers import start_dockwatch  # noqa: E402

from bench.backends import Backend, add_arguments, copy_into, on_each_backend  # noqa: E402
from dockwatch.app import build  # noqa: E402
from dockwatch.config import DEFAULT_ACCOUNT, Settings  # noqa: E402
from dockwatch.findings.build import FindingDraft  # noqa: E402
from dockwatch.findings.lifecycle import finding_id  # noqa: E402
from dockwatch.findings.service import detail_packages, finding_state  # noqa: E402
from dockwatch.model.finding import (  # noqa: E402
    Cvss,
    FindingDetail,
    MatchEvidence,
    VulnerablePackage,
    detail_json,
)
from dockwatch.model.identity import ImageResource, Tenant  # noqa: E402
from dockwatch.storage.sql import finding_repo, finding_tenants, rollups  # noqa: E402
from dockwatch.storage.sql.detail_columns import detail_columns, package_columns  # noqa: E402
from dockwatch.storage.sql.engine import Database  # noqa: E402
from dockwatch.storage.sql.schema.detail_document import pack  # noqa: E402
from dockwatch.storage.sql.schema.epoch_micros import to_micros  # noqa: E402

LIST_TARGET_MS = 50.0
AGG_TARGET_MS = 200.0
DISK_TARGET_B = 1024
INSERT_FINDINGS_SQL = (
    "INSERT INTO findings (id, account_id, region, tenant_key, repository_id, repository_name,"
    " digest, vulnerability_id, generation, status, severity, fix_available, exploit_available,"
    " inspector_score, epss_score, source, first_observed_at, last_observed_at, updated_at,"
    " closed_at, detail_ref, suppressed_by)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
"""The bulk loaders' row of `findings` (this bench's and `bench/finding_writes.py`'s)."""
BENCH_ACCOUNT = "123456789012"
"""The account of the registry built: a real 12-digit id, as an install serving AWS-API clients
or an organization's member accounts has, not the install's default `000000000000`: the disk
target holds for any account id."""
AGGREGATION_TYPES = (
    "REPOSITORY",
    "AWS_ECR_CONTAINER",
    "IMAGE_LAYER",
    "PACKAGE",
    "TITLE",
    "FINDING_TYPE",
    "ACCOUNT",
)
SEVERITIES = (("CRITICAL", 0.05), ("HIGH", 0.25), ("MEDIUM", 0.45), ("LOW", 0.2),
              ("INFORMATIONAL", 0.02), ("UNTRIAGED", 0.03))  # fmt: skip
SCORES = {"CRITICAL": 9.8, "HIGH": 7.5, "MEDIUM": 5.5, "LOW": 3.1}
PER_REPO = 20
BASES = 20
DEPS_PER_REPO = 3


def _ts(moment: datetime) -> str:
    """SQLAlchemy's SQLite DateTime storage format (UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _hex(*parts: object) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Vuln:
    """One vulnerability of the synthetic database."""

    id: str
    severity: str
    packages: tuple[str, ...]
    manager: str
    fixed: bool
    kev: bool


@dataclass(frozen=True, slots=True)
class LayerFindings:
    """The findings a layer brings: (vulnerability, detail ref) pairs, details stored once."""

    digest: str
    items: tuple[tuple[Vuln, str, str, str, float | None, float | None], ...]
    """(vuln, detail ref, fix_available, exploit_available, inspector score, epss score)."""


class Generator:
    """The synthetic registry: vulnerabilities, layers, images; details written as it goes."""

    def __init__(self, rng: random.Random, con: sqlite3.Connection, now: datetime) -> None:
        self.rng = rng
        self.con = con
        self.now = now
        self.details = 0
        self.pool = [self._vuln(n) for n in range(20_000)]
        self.suppressed = {v.id for v in rng.sample(self.pool, len(self.pool) // 50)}

    def _vuln(self, n: int) -> Vuln:
        rng = self.rng
        severity = rng.choices([s for s, _ in SEVERITIES], [w for _, w in SEVERITIES])[0]
        os_pkg = n % 3 != 0
        if os_pkg:
            name = f"lib{n % 700:03d}"
            packages = (name, f"{name}-dev") if n % 5 == 0 else (name,)
            manager = "OS"
        else:
            packages = (f"pkg-{n % 900:03d}",)
            manager = rng.choice(["PYTHONPKG", "NODEPKG", "JAR", "GOBINARY"])
        return Vuln(
            f"CVE-20{20 + n % 6}-{10_000 + n}",
            severity,
            packages,
            manager,
            rng.random() < 0.7,
            rng.random() < 0.02,
        )

    def layer(self, digest: str, count: int, os_layer: bool) -> LayerFindings:
        """A layer with `count` vulnerabilities; its details are stored now."""
        candidates = [
            v for v in self.rng.sample(self.pool, count * 4) if (v.manager == "OS") == os_layer
        ]
        chosen = candidates[:count]
        while len(chosen) < count:
            chosen.append(self.rng.choice(self.pool))
        items = []
        detail_rows = []
        package_rows = []
        for v in chosen:
            draft = self._draft(v, digest)
            ref, doc = finding_repo.detail_document(detail_json(draft.detail))
            cols = asdict(finding_state(draft, ref, ("ACTIVE", None), self.now))
            items.append(
                (v, ref, draft.fix_available, cols["exploit_available"], cols["inspector_score"],
                 cols["epss_score"])
            )  # fmt: skip
            document = json.loads(doc)
            fields = detail_columns(document)
            detail_rows.append(
                (ref, pack(doc), fields["title"], fields["vendor_severity"],
                 fields["related_vulnerabilities"], _ts(self.now))
            )  # fmt: skip
            extra = package_columns(document)
            for seq, row in enumerate(map(asdict, detail_packages(draft))):
                package_rows.append(
                    (ref, seq, row["pkg_ref"], row["name"], row["version"], row["package_manager"],
                     row["source_layer_hash"], row["fixed_in_version"], row["file_path"],
                     extra[seq]["release"], extra[seq]["arch"], extra[seq]["epoch"])
                )  # fmt: skip
        self.con.executemany(
            "INSERT OR IGNORE INTO finding_details (ref, doc, title, vendor_severity, "
            "related_vulnerabilities, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            detail_rows,
        )
        self.con.executemany(
            "INSERT OR IGNORE INTO detail_packages (detail_ref, seq, pkg_ref, name, version, "
            "package_manager, source_layer_hash, fixed_in_version, file_path, release, arch, "
            "epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            package_rows,
        )
        self.details += len(detail_rows)
        return LayerFindings(digest, tuple(items))

    def _draft(self, v: Vuln, layer: str) -> FindingDraft:
        """A detail in the shape `findings.build` gives (trimmed evidence)."""
        score = SCORES.get(v.severity)
        packages = tuple(
            VulnerablePackage(
                name=name,
                version="1.2.3-1" if v.manager == "OS" else "1.2.3",
                epoch=0 if v.manager == "OS" else None,
                release=None,
                arch="amd64" if v.manager == "OS" else None,
                package_manager=v.manager,
                file_path=None if v.manager == "OS" else f"/app/lib/{name}",
                source_layer_hash=layer,
                fixed_in_version="1.2.4" if v.fixed else "NotAvailable",
                remediation=f"Upgrade {name} to 1.2.4" if v.fixed else "No fixed version is known",
                purl=f"pkg:generic/{name}@1.2.3",
                source_name=name,
            )
            for name in v.packages
        )
        fix = "YES" if v.fixed else "NO"
        vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
        detail = FindingDetail(
            title=f"{v.id} - {', '.join(sorted(v.packages))}",
            description=f"A flaw in {v.packages[0]} allows an attacker to do harm ({v.id}).",
            inspector_score=score,
            exploit_available="YES" if v.kev else "NO",
            epss_score=0.0123,
            fix_available=fix,
            vulnerability_id=v.id,
            source="osv:Debian" if v.manager == "OS" else "osv:PyPI",
            source_url=f"https://osv.dev/vulnerability/{v.id}",
            vendor_severity=v.severity if v.manager == "OS" else None,
            cvss=() if score is None else (Cvss(score, vector, "osv", "3.1"),),
            reference_urls=(f"https://nvd.nist.gov/vuln/detail/{v.id}",),
            related_vulnerabilities=(
                (f"DSA-{v.id[-5:]}-1",) if v.manager == "OS" else (f"GHSA-{v.id[-5:]}-x2m4-q9vh",)
            ),
            packages=packages,
            evidence=(
                MatchEvidence(
                    f"osv/{v.id}", f"bench/{v.packages[0]}", "bench", "bench", v.packages[0],
                    "1.2.3", "bench", "range", None, None, None,
                ),
            ),
        )  # fmt: skip
        return FindingDraft(v.id, v.severity, fix, detail, [_hex(p)[:32] for p in v.packages])


def build_registry(
    data: Path, images: int, findings: int, account: str = DEFAULT_ACCOUNT, seed: int = 7
) -> dict[str, float]:
    """Fill a fresh data folder for the tenant (`account`, the default region); returns timings
    and sizes."""
    t0 = time.perf_counter()
    settings = Settings(data_dir=data, test_mode=True, account_id=account)
    services = build(settings)
    services.scanner.put_scanning_configuration(
        {
            "scanType": "ENHANCED",
            "rules": [
                {
                    "scanFrequency": "CONTINUOUS_SCAN",
                    "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}],
                }
            ],
        }
    )
    services.scanner.put_ecr_configuration({"rescanDuration": "LIFETIME"})
    account, region = services.tenant.account_id, services.tenant.region
    services.close()
    key = tenant_key_of(settings, Tenant(account, region))
    con = sqlite3.connect(data / "dockwatch.db", isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA cache_size = -262144")
    for name in rollups.TRIGGERS:
        con.execute(f"DROP TRIGGER IF EXISTS {name}")
    con.execute("BEGIN")
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    gen = Generator(rng, con, now)
    repos = max(1, images // PER_REPO)
    per_image = [findings // images + (1 if i < findings % images else 0) for i in range(images)]
    bases = []
    for b in range(BASES):
        os_layer = gen.layer("sha256:" + _hex("base-os", b), 45, True)
        runtime = gen.layer("sha256:" + _hex("base-rt", b), 20, True)
        bases.append((os_layer, runtime))
    rows: list[tuple[Any, ...]] = []
    n_image = 0
    inserted = 0

    def flush() -> None:
        nonlocal rows, inserted
        con.executemany(INSERT_FINDINGS_SQL, rows)
        inserted += len(rows)
        rows = []

    for r in range(repos):
        name = f"team{r % 25:02d}/service-{r:03d}"
        created = _ts(now - timedelta(days=60))
        repo_id = con.execute(
            "INSERT INTO repositories (account_id, region, name, created_at, image_tag_mutability,"
            " scan_on_push) VALUES (?, ?, ?, ?, 'MUTABLE', 0) RETURNING id",
            (account, region, name, created),
        ).fetchone()[0]
        base_old, base_new = rng.randrange(BASES), rng.randrange(BASES)
        deps = [gen.layer("sha256:" + _hex("deps", r, d), 30, False) for d in range(DEPS_PER_REPO)]
        count = PER_REPO if r < repos - 1 else images - n_image
        for i in range(count):
            quota = per_image[n_image]
            n_image += 1
            pushed = now - timedelta(hours=(count - i) * 12)
            digest = "sha256:" + _hex("image", r, i)
            app = gen.layer("sha256:" + _hex("app", r, i), max(0, quota - 95) + 5, False)
            os_layer, runtime = bases[base_old if i < count // 2 else base_new]
            layers = [os_layer, runtime, deps[i % DEPS_PER_REPO], app]
            content = (
                '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
                f'"layers":[{",".join(chr(34) + x.digest + chr(34) for x in layers)}]}}'
            ).encode()
            con.execute(
                "INSERT OR IGNORE INTO manifest_contents (digest, media_type, size, content)"
                " VALUES (?, ?, ?, ?)",
                (digest, "application/vnd.oci.image.manifest.v1+json", len(content), content),
            )
            con.execute(
                "INSERT INTO manifests (account_id, region, repository_id, digest, media_type, size,"
                " image_pushed_at, last_pushed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (account, region, repo_id, digest, "application/vnd.oci.image.manifest.v1+json",
                 len(content), _ts(pushed), _ts(pushed)),
            )  # fmt: skip
            tags = ["latest"] if i == count - 1 else []
            if i % 4 == 3:
                tags.append(f"v1.{i}")
            for tag in tags:
                con.execute(
                    "INSERT INTO tags (account_id, region, repository_id, name, manifest_digest,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (account, region, repo_id, tag, digest, _ts(pushed)),
                )
            expired = i < 2
            con.execute(
                "INSERT INTO image_scans (account_id, region, repository_id, digest, scan_type,"
                " status_code, reason, last_scanned_at, db_version, updated_at)"
                " VALUES (?, ?, ?, ?, 'ENHANCED', ?, ?, ?, 1, ?)",
                (account, region, repo_id, digest, "INACTIVE" if expired else "ACTIVE",
                 "SCAN_ELIGIBILITY_EXPIRED" if expired else "SUCCESSFUL", _ts(pushed), _ts(now)),
            )  # fmt: skip
            resource = ImageResource(Tenant(account, region), name, digest)
            seen: set[str] = set()
            for layer in layers:
                for v, ref, fix, exploit, score, epss in layer.items:
                    if v.id in seen or len(seen) >= quota:
                        continue
                    seen.add(v.id)
                    status, rule = "ACTIVE", None
                    closed = None
                    if expired:
                        status, closed = "CLOSED", to_micros(now - timedelta(days=1))
                    elif v.id in gen.suppressed:
                        status, rule = "SUPPRESSED", "rule-bench"
                    rows.append(
                        (finding_id(resource, v.id), account, region, key, repo_id, name, digest,
                         v.id,
                         0, status, v.severity, fix, exploit, score, epss, "osv",
                         to_micros(pushed), to_micros(now), to_micros(now), closed, ref, rule)
                    )  # fmt: skip
            if len(rows) >= 50_000:
                flush()
        if (r + 1) % 50 == 0 or r == repos - 1:
            print(
                f"  {r + 1}/{repos} repositories, {inserted + len(rows)} findings", file=sys.stderr
            )
    flush()
    con.execute("COMMIT")
    loaded = time.perf_counter() - t0
    con.close()
    db = Database(settings.effective_database_url)
    t1 = time.perf_counter()
    with db.write() as conn:
        rollups.install(conn)
    rollup_s = time.perf_counter() - t1
    db.close()
    return {
        "images": n_image,
        "findings": inserted,
        "details": gen.details,
        "load_s": loaded,
        "rollups_s": rollup_s,
        "db_mb": (data / "dockwatch.db").stat().st_size / 1e6,
    }


def tenant_key_of(settings: Settings, tenant: Tenant) -> int:
    """The dense key the bench's findings carry (`storage/sql/finding_tenants.py`). Another
    account's tenant takes key 1 first, as in an install where the default account stored
    findings before: the bench tenant's key, 2, then takes a byte in each sort index entry where
    key 1 takes none."""
    db = Database(settings.effective_database_url)
    try:
        with db.write() as conn:
            first = Tenant(DEFAULT_ACCOUNT if tenant.account_id != DEFAULT_ACCOUNT else "1" * 12,
                           tenant.region)  # fmt: skip
            finding_tenants.ensure_keys(conn, [first])
        with db.write() as conn:
            return finding_tenants.ensure_keys(conn, [tenant])[tenant]
    finally:
        db.close()


def disk(data: Path) -> int:
    """Print the database's bytes per stored finding, by table and index (SQLite `dbstat`:
    pages in use, so space freed by a migration does not count); 1 when over the target."""
    con = sqlite3.connect(f"file:{data / 'dockwatch.db'}?mode=ro", uri=True)
    try:
        count = con.execute("SELECT count(*) FROM findings").fetchone()[0]
        page = con.execute("PRAGMA page_size").fetchone()[0]
        rows = con.execute(
            "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
    finally:
        con.close()
    total = sum(size for _, size in rows)
    print(
        f"\n{'table or index (' + str(page // 1024) + ' KB pages)':42} {'MB':>8} {'B/finding':>10}"
    )
    for name, size in rows[:16]:
        print(f"{name:42} {size / 1e6:8.1f} {size / count:10.1f}")
    per = total / count
    verdict = "MET" if per <= DISK_TARGET_B else "MISSED"
    print(f"{'disk per stored finding (bytes)':42} {total / 1e6:8.1f} {per:10.1f}  target <= "
          f"{DISK_TARGET_B}  {verdict}")  # fmt: skip
    return verdict == "MISSED"


def timed(call: Callable[[], httpx.Response], reps: int) -> list[float]:
    """Milliseconds of `reps` sequential calls (each must answer 200)."""
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = call()
        out.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{r.request.url} answered {r.status_code}: {r.text[:300]}")
    return out


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def deep_token(client: httpx.Client, pages: int, size: int) -> str:
    """The nextToken that asks for page `pages` of the unfiltered listing."""
    token = None
    for _ in range(pages - 1):
        params: dict[str, Any] = {"maxResults": size}
        if token:
            params["nextToken"] = token
        r = client.get("/api/v1/findings", params=params)
        r.raise_for_status()
        token = r.json().get("nextToken")
        if token is None:
            raise RuntimeError(f"the listing ends before page {pages}")
    assert isinstance(token, str)
    return token


def queries(
    client: httpx.Client, repository: str, deep: str, pages: int = 1000
) -> Iterator[tuple[str, str, Callable[[], httpx.Response]]]:
    """(kind, name, call) of the fixed query set."""
    get = client.get
    yield (
        "list",
        "by repository",
        lambda: get("/api/v1/findings", params={"ecrImageRepositoryName": repository}),
    )
    yield (
        "list",
        "by severity CRITICAL",
        lambda: get("/api/v1/findings", params={"severity": "CRITICAL"}),
    )
    yield (
        "list",
        "by status SUPPRESSED",
        lambda: get("/api/v1/findings", params={"findingStatus": "SUPPRESSED"}),
    )
    yield (
        "list",
        f"page {pages} (keyset)",
        lambda: get("/api/v1/findings", params={"maxResults": 100, "nextToken": deep}),
    )
    # DescribeImages' fields: each image's scan status and ACTIVE findings by severity
    yield "list", "a repository's images", lambda: get(f"/api/v1/repositories/{repository}/images")

    def aggregation(kind: str) -> Callable[[], httpx.Response]:
        return lambda: get("/api/v1/findings/aggregations", params={"type": kind})

    for kind in AGGREGATION_TYPES:
        yield "agg", kind, aggregation(kind)
    yield (
        "agg",
        "REPOSITORY by AFFECTED_IMAGES",
        lambda: get(
            "/api/v1/findings/aggregations",
            params={"type": "REPOSITORY", "sortBy": "AFFECTED_IMAGES"},
        ),
    )
    yield "agg", "AWS_ECR_CONTAINER tag latest", lambda: client.post(
        "/api/v1/findings/aggregations/list",
        json={"aggregationType": "AWS_ECR_CONTAINER", "aggregationRequest": {
            "awsEcrContainerAggregation": {"imageTags": [{"comparison": "EQUALS", "value": "latest"}]}}},
    )  # fmt: skip
    for kind, name, criteria in FILTERED_AGGREGATIONS:
        yield "agg", f"{kind} {name}", filtered(client, kind, criteria, repository)


def _equals(value: str) -> list[dict[str, str]]:
    return [{"comparison": "EQUALS", "value": value}]


FILTERED_AGGREGATIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("REPOSITORY", "repository PREFIX", {"ecrImageRepositoryName": [
        {"comparison": "PREFIX", "value": "team07/"}]}),
    ("AWS_ECR_CONTAINER", "filterCriteria tag latest", {"ecrImageTags": _equals("latest")}),
    ("IMAGE_LAYER", "one repository", {"ecrImageRepositoryName": _equals("{repository}")}),
    ("PACKAGE", "one repository", {"ecrImageRepositoryName": _equals("{repository}")}),
    ("TITLE", "one image", {"ecrImageHash": _equals("{digest}")}),
    ("TITLE", "vulnerabilityId", {"vulnerabilityId": _equals("{vulnerability}")}),
    ("ACCOUNT", "severity CRITICAL", {"severity": _equals("CRITICAL")}),
    ("REPOSITORY", "SUPPRESSED fixAvailable=NO", {"findingStatus": _equals("SUPPRESSED"),
                                                  "fixAvailable": _equals("NO")}),
    ("PACKAGE", "fixAvailable=YES", {"fixAvailable": _equals("YES")}),
    ("TITLE", "fixAvailable=YES", {"fixAvailable": _equals("YES")}),
    ("REPOSITORY", "fixAvailable=YES", {"fixAvailable": _equals("YES")}),
    ("REPOSITORY", "vendorSeverity HIGH", {"vendorSeverity": _equals("HIGH")}),
    ("AWS_ECR_CONTAINER", "vendorSeverity HIGH", {"vendorSeverity": _equals("HIGH")}),
    ("IMAGE_LAYER", "vendorSeverity HIGH", {"vendorSeverity": _equals("HIGH")}),
    ("TITLE", "relatedVulnerabilities PREFIX", {"relatedVulnerabilities": [
        {"comparison": "PREFIX", "value": "DSA-101"}]}),
    ("PACKAGE", "vendorSeverity HIGH", {"vendorSeverity": _equals("HIGH")}),
    ("TITLE", "vendorSeverity HIGH", {"vendorSeverity": _equals("HIGH")}),
    ("IMAGE_LAYER", "severity CRITICAL", {"severity": _equals("CRITICAL")}),
    ("AWS_ECR_CONTAINER", "fixAvailable=YES", {"fixAvailable": _equals("YES")}),
    ("IMAGE_LAYER", "fixAvailable=YES", {"fixAvailable": _equals("YES")}),
    ("REPOSITORY", "inspectorScore >= 7", {"inspectorScore": [{"lowerInclusive": 7.0}]}),
    ("AWS_ECR_CONTAINER", "firstObservedAt last 7 days", {"firstObservedAt": [
        {"startInclusive": "{week_ago}"}]}),
    ("IMAGE_LAYER", "lastObservedAt last 7 days", {"lastObservedAt": [
        {"startInclusive": "{week_ago}"}]}),
    ("IMAGE_LAYER", "firstObservedAt last 7 days", {"firstObservedAt": [
        {"startInclusive": "{week_ago}"}]}),
)  # fmt: skip
"""Aggregations with filterCriteria: criteria that choose images (the rollups, filtered),
selective ones (an image, a vulnerability, a severity), and fixAvailable over every finding
(from the detail and image fix rollups, which key each row by fix availability), and a field
of the detail document (vendor severity, related vulnerabilities: kept in columns of the
details, `storage/sql/detail_columns.py`), also at the grains of an image (from the findings'
detail index, `finding_queries/aggregation_images.py`); and at the grains of an image, the
finding's own columns a user filters by: fix availability, the score (both follow from the
detail here: the detail index again), and the time a finding was first observed (70% of the
findings were first observed in the last 7 days: their images were pushed then; at IMAGE_LAYER
the layer rollup's rows of the images wholly inside the range) or last (every finding here: the
layer rollup less the findings the range drops, none)."""


def filtered(
    client: httpx.Client, kind: str, criteria: dict[str, Any], repository: str
) -> Callable[[], httpx.Response]:
    """ListFindingAggregations of `kind` with `criteria` ({repository}, {digest} and
    {vulnerability} filled from the repository's first ACTIVE finding, {week_ago} with the
    epoch seconds of 7 days ago)."""
    first = client.get(
        "/api/v1/findings",
        params={"ecrImageRepositoryName": repository, "findingStatus": "ACTIVE", "maxResults": 1},
    ).json()["findings"][0]
    digest = first["resources"][0]["details"]["awsEcrContainerImage"]["imageHash"]
    vulnerability = first["packageVulnerabilityDetails"]["vulnerabilityId"]
    text = json.dumps(criteria)
    week_ago = str(int(time.time()) - 7 * 86_400)
    for name, value in (("repository", repository), ("digest", digest),
                        ("vulnerability", vulnerability), ("week_ago", week_ago)):  # fmt: skip
        text = text.replace("{" + name + "}", value)
    body = {"aggregationType": kind, "filterCriteria": json.loads(text)}
    return lambda: client.post("/api/v1/findings/aggregations/list", json=body)


def stored_account(data: Path) -> str:
    """The account the data folder's registry belongs to (the server must be that tenant)."""
    con = sqlite3.connect(f"file:{data / 'dockwatch.db'}?mode=ro", uri=True)
    try:
        return str(con.execute("SELECT account_id FROM repositories LIMIT 1").fetchone()[0])
    finally:
        con.close()


def measure(
    data: Path, database_url: str | None, reps: int, pages: int
) -> tuple[int, dict[str, str]]:
    """Serve `data` (on `database_url` if given) and time the query set; (missed, figures)."""
    env = {"DOCKWATCH_ACCOUNT_ID": stored_account(data)}
    server = start_dockwatch(data, database_url=database_url, env=env)
    figures: dict[str, str] = {}
    try:
        with server.client(timeout=120.0) as client:
            deadline = time.monotonic() + 300
            while client.get("/healthz").json().get("scanner") != "ready":
                if time.monotonic() > deadline:
                    raise TimeoutError("the scanner did not get ready")
                time.sleep(0.1)
            t0 = time.perf_counter()
            deep = deep_token(client, pages, 100)
            walk = time.perf_counter() - t0
            print(
                f"walked {pages - 1} pages of 100 by nextToken in {walk:.1f} s "
                f"({walk / (pages - 1) * 1000:.1f} ms a page)"
            )
            figures["nextToken walk, ms a page"] = f"{walk / (pages - 1) * 1000:.1f}"
            repository = "team07/service-007"
            plan = list(queries(client, repository, deep, pages))
            for _kind, _name, call in plan:  # warm-up
                timed(call, 3)
            print(f"\n{'query':52} {'p50 ms':>8} {'p95 ms':>8} {'target':>10}  result   (n={reps})")
            missed = 0
            for kind, name, call in plan:
                values = timed(call, reps)
                p50v, p95v = statistics.median(values), p95(values)
                if kind == "info":
                    verdict, target = "info", "-"
                else:
                    limit = LIST_TARGET_MS if kind == "list" else AGG_TARGET_MS
                    verdict = "MET" if p95v <= limit else "MISSED"
                    missed += verdict == "MISSED"
                    target = f"<= {limit:.0f}"
                label = f"{'listing' if kind == 'list' else 'aggregation'} {name}"
                print(f"{label:52} {p50v:8.1f} {p95v:8.1f} {target:>10}  {verdict}")
                figures[f"{label} p50/p95"] = f"{p50v:.1f}/{p95v:.1f}"
        return missed, figures
    finally:
        server.stop()


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--small", action="store_true", help="1,000 images, 100,000 findings")
    ap.add_argument("--images", type=int, default=None)
    ap.add_argument("--findings", type=int, default=None)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--keep", action="store_true", help="keep the data folder (path printed)")
    ap.add_argument("--data", type=Path, help="a data folder built by an earlier --keep run")
    ap.add_argument(
        "--account",
        default=BENCH_ACCOUNT,
        help=f"the 12-digit account id of the registry built (default {BENCH_ACCOUNT}; "
        f"{DEFAULT_ACCOUNT} is the install's default account)",
    )
    add_arguments(ap)
    args = ap.parse_args()
    images = args.images or (1_000 if args.small else 10_000)
    findings = args.findings or (100_000 if args.small else 1_000_000)
    pages = min(1000, max(2, findings // 200))
    work = Path(tempfile.mkdtemp(prefix="dockwatch-findings-bench-"))
    data = args.data or work / "data"
    missed = 0
    try:
        if args.data is None:
            print(
                f"building {images} images / {findings} findings of account {args.account} "
                f"in {data}",
                file=sys.stderr,
            )
            facts = build_registry(data, images, findings, args.account)
            print(
                f"built: {facts['images']} images, {facts['findings']} findings, "
                f"{facts['details']} details, {facts['db_mb']:.0f} MB; bulk load "
                f"{facts['load_s']:.1f} s, rollups built in {facts['rollups_s']:.1f} s"
            )
        missed += disk(data)

        def on(backend: Backend) -> tuple[int, dict[str, str]]:
            if backend.url is not None:
                print(f"copied in {copy_into(data / 'dockwatch.db', backend.url):.1f} s")
            return measure(data, backend.url, args.reps, pages)

        missed += on_each_backend(args, "findings queries", on)
        return 1 if missed else 0
    finally:
        if args.keep and args.data is None:
            print(f"data kept in {data}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
