"""Two writers adding the same row at once, on both backends.

A registry serves many clients at once: a push uploads its layers side by side, CI jobs push
images sharing a base layer, the same image lands in two repositories, two workers scan images
sharing a layer. On PostgreSQL those writes run in concurrent transactions, so each test holds
the first writer's transaction open until the second is seen waiting for one of its locks
(`pg_stat_activity`), then commits it: the second must end without an error, and the rows be
what one writer after the other leaves. SQLite runs one writer at a time, where the same tests
hold what a service relies on.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select, text

from dockwatch.app import Services
from dockwatch.findings.service import FindingWriter, Target
from dockwatch.model.digest import Digest, compute
from dockwatch.model.distro import Distro
from dockwatch.model.identity import Tenant
from dockwatch.model.package import Package
from dockwatch.model.package_doc import dump_package, package_ref
from dockwatch.registry.errors import TagImmutable
from dockwatch.scan.jobs import ApplyDelta
from dockwatch.storage.catalog_repo import PackageKeyRow, StoredInventory
from dockwatch.storage.image_buckets import in_shard
from dockwatch.storage.organization_repo import DelegatedAdminRecord, MemberRecord
from dockwatch.storage.registry_repo import NewManifest
from dockwatch.storage.scan_repo import ScanState
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.unit_of_work import SqlStore, SqlUnitOfWork
from dockwatch.storage.unit_of_work import Store, UnitOfWork
from tests.builders.push import OCI_MANIFEST, push_image, upload_blob
from tests.contract.conftest import repository_id
from tests.unit.scan.test_rescan import _dist_info, _import, _osv
from tests.unit.storage.sql.test_rollup_batches import _draft

T = Tenant("123456789012", "us-east-1")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LAYER = compute(b"a base layer")

R = TypeVar("R")
S = TypeVar("S")


def side_by_side(
    store: Store, first: Callable[[UnitOfWork], R], second: Callable[[UnitOfWork], R]
) -> tuple[R, R]:
    """`first` in a write transaction held open until `second`, in a transaction of its own,
    waits for it; then both results once both have committed."""

    def alone() -> R:
        with store.write() as uow:
            return second(uow)

    return beside(store, first, alone)


def beside(store: Store, first: Callable[[UnitOfWork], R], second: Callable[[], S]) -> tuple[R, S]:
    """`side_by_side`, with `second` opening its own transactions."""
    results: dict[str, Any] = {}
    entered, release = threading.Event(), threading.Event()

    def one() -> None:
        with store.write() as uow:
            results["first"] = first(uow)
            entered.set()
            release.wait(60)

    def two() -> None:
        try:
            results["second"] = second()
        except Exception as exc:  # raised again in the test's thread
            results["error"] = exc

    a = threading.Thread(target=one)
    a.start()
    try:
        assert entered.wait(60), "the first writer did not start"
        b = threading.Thread(target=two)
        b.start()
        _until_waiting(store, b)
    finally:
        release.set()
        a.join(60)
    b.join(60)
    if "error" in results:
        raise results["error"]
    return results["first"], results["second"]


def _until_waiting(store: Store, writer: threading.Thread) -> None:
    """Until the second writer waits: on PostgreSQL, for a row lock of the first; on SQLite
    (one writer at a time) for the write lock."""
    assert isinstance(store, SqlStore)
    deadline = time.monotonic() + 30
    if store.dialect == "sqlite":
        time.sleep(0.2)
        assert writer.is_alive(), "the second writer did not wait for the first"
        return
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while time.monotonic() < deadline:
        with store.db.engine.connect() as conn:
            if conn.execute(waiting).scalar():
                return
        assert writer.is_alive(), "the second writer ended without waiting for the first"
        time.sleep(0.01)
    raise AssertionError("the second writer never waited for the first")


def _count(store: Store, table: Any) -> int:
    assert isinstance(store, SqlStore)
    with store.db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


def _repositories(store: Store, *names: str) -> list[int]:
    with store.write() as uow:
        return [uow.registry.ensure_repository(T, n, NOW).id for n in names]


def test_a_new_repository_created_by_two_writers_at_once(store: Store) -> None:
    def create(uow: UnitOfWork) -> int:  # the first layers of a push, uploaded side by side
        return uow.registry.ensure_repository(T, "team/new", NOW).id

    first, second = side_by_side(store, create, create)
    assert first == second
    with store.read() as uow:
        assert uow.registry.list_repositories(T, None, None) == ["team/new"]


def test_one_layer_linked_into_two_repositories_at_once(store: Store) -> None:
    a, b = _repositories(store, "team/a", "team/b")
    side_by_side(
        store,
        lambda uow: uow.registry.link_blob(T, a, LAYER, 12, NOW),
        lambda uow: uow.registry.link_blob(T, b, LAYER, 12, NOW),
    )
    with store.read() as uow:
        assert uow.registry.blob_size(LAYER) == 12
        assert uow.registry.linked_blob_size(a, LAYER) == 12
        assert uow.registry.linked_blob_size(b, LAYER) == 12
    # and another layer uploaded twice into one repository at once
    other = compute(b"another layer")
    link = lambda uow: uow.registry.link_blob(T, a, other, 13, NOW)  # noqa: E731
    side_by_side(store, link, link)
    with store.read() as uow:
        assert uow.registry.linked_blob_size(a, other) == 13
    assert _count(store, t.blobs) == 2
    assert _count(store, t.repository_blobs) == 3


def test_one_manifest_pushed_twice_at_once(store: Store) -> None:
    (repo,) = _repositories(store, "team/app")
    with store.write() as uow:
        uow.registry.link_blob(T, repo, LAYER, 12, NOW)
    content = b'{"schemaVersion": 2}'
    digest = compute(content)

    def push(uow: UnitOfWork) -> bool:
        uow.registry.store_manifest_content(digest, OCI_MANIFEST, content)
        new = NewManifest(digest, OCI_MANIFEST, None, None, len(content), [(LAYER, "blob")])
        return uow.registry.insert_manifest(T, repo, new, NOW)

    # the second learns that the repository holds it, as a push of a stored manifest does
    assert side_by_side(store, push, push) == (True, False)
    with store.read() as uow:
        assert [m.digest for m in uow.registry.manifests_of(repo)] == [digest]
        stored = uow.registry.manifest_content(digest)
        assert stored is not None and stored.content == content
    assert _count(store, t.manifest_references) == 1


def test_one_tag_pushed_by_two_writers_at_once(store: Store) -> None:
    (repo,) = _repositories(store, "team/app")
    one, two = Digest("sha256:" + "1" * 64), Digest("sha256:" + "2" * 64)
    first, second = side_by_side(
        store,
        lambda uow: uow.registry.set_tag(T, repo, "latest", one, NOW),
        lambda uow: uow.registry.set_tag(T, repo, "latest", two, NOW),
    )
    # the second moved the tag from the first's digest, and says so (for its event, and for a
    # repository whose tags are immutable, which refuses the push)
    assert (first, second) == (None, one)
    with store.read() as uow:
        assert uow.registry.tag_digest(repo, "latest") == two


def test_an_immutable_tag_set_by_a_push_beside_is_not_moved(services: Services) -> None:
    first = push_image(services, "team/app", _dist_info({"alpha": "1.0"}, "one"), "v0")
    repo = repository_id(services, "team/app")
    with services.store.write() as uow:
        uow.registry.set_repository_settings(repo, tag_mutability="IMMUTABLE")
    other = _dist_info({"alpha": "2.0"}, "two")
    for blob in (other.config, *(layer.blob for layer in other.layers)):
        upload_blob(services, "team/app", blob)
    tenant = services.tenant
    # a push of `first` under v1 is writing while `other` is pushed under v1: refused whole
    with pytest.raises(TagImmutable):
        beside(
            services.store,
            lambda uow: uow.registry.set_tag(tenant, repo, "v1", first, NOW),
            lambda: services.registry.manifests.put("team/app", "v1", other.manifest, OCI_MANIFEST),
        )
    with services.store.read() as uow:
        assert uow.registry.tag_digest(repo, "v1") == first
        assert uow.registry.get_manifest(repo, other.digest) is None


def test_one_image_catalogued_by_two_writers_at_once(store: Store) -> None:
    digest = Digest("sha256:" + "c" * 64)
    packages = [
        Package(n, "1.0", "python", f"pkg:pypi/{n}@1.0", layer_digest=LAYER) for n in ("a", "b")
    ]
    rows: set[PackageKeyRow] = set()
    docs: dict[str, bytes] = {}
    for p in packages:
        doc = dump_package(p)
        docs[package_ref(doc)] = doc
        rows.add((LAYER, "PyPI", p.name, package_ref(doc)))
    debian = Distro("debian", "12", "bookworm", "Debian 12", ("linux",))
    early = StoredInventory(None, tuple(packages), "python-installed@1")
    late = StoredInventory(debian, tuple(packages), "python-installed@1")
    side_by_side(
        store,
        lambda uow: uow.catalog.store_inventory(digest, early, rows, docs, NOW),
        lambda uow: uow.catalog.store_inventory(digest, late, rows, docs, NOW),
    )
    with store.read() as uow:
        assert uow.catalog.inventory(digest) == late  # the later writer's
        found = uow.catalog.package_pairs([("PyPI", "a"), ("PyPI", "b")])
        assert sorted(found) == sorted((digest, ref) for _, _, _, ref in rows)
    assert _count(store, t.inventory_packages) == 2
    assert _count(store, t.package_groups) == 2
    assert _count(store, t.image_package_groups) == 1


def test_one_finding_detail_written_by_two_scans_at_once(store: Store) -> None:
    (repo,) = _repositories(store, "team/app")
    draft = _draft("CVE-2031-0001", "HIGH", "YES", "NO", [(0, 0), (1, 0)])
    writer = FindingWriter(T)

    def scan(digest: str) -> Callable[[UnitOfWork], None]:
        def write(uow: UnitOfWork) -> None:
            assert isinstance(uow, SqlUnitOfWork)
            writer.apply(
                uow, [Target(repo, "team/app", digest, {draft.vulnerability_id: draft})], NOW
            )

        return write

    # two images built on one base layer, scanned by two workers: their findings share a detail
    side_by_side(store, scan("sha256:" + "a" * 64), scan("sha256:" + "b" * 64))
    with store.read() as uow:
        stored = uow.findings.stored_of(
            [(repo, "sha256:" + "a" * 64), (repo, "sha256:" + "b" * 64)]
        )
    assert sorted((r.digest, r.vulnerability_id, r.status) for r in stored) == [
        ("sha256:" + "a" * 64, "CVE-2031-0001", "ACTIVE"),
        ("sha256:" + "b" * 64, "CVE-2031-0001", "ACTIVE"),
    ]
    assert len({r.detail_ref for r in stored}) == 1
    assert _count(store, t.finding_details) == 1
    assert _count(store, t.detail_packages) == 2


def test_one_image_written_by_two_scans_at_once(store: Store) -> None:
    (repo,) = _repositories(store, "team/app")
    digest = "sha256:" + "c" * 64
    drafts = [
        _draft(v, "HIGH", "YES", "NO", [(0, 0)]) for v in ("CVE-2031-0001", "GHSA-aaaa-bbbb-cccc")
    ]
    writer = FindingWriter(T)

    def scan(found: list[Any]) -> Callable[[UnitOfWork], tuple[int, int]]:
        def write(uow: UnitOfWork) -> tuple[int, int]:
            assert isinstance(uow, SqlUnitOfWork)
            target = Target(repo, "team/app", digest, {d.vulnerability_id: d for d in found})
            applied = writer.apply(uow, [target], NOW)
            return applied.opened, applied.closed

        return write

    # a push of two tags queues two scans of one image, which two workers run at once (and a
    # rescan may meet a scan): the second reads what the first wrote
    first, second = side_by_side(store, scan(drafts), scan(drafts[:1]))
    assert (first, second) == ((2, 0), (0, 1))
    with store.read() as uow:
        stored = uow.findings.stored_of([(repo, digest)])
    assert sorted((r.vulnerability_id, r.status) for r in stored) == [
        ("CVE-2031-0001", "ACTIVE"),
        ("GHSA-aaaa-bbbb-cccc", "CLOSED"),
    ]


def _enhanced(services: Services) -> None:
    """Enhanced scanning, every repository scanned continuously."""
    rule = {"filter": "*", "filterType": "WILDCARD"}
    services.scanner.put_scanning_configuration(
        {"scanType": "ENHANCED",
         "rules": [{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [rule]}]}
    )  # fmt: skip


def test_a_rescan_waits_for_a_writer_of_its_images(services: Services, tmp_path: Path) -> None:
    _import(services, tmp_path, "base", _osv("PYSEC-1", "alpha", "2.0"))
    _enhanced(services)
    digest = push_image(services, "prod", _dist_info({"alpha": "1.0", "gamma": "1.0"}, "a"))
    services.worker.drain()
    repo = repository_id(services, "prod")
    _import(services, tmp_path, "update", _osv("PYSEC-3", "gamma", "1.5"))
    services.worker.dispatch()  # the update's rescan is queued
    # a scan of the image writes its findings while the rescan runs: the rescan reads them
    # once that write has committed, not before
    hold = lambda uow: uow.findings.hold_images([(repo, digest)])  # noqa: E731
    _, ran = beside(services.store, hold, services.worker.run_one)
    assert ran is not None and ran.job.kind == "delta"
    with services.store.read() as uow:
        assert set(uow.jobs.depth()) == {"done"}  # the rescan too, not failed nor queued again
        found = uow.findings.stored_of([(repo, digest)])
    assert sorted((r.vulnerability_id, r.status) for r in found) == [
        ("PYSEC-1", "ACTIVE"),
        ("PYSEC-3", "ACTIVE"),
    ]


def test_a_new_images_scan_state_recorded_by_two_writers_at_once(store: Store) -> None:
    (repo,) = _repositories(store, "team/app")
    digest = "sha256:" + "e" * 64
    started = NOW - timedelta(days=1)

    def state(reason: str, activated: datetime | None) -> ScanState:
        return ScanState(repo, digest, "ENHANCED", "ACTIVE", reason, None, 0, None, None,
                         last_activated_at=activated)  # fmt: skip

    pending = state("PENDING_INITIAL_SCAN", started)
    scanning = state("SCAN_IN_PROGRESS", None)  # None keeps the stored monitoring start
    side_by_side(
        store,
        lambda uow: uow.scans.put_scan(T, pending, NOW),
        lambda uow: uow.scans.put_scan(T, scanning, NOW),
    )
    with store.read() as uow:
        assert uow.scans.get_scan(repo, digest) == dataclasses.replace(
            scanning, last_activated_at=started
        )


def test_a_tenants_first_settings_saved_by_two_writers_at_once(store: Store) -> None:
    side_by_side(
        store,
        lambda uow: uow.scans.save_settings(T, {"scanType": "BASIC"}, {"first": 1}, NOW),
        lambda uow: uow.scans.save_settings(T, {"scanType": "ENHANCED"}, {"second": 2}, NOW),
    )
    with store.read() as uow:
        saved = uow.scans.settings(T)
    assert saved is not None
    assert (saved.scanning_configuration, saved.ecr_configuration) == (
        {"scanType": "ENHANCED"},
        {"second": 2},
    )


def test_administrators_writes_of_one_key_at_once(store: Store) -> None:
    """Tags of a resource, a repository's lifecycle policy, a region's delegated administrator
    and a member account: the later of two writers at once sets them."""
    arn = "arn:aws:ecr:us-east-1:123456789012:repository/team/app"

    def write(n: int) -> Callable[[UnitOfWork], None]:
        def put(uow: UnitOfWork) -> None:
            uow.ecr.set_resource_tags(T, arn, [("team", f"t{n}"), (f"only{n}", "x")])
            uow.ecr.put_lifecycle_policy(T, "team/app", f'{{"rules": {n}}}', NOW)
            uow.organization.put_delegated_admin(
                DelegatedAdminRecord("us-east-1", f"{n}" * 12, "1" * 12, "ENABLED", NOW)
            )
            uow.organization.put_member(
                MemberRecord("us-east-1", "5" * 12, f"{n}" * 12, "ENABLED", NOW)
            )

        return put

    side_by_side(store, write(2), write(3))
    with store.read() as uow:
        assert sorted(uow.ecr.resource_tags(T, arn)) == [
            ("only2", "x"),
            ("only3", "x"),
            ("team", "t3"),
        ]
        policy = uow.ecr.lifecycle_policy(T, "team/app")
        assert policy is not None and policy.text == '{"rules": 3}'
        admin = uow.organization.delegated_admin("us-east-1")
        assert admin is not None and admin.account_id == "3" * 12
        member = uow.organization.member("us-east-1", "5" * 12)
        assert member is not None and member.delegated_admin_account_id == "3" * 12


def test_a_new_event_cursor_advanced_by_two_processes_at_once(store: Store) -> None:
    side_by_side(
        store,
        lambda uow: uow.outbox.advance("dispatch", 5, NOW),
        lambda uow: uow.outbox.advance("dispatch", 7, NOW),
    )
    with store.read() as uow:
        assert uow.outbox.cursor("dispatch") == 7


def test_the_shards_of_an_update_run_side_by_side(services: Services, tmp_path: Path) -> None:
    """An update split in shards (`Settings.delta_shards`): each shard holds only its images'
    buckets, so on PostgreSQL a shard runs while another holds its own images (SQLite: one
    writer at a time, after it)."""
    _import(services, tmp_path, "base", _osv("PYSEC-1", "alpha", "2.0"))
    _enhanced(services)
    digests = [
        push_image(services, "prod", _dist_info({"alpha": "1.0", "gamma": "1.0"}, f"s{n}"), f"v{n}")
        for n in range(8)
    ]
    services.worker.drain()
    repo = repository_id(services, "prod")
    of_shard = [[d for d in digests if in_shard(repo, d, k, 2)] for k in range(2)]
    assert all(of_shard), "both shards hold images"
    _import(services, tmp_path, "update", _osv("PYSEC-3", "gamma", "1.5"))
    with services.store.read() as uow:
        (changed,) = uow.outbox.read_after(0, ["AdvisoriesChanged"])[-1:]
    first, second = ApplyDelta.from_document(changed.event.payload()).split(2)
    with ThreadPoolExecutor(1) as pool:
        with services.store.write() as uow:
            uow.findings.hold_images([(repo, d) for d in of_shard[0]])  # shard 0's writer
            other = pool.submit(services.worker.handle, second)
            if services.store.dialect == "postgresql":
                other.result(timeout=30)  # done while shard 0's images are held
            else:
                time.sleep(0.2)
                assert not other.done()
        other.result(timeout=30)
    with services.store.read() as uow:
        found = uow.findings.stored_of([(repo, d) for d in digests])
    opened = {r.digest for r in found if r.vulnerability_id == "PYSEC-3"}
    assert opened == set(of_shard[1])  # the second shard's images, and only them
    services.worker.handle(first)
    with services.store.read() as uow:
        found = uow.findings.stored_of([(repo, d) for d in digests])
    assert sorted((r.digest, r.vulnerability_id, r.status) for r in found) == sorted(
        (d, v, "ACTIVE") for d in digests for v in ("PYSEC-1", "PYSEC-3")
    )


@pytest.mark.parametrize("subscriber", ["scanner", "webhooks"])
def test_one_process_reads_a_subscribers_events_at_a_time(
    services: Services, subscriber: str
) -> None:
    """Every worker of a cluster dispatches the outbox's events to jobs, and every process fans
    them out to webhooks: a round that finds another reading the same events skips, where both
    read them and raced on what they add (jobs and scan states, delivery attempts)."""
    read_events = services.worker.dispatch if subscriber == "scanner" else services.webhooks.fan_out
    _enhanced(services)
    push_image(services, "app", _dist_info({"alpha": "1.0"}, "a"))
    with ThreadPoolExecutor(1) as pool:
        with services.store.write() as uow:
            assert uow.outbox.hold_cursor(subscriber)
            other = pool.submit(read_events)
            if services.store.dialect == "postgresql":
                assert other.result(timeout=30) == 0  # skipped at once, nothing read
            else:  # one writer at a time: it waits for this transaction
                time.sleep(0.2)
                assert not other.done()
        read = other.result(timeout=30)
    if services.store.dialect == "postgresql":
        assert read == 0
        read = read_events()  # the next round
    assert read > 0
    with services.store.read() as uow:
        if subscriber == "scanner":  # (its round appends events of its own)
            assert uow.jobs.depth() == {"queued": 1}  # the push's scan, once
        else:
            assert uow.outbox.cursor(subscriber) == uow.outbox.last_id()
