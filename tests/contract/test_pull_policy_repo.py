"""The PullPolicyRepo contract: policies per scope and tenant, allowances with their expiry,
and the allowance of an index covering the images it lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dockwatch.app import Services
from dockwatch.model.identity import Tenant
from dockwatch.storage.pull_policy_repo import REGISTRY_SCOPE, AllowanceRecord
from dockwatch.storage.unit_of_work import Store
from tests.builders.layers import make_index
from tests.builders.push import push_image
from tests.contract.conftest import image, repository_id

T1 = Tenant("111111111111", "us-east-1")
T2 = Tenant("222222222222", "us-east-1")
AT = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
D1, D2, D3 = ("sha256:" + c * 64 for c in "123")


def test_policies_per_scope_and_tenant(store: Store) -> None:
    with store.write() as uow:
        repo = uow.pull_policies
        repo.put_policy(T1, REGISTRY_SCOPE, {"severityThreshold": "HIGH"}, AT)
        repo.put_policy(T1, "app", {"enabled": False}, AT)
        repo.put_policy(T1, "app", {"enabled": True}, AT + timedelta(seconds=1))
        repo.put_policy(T2, "other", {"requireScan": False}, AT)
    with store.read() as uow:
        repo = uow.pull_policies
        found = {p.repository: p.document for p in repo.policies_for(T1, "app")}
        assert found == {"": {"severityThreshold": "HIGH"}, "app": {"enabled": True}}
        assert [p.repository for p in repo.policies_for(T1, "other")] == [""]
        assert [p.repository for p in repo.policies_for(T2, "other")] == ["other"]
        got = repo.get_policy(T1, "app")
        assert got is not None and got.updated_at == AT + timedelta(seconds=1)
    with store.write() as uow:
        assert uow.pull_policies.delete_policy(T1, "app")
        assert not uow.pull_policies.delete_policy(T1, "app")
    with store.read() as uow:
        assert uow.pull_policies.get_policy(T1, "app") is None


def _allowance(
    aid: str, digest: str, expires: datetime, repository: str = "app"
) -> AllowanceRecord:
    return AllowanceRecord(aid, repository, digest, "why", expires, AT)


def test_allowances_in_force_until_their_expiry(store: Store) -> None:
    with store.write() as uow:
        uow.pull_policies.add_allowance(T1, _allowance("a1", D1, AT + timedelta(hours=1)))
        uow.pull_policies.add_allowance(T1, _allowance("a2", D2, AT + timedelta(hours=1), "x"))
        uow.pull_policies.add_allowance(T2, _allowance("a3", D3, AT + timedelta(hours=1)))
    with store.read() as uow:
        repo = uow.pull_policies
        hit = repo.allowance_for_image(T1, "app", 1, D1, D1, AT)
        assert hit is not None and hit.id == "a1" and hit.expires_at == AT + timedelta(hours=1)
        assert repo.allowance_for_image(T1, "app", 1, D3, D1, AT) is not None  # served: D1
        assert repo.allowance_for_image(T1, "app", 1, D1, D1, AT + timedelta(hours=1)) is None
        assert repo.allowance_for_image(T1, "app", 1, D2, D2, AT) is None  # other repository
        assert repo.allowance_for_image(T1, "app", 1, D3, D3, AT) is None  # other tenant
        assert [a.id for a in repo.list_allowances(T1, None, None, 10)] == ["a1", "a2"]
        assert [a.id for a in repo.list_allowances(T1, "x", None, 10)] == ["a2"]
        assert [a.id for a in repo.list_allowances(T1, None, "a1", 10)] == ["a2"]
        assert repo.get_allowance(T2, "a1") is None
    with store.write() as uow:
        assert uow.pull_policies.delete_allowance(T1, "a1")
        assert not uow.pull_policies.delete_allowance(T1, "a1")


def test_an_index_allowance_covers_the_images_it_lists(services: Services) -> None:
    listed, other = image("listed"), image("other")
    for built in (listed, other):
        push_image(services, "app", built, tag=built.digest)
    index = make_index([listed])
    index_digest = services.registry.manifests.put(
        "app", "multi", index, "application/vnd.oci.image.index.v1+json"
    ).digest
    repo_id = repository_id(services, "app")
    tenant = services.tenant
    with services.store.write() as uow:
        uow.pull_policies.add_allowance(tenant, _allowance("i1", index_digest, AT + timedelta(1)))
    with services.store.read() as uow:
        repo = uow.pull_policies
        hit = repo.allowance_for_image(tenant, "app", repo_id, listed.digest, listed.digest, AT)
        assert hit is not None and hit.id == "i1"
        assert (
            repo.allowance_for_image(tenant, "app", repo_id, other.digest, other.digest, AT) is None
        )
