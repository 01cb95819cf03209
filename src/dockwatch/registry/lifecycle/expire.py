"""Lifecycle policies applied: the images a policy would expire in a repository (the preview),
and the periodic pass that expires them through the registry's delete, so the ManifestDeleted
and TagChanged events follow and the scanner closes the images' findings."""

from __future__ import annotations

import logging

from dockwatch.model.oci import INDEX_TYPES, ImageIndex, parse_manifest
from dockwatch.storage.unit_of_work import UnitOfWork

from ..context import RegistryContext
from ..errors import ManifestUnknown, NameUnknown
from ..manifests import Manifests
from .evaluate import Expiry, LifecycleImage, evaluate
from .policy import LifecyclePolicy, LifecyclePolicyInvalid, parse_policy

logger = logging.getLogger(__name__)


def repository_images(uow: UnitOfWork, repo_id: int) -> list[LifecycleImage]:
    """The images a policy considers: every manifest of the repository but the platform images
    of its indexes (ECR does not expire an image a manifest list references)."""
    rows = uow.registry.manifests_of(repo_id)
    children: set[str] = set()
    for row in rows:
        if row.media_type not in INDEX_TYPES:
            continue
        stored = uow.registry.manifest_content(row.digest)
        if stored is None:
            continue
        try:
            parsed = parse_manifest(stored.content, stored.media_type, strict=False)
        except ValueError:
            continue
        if isinstance(parsed, ImageIndex):
            children.update(d.digest for d in parsed.manifests)
    return [
        LifecycleImage(r.digest, tuple(uow.registry.tags_of(repo_id, r.digest)), r.image_pushed_at)
        for r in rows
        if r.digest not in children
    ]


def preview(ctx: RegistryContext, repository: str, policy: LifecyclePolicy) -> list[Expiry]:
    """What `policy` would expire in `repository` now (nothing is deleted)."""
    repo = ctx.repository(repository)
    with ctx.store.read() as uow:
        images = repository_images(uow, repo.id)
    return evaluate(policy, images, ctx.clock.now())


def expire_pass(ctx: RegistryContext, manifests: Manifests) -> int:
    """Apply every stored lifecycle policy of the tenant; returns how many images expired."""
    with ctx.store.read() as uow:
        policies = uow.ecr.lifecycle_policies(ctx.tenant)
    expired = 0
    for row in policies:
        try:
            policy = parse_policy(row.text)
            due = preview(ctx, row.repository, policy)
        except LifecyclePolicyInvalid:
            logger.warning("lifecycle policy of %s no longer parses; skipped", row.repository)
            continue
        except NameUnknown:
            continue
        except Exception:  # one repository's failure must not stop the others
            logger.exception("lifecycle pass failed for %s", row.repository)
            continue
        for e in due:
            try:
                manifests.delete(row.repository, e.image.digest)
            except ManifestUnknown:  # deleted meanwhile
                continue
            expired += 1
            logger.info(
                "lifecycle rule %d expired %s@%s", e.rule_priority, row.repository, e.image.digest
            )
    return expired
