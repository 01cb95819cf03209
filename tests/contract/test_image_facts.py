"""`FindingRepo.image_facts` over many images at once (the events of a rescan), on each backend:
every image asked that exists gets its tags sorted by name and its push time, whatever chunk of
the request it falls in, and an image both repositories hold gets each repository's own; images
that do not exist get nothing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from dockwatch.model.identity import Tenant
from dockwatch.storage.finding_repo import ImageFacts
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.unit_of_work import SqlStore

TENANT = Tenant("123456789012", "eu-west-1")
T0 = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)


def test_image_facts_of_a_thousand_images(store: SqlStore) -> None:
    rng = random.Random(4)
    tenant = {"account_id": TENANT.account_id, "region": TENANT.region}
    # the same image in both repositories, pushed apart and tagged apart, as in a registry
    images = [(repo, f"sha256:{n:064x}") for repo in (1, 2) for n in range(520)]
    pushed = {key: T0 + timedelta(seconds=rng.randint(0, 10**6)) for key in images}
    tags: dict[tuple[int, str], list[str]] = {key: [] for key in images}
    names = iter(rng.sample(range(10**6), 3 * len(images)))
    for key in images:
        tags[key] = [f"v{next(names)}" for _ in range(rng.randint(0, 3))]
    with store.db.write() as conn:
        conn.execute(t.repositories.insert(), [
            {**tenant, "id": repo, "name": f"repo-{repo}", "created_at": T0} for repo in (1, 2)
        ])  # fmt: skip
        conn.execute(t.manifest_contents.insert(), [
            {"digest": digest, "media_type": "x", "size": 1, "content": b"{}"}
            for digest in sorted({digest for _, digest in images})
        ])  # fmt: skip
        conn.execute(t.manifests.insert(), [
            {**tenant, "repository_id": repo, "digest": digest, "media_type": "x", "size": 1,
             "image_pushed_at": pushed[(repo, digest)], "last_pushed_at": T0}
            for repo, digest in images
        ])  # fmt: skip
        conn.execute(t.tags.insert(), [
            {**tenant, "repository_id": repo, "name": name, "manifest_digest": digest,
             "updated_at": T0}
            for (repo, digest), named in tags.items() for name in named
        ])  # fmt: skip
    asked = rng.sample(images, 900)
    missing = [(1, "sha256:" + "f" * 64), (3, images[1][1])]
    with store.read() as uow:
        facts = uow.findings.image_facts([*asked, *missing, *asked[:5]])
    assert facts == {key: ImageFacts(tuple(sorted(tags[key])), pushed[key]) for key in asked}
    assert sum(len(f.tags) for f in facts.values()) > 900
