"""Continuous rescans applied in bulk equal a full re-scan of every image (the oracle).

In process over a real SQLite store: images are pushed, scanned, then advisory updates
(added, modified, withdrawn, enrichment) are imported; after each update the findings the bulk
delta path leaves must be exactly those a from-scratch re-match of every image gives.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dockwatch.app import Services, build
from dockwatch.config import Settings
from dockwatch.model.events import RescanCompleted
from dockwatch.model.finding import FindingDetail, detail_json
from dockwatch.storage.finding_repo import detail_document
from dockwatch.storage.image_buckets import in_shard
from dockwatch.storage.sql import finding_repo, tables
from dockwatch.storage.sql.registry_repo import SqlRegistryRepo
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.builders.layers import Image, make_image, make_layer
from tests.builders.push import push_image
from tests.support.advisories import kev_catalogue


def _dist_info(packages: dict[str, str], seed: str) -> Image:
    files = {
        f"usr/lib/python3/site-packages/{n}-{v}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {n}\nVersion: {v}\n"
        )
        for n, v in packages.items()
    }
    base = make_layer({**files, "base": "shared"})
    return make_image([base, make_layer({"seed": seed})])


def _osv(vid: str, package: str, fixed: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": vid,
        "modified": "2026-11-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
        **extra,
    }


def _import(services: Services, tmp: Path, name: str, *records: dict[str, Any]) -> None:
    folder = tmp / name
    folder.mkdir()
    for rec in records:
        (folder / f"{rec['id']}.json").write_text(json.dumps(rec))
    import_paths(VulnDb(services.store, services.clock), [folder])


def _resources(services: Services) -> list[tuple[int, str, str]]:
    """(repository id, name, digest) of every stored manifest."""
    r, m = tables.repositories, tables.manifests
    with services.db.read() as conn:
        rows = conn.execute(
            select(r.c.id, r.c.name, m.c.digest).join(m, m.c.repository_id == r.c.id)
        )
        return sorted((row.id, row.name, row.digest) for row in rows)


def _findings(services: Services) -> dict[tuple[str, str, str], tuple[str, str, tuple[str, ...]]]:
    """(repository, digest, vulnerability) -> (status, severity, packages) of every finding."""
    out = {}
    with services.db.read() as conn:
        for repo_id, repo, digest in _resources(services):
            for f in finding_repo.findings_of(conn, repo_id, digest):
                # every stored detail is one the typed codec reads and writes back to the
                # same canonical bytes, hence the same content-addressed ref
                typed = FindingDetail.from_json(f.detail)
                assert detail_document(detail_json(typed))[0] == f.detail_ref
                packages = f.detail["packageVulnerabilityDetails"]["vulnerablePackages"]
                out[(repo, digest, f.vulnerability_id)] = (
                        f.status,
                        f.severity,
                        tuple(sorted(f"{p['name']}@{p['version']}>{p['fixedInVersion']}"
                                     for p in packages)),
                    )  # fmt: skip
    return out


def _open(found: dict[tuple[str, str, str], tuple[str, str, tuple[str, ...]]]) -> dict[Any, Any]:
    return {k: v for k, v in found.items() if v[0] != "CLOSED"}


def _full_rescan(services: Services) -> None:
    """The oracle: re-match every image from its inventory, one at a time."""
    for _, repo, digest in _resources(services):
        if not repo.startswith("dev-"):
            services.scanner.scan(repo, digest, rematch=True)


@pytest.mark.parametrize("shards", [1, 3])
def test_bulk_delta_equals_a_full_rescan(tmp_path: Path, shards: int) -> None:
    """Also with each update split in shards (`Settings.delta_shards`): together they leave
    what one job leaves."""
    services = build(Settings(data_dir=tmp_path / "d", test_mode=True, delta_shards=shards))
    try:
        _import(
            services,
            tmp_path,
            "base",
            _osv("PYSEC-1", "alpha", "2.0", aliases=["CVE-2090-0001"]),
            _osv("GHSA-xxxx-1", "alpha", "2.0", aliases=["CVE-2090-0001"]),
            _osv("PYSEC-2", "beta", "5.0"),
        )
        services.scanner.put_scanning_configuration(
            {
                "scanType": "ENHANCED",
                "rules": [
                    {
                        "scanFrequency": "CONTINUOUS_SCAN",
                        "repositoryFilters": [{"filter": "prod-*", "filterType": "WILDCARD"}],
                    },
                    {
                        "scanFrequency": "SCAN_ON_PUSH",
                        "repositoryFilters": [{"filter": "dev-*", "filterType": "WILDCARD"}],
                    },
                ],
            }
        )
        images = {
            "prod-a": _dist_info({"alpha": "1.0", "beta": "4.0", "gamma": "1.0"}, "a"),
            "prod-b": _dist_info({"alpha": "1.0", "beta": "4.0", "gamma": "1.0"}, "b"),
            "prod-c": _dist_info({"beta": "6.0", "delta": "1.0"}, "c"),
            "dev-a": _dist_info({"alpha": "1.0", "gamma": "1.0"}, "d"),
        }
        for repo, image in images.items():
            push_image(services, repo, image)
        services.worker.drain()
        if shards > 1:  # the images are spread over the shards
            split = {k for r, _, d in _resources(services) for k in range(shards)
                     if in_shard(r, d, k, shards)}  # fmt: skip
            assert len(split) > 1
        first = _findings(services)
        assert {(r, v) for r, _, v in _open(first)} == {
            ("prod-a", "CVE-2090-0001"), ("prod-a", "PYSEC-2"), ("prod-b", "CVE-2090-0001"),
            ("prod-b", "PYSEC-2"), ("dev-a", "CVE-2090-0001"),
        }  # fmt: skip

        updates = [
            # added: gamma becomes vulnerable; a second CVE source for alpha merges in
            ("added", [_osv("PYSEC-3", "gamma", "1.5"), _osv("OSV-9", "delta", "0.5")]),
            # modified: beta's fix moves below the installed version, closing its findings
            ("modified", [_osv("PYSEC-2", "beta", "3.0")]),
            # modified again: re-opens (within 7 days: same id) with a new fix version
            ("reopened", [_osv("PYSEC-2", "beta", "4.5")]),
            # an alias appears: the finding's vulnerability id becomes the CVE (old one closes)
            ("aliased", [_osv("PYSEC-2", "beta", "4.5", aliases=["CVE-2090-0002"])]),
            # withdrawn: its findings close
            ("withdrawn", [_osv("PYSEC-3", "gamma", "1.5", withdrawn="2026-11-20T00:00:00Z")]),
            # a CVE advisory for delta in prod-c, with a CVSS vector for severity
            (
                "severity",
                [
                    _osv(
                        "PYSEC-4",
                        "delta",
                        "2.0",
                        aliases=["CVE-2090-0004"],
                        severity=[
                            {
                                "type": "CVSS_V3",
                                "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                            }
                        ],
                    )
                ],
            ),
        ]
        with services.store.read() as uow:
            done, seen = uow.jobs.depth()["done"], uow.outbox.last_id()
        for n, (name, records) in enumerate(updates):
            before_dev = {k: v for k, v in _findings(services).items() if k[0] == "dev-a"}
            _import(services, tmp_path, f"u{n}", *records)
            services.worker.drain()
            with services.store.read() as uow:
                assert uow.jobs.depth()["done"] == done + shards, name  # the update's jobs
                done += shards
                events = uow.outbox.read_after(seen, ["RescanCompleted"])
                seen = uow.outbox.last_id()
            completed = [e.event for e in events if isinstance(e.event, RescanCompleted)]
            # each continuously scanned image is re-evaluated by one shard at most (a shard
            # with none of the update's images reports nothing)
            assert sum(e.images_reevaluated for e in completed) <= 3, name
            labels = [e.shard for e in completed]
            assert len(set(labels)) == len(labels), name
            assert set(labels) <= (
                {None} if shards == 1 else {f"{k}/{shards}" for k in range(shards)}
            )
            bulk = _findings(services)
            # scan-on-push repositories are never re-matched
            assert {k: v for k, v in bulk.items() if k[0] == "dev-a"} == before_dev, name
            _full_rescan(services)
            full = _findings(services)
            prod = {k: v for k, v in full.items() if k[0] != "dev-a"}
            assert {k: v for k, v in bulk.items() if k[0] != "dev-a"} == prod, name
        final = _open(_findings(services))
        assert final[("prod-c", images["prod-c"].digest, "CVE-2090-0004")][1] == "CRITICAL"
        assert ("prod-a", images["prod-a"].digest, "PYSEC-3") not in final  # withdrawn
        assert ("prod-a", images["prod-a"].digest, "CVE-2090-0002") in final
        assert ("prod-a", images["prod-a"].digest, "PYSEC-2") not in final
    finally:
        services.close()


def test_enrichment_changes_findings_in_place(tmp_path: Path) -> None:
    services = build(Settings(data_dir=tmp_path / "d", test_mode=True))
    try:
        _import(
            services, tmp_path, "base", _osv("PYSEC-1", "alpha", "2.0", aliases=["CVE-2090-0001"])
        )
        services.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
        digest = push_image(services, "prod", _dist_info({"alpha": "1.0"}, "x"))
        services.worker.drain()
        (before,) = _open(_findings(services)).items()
        kev = kev_catalogue(
            {"cveID": "CVE-2090-0001", "product": "alpha", "vulnerabilityName": "alpha bug"}
        )
        folder = tmp_path / "kev"
        folder.mkdir()
        (folder / "known_exploited_vulnerabilities.json").write_text(json.dumps(kev))
        import_paths(VulnDb(services.store, services.clock), [folder])
        services.worker.drain()
        with services.db.read() as conn:
            r = SqlRegistryRepo(conn).get_repository(services.tenant, "prod")
            assert r is not None
            (f,) = finding_repo.findings_of(conn, r.id, digest)
        assert f.status == "ACTIVE" and f.detail["exploitAvailable"] == "YES"
        assert f.vulnerability_id == before[0][2]
    finally:
        services.close()


def test_what_outlives_a_delta_is_promoted_to_the_oldest_generation() -> None:
    """Objects allocated while the collector is held off end in its oldest generation, cyclic
    garbage among them is still collected by a full collection, and objects something else
    froze stay frozen."""
    import gc

    from dockwatch.scan.rescan import _promoted
    from dockwatch.vulndb.collector import collector_paused

    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    with collector_paused():
        kept = [Node() for _ in range(100)]
        garbage = Node()
        garbage.other = Node()
        garbage.other.other = garbage  # a cycle only the collector frees
        del garbage
        assert any(x is kept[0] for x in gc.get_objects(generation=0))
        _promoted()
        assert not any(x is kept[0] for x in gc.get_objects(generation=0))
        assert any(x is kept[0] for x in gc.get_objects(generation=2))
    assert gc.collect() >= 2  # the two nodes of the cycle, freed by a full collection

    frozen = Node()
    gc.freeze()
    try:
        _promoted()
        assert gc.get_freeze_count() > 0
        assert not any(x is frozen for x in gc.get_objects())
    finally:
        gc.unfreeze()
