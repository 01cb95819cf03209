"""How long an image is monitored, deactivation and re-activation, and images of unsupported
operating systems (in process, real SQLite store, controlled clock). Expected times come from
the clock the test sets; expected findings from the advisories the test imports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from dockwatch.app import Services, build
from dockwatch.clock import ControlledClock
from dockwatch.config import Settings
from dockwatch.model.events import FindingClosed
from dockwatch.scan.eligibility import expire_pass
from dockwatch.storage.scan_repo import ScanState
from dockwatch.storage.sql import finding_repo, tables
from dockwatch.storage.sql.registry_repo import SqlRegistryRepo
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.builders.layers import Image, make_image, make_layer
from tests.builders.push import OCI_MANIFEST, push_image

T0 = datetime(2031, 7, 1, 9, 0, tzinfo=UTC)
ENHANCED = {"scanType": "ENHANCED", "rules": []}


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = build(Settings(data_dir=tmp_path / "d", test_mode=True))
    assert isinstance(built.clock, ControlledClock)
    built.clock.set(T0)
    try:
        yield built
    finally:
        built.close()


def _clock(services: Services) -> ControlledClock:
    assert isinstance(services.clock, ControlledClock)
    return services.clock


def _import(services: Services, tmp: Path, vid: str, package: str, fixed: str) -> None:
    folder = tmp / vid
    folder.mkdir()
    record = {
        "id": vid,
        "modified": "2031-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
    }
    (folder / f"{vid}.json").write_text(json.dumps(record))
    import_paths(VulnDb(services.store, services.clock), [folder])


def _image(package: str, seed: str, extra: dict[str, str] | None = None) -> Image:
    meta = f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n"
    files = {f"usr/lib/python3/site-packages/{package}-1.0.dist-info/METADATA": meta}
    return make_image([make_layer({**files, **(extra or {})}), make_layer({"seed": seed})])


def _state(services: Services, repo: str, digest: str) -> ScanState | None:
    with services.db.read() as conn:
        r = SqlRegistryRepo(conn).get_repository(services.tenant, repo)
    assert r is not None
    with services.store.read() as uow:
        return uow.scans.get_scan(r.id, digest)


def _status(services: Services, repo: str, digest: str) -> tuple[str, str] | None:
    state = _state(services, repo, digest)
    return None if state is None else (state.status_code, state.reason)


def _findings(services: Services, repo: str, digest: str) -> dict[str, tuple[str, str]]:
    """vulnerability id -> (finding id, status) of every stored finding of an image."""
    with services.db.read() as conn:
        r = SqlRegistryRepo(conn).get_repository(services.tenant, repo)
        assert r is not None
        return {f.vulnerability_id: (f.id, f.status) for f in finding_repo.findings_of(conn, r.id, digest)}  # fmt: skip


def _repush(services: Services, repo: str, image: Image, tag: str) -> None:
    """Put the same manifest again (under another tag: a re-tag is a re-push in ECR)."""
    services.registry.manifests.put(repo, tag, image.manifest, OCI_MANIFEST)


def test_rescan_duration_counts_from_the_first_push_while_monitored(
    services: Services, tmp_path: Path
) -> None:
    clock = _clock(services)
    _import(services, tmp_path, "PYSEC-1", "alpha", "2.0")
    services.scanner.put_scanning_configuration(ENHANCED)
    services.scanner.put_ecr_configuration({"rescanDuration": "DAYS_14"})
    image = _image("alpha", "a")
    first = clock.now()
    digest = push_image(services, "app", image)
    services.worker.drain()
    state = _state(services, "app", digest)
    assert state is not None and (state.status_code, state.reason) == ("ACTIVE", "SUCCESSFUL")
    assert state.last_activated_at is not None
    assert first <= state.last_activated_at <= clock.now()
    started = state.last_activated_at
    # day 10: re-pushed and re-tagged while monitored: the start does not move
    clock.set(T0 + timedelta(days=10))
    _repush(services, "app", image, "latest")
    _repush(services, "app", image, "v2")
    services.worker.drain()
    state = _state(services, "app", digest)
    assert state is not None and state.last_activated_at == started
    # day 14 minus a minute since the first push: still monitored; past 14 days: expired,
    # although the last push was 4 days ago
    clock.set(started + timedelta(days=14, minutes=-1))
    assert expire_pass(services.scanner) == 0
    clock.set(started + timedelta(days=14, minutes=1))
    assert expire_pass(services.scanner) == 1
    assert _status(services, "app", digest) == ("INACTIVE", "SCAN_ELIGIBILITY_EXPIRED")
    assert {s for _, s in _findings(services, "app", digest).values()} == {"CLOSED"}
    # day 16: a push after expiry starts monitoring again, from this push
    clock.set(T0 + timedelta(days=16))
    before = clock.now()
    _repush(services, "app", image, "v3")
    services.worker.dispatch()
    after = clock.now()
    state = _state(services, "app", digest)
    assert state is not None
    assert (state.status_code, state.reason) == ("ACTIVE", "PENDING_INITIAL_SCAN")
    assert state.last_activated_at is not None and before <= state.last_activated_at <= after
    restarted = state.last_activated_at
    services.worker.drain()
    assert _status(services, "app", digest) == ("ACTIVE", "SUCCESSFUL")
    assert {s for _, s in _findings(services, "app", digest).values()} == {"ACTIVE"}
    clock.set(restarted + timedelta(days=14, minutes=-1))
    assert expire_pass(services.scanner) == 0
    clock.set(restarted + timedelta(days=14, minutes=1))
    assert expire_pass(services.scanner) == 1


def test_deactivation_purges_and_reactivation_creates_new_findings(
    services: Services, tmp_path: Path
) -> None:
    clock = _clock(services)
    _import(services, tmp_path, "PYSEC-1", "alpha", "2.0")
    services.scanner.put_scanning_configuration(ENHANCED)
    digest = push_image(services, "svc", _image("alpha", "s"))
    services.worker.drain()
    (old_id, status) = _findings(services, "svc", digest)["PYSEC-1"]
    assert status == "ACTIVE"
    with services.db.read() as conn:
        last_event = conn.execute(select(tables.outbox.c.id).order_by(tables.outbox.c.id.desc())).scalar()  # fmt: skip
    # enhanced -> basic: the findings are closed (events say so), then gone, and so is coverage
    clock.set(T0 + timedelta(hours=1))
    services.scanner.put_scanning_configuration({"scanType": "BASIC", "rules": []})
    assert _findings(services, "svc", digest) == {}
    assert _state(services, "svc", digest) is None
    with services.store.read() as uow:
        events = [e.event for e in uow.outbox.read_after(last_event or 0, (FindingClosed.NAME,))]
    assert [(e.finding_id, e.status) for e in events if isinstance(e, FindingClosed)] == [
        (old_id, "CLOSED")
    ]
    # re-activated the next minute: scanned again, a NEW finding (a new id), not the old one
    clock.set(T0 + timedelta(hours=1, minutes=1))
    before = clock.now()
    services.scanner.put_scanning_configuration(ENHANCED)
    after = clock.now()
    state = _state(services, "svc", digest)
    assert state is not None and (state.status_code, state.reason) == (
        "ACTIVE",
        "PENDING_INITIAL_SCAN",
    )
    assert state.last_activated_at is not None and before <= state.last_activated_at <= after
    services.worker.drain()
    found = _findings(services, "svc", digest)
    assert set(found) == {"PYSEC-1"}
    new_id, status = found["PYSEC-1"]
    assert status == "ACTIVE" and new_id != old_id
    # and a second round gives yet another id
    services.scanner.put_scanning_configuration({"scanType": "BASIC", "rules": []})
    services.scanner.put_scanning_configuration(ENHANCED)
    services.worker.drain()
    third, _ = _findings(services, "svc", digest)["PYSEC-1"]
    assert third not in (old_id, new_id)


def test_unsupported_os_with_language_packages_stays_monitored(
    services: Services, tmp_path: Path
) -> None:
    _import(services, tmp_path, "PYSEC-1", "epsilon", "2.0")
    services.scanner.put_scanning_configuration(ENHANCED)
    plan9 = {"etc/os-release": 'ID=plan9\nVERSION_ID="4"\n'}
    with_language = push_image(services, "exotic", _image("epsilon", "e", plan9))
    os_only = push_image(
        services,
        "exotic",
        make_image(
            [
                make_layer(
                    {
                        **plan9,
                        "var/lib/dpkg/status": "Package: zlib1g\nStatus: install ok installed\n"
                        "Version: 1:1.2.13.dfsg-1\nArchitecture: amd64\nSource: zlib\n\n",
                    }
                )
            ]
        ),
        tag="os-only",
    )
    services.worker.drain()
    state = _state(services, "exotic", with_language)
    assert state is not None and (state.status_code, state.reason) == ("ACTIVE", "SUCCESSFUL")
    assert state.unsupported_os is not None and "plan9" in state.unsupported_os
    assert _status(services, "exotic", os_only) == ("INACTIVE", "UNSUPPORTED_OS")
    assert set(_findings(services, "exotic", with_language)) == {"PYSEC-1"}
    # a new advisory for its language package reaches it with no push
    _clock(services).set(T0 + timedelta(hours=2))
    _import(services, tmp_path, "PYSEC-2", "epsilon", "1.5")
    services.worker.drain()
    found = _findings(services, "exotic", with_language)
    assert {v for v, (_, s) in found.items() if s == "ACTIVE"} == {"PYSEC-1", "PYSEC-2"}
    state = _state(services, "exotic", with_language)
    assert state is not None and state.last_scanned_at is not None
    assert state.last_scanned_at >= T0 + timedelta(hours=2)
