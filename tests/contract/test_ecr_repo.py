"""`EcrRepo` contract (resource tags, lifecycle policies and previews, repository removal),
through a unit of work of each backend's store: what the ECR handlers rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dockwatch.model.digest import compute
from dockwatch.model.identity import Tenant
from dockwatch.storage.registry_repo import NewManifest
from dockwatch.storage.unit_of_work import Store

T = Tenant("123456789012", "us-east-1")
OTHER = Tenant("123456789012", "eu-west-1")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ARN = "arn:aws:ecr:us-east-1:123456789012:repository/app"


def test_resource_tags_are_per_tenant_and_replace_by_key(store: Store) -> None:
    with store.write() as uow:
        uow.ecr.set_resource_tags(T, ARN, [("b", "1"), ("a", "2")])
        uow.ecr.set_resource_tags(T, ARN, [("b", "3")])
        uow.ecr.set_resource_tags(OTHER, ARN, [("z", "9")])
    with store.read() as uow:
        assert uow.ecr.resource_tags(T, ARN) == [("a", "2"), ("b", "3")]
        assert uow.ecr.resource_tags(OTHER, ARN) == [("z", "9")]
    with store.write() as uow:
        uow.ecr.remove_resource_tags(T, ARN, ["a", "missing"])
    with store.read() as uow:
        assert uow.ecr.resource_tags(T, ARN) == [("b", "3")]


def test_lifecycle_policies_and_previews_are_replaced(store: Store) -> None:
    with store.write() as uow:
        uow.ecr.put_lifecycle_policy(T, "app", "first", NOW)
        uow.ecr.put_lifecycle_policy(T, "app", "second", NOW + timedelta(1))
        uow.ecr.put_lifecycle_policy(T, "web", "third", NOW)
        uow.ecr.save_lifecycle_preview(T, "app", "second", "[]", NOW)
        uow.ecr.save_lifecycle_preview(T, "app", "second", "[1]", NOW + timedelta(1))
    with store.read() as uow:
        got = uow.ecr.lifecycle_policy(T, "app")
        assert got is not None and got.text == "second" and got.updated_at == NOW + timedelta(1)
        assert [p.repository for p in uow.ecr.lifecycle_policies(T)] == ["app", "web"]
        assert uow.ecr.lifecycle_policies(OTHER) == []
        preview = uow.ecr.lifecycle_preview(T, "app")
        assert preview is not None and preview.result == "[1]"
    with store.write() as uow:
        assert uow.ecr.delete_lifecycle_policy(T, "app")
        assert not uow.ecr.delete_lifecycle_policy(T, "app")


def test_delete_repository_removes_its_rows(store: Store) -> None:
    with store.write() as uow:
        repo = uow.registry.ensure_repository(T, "app", NOW)
        uow.ecr.set_resource_tags(T, ARN, [("k", "v")])
        uow.ecr.put_lifecycle_policy(T, "app", "policy", NOW)
        uow.ecr.save_lifecycle_preview(T, "app", "policy", "[]", NOW)
        kept = uow.registry.ensure_repository(T, "kept", NOW)
    with store.write() as uow:
        uow.ecr.delete_repository(T, repo.id, ARN)
    with store.read() as uow:
        assert uow.registry.get_repository(T, "app") is None
        assert uow.registry.get_repository(T, "kept") == kept
        assert uow.ecr.resource_tags(T, ARN) == []
        assert uow.ecr.lifecycle_policy(T, "app") is None
        assert uow.ecr.lifecycle_preview(T, "app") is None


def test_tags_are_listed_newest_first(store: Store) -> None:
    digest = compute(b"manifest")
    with store.write() as uow:
        repo = uow.registry.ensure_repository(T, "app", NOW)
        uow.registry.store_manifest_content(digest, "application/json", b"{}")
        uow.registry.insert_manifest(T, repo.id, NewManifest(digest, "x", None, None, 2, []), NOW)
        for i, tag in enumerate(["b", "a", "c"]):
            uow.registry.set_tag(T, repo.id, tag, digest, NOW + timedelta(minutes=i))
        uow.registry.set_tag(T, repo.id, "d", digest, NOW)
    with store.read() as uow:
        assert uow.ecr.tags_newest_first(repo.id, digest) == ["c", "a", "b", "d"]
