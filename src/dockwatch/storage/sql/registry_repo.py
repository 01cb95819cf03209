"""SQL for the registry aggregate: repositories, blob links, manifests, tags, uploads.

`SqlRegistryRepo` implements `storage.registry_repo.RegistryRepo` over the connection of one
unit of work, so a manifest, its tags and its outbox event commit together. The module functions
at the end keep the `f(conn, ...)` form for callers that hold a connection.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from dockwatch.model.digest import Digest
from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc, as_utc_or_none
from dockwatch.storage.registry_repo import (
    ManifestRow,
    NewManifest,
    RepositoryRow,
    StoredManifest,
)
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.shared_rows import add_missing, add_missing_returning

__all__ = ["ManifestRow", "RepositoryRow", "SqlRegistryRepo"]


def _repo(r: Any) -> RepositoryRow:
    return RepositoryRow(
        r.id, r.name, as_utc(r.created_at), r.image_tag_mutability, bool(r.scan_on_push)
    )


def _manifest(r: Any) -> ManifestRow:
    return ManifestRow(
        r.id,
        r.repository_id,
        Digest(r.digest),
        r.media_type,
        r.artifact_type,
        r.subject_digest,
        r.size,
        as_utc(r.image_pushed_at),
        as_utc(r.last_pushed_at),
        as_utc_or_none(r.last_pulled_at),
    )


class SqlRegistryRepo:
    """`storage.registry_repo.RegistryRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- repositories --------------------------------------------------------------------

    def get_repository(self, tenant: Tenant, name: str) -> RepositoryRow | None:
        r = self._conn.execute(
            select(t.repositories).where(
                t.repositories.c.account_id == tenant.account_id,
                t.repositories.c.region == tenant.region,
                t.repositories.c.name == name,
            )
        ).first()
        return None if r is None else _repo(r)

    def ensure_repository(self, tenant: Tenant, name: str, at: datetime) -> RepositoryRow:
        found = self.get_repository(tenant, name)
        if found is not None:
            return found
        # the first layers of a push into a new repository are uploaded side by side
        add_missing(
            self._conn,
            t.repositories,
            [
                {
                    "account_id": tenant.account_id,
                    "region": tenant.region,
                    "name": name,
                    "created_at": at,
                    "image_tag_mutability": "MUTABLE",
                    "scan_on_push": False,
                }
            ],
            ("account_id", "region", "name"),
        )
        created = self.get_repository(tenant, name)
        assert created is not None
        return created

    def repository_rows(self, tenant: Tenant) -> list[RepositoryRow]:
        r = t.repositories
        rows = self._conn.execute(
            select(r)
            .where(r.c.account_id == tenant.account_id, r.c.region == tenant.region)
            .order_by(r.c.name)
        )
        return [_repo(row) for row in rows]

    def list_repositories(self, tenant: Tenant, after: str | None, limit: int | None) -> list[str]:
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
        return [row.name for row in self._conn.execute(q)]

    def repository_name(self, repo_id: int) -> str:
        name = self._conn.execute(
            select(t.repositories.c.name).where(t.repositories.c.id == repo_id)
        ).scalar()
        return str(name or "")

    def set_repository_settings(
        self, repo_id: int, *, tag_mutability: str | None = None, scan_on_push: bool | None = None
    ) -> None:
        values: dict[str, object] = {}
        if tag_mutability is not None:
            values["image_tag_mutability"] = tag_mutability
        if scan_on_push is not None:
            values["scan_on_push"] = scan_on_push
        if values:
            self._conn.execute(
                update(t.repositories).where(t.repositories.c.id == repo_id).values(**values)
            )

    # --- blobs ---------------------------------------------------------------------------

    def blob_size(self, digest: str) -> int | None:
        size = self._conn.execute(select(t.blobs.c.size).where(t.blobs.c.digest == digest)).scalar()
        return None if size is None else int(size)

    def linked_blob_size(self, repo_id: int, digest: str) -> int | None:
        size = self._conn.execute(
            select(t.blobs.c.size)
            .join(t.repository_blobs, t.repository_blobs.c.digest == t.blobs.c.digest)
            .where(t.repository_blobs.c.repository_id == repo_id, t.blobs.c.digest == digest)
        ).scalar()
        return None if size is None else int(size)

    def link_blob(self, tenant: Tenant, repo_id: int, digest: str, size: int, at: datetime) -> None:
        # a base layer is often uploaded to several repositories at once
        add_missing(
            self._conn, t.blobs, [{"digest": digest, "size": size, "created_at": at}], ("digest",)
        )
        link = {
            "account_id": tenant.account_id,
            "region": tenant.region,
            "repository_id": repo_id,
            "digest": digest,
            "linked_at": at,
        }
        add_missing(self._conn, t.repository_blobs, [link], ("repository_id", "digest"))

    def unlink_blob(self, repo_id: int, digest: str) -> bool:
        rb = t.repository_blobs
        n = self._conn.execute(
            delete(rb).where(rb.c.repository_id == repo_id, rb.c.digest == digest)
        ).rowcount
        return bool(n)

    def unreferenced_blobs(self, created_before: datetime) -> list[str]:
        """A blob linked to a repository but referenced by no manifest is collectable too: an
        upload whose manifest never came. The grace period protects pushes in flight."""
        referenced = select(t.manifest_references.c.digest)
        q = select(t.blobs.c.digest).where(
            t.blobs.c.created_at < created_before, t.blobs.c.digest.not_in(referenced)
        )
        return [r.digest for r in self._conn.execute(q)]

    def forget_blob(self, digest: str) -> None:
        self._conn.execute(delete(t.repository_blobs).where(t.repository_blobs.c.digest == digest))
        self._conn.execute(delete(t.blobs).where(t.blobs.c.digest == digest))

    def blob_digests(self) -> set[str]:
        return {r.digest for r in self._conn.execute(select(t.blobs.c.digest))}

    # --- uploads -------------------------------------------------------------------------

    def create_upload(self, tenant: Tenant, upload_id: str, repo_id: int, at: datetime) -> None:
        self._conn.execute(
            insert(t.uploads).values(
                id=upload_id,
                account_id=tenant.account_id,
                region=tenant.region,
                repository_id=repo_id,
                started_at=at,
            )
        )

    def upload_repository(self, upload_id: str) -> int | None:
        v = self._conn.execute(
            select(t.uploads.c.repository_id).where(t.uploads.c.id == upload_id)
        ).scalar()
        return None if v is None else int(v)

    def delete_upload(self, upload_id: str) -> None:
        self._conn.execute(delete(t.uploads).where(t.uploads.c.id == upload_id))

    def upload_ids(self) -> dict[str, datetime]:
        return {r.id: as_utc(r.started_at) for r in self._conn.execute(select(t.uploads))}

    # --- manifests -----------------------------------------------------------------------

    def get_manifest(self, repo_id: int, digest: str) -> ManifestRow | None:
        m = t.manifests
        r = self._conn.execute(
            select(m).where(m.c.repository_id == repo_id, m.c.digest == digest)
        ).first()
        return None if r is None else _manifest(r)

    def manifests_of(self, repo_id: int) -> list[ManifestRow]:
        m = t.manifests
        rows = self._conn.execute(
            select(m).where(m.c.repository_id == repo_id).order_by(m.c.image_pushed_at)
        )
        return [_manifest(row) for row in rows]

    def manifest_content(self, digest: str) -> StoredManifest | None:
        mc = t.manifest_contents
        r = self._conn.execute(
            select(mc.c.content, mc.c.media_type).where(mc.c.digest == digest)
        ).first()
        return None if r is None else StoredManifest(bytes(r.content), r.media_type)

    def store_manifest_content(self, digest: str, media_type: str, content: bytes) -> None:
        if self.manifest_content(digest) is None:  # not sent again when stored
            row = {"digest": digest, "media_type": media_type, "size": len(content)}
            add_missing(self._conn, t.manifest_contents, [row | {"content": content}], ("digest",))

    def insert_manifest(
        self, tenant: Tenant, repo_id: int, manifest: NewManifest, at: datetime
    ) -> bool:
        row = {
            "account_id": tenant.account_id,
            "region": tenant.region,
            "repository_id": repo_id,
            "digest": manifest.digest,
            "media_type": manifest.media_type,
            "artifact_type": manifest.artifact_type,
            "subject_digest": manifest.subject_digest,
            "size": manifest.size,
            "image_pushed_at": at,
            "last_pushed_at": at,
        }
        key = ("repository_id", "digest")
        manifest_id = add_missing_returning(self._conn, t.manifests, row, key, t.manifests.c.id)
        if manifest_id is None:
            return False  # pushed by another request at the same time
        unique = sorted(set(manifest.references))
        if unique:
            self._conn.execute(
                insert(t.manifest_references),
                [{"manifest_id": manifest_id, "digest": d, "kind": k} for d, k in unique],
            )
        return True

    def touch_pushed(self, manifest_id: int, at: datetime) -> None:
        self._conn.execute(
            update(t.manifests).where(t.manifests.c.id == manifest_id).values(last_pushed_at=at)
        )

    def touch_pulled(self, repo_id: int, digest: str, at: datetime) -> None:
        m = t.manifests
        self._conn.execute(
            update(m)
            .where(m.c.repository_id == repo_id, m.c.digest == digest)
            .values(last_pulled_at=at)
        )

    def delete_manifest(self, manifest_id: int) -> None:
        mr = t.manifest_references
        self._conn.execute(delete(mr).where(mr.c.manifest_id == manifest_id))
        self._conn.execute(delete(t.manifests).where(t.manifests.c.id == manifest_id))

    def referrers(self, repo_id: int, subject: str) -> list[ManifestRow]:
        m = t.manifests
        rows = self._conn.execute(
            select(m)
            .where(m.c.repository_id == repo_id, m.c.subject_digest == subject)
            .order_by(m.c.digest)
        )
        return [_manifest(r) for r in rows]

    def orphan_manifest_contents(self) -> list[str]:
        mc = t.manifest_contents
        q = select(mc.c.digest).where(mc.c.digest.not_in(select(t.manifests.c.digest)))
        return [r.digest for r in self._conn.execute(q)]

    def delete_manifest_content(self, digest: str) -> None:
        mc = t.manifest_contents
        self._conn.execute(delete(mc).where(mc.c.digest == digest))

    # --- tags ----------------------------------------------------------------------------

    def tag_digest(self, repo_id: int, tag: str) -> Digest | None:
        v = self._conn.execute(
            select(t.tags.c.manifest_digest).where(
                t.tags.c.repository_id == repo_id, t.tags.c.name == tag
            )
        ).scalar()
        return None if v is None else Digest(v)

    def set_tag(
        self, tenant: Tenant, repo_id: int, tag: str, digest: str, at: datetime
    ) -> Digest | None:
        previous = self.tag_digest(repo_id, tag)
        if previous is None:
            row = {
                "account_id": tenant.account_id,
                "region": tenant.region,
                "repository_id": repo_id,
                "name": tag,
                "manifest_digest": digest,
                "updated_at": at,
            }
            key = ("repository_id", "name")
            if add_missing_returning(self._conn, t.tags, row, key, t.tags.c.name) is not None:
                return None
            # a push of the same tag beside this one set it first
            previous = self.tag_digest(repo_id, tag)
            if previous == digest:
                return None
        if previous != digest:
            self._conn.execute(
                update(t.tags)
                .where(t.tags.c.repository_id == repo_id, t.tags.c.name == tag)
                .values(manifest_digest=digest, updated_at=at)
            )
        return previous

    def delete_tag(self, repo_id: int, tag: str) -> bool:
        n = self._conn.execute(
            delete(t.tags).where(t.tags.c.repository_id == repo_id, t.tags.c.name == tag)
        ).rowcount
        return bool(n)

    def tags_of(self, repo_id: int, digest: str) -> list[str]:
        rows = self._conn.execute(
            select(t.tags.c.name)
            .where(t.tags.c.repository_id == repo_id, t.tags.c.manifest_digest == digest)
            .order_by(t.tags.c.name)
        )
        return [r.name for r in rows]

    def list_tags(self, repo_id: int, after: str | None, limit: int | None) -> list[str]:
        q = select(t.tags.c.name).where(t.tags.c.repository_id == repo_id).order_by(t.tags.c.name)
        if after:
            q = q.where(t.tags.c.name > after)
        if limit is not None:
            q = q.limit(limit)
        return [r.name for r in self._conn.execute(q)]
