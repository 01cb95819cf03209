"""`ScanRepo` contract: settings, scan states, basic results, the lists the scanning passes
read, and coverage with keyset paging."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from dockwatch.app import Services
from dockwatch.model.identity import Tenant
from dockwatch.storage.catalog_repo import StoredInventory
from dockwatch.storage.scan_repo import CoverageQuery, ScanState
from tests.builders.push import push_image
from tests.contract.conftest import image, repository_id

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _state(repo_id: int, digest: str, **changes: object) -> ScanState:
    state = ScanState(repo_id, digest, "ENHANCED", "ACTIVE", "SUCCESSFUL", T0, 3, "Debian:12", None)
    return dataclasses.replace(state, **changes)  # type: ignore[arg-type]


def test_settings_are_stored_per_tenant(services: Services) -> None:
    tenant, other = services.tenant, Tenant("999999999999", "eu-west-1")
    with services.store.write() as uow:
        assert uow.scans.settings(tenant) is None
        uow.scans.save_settings(tenant, {"scanType": "ENHANCED"}, {"rescanDuration": "DAYS_30"}, T0)
        uow.scans.save_settings(tenant, {"scanType": "BASIC"}, {"rescanDuration": "LIFETIME"}, T0)
    with services.store.read() as uow:
        stored = uow.scans.settings(tenant)
        assert stored is not None
        assert stored.scanning_configuration == {"scanType": "BASIC"}
        assert stored.ecr_configuration == {"rescanDuration": "LIFETIME"}
        assert uow.scans.settings(other) is None


def test_scan_states_round_trip(services: Services) -> None:
    digest = push_image(services, "app", image("a"))
    repo = repository_id(services, "app")
    state = _state(repo, digest)
    with services.store.write() as uow:
        assert uow.scans.get_scan(repo, digest) is None
        uow.scans.put_scan(services.tenant, state, T0)
    with services.store.read() as uow:
        assert uow.scans.get_scan(repo, digest) == state
    moved = _state(repo, digest, status_code="INACTIVE", reason="UNSUPPORTED_OS",
                   os_ecosystem=None, unsupported_os="centos 6 is end of life")  # fmt: skip
    with services.store.write() as uow:
        uow.scans.put_scan(services.tenant, moved, T0)
        uow.scans.touch_scanned([(repo, digest)], T0 + timedelta(hours=1), 7)
    with services.store.read() as uow:
        assert uow.scans.get_scan(repo, digest) == dataclasses.replace(
            moved, last_scanned_at=T0 + timedelta(hours=1), db_version=7
        )
    with services.store.write() as uow:
        uow.scans.delete_scan(repo, digest)
    with services.store.read() as uow:
        assert uow.scans.get_scan(repo, digest) is None


def test_basic_results(services: Services) -> None:
    digest = push_image(services, "app", image("a"))
    repo = repository_id(services, "app")
    findings = [{"name": "CVE-2026-1", "severity": "HIGH", "attributes": []}]
    with services.store.write() as uow:
        assert uow.scans.basic_result(repo, digest) == (None, None)
        uow.scans.put_scan(services.tenant, _state(repo, digest, scan_type="BASIC"), T0)
        uow.scans.set_basic_result(repo, digest, None, T0)
        assert uow.scans.basic_result(repo, digest) == (None, T0)
        uow.scans.set_basic_result(repo, digest, findings, None)  # the manual time stays
    with services.store.read() as uow:
        assert uow.scans.basic_result(repo, digest) == (findings, T0)


def test_the_lists_the_scanning_passes_read(services: Services) -> None:
    a = push_image(services, "app", image("a"))
    b = push_image(services, "app", image("b"), tag="b")
    c = push_image(services, "lib", image("c"))
    app, lib = repository_id(services, "app"), repository_id(services, "lib")
    with services.store.write() as uow:
        uow.scans.put_scan(services.tenant, _state(app, a), T0)
        uow.scans.put_scan(services.tenant, _state(app, b, status_code="INACTIVE"), T0)
        uow.scans.put_scan(services.tenant, _state(lib, c, scan_type="BASIC", status_code="COMPLETE"), T0)  # fmt: skip
        uow.catalog.store_inventory(a, StoredInventory(None, (), "old@1"), [], {}, T0)
        uow.catalog.store_inventory(b, StoredInventory(None, (), "old@1"), [], {}, T0)
    with services.store.read() as uow:
        pushed = uow.scans.pushed_images(services.tenant)
        assert sorted((p.image.repository, p.image.digest) for p in pushed) == sorted(
            [("app", a), ("app", b), ("lib", c)]
        )
        assert all(p.last_pushed_at.tzinfo is not None for p in pushed)
        enhanced = {(x.repository, x.digest) for x in uow.scans.enhanced_images(services.tenant)}
        assert enhanced == {("app", a), ("app", b)}
        active = {(p.image.repository, p.image.digest) for p in uow.scans.active_pushed_images(services.tenant)}  # fmt: skip
        assert active == {("app", a)}
        monitored = uow.scans.monitored_images(services.tenant)
        assert [(m.image.digest, m.os_ecosystem) for m in monitored] == [(a, "Debian:12")]
        assert [x.digest for x in uow.scans.stale_inventories(services.tenant, "new@2")] == [a]
        assert uow.scans.stale_inventories(services.tenant, "old@1") == []
        assert uow.scans.monitored_images(Tenant("999999999999", "eu-west-1")) == []


def test_coverage_filters_and_pages(services: Services) -> None:
    states: list[ScanState] = []
    for repo_name, seeds in (("web", "xyz"), ("api", "pq"), ("db", "r")):
        for seed in seeds:
            digest = push_image(services, repo_name, image(seed), tag=seed)
            repo = repository_id(services, repo_name)
            code = "INACTIVE" if seed == "q" else "ACTIVE"
            scanned = T0 + timedelta(hours=len(states))
            states.append(_state(repo, digest, status_code=code, last_scanned_at=scanned))
    basic = push_image(services, "db", image("basic"), tag="basic")
    with services.store.write() as uow:
        for s in states:
            uow.scans.put_scan(services.tenant, s, T0)
        uow.scans.put_scan(services.tenant, _state(repository_id(services, "db"), basic, scan_type="BASIC"), T0)  # fmt: skip
    names = {repository_id(services, n): n for n in ("web", "api", "db")}
    expected = sorted((names[s.repository_id], s.digest) for s in states)  # basic is not covered
    with services.store.read() as uow:
        pages: list[tuple[str, str]] = []
        after = None
        while True:
            rows = uow.scans.coverage(services.tenant, CoverageQuery(after=after, limit=2))
            pages += [(r.image.repository, r.image.digest) for r in rows[:2]]
            if len(rows) <= 2:
                break
            after = pages[-1]
        assert pages == expected
        inactive = uow.scans.coverage(services.tenant, CoverageQuery(status_code="INACTIVE"))
        assert [(r.image.repository, r.status_code) for r in inactive] == [("api", "INACTIVE")]
        web = uow.scans.coverage(services.tenant, CoverageQuery(repository="web"))
        assert len(web) == 3 and all(r.image.repository == "web" for r in web)
        late = uow.scans.coverage(
            services.tenant, CoverageQuery(scanned_from=T0 + timedelta(hours=4))
        )
        assert {r.image.digest for r in late} == {s.digest for s in states[4:]}
        assert all(r.image_pushed_at.tzinfo is not None for r in late)
