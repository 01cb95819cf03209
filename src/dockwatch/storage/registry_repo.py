"""The storage interface for repositories, blob links, manifests, tags, uploads, pulls.

Services depend on this protocol only; `storage/sql/registry_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol

from dockwatch.model.digest import Digest
from dockwatch.model.identity import Tenant
from dockwatch.value_class import frozen

ReferenceKind = Literal["blob", "manifest"]


@frozen
class RepositoryRow:
    """A repository and its per-repository settings."""

    id: int
    name: str
    created_at: datetime
    image_tag_mutability: str
    scan_on_push: bool


@frozen
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


@frozen
class StoredManifest:
    """A manifest's bytes as pushed, with the media type it was stored under."""

    content: bytes
    media_type: str


@frozen
class NewManifest:
    """A manifest to add to a repository, with what it references (kept from gc)."""

    digest: Digest
    media_type: str
    artifact_type: str | None
    subject_digest: str | None
    size: int
    references: Sequence[tuple[str, ReferenceKind]]


class RegistryRepo(Protocol):
    """Repositories, blob links, manifests, tags, uploads, pulls."""

    # repositories
    def get_repository(self, tenant: Tenant, name: str) -> RepositoryRow | None:
        """The repository called `name`, or None."""
        ...

    def ensure_repository(self, tenant: Tenant, name: str, at: datetime) -> RepositoryRow:
        """The repository called `name`, created on first use."""
        ...

    def repository_rows(self, tenant: Tenant) -> list[RepositoryRow]:
        """Every repository of the tenant with its settings, by name."""
        ...

    def list_repositories(self, tenant: Tenant, after: str | None, limit: int | None) -> list[str]:
        """Repository names in lexical order after `after`."""
        ...

    def repository_name(self, repo_id: int) -> str:
        """The name of a repository by id ("" when it is gone)."""
        ...

    def set_repository_settings(
        self, repo_id: int, *, tag_mutability: str | None = None, scan_on_push: bool | None = None
    ) -> None:
        """Store per-repository settings (tag mutability, basic scan-on-push)."""
        ...

    # blobs
    def blob_size(self, digest: str) -> int | None:
        """Size of a blob known to the registry (in any repository), or None."""
        ...

    def linked_blob_size(self, repo_id: int, digest: str) -> int | None:
        """Size of `digest` if linked to the repository, else None."""
        ...

    def link_blob(self, tenant: Tenant, repo_id: int, digest: str, size: int, at: datetime) -> None:
        """Record the blob (if new) and make it visible in the repository."""
        ...

    def unlink_blob(self, repo_id: int, digest: str) -> bool:
        """Hide a blob from a repository; True if it was linked."""
        ...

    def unreferenced_blobs(self, created_before: datetime) -> list[str]:
        """Blobs no manifest references that are older than the grace time."""
        ...

    def forget_blob(self, digest: str) -> None:
        """Drop a blob's rows (gc, before deleting the file)."""
        ...

    def blob_digests(self) -> set[str]:
        """Every blob the database knows."""
        ...

    # uploads
    def create_upload(self, tenant: Tenant, upload_id: str, repo_id: int, at: datetime) -> None:
        """Record a new upload session."""
        ...

    def upload_repository(self, upload_id: str) -> int | None:
        """The repository an upload belongs to, or None if unknown."""
        ...

    def delete_upload(self, upload_id: str) -> None:
        """Forget an upload session."""
        ...

    def upload_ids(self) -> dict[str, datetime]:
        """Every upload session with its start time."""
        ...

    # manifests
    def get_manifest(self, repo_id: int, digest: str) -> ManifestRow | None:
        """The manifest `digest` in the repository, or None."""
        ...

    def manifests_of(self, repo_id: int) -> list[ManifestRow]:
        """The manifests stored in a repository, oldest push first."""
        ...

    def manifest_content(self, digest: str) -> StoredManifest | None:
        """Stored bytes and media type of a manifest."""
        ...

    def store_manifest_content(self, digest: str, media_type: str, content: bytes) -> None:
        """Keep a manifest's bytes (once per digest, shared by repositories)."""
        ...

    def insert_manifest(
        self, tenant: Tenant, repo_id: int, manifest: NewManifest, at: datetime
    ) -> bool:
        """Add a manifest to a repository with the digests it references; False when the
        repository holds it already (pushed by another request at the same time)."""
        ...

    def touch_pushed(self, manifest_id: int, at: datetime) -> None:
        """A re-push: move `last_pushed_at`."""
        ...

    def touch_pulled(self, repo_id: int, digest: str, at: datetime) -> None:
        """Record a pull."""
        ...

    def delete_manifest(self, manifest_id: int) -> None:
        """Remove a manifest row and its references."""
        ...

    def referrers(self, repo_id: int, subject: str) -> list[ManifestRow]:
        """Manifests of the repository whose subject is `subject`, by digest."""
        ...

    def orphan_manifest_contents(self) -> list[str]:
        """Manifest bytes no repository uses any more."""
        ...

    def delete_manifest_content(self, digest: str) -> None:
        """Forget a manifest's bytes."""
        ...

    # tags
    def tag_digest(self, repo_id: int, tag: str) -> Digest | None:
        """The digest a tag points at."""
        ...

    def set_tag(
        self, tenant: Tenant, repo_id: int, tag: str, digest: str, at: datetime
    ) -> Digest | None:
        """Point `tag` at `digest`; returns the digest it pointed at before (None if new),
        which may be one a push beside this one set after the caller last read it."""
        ...

    def delete_tag(self, repo_id: int, tag: str) -> bool:
        """Remove a tag; True if it existed."""
        ...

    def tags_of(self, repo_id: int, digest: str) -> list[str]:
        """Tags pointing at a manifest."""
        ...

    def list_tags(self, repo_id: int, after: str | None, limit: int | None) -> list[str]:
        """Tag names in lexical order after `after`."""
        ...
