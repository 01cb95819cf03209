"""`ScanRepo` contract for monitoring starts and configuration changes: `last_activated_at`
(kept unless a state sets it), the enhanced states by image, the activation epoch, the manifest
kinds `pushed_images` reports, and the migration that adds the columns to an older database."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, text

from dockwatch.app import Services
from dockwatch.model.identity import Tenant
from dockwatch.storage.scan_repo import CoverageQuery, ScanState
from dockwatch.storage.sql import tables
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from tests.builders.layers import make_image, make_index, make_layer
from tests.builders.push import push_image
from tests.contract.conftest import image, repository_id

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _state(repo_id: int, digest: str, **changes: object) -> ScanState:
    state = ScanState(repo_id, digest, "ENHANCED", "ACTIVE", "SUCCESSFUL", T0, 3, None, None)
    return dataclasses.replace(state, **changes)  # type: ignore[arg-type]


def test_last_activated_at_is_kept_unless_a_state_sets_it(services: Services) -> None:
    digest = push_image(services, "app", image("a"))
    repo = repository_id(services, "app")
    started = T0 + timedelta(days=2)
    with services.store.write() as uow:
        uow.scans.put_scan(services.tenant, _state(repo, digest, last_activated_at=started), T0)
        uow.scans.put_scan(services.tenant, _state(repo, digest, reason="SCAN_IN_PROGRESS"), T0)
    with services.store.read() as uow:
        got = uow.scans.get_scan(repo, digest)
        assert got == _state(repo, digest, reason="SCAN_IN_PROGRESS", last_activated_at=started)
        (covered,) = uow.scans.coverage(services.tenant, CoverageQuery())
        assert covered.last_activated_at == started
        (active,) = uow.scans.active_pushed_images(services.tenant)
        assert active.last_activated_at == started
    later = started + timedelta(days=5)
    with services.store.write() as uow:
        uow.scans.put_scan(services.tenant, _state(repo, digest, last_activated_at=later), T0)
    with services.store.read() as uow:
        got = uow.scans.get_scan(repo, digest)
        assert got is not None and got.last_activated_at == later


def test_monitoring_start_defaults_to_the_first_push(services: Services) -> None:
    digest = push_image(services, "app", image("a"))
    repo = repository_id(services, "app")
    with services.store.write() as uow:
        uow.scans.put_scan(services.tenant, _state(repo, digest), T0)
    with services.store.read() as uow:
        (pushed,) = uow.scans.pushed_images(services.tenant)
        (active,) = uow.scans.active_pushed_images(services.tenant)
    assert pushed.last_activated_at is None
    assert active.last_activated_at == pushed.last_pushed_at  # pushed once: first = last push


def test_enhanced_states_and_the_activation_epoch(services: Services) -> None:
    a = push_image(services, "app", image("a"))
    b = push_image(services, "app", image("b"), tag="b")
    repo = repository_id(services, "app")
    other = Tenant("999999999999", "eu-west-1")
    with services.store.write() as uow:
        assert uow.scans.activation_epoch(services.tenant) == 0  # no settings yet
        uow.scans.put_scan(services.tenant, _state(repo, a), T0)
        uow.scans.put_scan(services.tenant, _state(repo, b, scan_type="BASIC"), T0)
        uow.scans.save_settings(services.tenant, {"scanType": "ENHANCED"}, {}, T0)
        uow.scans.save_settings(other, {"scanType": "ENHANCED"}, {}, T0)
        assert uow.scans.next_activation_epoch(services.tenant) == 1
        assert uow.scans.next_activation_epoch(services.tenant) == 2
        uow.scans.save_settings(services.tenant, {"scanType": "BASIC"}, {}, T0)  # kept
    with services.store.read() as uow:
        assert uow.scans.enhanced_states(services.tenant) == {(repo, a): _state(repo, a)}
        assert uow.scans.enhanced_states(other) == {}
        assert uow.scans.activation_epoch(services.tenant) == 2
        assert uow.scans.activation_epoch(other) == 0


def test_pushed_images_carry_the_manifest_kind(services: Services) -> None:
    img = image("a")
    sig_type = "application/vnd.dev.cosign.artifact.sig.v1+json"
    signature = make_image([make_layer({"s": "x"})], artifact_type=sig_type)
    index_type = "application/vnd.oci.image.index.v1+json"
    digests = {
        push_image(services, "app", img): ("application/vnd.oci.image.manifest.v1+json", None),
        push_image(services, "app", signature, tag="sig"): (
            "application/vnd.oci.image.manifest.v1+json",
            sig_type,
        ),
        services.registry.manifests.put("app", "multi", make_index([img]), index_type).digest: (
            index_type,
            None,
        ),
    }
    with services.store.read() as uow:
        got = {
            p.image.digest: (p.media_type, p.artifact_type)
            for p in uow.scans.pushed_images(services.tenant)
        }
    assert got == digests


def test_the_migration_adds_the_columns_to_an_older_database(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        migrate(db)
        with db.write() as conn:  # the database as the previous release left it
            conn.execute(text("ALTER TABLE image_scans DROP COLUMN last_activated_at"))
            conn.execute(text("ALTER TABLE scan_settings DROP COLUMN activation_epoch"))
            conn.execute(
                delete(tables.schema_migrations).where(
                    tables.schema_migrations.c.subsystem == "scan",
                    tables.schema_migrations.c.number == 3,
                )
            )
        applied = migrate(db)
        assert [(m.subsystem, m.number) for m in applied] == [("scan", 3)]
        with db.read() as conn:
            scans = {r[1] for r in conn.execute(text("PRAGMA table_info(image_scans)"))}
            settings = {r[1] for r in conn.execute(text("PRAGMA table_info(scan_settings)"))}
        assert "last_activated_at" in scans and "activation_epoch" in settings
        assert migrate(db) == []
    finally:
        db.close()
