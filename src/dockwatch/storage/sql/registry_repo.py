"""SQL for the registry aggregate: repositories, blob links, manifests, tags, uploads.

Plain functions over a `Connection` so callers compose them in one unit of work (a manifest, its
tags and its outbox event commit together).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from dockwatch.model.digest import Digest
from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc, as_utc_or_none
from dockwatch.storage.sql import tables as t


@dataclass(frozen=True, slots=True)
class RepositoryRow:
    """A repository and its per-repository settings."""

    id: int
    name: str
    created_at: datetime
    image_tag_mutability: str
    scan_on_push: bool


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """A manifest stored in one repository (an image resource when it is an image)."""

    id: int
    repository_id: int
    digest: Digest
    media_type: str
    artifact_type: str | None
    subject_digest: str | None
    size: int
    image_pushed_at: datetime
    last_pushed_at: datetime
    last_pulled_at: datetime | None


def _repo(r: object) -> RepositoryRow:
    return RepositoryRow(
        r.id,  # type: ignore[attr-defined]
        r.name,  # type: ignore[attr-defined]
        as_utc(r.created_at),  # type: ignore[attr-defined]
        r.image_tag_mutability,  # type: ignore[attr-defined]
        bool(r.scan_on_push),  # type: ignore[attr-defined]
    )


def get_repository(conn: Connection, tenant: Tenant, name: str) -> RepositoryRow | None:
    """The repository called `name`, or None."""
    r = conn.execute(
        select(t.repositories).where(
            t.repositories.c.account_id == tenant.account_id,
            t.repositories.c.region == tenant.region,
            t.repositories.c.name == name,
        )
    ).first()
    return None if r is None else _repo(r)


def ensure_repository(conn: Connection, tenant: Tenant, name: str, at: datetime) -> RepositoryRow:
    """The repository called `name`, created on first use."""
    found = get_repository(conn, tenant, name)
    if found is not None:
        return found
    conn.execute(
        insert(t.repositories).values(
            account_id=tenant.account_id,
            region=tenant.region,
            name=name,
            created_at=at,
            image_tag_mutability="MUTABLE",
            scan_on_push=False,
        )
    )
    created = get_repository(conn, tenant, name)
    assert created is not None
    return created


def repository_rows(conn: Connection, tenant: Tenant) -> list[RepositoryRow]:
    """Every repository of the tenant with its settings, by name."""
    r = t.repositories
    rows = conn.execute(
        select(r)
        .where(r.c.account_id == tenant.account_id, r.c.region == tenant.region)
        .order_by(r.c.name)
    )
    return [_repo(row) for row in rows]


def list_repositories(
    conn: Connection, tenant: Tenant, after: str | None, limit: int | None
) -> list[str]:
    """Repository names in lexical order after `after`."""
    r = t.repositories
    q = (
        select(r.c.name)
        .where(r.c.account_id == tenant.account_id, r.c.region == tenant.region)
        .order_by(r.c.name)
    )
    if after:
        q = q.where(r.c.name > after)
    if limit is not None:
        q = q.limit(limit)
    return [row.name for row in conn.execute(q)]


def set_repository_settings(
    conn: Connection,
    repo_id: int,
    *,
    tag_mutability: str | None = None,
    scan_on_push: bool | None = None,
) -> None:
    """Store per-repository settings (tag mutability, basic scan-on-push)."""
    values: dict[str, object] = {}
    if tag_mutability is not None:
        values["image_tag_mutability"] = tag_mutability
    if scan_on_push is not None:
        values["scan_on_push"] = scan_on_push
    if values:
        conn.execute(update(t.repositories).where(t.repositories.c.id == repo_id).values(**values))


# --- blobs ---------------------------------------------------------------------------------


def blob_size(conn: Connection, digest: str) -> int | None:
    """Size of a blob known to the registry (in any repository), or None."""
    size = conn.execute(select(t.blobs.c.size).where(t.blobs.c.digest == digest)).scalar()
    return None if size is None else int(size)


def linked_blob_size(conn: Connection, repo_id: int, digest: str) -> int | None:
    """Size of `digest` if linked to the repository, else None."""
    size = conn.execute(
        select(t.blobs.c.size)
        .join(t.repository_blobs, t.repository_blobs.c.digest == t.blobs.c.digest)
        .where(t.repository_blobs.c.repository_id == repo_id, t.blobs.c.digest == digest)
    ).scalar()
    return None if size is None else int(size)


def link_blob(
    conn: Connection, tenant: Tenant, repo_id: int, digest: str, size: int, at: datetime
) -> None:
    """Record the blob (if new) and make it visible in the repository."""
    if blob_size(conn, digest) is None:
        conn.execute(insert(t.blobs).values(digest=digest, size=size, created_at=at))
    if linked_blob_size(conn, repo_id, digest) is None:
        conn.execute(
            insert(t.repository_blobs).values(
                account_id=tenant.account_id,
                region=tenant.region,
                repository_id=repo_id,
                digest=digest,
                linked_at=at,
            )
        )


def unlink_blob(conn: Connection, repo_id: int, digest: str) -> bool:
    """Hide a blob from a repository; True if it was linked."""
    n = conn.execute(
        delete(t.repository_blobs).where(
            t.repository_blobs.c.repository_id == repo_id, t.repository_blobs.c.digest == digest
        )
    ).rowcount
    return bool(n)


def unreferenced_blobs(conn: Connection, created_before: datetime) -> list[str]:
    """Blobs no manifest references, no repository links and that are older than the grace time.

    A blob linked to a repository but referenced by no manifest is also collectable: an upload
    whose manifest never came. The grace period protects pushes in flight.
    """
    referenced = select(t.manifest_references.c.digest)
    q = select(t.blobs.c.digest).where(
        t.blobs.c.created_at < created_before, t.blobs.c.digest.not_in(referenced)
    )
    return [r.digest for r in conn.execute(q)]


def forget_blob(conn: Connection, digest: str) -> None:
    """Drop a blob's rows (gc, before deleting the file)."""
    conn.execute(delete(t.repository_blobs).where(t.repository_blobs.c.digest == digest))
    conn.execute(delete(t.blobs).where(t.blobs.c.digest == digest))


def blob_digests(conn: Connection) -> set[str]:
    """Every blob the database knows."""
    return {r.digest for r in conn.execute(select(t.blobs.c.digest))}


# --- uploads -------------------------------------------------------------------------------


def create_upload(
    conn: Connection, tenant: Tenant, upload_id: str, repo_id: int, at: datetime
) -> None:
    """Record a new upload session."""
    conn.execute(
        insert(t.uploads).values(
            id=upload_id,
            account_id=tenant.account_id,
            region=tenant.region,
            repository_id=repo_id,
            started_at=at,
        )
    )


def upload_repository(conn: Connection, upload_id: str) -> int | None:
    """The repository an upload belongs to, or None if unknown."""
    v = conn.execute(select(t.uploads.c.repository_id).where(t.uploads.c.id == upload_id)).scalar()
    return None if v is None else int(v)


def delete_upload(conn: Connection, upload_id: str) -> None:
    """Forget an upload session."""
    conn.execute(delete(t.uploads).where(t.uploads.c.id == upload_id))


def upload_ids(conn: Connection) -> dict[str, datetime]:
    """Every upload session with its start time."""
    return {r.id: as_utc(r.started_at) for r in conn.execute(select(t.uploads))}


# --- manifests -----------------------------------------------------------------------------


def _manifest(r: object) -> ManifestRow:
    return ManifestRow(
        r.id,  # type: ignore[attr-defined]
        r.repository_id,  # type: ignore[attr-defined]
        Digest(r.digest),  # type: ignore[attr-defined]
        r.media_type,  # type: ignore[attr-defined]
        r.artifact_type,  # type: ignore[attr-defined]
        r.subject_digest,  # type: ignore[attr-defined]
        r.size,  # type: ignore[attr-defined]
        as_utc(r.image_pushed_at),  # type: ignore[attr-defined]
        as_utc(r.last_pushed_at),  # type: ignore[attr-defined]
        as_utc_or_none(r.last_pulled_at),  # type: ignore[attr-defined]
    )


def repository_name(conn: Connection, repo_id: int) -> str:
    """The name of a repository by id ("" when it is gone)."""
    name = conn.execute(
        select(t.repositories.c.name).where(t.repositories.c.id == repo_id)
    ).scalar()
    return str(name or "")


def get_manifest(conn: Connection, repo_id: int, digest: str) -> ManifestRow | None:
    """The manifest `digest` in the repository, or None."""
    r = conn.execute(
        select(t.manifests).where(
            t.manifests.c.repository_id == repo_id, t.manifests.c.digest == digest
        )
    ).first()
    return None if r is None else _manifest(r)


def manifest_content(conn: Connection, digest: str) -> tuple[bytes, str] | None:
    """Stored bytes and media type of a manifest."""
    r = conn.execute(
        select(t.manifest_contents.c.content, t.manifest_contents.c.media_type).where(
            t.manifest_contents.c.digest == digest
        )
    ).first()
    return None if r is None else (bytes(r.content), r.media_type)


def store_manifest_content(conn: Connection, digest: str, media_type: str, content: bytes) -> None:
    """Keep a manifest's bytes (once per digest, shared by repositories)."""
    if manifest_content(conn, digest) is None:
        conn.execute(
            insert(t.manifest_contents).values(
                digest=digest, media_type=media_type, size=len(content), content=content
            )
        )


def insert_manifest(
    conn: Connection,
    tenant: Tenant,
    repo_id: int,
    digest: str,
    media_type: str,
    artifact_type: str | None,
    subject_digest: str | None,
    size: int,
    at: datetime,
    references: Sequence[tuple[str, str]],
) -> None:
    """Add a manifest to a repository with the digests it references as (digest, kind)."""
    result = conn.execute(
        insert(t.manifests).values(
            account_id=tenant.account_id,
            region=tenant.region,
            repository_id=repo_id,
            digest=digest,
            media_type=media_type,
            artifact_type=artifact_type,
            subject_digest=subject_digest,
            size=size,
            image_pushed_at=at,
            last_pushed_at=at,
        )
    )
    manifest_id = result.inserted_primary_key[0]  # type: ignore[index]
    unique = sorted(set(references))
    if unique:
        conn.execute(
            insert(t.manifest_references),
            [{"manifest_id": manifest_id, "digest": d, "kind": k} for d, k in unique],
        )


def touch_pushed(conn: Connection, manifest_id: int, at: datetime) -> None:
    """A re-push: move `last_pushed_at`."""
    conn.execute(
        update(t.manifests).where(t.manifests.c.id == manifest_id).values(last_pushed_at=at)
    )


def touch_pulled(conn: Connection, repo_id: int, digest: str, at: datetime) -> None:
    """Record a pull."""
    conn.execute(
        update(t.manifests)
        .where(t.manifests.c.repository_id == repo_id, t.manifests.c.digest == digest)
        .values(last_pulled_at=at)
    )


def delete_manifest(conn: Connection, manifest_id: int) -> None:
    """Remove a manifest row and its references."""
    conn.execute(
        delete(t.manifest_references).where(t.manifest_references.c.manifest_id == manifest_id)
    )
    conn.execute(delete(t.manifests).where(t.manifests.c.id == manifest_id))


def manifest_in_repository(conn: Connection, repo_id: int, digest: str) -> bool:
    """True when `digest` is a manifest of the repository."""
    return get_manifest(conn, repo_id, digest) is not None


def referrers(conn: Connection, repo_id: int, subject: str) -> list[ManifestRow]:
    """Manifests of the repository whose subject is `subject`, by digest."""
    rows = conn.execute(
        select(t.manifests)
        .where(t.manifests.c.repository_id == repo_id, t.manifests.c.subject_digest == subject)
        .order_by(t.manifests.c.digest)
    )
    return [_manifest(r) for r in rows]


def orphan_manifest_contents(conn: Connection) -> list[str]:
    """Manifest bytes no repository uses any more."""
    q = select(t.manifest_contents.c.digest).where(
        t.manifest_contents.c.digest.not_in(select(t.manifests.c.digest))
    )
    return [r.digest for r in conn.execute(q)]


def delete_manifest_content(conn: Connection, digest: str) -> None:
    """Forget a manifest's bytes."""
    conn.execute(delete(t.manifest_contents).where(t.manifest_contents.c.digest == digest))


# --- tags ----------------------------------------------------------------------------------


def tag_digest(conn: Connection, repo_id: int, tag: str) -> Digest | None:
    """The digest a tag points at."""
    v = conn.execute(
        select(t.tags.c.manifest_digest).where(
            t.tags.c.repository_id == repo_id, t.tags.c.name == tag
        )
    ).scalar()
    return None if v is None else Digest(v)


def set_tag(
    conn: Connection, tenant: Tenant, repo_id: int, tag: str, digest: str, at: datetime
) -> Digest | None:
    """Point `tag` at `digest`; returns the previous digest (None if new)."""
    previous = tag_digest(conn, repo_id, tag)
    if previous is None:
        conn.execute(
            insert(t.tags).values(
                account_id=tenant.account_id,
                region=tenant.region,
                repository_id=repo_id,
                name=tag,
                manifest_digest=digest,
                updated_at=at,
            )
        )
    elif previous != digest:
        conn.execute(
            update(t.tags)
            .where(t.tags.c.repository_id == repo_id, t.tags.c.name == tag)
            .values(manifest_digest=digest, updated_at=at)
        )
    return previous


def delete_tag(conn: Connection, repo_id: int, tag: str) -> bool:
    """Remove a tag; True if it existed."""
    n = conn.execute(
        delete(t.tags).where(t.tags.c.repository_id == repo_id, t.tags.c.name == tag)
    ).rowcount
    return bool(n)


def tags_of(conn: Connection, repo_id: int, digest: str) -> list[str]:
    """Tags pointing at a manifest."""
    rows = conn.execute(
        select(t.tags.c.name)
        .where(t.tags.c.repository_id == repo_id, t.tags.c.manifest_digest == digest)
        .order_by(t.tags.c.name)
    )
    return [r.name for r in rows]


def list_tags(conn: Connection, repo_id: int, after: str | None, limit: int | None) -> list[str]:
    """Tag names in lexical order after `after`."""
    q = select(t.tags.c.name).where(t.tags.c.repository_id == repo_id).order_by(t.tags.c.name)
    if after:
        q = q.where(t.tags.c.name > after)
    if limit is not None:
        q = q.limit(limit)
    return [r.name for r in conn.execute(q)]


class SqlRegistryRepo:
    """`storage.registry_repo.RegistryRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def repositories(self, tenant: Tenant) -> list[RepositoryRow]:
        """Every repository of the tenant with its settings, by name."""
        return repository_rows(self._conn, tenant)

    def manifests_of(self, repository_id: int) -> list[ManifestRow]:
        """The manifests stored in a repository, oldest push first."""
        m = t.manifests
        rows = self._conn.execute(
            select(m).where(m.c.repository_id == repository_id).order_by(m.c.image_pushed_at)
        )
        return [_manifest(row) for row in rows]

    def tags_of(self, repository_id: int, digest: str) -> list[str]:
        """Tags pointing at a manifest, by name."""
        return tags_of(self._conn, repository_id, digest)
