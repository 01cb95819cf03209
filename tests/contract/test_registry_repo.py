"""`RegistryRepo` contract, through a unit of work of each backend's store.

Each test states what a service relies on; a new backend passes the same tests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dockwatch.model.digest import Digest, compute
from dockwatch.model.identity import Tenant
from dockwatch.storage.registry_repo import NewManifest, ReferenceKind
from dockwatch.storage.unit_of_work import Store

T = Tenant("123456789012", "us-east-1")
OTHER = Tenant("210987654321", "us-east-1")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LAYER = compute(b"layer")
CONFIG = compute(b"config")
MANIFEST = compute(b"manifest")
OCI = "application/vnd.oci.image.manifest.v1+json"


def _push(store: Store, name: str, subject: str | None = None, digest: Digest = MANIFEST) -> int:
    with store.write() as uow:
        r = uow.registry.ensure_repository(T, name, NOW)
        uow.registry.link_blob(T, r.id, LAYER, 5, NOW)
        uow.registry.link_blob(T, r.id, CONFIG, 6, NOW)
        uow.registry.store_manifest_content(digest, OCI, b"{}")
        refs: list[tuple[str, ReferenceKind]] = [(LAYER, "blob"), (CONFIG, "blob"), (LAYER, "blob")]
        new = NewManifest(digest, OCI, None, subject, 2, refs)
        uow.registry.insert_manifest(T, r.id, new, NOW)
        return r.id


def test_repositories_are_per_tenant_and_listed_in_order(store: Store) -> None:
    with store.write() as uow:
        b = uow.registry.ensure_repository(T, "b", NOW)
        assert uow.registry.ensure_repository(T, "b", NOW + timedelta(1)) == b
        uow.registry.ensure_repository(T, "a", NOW)
        uow.registry.ensure_repository(OTHER, "c", NOW)
        uow.registry.set_repository_settings(b.id, tag_mutability="IMMUTABLE", scan_on_push=True)
    with store.read() as uow:
        assert uow.registry.list_repositories(T, None, None) == ["a", "b"]
        assert uow.registry.list_repositories(T, "a", 5) == ["b"]
        assert [r.name for r in uow.registry.repository_rows(OTHER)] == ["c"]
        got = uow.registry.get_repository(T, "b")
        assert got is not None and got.image_tag_mutability == "IMMUTABLE" and got.scan_on_push
        assert got.created_at == NOW
        assert uow.registry.get_repository(OTHER, "b") is None
        assert uow.registry.repository_name(b.id) == "b"
        assert uow.registry.repository_name(10_000) == ""


def test_blobs_are_linked_per_repository(store: Store) -> None:
    with store.write() as uow:
        a = uow.registry.ensure_repository(T, "a", NOW)
        b = uow.registry.ensure_repository(T, "b", NOW)
        uow.registry.link_blob(T, a.id, LAYER, 5, NOW)
        uow.registry.link_blob(T, a.id, LAYER, 5, NOW)  # idempotent
    with store.read() as uow:
        assert uow.registry.blob_size(LAYER) == 5
        assert uow.registry.linked_blob_size(a.id, LAYER) == 5
        assert uow.registry.linked_blob_size(b.id, LAYER) is None
        assert uow.registry.blob_digests() == {LAYER}
    with store.write() as uow:
        assert uow.registry.unlink_blob(a.id, LAYER)
        assert not uow.registry.unlink_blob(a.id, LAYER)
        assert uow.registry.blob_size(LAYER) == 5  # the blob stays until gc forgets it


def test_gc_sees_only_unreferenced_blobs_older_than_the_grace(store: Store) -> None:
    repo_id = _push(store, "app")
    with store.write() as uow:
        orphan = compute(b"orphan")
        uow.registry.link_blob(T, repo_id, orphan, 3, NOW)
        assert uow.registry.unreferenced_blobs(NOW) == []
        assert uow.registry.unreferenced_blobs(NOW + timedelta(seconds=1)) == [orphan]
        row = uow.registry.get_manifest(repo_id, MANIFEST)
        assert row is not None
        uow.registry.delete_manifest(row.id)
        later = NOW + timedelta(seconds=1)
        assert sorted(uow.registry.unreferenced_blobs(later)) == sorted([orphan, LAYER, CONFIG])
        assert uow.registry.orphan_manifest_contents() == [MANIFEST]
        uow.registry.delete_manifest_content(MANIFEST)
        assert uow.registry.manifest_content(MANIFEST) is None
        uow.registry.forget_blob(orphan)
        assert uow.registry.blob_size(orphan) is None
        assert uow.registry.linked_blob_size(repo_id, orphan) is None


def test_manifests_tags_and_referrers(store: Store) -> None:
    repo_id = _push(store, "app")
    ref = compute(b"a signature")
    _push(store, "app", subject=MANIFEST, digest=ref)
    with store.write() as uow:
        assert uow.registry.set_tag(T, repo_id, "v1", MANIFEST, NOW) is None
        assert uow.registry.set_tag(T, repo_id, "v1", ref, NOW) == MANIFEST
        assert uow.registry.set_tag(T, repo_id, "latest", ref, NOW) is None
        uow.registry.touch_pulled(repo_id, ref, NOW + timedelta(hours=1))
    with store.read() as uow:
        assert uow.registry.tag_digest(repo_id, "v1") == ref
        assert uow.registry.tags_of(repo_id, ref) == ["latest", "v1"]
        assert uow.registry.list_tags(repo_id, "latest", 10) == ["v1"]
        assert [r.digest for r in uow.registry.referrers(repo_id, MANIFEST)] == [ref]
        row = uow.registry.get_manifest(repo_id, ref)
        assert row is not None and row.subject_digest == MANIFEST
        assert row.last_pulled_at == NOW + timedelta(hours=1)
        stored = uow.registry.manifest_content(ref)
        assert stored is not None and (stored.content, stored.media_type) == (b"{}", OCI)
    with store.write() as uow:
        assert uow.registry.delete_tag(repo_id, "v1")
        assert not uow.registry.delete_tag(repo_id, "v1")


def test_uploads(store: Store) -> None:
    with store.write() as uow:
        r = uow.registry.ensure_repository(T, "app", NOW)
        uow.registry.create_upload(T, "u1", r.id, NOW)
    with store.read() as uow:
        assert uow.registry.upload_repository("u1") == r.id
        assert uow.registry.upload_ids() == {"u1": NOW}
    with store.write() as uow:
        uow.registry.delete_upload("u1")
        assert uow.registry.upload_repository("u1") is None


def test_a_failed_unit_of_work_changes_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as uow:
        uow.registry.ensure_repository(T, "never", NOW)
        raise RuntimeError("the service failed half way")
    with store.read() as uow:
        assert uow.registry.get_repository(T, "never") is None


def test_repository_and_tag_pages_walk_every_name_once(store: Store) -> None:
    names = ["b/x", "a", "c", "a/b", "b"]
    repo_id = _push(store, "app")
    with store.write() as uow:
        for name in names:
            uow.registry.ensure_repository(T, name, NOW)
        for tag in names:
            uow.registry.set_tag(T, repo_id, tag.replace("/", "-"), MANIFEST, NOW)
    everything = sorted([*names, "app"])
    tags = sorted(n.replace("/", "-") for n in names)
    with store.read() as uow:
        assert uow.registry.list_repositories(T, None, None) == everything
        pages: list[str] = []
        after: str | None = None
        while page := uow.registry.list_repositories(T, after, 2):
            assert len(page) <= 2
            pages.extend(page)
            after = page[-1]
        assert pages == everything
        assert uow.registry.list_repositories(T, everything[-1], 2) == []
        assert uow.registry.list_tags(repo_id, None, None) == tags
        assert uow.registry.list_tags(repo_id, None, 1) == tags[:1]
        assert uow.registry.list_tags(repo_id, tags[1], 2) == tags[2:4]
        assert uow.registry.tags_of(repo_id, MANIFEST) == tags
