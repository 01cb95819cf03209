"""Every aggregation equals a brute-force count over the findings, after any sequence of steps.

A Hypothesis state machine drives a real in-process dockwatch (SQLite store, scan worker,
controlled clock) through random pushes (images sharing base layers), advisory deltas (new,
changed and withdrawn OSV records, several sources merging into one CVE), suppressions made and
lifted, pulls, expiry, deletes, the passing of time and purges. After each step the test reads
every finding row and detail document back and recounts each aggregation type in plain Python
(titles, packages and layers from the detail documents, not from `detail_packages`), then pages
through the API's answer with small pages and compares them, order included: by default
(ACTIVE), over other statuses (the rollup tables), and with a criterion only the findings table
can answer (the grouped SQL fallback), and with criteria that only choose images (the rollups
filtered by the images' columns), and with criteria on what a finding is (fix and exploit
availability, scores, vulnerability, title, packages: the detail rollup, filtered and summed;
a first-observed range: the image first-seen rollup, the range's cut seconds recounted;
at the grains of an image, the findings' detail index, for the finding's own columns too where
every finding of a chosen detail agrees on them, as the writer's findings do; a last-observed
range that leaves out the earliest observations: a rollup's counts less the findings it drops).
The detail rollup itself must equal a recount of the findings after every step.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import Connection, select

from dockwatch.app import Services, build
from dockwatch.clock import ControlledClock
from dockwatch.config import Settings
from dockwatch.findings.purge import purge_closed
from dockwatch.findings.service import FindingWriter
from dockwatch.model.times import as_utc, as_utc_or_none
from dockwatch.queries import aggregations as ag
from dockwatch.scan.eligibility import expire_pass
from dockwatch.storage.sql import finding_repo
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.unit_of_work import SqlUnitOfWork
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.builders.layers import Image, make_image, make_layer
from tests.builders.push import OCI_MANIFEST as OCI
from tests.builders.push import push_image
from tests.unit.queries import findings_db as fdb

PACKAGES = ("alpha", "beta", "gamma", "delta", "eps")
VERSIONS = ("1.0", "2.0", "3.0")
BASES = (
    {"alpha": "1.0", "beta": "2.0"},
    {"alpha": "2.0", "gamma": "1.0"},
    {"delta": "1.0"},
)
VECTORS = {
    "CRITICAL": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "HIGH": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
    "MEDIUM": "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:N",
    "LOW": "CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N",
}
SEVERITY_KEYS = ("critical", "high", "medium", "low", "informational", "untriaged")


def _dist_info(layer_packages: Mapping[str, str], marker: str) -> Any:
    files = {
        f"usr/lib/python3/site-packages/{n}-{v}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {n}\nVersion: {v}\n"
        )
        for n, v in layer_packages.items()
    }
    return make_layer({**files, "marker": marker})


class _Rules:
    """Suppression rules by vulnerability id (the writer applies them to new findings)."""

    def __init__(self, rules: Mapping[str, str]) -> None:
        self.suppressions = dict(rules)

    def rule_for(self, finding: Mapping[str, Any]) -> str | None:
        return self.suppressions.get(finding["packageVulnerabilityDetails"]["vulnerabilityId"])


# --- the oracle ----------------------------------------------------------------------------------


def _facts(conn: Connection) -> tuple[list[dict[str, Any]], dict[Any, list[str]], dict[Any, Any]]:
    """Every finding as a plain dict with its title, package names and layers from its
    detail document; the tags and last pull of every image."""
    f = t.findings
    rows = [dict(r._mapping) for r in conn.execute(select(f))]
    docs = finding_repo.load_details(conn, {r["detail_ref"] for r in rows})
    for r in rows:
        doc = docs[r["detail_ref"]]
        packages = doc["packageVulnerabilityDetails"]["vulnerablePackages"]
        r["title"] = doc.get("title") or r["vulnerability_id"]
        r["names"] = {p["name"] for p in packages}
        r["layers"] = {p["sourceLayerHash"] for p in packages if p.get("sourceLayerHash")}
    tags: dict[Any, list[str]] = defaultdict(list)
    for row in conn.execute(select(t.tags).order_by(t.tags.c.name)):
        tags[(row.repository_id, row.manifest_digest)].append(row.name)
    pulled = {
        (row.repository_id, row.digest): as_utc_or_none(row.last_pulled_at)
        for row in conn.execute(select(t.manifests))
    }
    return rows, tags, pulled


def _expected(
    kind: str,
    rows: list[dict[str, Any]],
    tags: Mapping[Any, list[str]],
    pulled: Mapping[Any, Any],
    account: str,
    region: str,
    sort_by: str,
    order: str,
) -> list[dict[str, Any]]:
    groups: dict[tuple[str, ...], dict[str, Any]] = {}

    def add(key: tuple[str, ...], r: dict[str, Any], **extra: Any) -> None:
        g = groups.setdefault(
            key, {"n": dict.fromkeys(SEVERITY_KEYS, 0), "images": set(), "fix": 0, "exploit": 0}
        )
        g["n"][r["severity"].lower()] += 1
        g["images"].add((r["repository_id"], r["digest"]))
        g["fix"] += r["fix_available"] in ("YES", "PARTIAL")
        g["exploit"] += r["exploit_available"] == "YES"
        g.update(extra)

    for r in rows:
        if kind == "REPOSITORY":
            add((r["repository_name"],), r)
        elif kind == "AWS_ECR_CONTAINER":
            add((r["repository_name"], r["digest"]), r, repository_id=r["repository_id"])
        elif kind == "IMAGE_LAYER":
            for layer in r["layers"]:
                add((r["repository_name"], r["digest"], layer), r)
        elif kind == "PACKAGE":
            for name in r["names"]:
                add((name,), r)
        elif kind == "TITLE":
            add((r["title"], r["vulnerability_id"]), r)
        else:
            add((r["account_id"],), r)

    def counts(g: dict[str, Any]) -> dict[str, int]:
        return {"all": sum(g["n"].values()), **g["n"]}

    def value(g: dict[str, Any]) -> int:
        if sort_by == "AFFECTED_IMAGES":
            return len(g["images"])
        return counts(g)[sort_by.lower()]

    sign = -1 if order == "DESC" else 1
    ordered = sorted(groups.items(), key=lambda kv: (sign * value(kv[1]), kv[0]))
    out: list[dict[str, Any]] = []
    for key, g in ordered:
        if kind == "REPOSITORY":
            out.append({"repositoryAggregation": {"repository": key[0], "accountId": account,
                        "severityCounts": counts(g), "affectedImages": len(g["images"])}})  # fmt: skip
        elif kind == "AWS_ECR_CONTAINER":
            image = (g["repository_id"], key[1])
            item = {
                "resourceId": f"arn:aws:ecr:{region}:{account}:repository/{key[0]}/{key[1]}",
                "imageSha": key[1],
                "repository": key[0],
                "imageTags": tags.get(image, []),
                "accountId": account,
                "severityCounts": counts(g),
            }
            if pulled.get(image) is not None:
                item["lastInUseAt"] = pulled[image].isoformat()
            out.append({"awsEcrContainerAggregation": item})
        elif kind == "IMAGE_LAYER":
            out.append({"imageLayerAggregation": {
                "repository": key[0],
                "resourceId": f"arn:aws:ecr:{region}:{account}:repository/{key[0]}/{key[1]}",
                "layerHash": key[2], "accountId": account, "severityCounts": counts(g)}})  # fmt: skip
        elif kind == "PACKAGE":
            out.append({"packageAggregation": {"packageName": key[0], "accountId": account,
                        "severityCounts": counts(g)}})  # fmt: skip
        elif kind == "TITLE":
            out.append({"titleAggregation": {"title": key[0], "vulnerabilityId": key[1],
                        "accountId": account, "severityCounts": counts(g),
                        "affectedImages": len(g["images"])}})  # fmt: skip
        else:
            member = ag.MEMBERS[kind]
            out.append({member: {"accountId": account, "severityCounts": counts(g),
                        "exploitAvailableCount": g["exploit"], "fixAvailableCount": g["fix"]}})  # fmt: skip
    return out


_DETAIL_KEY = ("status", "detail_ref", "vulnerability_id", "fix_available", "exploit_available",
               "source")  # fmt: skip


def _recount_details(rows: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    """`finding_detail_counts` recounted: findings per detail-level key and severity."""
    out: Counter[tuple[Any, ...]] = Counter()
    for r in rows:
        scores = (r["inspector_score"], r["epss_score"])
        out[(*[r[k] for k in _DETAIL_KEY], *scores, r["severity"].lower())] += 1
    return out


def _detail_counts(conn: Connection) -> Counter[tuple[Any, ...]]:
    """The stored `finding_detail_counts` as the same (key..., severity) -> count."""
    out: Counter[tuple[Any, ...]] = Counter()
    for row in conn.execute(select(t.finding_detail_counts)):
        m = row._mapping
        key = (*[m[k] for k in _DETAIL_KEY], m["inspector_score"], m["epss_score"])
        for s in SEVERITY_KEYS:
            if m[s]:
                out[(*key, s)] += m[s]
    return out


def _pages(conn: Connection, services: Services, body: dict[str, Any]) -> list[dict[str, Any]]:
    return fdb.aggregation_pages(conn, body, services.tenant)


# --- the state machine ---------------------------------------------------------------------------

_TEMPLATE: list[Path] = []


def _template() -> Path:
    """A migrated, empty data folder, made once per test run: each example starts from a copy
    (migrating a new database took most of an example's set-up)."""
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="dockwatch-agg-template-")) / "d"
        build(Settings(data_dir=folder, test_mode=True)).close()
        atexit.register(shutil.rmtree, folder.parent, True)
        _TEMPLATE.append(folder)
    return _TEMPLATE[0]


class Registry(RuleBasedStateMachine):
    """A registry under continuous scanning, driven at random."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="dockwatch-agg-"))
        shutil.copytree(_template(), self.tmp / "d")
        self.services = build(Settings(data_dir=self.tmp / "d", test_mode=True))
        clock = self.services.clock
        assert isinstance(clock, ControlledClock)
        self.clock = clock
        self.suppressions: dict[str, str] = {}
        self.services.scanner.writer = FindingWriter(
            self.services.tenant, suppressor=lambda _conn: _Rules(self.suppressions)
        )
        self.services.scanner.put_scanning_configuration(
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
        self.services.scanner.put_ecr_configuration({"rescanDuration": "DAYS_7"})
        self.images: list[tuple[str, str]] = []
        self.built: dict[tuple[str, str], Image] = {}
        self.advisories: dict[str, dict[str, Any]] = {}
        self.imports = 0
        self.pushes = 0
        self.checks = 0
        for vid, fixes, severity, cve in (
            ("PYSEC-0", {"alpha": "1.5"}, "HIGH", "CVE-2090-0001"),
            ("PYSEC-1", {"beta": "2.5"}, "CRITICAL", None),
            ("PYSEC-2", {"gamma": None}, "MEDIUM", "CVE-2090-0002"),
            ("PYSEC-3", {"eps": "9.0"}, None, "CVE-2090-0002"),  # merges with PYSEC-2
            ("PYSEC-4", {"delta": "9.0"}, "LOW", None),
        ):
            self._advise(vid, fixes, severity, cve)
        for base, app in enumerate(({"eps": "1.0"}, {"gamma": "2.0", "eps": "1.0"}, {})):
            self.push("app" if base < 2 else "web", base, app, "latest")

    def teardown(self) -> None:
        self.services.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- steps -----------------------------------------------------------------------------

    def _advise(
        self, vid: str, fixes: Mapping[str, str | None], severity: str | None, cve: str | None
    ) -> None:
        self.imports += 1
        affected = []
        for name, fixed in sorted(fixes.items()):
            events: list[dict[str, str]] = [{"introduced": "0"}]
            if fixed is not None:
                events.append({"fixed": fixed})
            affected.append(
                {
                    "package": {"ecosystem": "PyPI", "name": name},
                    "ranges": [{"type": "ECOSYSTEM", "events": events}],
                }
            )
        record: dict[str, Any] = {
            "id": vid,
            "modified": f"2026-11-01T00:00:{self.imports:02d}Z",
            "affected": affected,
        }
        if cve is not None:
            record["aliases"] = [cve]
        if severity is not None:
            record["severity"] = [{"type": "CVSS_V3", "score": VECTORS[severity]}]
        self._import(record)

    def _import(self, record: dict[str, Any]) -> None:
        self.advisories[record["id"]] = record
        folder = self.tmp / f"import-{self.imports}"
        folder.mkdir()
        (folder / f"{record['id']}.json").write_text(json.dumps(record))
        import_paths(VulnDb(self.services.store, self.services.clock), [folder])
        self.services.worker.drain()

    @rule(
        repo=st.sampled_from(["app", "web", "web-api"]),
        base=st.integers(0, len(BASES) - 1),
        app=st.dictionaries(st.sampled_from(PACKAGES), st.sampled_from(VERSIONS), max_size=3),
        tag=st.sampled_from(["latest", "v1", "v2"]),
    )
    def push(self, repo: str, base: int, app: dict[str, str], tag: str) -> None:
        self.pushes += 1
        image = make_image(
            [_dist_info(BASES[base], f"base-{base}"), _dist_info(app, f"app-{self.pushes}")]
        )
        digest = push_image(self.services, repo, image, tag)
        self.images.append((repo, digest))
        self.built[(repo, digest)] = image
        self.services.worker.drain()

    @precondition(lambda self: bool(self.images))
    @rule(data=st.data(), tag=st.sampled_from(["latest", "v1", "v2"]), wait=st.sampled_from([0, 8]))
    def repush(self, data: st.DataObject, tag: str, wait: int) -> None:
        """The same image again, possibly days later (an expired one becomes eligible;
        findings closed more than 7 days ago come back as new generations, others reopen)."""
        self.clock.advance(timedelta(days=wait))
        repo, digest = data.draw(st.sampled_from(self.images))
        push_image(self.services, repo, self.built[(repo, digest)], tag)
        self.services.worker.drain()

    @rule(
        number=st.integers(0, 5),
        fixes=st.dictionaries(
            st.sampled_from(PACKAGES),
            st.sampled_from(["1.5", "2.5", "9.0", None]),
            min_size=1,
            max_size=2,
        ),
        severity=st.sampled_from([None, "CRITICAL", "HIGH", "MEDIUM", "LOW"]),
        cve=st.sampled_from([None, "CVE-2090-0001", "CVE-2090-0002"]),
    )
    def rescan(
        self, number: int, fixes: dict[str, str | None], severity: str | None, cve: str | None
    ) -> None:
        """An advisory delta: a new record, or a changed one (packages, fix, severity)."""
        self._advise(f"PYSEC-{number}", fixes, severity, cve)

    @precondition(lambda self: bool(self.advisories))
    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        vid = data.draw(st.sampled_from(sorted(self.advisories)))
        self.imports += 1
        record = dict(
            self.advisories[vid],
            withdrawn="2026-11-02T00:00:00Z",
            modified=f"2026-11-02T00:00:{self.imports:02d}Z",
        )
        self._import(record)

    def _flip(self, vuln: str, before: str, after: str, rule_id: str | None) -> None:
        f = t.findings
        with self.services.db.write() as conn:
            ids = [
                r.id
                for r in conn.execute(
                    select(f.c.id).where(f.c.vulnerability_id == vuln, f.c.status == before)
                )
            ]
            finding_repo.update_findings(
                conn,
                ["status", "suppressed_by"],
                [{"b_id": i, "b_status": after, "b_suppressed_by": rule_id} for i in ids],
            )

    @rule(data=st.data())
    def suppress(self, data: st.DataObject) -> None:
        """A rule for one vulnerability: open findings flip now, new ones arrive suppressed."""
        with self.services.db.read() as conn:
            f = t.findings
            vulns = sorted(
                set(
                    conn.execute(
                        select(f.c.vulnerability_id).where(f.c.status == "ACTIVE")
                    ).scalars()
                )
            )
        if not vulns:
            return
        vuln = data.draw(st.sampled_from(vulns))
        self.suppressions[vuln] = f"rule-{vuln}"
        self._flip(vuln, "ACTIVE", "SUPPRESSED", self.suppressions[vuln])

    @precondition(lambda self: bool(self.suppressions))
    @rule(data=st.data())
    def unsuppress(self, data: st.DataObject) -> None:
        vuln = data.draw(st.sampled_from(sorted(self.suppressions)))
        del self.suppressions[vuln]
        self._flip(vuln, "SUPPRESSED", "ACTIVE", None)

    @precondition(lambda self: bool(self.images))
    @rule(data=st.data())
    def pull(self, data: st.DataObject) -> None:
        repo, digest = data.draw(st.sampled_from(self.images))
        self.services.registry.manifests.get(repo, digest, [OCI], record_pull=True)

    @rule(days=st.sampled_from([0, 1, 2, 4, 8, 31]), purge=st.booleans())
    def time_passes(self, days: int, purge: bool) -> None:
        """Images past the 7-day re-scan duration expire (their findings close); a purge
        deletes the closed findings that are due."""
        self.clock.advance(timedelta(days=days))
        expire_pass(self.services.scanner)
        if purge:
            with self.services.db.write() as conn:
                purge_closed(SqlUnitOfWork(conn), self.services.tenant, self.clock.now())

    @precondition(lambda self: bool(self.images))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        repo, digest = data.draw(st.sampled_from(self.images))
        self.images.remove((repo, digest))
        self.services.registry.manifests.delete(repo, digest)
        self.services.worker.drain()

    # --- the property ----------------------------------------------------------------------

    @invariant()
    def aggregations_equal_brute_force(self) -> None:
        tenant = self.services.tenant
        with self.services.db.read() as conn:
            rows, tags, pulled = _facts(conn)
            assert _detail_counts(conn) == _recount_details(rows)
            variants: list[tuple[dict[str, Any], Callable[[dict[str, Any]], bool]]] = [
                ({}, lambda r: r["status"] == "ACTIVE"),
                (
                    {"findingStatus": [{"comparison": "NOT_EQUALS", "value": "ACTIVE"}]},
                    lambda r: r["status"] != "ACTIVE",
                ),
                (
                    {
                        "findingStatus": [
                            {"comparison": "PREFIX", "value": "A"},
                            {"comparison": "EQUALS", "value": "CLOSED"},
                        ],
                        "severity": [{"comparison": "NOT_EQUALS", "value": "UNTRIAGED"}],
                    },
                    lambda r: r["status"] in ("ACTIVE", "CLOSED") and r["severity"] != "UNTRIAGED",
                ),  # fmt: skip
                (  # the image fix and layer rollups (keyed by fix and exploit availability)
                    {
                        "fixAvailable": [{"comparison": "EQUALS", "value": "YES"}],
                        "findingStatus": [{"comparison": "NOT_EQUALS", "value": "SUPPRESSED"}],
                    },
                    lambda r: r["fix_available"] == "YES" and r["status"] != "SUPPRESSED",
                ),
                (  # criteria on what a finding is: the detail rollup, filtered and summed
                    {
                        "exploitAvailable": [{"comparison": "EQUALS", "value": "NO"}],
                        "inspectorScore": [{"lowerInclusive": 5.0, "upperInclusive": 10.0}],
                        "severity": [{"comparison": "NOT_EQUALS", "value": "HIGH"}],
                        "findingStatus": [{"comparison": "NOT_EQUALS", "value": "CLOSED"}],
                    },
                    lambda r: (
                        r["status"] != "CLOSED"
                        and r["severity"] != "HIGH"
                        and r["exploit_available"] == "NO"
                        and r["inspector_score"] is not None
                        and 5.0 <= r["inspector_score"] <= 10.0
                    ),
                ),
                (
                    {
                        "vulnerablePackages": [
                            {"name": {"comparison": "EQUALS", "value": "alpha"}},
                            {"name": {"comparison": "PREFIX", "value": "ga"}},
                        ],
                        "vulnerabilityId": [{"comparison": "PREFIX", "value": "CVE-"}],
                        "fixAvailable": [{"comparison": "NOT_EQUALS", "value": "NO"}],
                    },
                    lambda r: (
                        r["status"] == "ACTIVE"
                        and r["vulnerability_id"].startswith("CVE-")
                        and r["fix_available"] != "NO"
                        and any(n == "alpha" or n.startswith("ga") for n in r["names"])
                    ),
                ),
                (
                    {
                        "title": [{"comparison": "PREFIX", "value": "PYSEC-"}],
                        "severity": [{"comparison": "EQUALS", "value": "CRITICAL"}],
                    },
                    lambda r: (
                        r["status"] == "ACTIVE"
                        and r["severity"] == "CRITICAL"
                        and r["title"].startswith("PYSEC-")
                    ),
                ),
                (  # the detail document and images, several statuses: the findings' detail
                    # index at the grains of an image (`aggregation_images.py`)
                    {
                        "vulnerablePackages": [{"name": {"comparison": "PREFIX", "value": "a"}}],
                        "ecrImageRepositoryName": [{"comparison": "PREFIX", "value": "web"}],
                        "findingStatus": [{"comparison": "NOT_EQUALS", "value": "CLOSED"}],
                    },
                    lambda r: (
                        r["status"] != "CLOSED"
                        and r["repository_name"].startswith("web")
                        and any(n.startswith("a") for n in r["names"])
                    ),
                ),
                (  # images and fix availability: the image fix and layer rollups, filtered
                    {
                        "ecrImageRepositoryName": [{"comparison": "PREFIX", "value": "web"}],
                        "exploitAvailable": [{"comparison": "NOT_EQUALS", "value": "YES"}],
                        "fixAvailable": [
                            {"comparison": "EQUALS", "value": "NO"},
                            {"comparison": "EQUALS", "value": "PARTIAL"},
                        ],
                    },
                    lambda r: (
                        r["status"] == "ACTIVE"
                        and r["repository_name"].startswith("web")
                        and r["exploit_available"] != "YES"
                        and r["fix_available"] in ("NO", "PARTIAL")
                    ),
                ),
                (  # fix and exploit availability, images by tag, other statuses: the same
                    {
                        "exploitAvailable": [{"comparison": "EQUALS", "value": "NO"}],
                        "fixAvailable": [{"comparison": "NOT_EQUALS", "value": "YES"}],
                        "ecrImageTags": [{"comparison": "NOT_EQUALS", "value": "latest"}],
                        "findingStatus": [{"comparison": "NOT_EQUALS", "value": "ACTIVE"}],
                    },
                    lambda r: (
                        r["status"] != "ACTIVE"
                        and r["exploit_available"] == "NO"
                        and r["fix_available"] != "YES"
                        and "latest" not in tags.get((r["repository_id"], r["digest"]), [])
                    ),
                ),
                (  # criteria that choose images: the image and layer rollups, filtered
                    {"ecrImageRepositoryName": [{"comparison": "EQUALS", "value": "app"}]},
                    lambda r: r["status"] == "ACTIVE" and r["repository_name"] == "app",
                ),
                (
                    {
                        "ecrImageTags": [{"comparison": "EQUALS", "value": "latest"}],
                        "ecrImageRepositoryName": [{"comparison": "PREFIX", "value": "web"}],
                        "severity": [{"comparison": "NOT_EQUALS", "value": "LOW"}],
                        "findingStatus": [{"comparison": "NOT_EQUALS", "value": "CLOSED"}],
                    },
                    lambda r: (
                        r["status"] != "CLOSED"
                        and r["severity"] != "LOW"
                        and r["repository_name"].startswith("web")
                        and "latest" in tags.get((r["repository_id"], r["digest"]), [])
                    ),
                ),
            ]
            if rows:  # one image, by digest: the image index through the repository ids
                digest = rows[0]["digest"]
                variants.append(
                    (
                        {"ecrImageHash": [{"comparison": "EQUALS", "value": digest}]},
                        lambda r: r["status"] == "ACTIVE" and r["digest"] == digest,
                    )
                )
                # a first-observed range from half a second before the median instant (a cut
                # second) to the last one: the image first-seen rollup, its edges recounted
                instants = sorted({as_utc(r["first_observed_at"]) for r in rows})
                low = instants[len(instants) // 2] - timedelta(microseconds=500_000)
                high = instants[-1]
                variants.append(
                    (
                        {
                            "firstObservedAt": [
                                {
                                    "startInclusive": low.isoformat(),
                                    "endInclusive": high.isoformat(),
                                }
                            ],
                            "findingStatus": [{"comparison": "NOT_EQUALS", "value": "CLOSED"}],
                        },
                        lambda r: (
                            r["status"] != "CLOSED"
                            and low <= as_utc(r["first_observed_at"]) <= high
                        ),
                    )
                )
                # a last-observed range from the second instant on, beside a severity: the
                # rollup's counts less the findings observed last at the first
                seen = sorted({as_utc(r["last_observed_at"]) for r in rows})
                since = seen[1] if len(seen) > 1 else seen[0] + timedelta(microseconds=1)
                variants.append(
                    (
                        {
                            "lastObservedAt": [{"startInclusive": since.isoformat()}],
                            "severity": [{"comparison": "NOT_EQUALS", "value": "LOW"}],
                        },
                        lambda r: (
                            r["status"] == "ACTIVE"
                            and r["severity"] != "LOW"
                            and as_utc(r["last_observed_at"]) >= since
                        ),
                    )
                )
            self.checks += 1
            for v, (criteria, counted) in enumerate(variants):
                selected = [r for r in rows if counted(r)]
                for n, kind in enumerate(ag.MEMBERS):
                    # sort, order and page size turn with the kind, the variant and the check:
                    # every combination of them comes up within a few steps of one example
                    sorts = ag.SORT_BY[kind]
                    i = n + 3 * v + self.checks
                    sort_by = sorts[i % len(sorts)]
                    order = "ASC" if (i // len(sorts)) % 2 else "DESC"
                    body: dict[str, Any] = {
                        "aggregationType": kind,
                        "maxResults": 1 + (i // 2) % 3,
                        "aggregationRequest": {
                            ag.MEMBERS[kind]: {"sortBy": sort_by, "sortOrder": order}
                        },
                    }
                    if criteria:
                        body["filterCriteria"] = criteria
                    expected = _expected(
                        kind, selected, tags, pulled, tenant.account_id, tenant.region, sort_by,
                        order,
                    )  # fmt: skip
                    assert _pages(conn, self.services, body) == expected, (kind, criteria)
            self._check_request_filters(conn, rows, tags, pulled)

    def _check_request_filters(
        self,
        conn: Connection,
        rows: list[dict[str, Any]],
        tags: Mapping[Any, list[str]],
        pulled: Mapping[Any, Any],
    ) -> None:
        """The aggregation requests' own filters, against the same recount of the findings."""
        tenant = self.services.tenant
        active = [r for r in rows if r["status"] == "ACTIVE"]
        layers = sorted({layer for r in active for layer in r["layers"]})
        cases: list[tuple[str, dict[str, Any], Callable[[dict[str, Any]], bool] | None]] = [
            (
                "REPOSITORY",
                {"repositories": [{"comparison": "PREFIX", "value": "web"}]},
                lambda r: r["repository_name"].startswith("web"),
            ),
            (
                "AWS_ECR_CONTAINER",
                {"imageTags": [{"comparison": "EQUALS", "value": "latest"}]},
                lambda r: "latest" in tags.get((r["repository_id"], r["digest"]), []),
            ),
            (
                "AWS_ECR_CONTAINER",
                {
                    "imageTags": [{"comparison": "NOT_EQUALS", "value": "latest"}],
                    "repositories": [{"comparison": "NOT_EQUALS", "value": "app"}],
                },
                lambda r: (
                    "latest" not in tags.get((r["repository_id"], r["digest"]), [])
                    and r["repository_name"] != "app"
                ),
            ),  # fmt: skip
            (
                "PACKAGE",
                {
                    "packageNames": [
                        {"comparison": "EQUALS", "value": "alpha"},
                        {"comparison": "PREFIX", "value": "ga"},
                    ]
                },
                None,
            ),  # fmt: skip
            (
                "TITLE",
                {"vulnerabilityIds": [{"comparison": "PREFIX", "value": "CVE-"}]},
                lambda r: r["vulnerability_id"].startswith("CVE-"),
            ),
        ]
        if layers:
            cases.append(
                (
                    "IMAGE_LAYER",
                    {"layerHashes": [{"comparison": "EQUALS", "value": layers[0]}]},
                    None,
                )
            )
        for kind, request, keep in cases:
            body = {
                "aggregationType": kind,
                "maxResults": 2,
                "aggregationRequest": {ag.MEMBERS[kind]: request},
            }
            expected = _expected(
                kind,
                [r for r in active if keep is None or keep(r)],
                tags,
                pulled,
                tenant.account_id,
                tenant.region,
                "CRITICAL",
                "DESC",
            )
            if kind == "PACKAGE":
                expected = [
                    e
                    for e in expected
                    if e["packageAggregation"]["packageName"] == "alpha"
                    or e["packageAggregation"]["packageName"].startswith("ga")
                ]
            if kind == "IMAGE_LAYER":
                expected = [
                    e for e in expected if e["imageLayerAggregation"]["layerHash"] == layers[0]
                ]
            assert _pages(conn, self.services, body) == expected, (kind, request)


Registry.TestCase.settings = settings(
    # every step checks 13 criteria x 7 aggregation types and 6 request filters (about 90
    # queries, 16 checks an example): 6 examples whose checks turn sort, order and page size
    # through every combination cover what 15 with the same ones each did, in under half the
    # time (47 s of CPU against 106)
    max_examples=6,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestAggregations = Registry.TestCase
