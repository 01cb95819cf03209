"""Manifests: push with reference checks, content-negotiated pulls, deletes, referrers.

A push writes the manifest bytes, its rows, its tags and the outbox events in one transaction,
so the scanner sees every completed push exactly once, even across a crash.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from dockwatch.errors import InvalidInput
from dockwatch.model.digest import Digest
from dockwatch.model.events import Event, ManifestDeleted, ManifestPushed, TagChanged
from dockwatch.model.oci import (
    SCHEMA1_TYPES,
    Manifest,
    ManifestInvalid,
    MediaType,
    parse_manifest,
)
from dockwatch.storage.registry_repo import ManifestRow, NewManifest, ReferenceKind, RepositoryRow
from dockwatch.storage.unit_of_work import UnitOfWork
from dockwatch.value_class import frozen

from .context import RegistryContext
from .errors import (
    DigestInvalidError,
    ManifestBlobUnknown,
    ManifestInvalidError,
    ManifestTooLarge,
    ManifestUnknown,
    TagImmutable,
    TagInvalidError,
)
from .names import check_name, check_tag, split_reference


@frozen
class PushResult:
    """What a manifest push stored."""

    digest: Digest
    media_type: str
    subject: Digest | None
    created: bool
    """False for a re-push of a digest the repository already had."""


@frozen
class FetchedManifest:
    """A manifest as served to a client."""

    content: bytes
    media_type: str
    digest: Digest


def accepts(accept: Sequence[str], media_type: str) -> bool:
    """Whether an Accept list admits `media_type` (an empty list admits anything)."""
    if not accept:
        return True
    return any(a in (media_type, "*/*") for a in accept)


class Manifests:
    """Manifest operations of every repository."""

    def __init__(self, ctx: RegistryContext) -> None:
        self.ctx = ctx
        self._pull_marks: dict[tuple[int, str], datetime] = {}
        self._pull_lock = threading.Lock()

    # --- push ---------------------------------------------------------------------------

    def put(
        self,
        name: str,
        reference: str,
        content: bytes,
        content_type: str | None,
        extra_tags: Sequence[str] = (),
    ) -> PushResult:
        """Validate and store a manifest under a tag or digest reference."""
        check_name(name)
        tag, ref_digest = split_reference(reference)
        tags = [check_tag(t) for t in ([tag] if tag else []) + list(extra_tags)]
        if len(content) > self.ctx.max_manifest_bytes:
            raise ManifestTooLarge(
                f"manifest is {len(content)} bytes, over the {self.ctx.max_manifest_bytes} limit"
            )
        try:
            parsed = parse_manifest(content, content_type)
        except ManifestInvalid as exc:
            raise ManifestInvalidError(str(exc)) from exc
        if ref_digest is not None and ref_digest != parsed.digest:
            if ref_digest.split(":")[0] != "sha256":
                parsed = _with_digest(parsed, content, ref_digest)
            else:
                raise DigestInvalidError(
                    f"manifest digest {parsed.digest} does not match {ref_digest}", ref_digest
                )
        if parsed.media_type in SCHEMA1_TYPES:
            if parsed.schema1_name is not None and parsed.schema1_name != name:
                raise ManifestInvalidError(
                    f"schema 1 manifest names repository {parsed.schema1_name!r}, not {name!r}"
                )
            if tag is not None and parsed.schema1_tag is not None and parsed.schema1_tag != tag:
                raise TagInvalidError(f"manifest tag {parsed.schema1_tag!r} does not match {tag!r}")
        now = self.ctx.clock.now()
        with self.ctx.store.write() as uow:
            r = uow.registry.ensure_repository(self.ctx.tenant, name, now)
            self._check_references(uow, r, parsed)
            uow.registry.store_manifest_content(parsed.digest, parsed.media_type, content)
            existing = uow.registry.get_manifest(r.id, parsed.digest)
            if existing is None:
                refs: list[tuple[str, ReferenceKind]] = [
                    (d.digest, "blob") for d in parsed.blobs if not d.urls
                ]
                refs += [(d.digest, "manifest") for d in parsed.manifests]
                new = NewManifest(
                    parsed.digest,
                    parsed.media_type,
                    parsed.artifact_type,
                    parsed.subject.digest if parsed.subject else None,
                    len(content),
                    refs,
                )
                if not uow.registry.insert_manifest(self.ctx.tenant, r.id, new, now):
                    # another request pushed it at the same time: this push is a re-push
                    existing = uow.registry.get_manifest(r.id, parsed.digest)
                    assert existing is not None
            if existing is not None:
                uow.registry.touch_pushed(existing.id, now)
            changed_tags = []
            for t in tags:
                previous = uow.registry.tag_digest(r.id, t)
                if previous == parsed.digest:
                    continue
                if previous is not None and r.image_tag_mutability == "IMMUTABLE":
                    raise TagImmutable(t, name)
                previous = uow.registry.set_tag(self.ctx.tenant, r.id, t, parsed.digest, now)
                if previous is not None and r.image_tag_mutability == "IMMUTABLE":
                    raise TagImmutable(t, name)  # set by a push beside this one: refused whole
                changed_tags.append((t, previous))
            self._event(
                uow,
                ManifestPushed(
                    self.ctx.tenant,
                    now,
                    repository_name=name,
                    image_digest=parsed.digest,
                    media_type=parsed.media_type,
                    artifact_type=parsed.artifact_type,
                    subject_digest=parsed.subject.digest if parsed.subject else None,
                    image_tags=tuple(uow.registry.tags_of(r.id, parsed.digest)),
                    first_push=existing is None,
                    pushed_at=now,
                    image_tag=tag,
                ),
            )
            for t, previous in changed_tags:
                self._tag_event(uow, name, t, previous, parsed.digest, now, with_manifest=t == tag)
        return PushResult(
            parsed.digest,
            parsed.media_type,
            parsed.subject.digest if parsed.subject else None,
            existing is None,
        )

    def _check_references(self, uow: UnitOfWork, r: RepositoryRow, parsed: Manifest) -> None:
        """Every referenced blob and child manifest is in the repository, and every blob has the
        size its descriptor claims (a client trusting the descriptor would read a truncated or
        overlong blob). Schema 1 carries no sizes. A blob counts only when its file is there."""
        missing: list[str] = []
        wrong_size: list[str] = []
        sized = [
            (d, uow.registry.linked_blob_size(r.id, d.digest)) for d in parsed.blobs if not d.urls
        ]
        # a gc killed inside its transaction may leave rows whose file it already removed
        gone = self.ctx.blobs.missing([d.digest for d, size in sized if size is not None])
        for d, size in sized:
            if size is None or d.digest in gone:
                missing.append(d.digest)
            elif parsed.media_type not in SCHEMA1_TYPES and size != d.size:
                wrong_size.append(f"{d.digest} is {size} bytes, its descriptor says {d.size}")
        missing += [
            d.digest for d in parsed.manifests if uow.registry.get_manifest(r.id, d.digest) is None
        ]
        if missing:
            raise ManifestBlobUnknown(list(dict.fromkeys(missing)))
        if wrong_size:
            raise ManifestInvalidError("descriptor size mismatch: " + "; ".join(wrong_size))

    def _event(self, uow: UnitOfWork, event: Event) -> None:
        uow.outbox.append(event)

    def _tag_event(
        self,
        uow: UnitOfWork,
        name: str,
        tag: str,
        previous: str | None,
        digest: str | None,
        at: datetime,
        with_manifest: bool = False,
    ) -> None:
        event = TagChanged(self.ctx.tenant, at, name, tag, previous, digest, with_manifest)
        self._event(uow, event)

    # --- pull ---------------------------------------------------------------------------

    def resolve(self, name: str, reference: str) -> tuple[RepositoryRow, ManifestRow]:
        """The repository and manifest a tag or digest names.

        An unknown repository or a reference that cannot exist (a malformed tag) is
        MANIFEST_UNKNOWN, as distribution answers.
        """
        check_name(name)
        tag, digest = _lookup_reference(reference)
        with self.ctx.store.read() as uow:
            r = uow.registry.get_repository(self.ctx.tenant, name)
            if r is None:
                raise ManifestUnknown(reference)
            if digest is None:
                assert tag is not None
                digest = uow.registry.tag_digest(r.id, tag)
            row = None if digest is None else uow.registry.get_manifest(r.id, digest)
        if row is None:
            raise ManifestUnknown(reference)
        return r, row

    def get(
        self, name: str, reference: str, accept: Sequence[str], *, record_pull: bool
    ) -> FetchedManifest:
        """The manifest for a client with the given Accept list.

        OCI types are served only to clients that accept them; a Docker manifest list fetched
        by tag by a client that does not accept lists gets the linux/amd64 image, as
        distribution does. Everything else is served as stored.
        """
        r, row = self.resolve(name, reference)
        with self.ctx.store.read() as uow:
            stored = uow.registry.manifest_content(row.digest)
        if stored is None:
            raise ManifestUnknown(reference)
        content, media_type = stored.content, stored.media_type
        served = FetchedManifest(content, media_type, row.digest)
        if not accepts(accept, media_type):
            served = self._negotiate(r, reference, served, accept)
        if record_pull:
            self._record_pull(r.id, served.digest)
        return served

    def _negotiate(
        self, r: RepositoryRow, reference: str, m: FetchedManifest, accept: Sequence[str]
    ) -> FetchedManifest:
        if m.media_type == MediaType.OCI_MANIFEST:
            raise ManifestUnknown(reference)
        if m.media_type == MediaType.OCI_INDEX:
            raise ManifestUnknown(reference)
        tag, _ = split_reference(reference)
        if m.media_type == MediaType.DOCKER_MANIFEST_LIST and tag is not None:
            doc = json.loads(m.content)
            for child in doc.get("manifests", []):
                platform = child.get("platform") or {}
                if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
                    with self.ctx.store.read() as uow:
                        stored = uow.registry.manifest_content(child["digest"])
                    if stored is not None:
                        return FetchedManifest(
                            stored.content, stored.media_type, Digest(child["digest"])
                        )
            raise ManifestUnknown(reference)
        return m

    def _record_pull(self, repo_id: int, digest: str) -> None:
        """Write lastPulledAt at most once per `pull_record_seconds` per image."""
        now = self.ctx.clock.now()
        key = (repo_id, digest)
        with self._pull_lock:
            last = self._pull_marks.get(key)
            if last is not None and now - last < timedelta(seconds=self.ctx.pull_record_seconds):
                return
            self._pull_marks[key] = now
        with self.ctx.store.write() as uow:
            uow.registry.touch_pulled(repo_id, digest, now)

    # --- delete -------------------------------------------------------------------------

    def delete(self, name: str, reference: str) -> None:
        """Delete a tag (by tag) or a manifest and every tag pointing at it (by digest)."""
        check_name(name)
        tag, digest = _lookup_reference(reference)
        now = self.ctx.clock.now()
        with self.ctx.store.write() as uow:
            r = uow.registry.get_repository(self.ctx.tenant, name)
            if r is None:
                raise ManifestUnknown(reference)
            if tag is not None:
                previous = uow.registry.tag_digest(r.id, tag)
                if previous is None:
                    raise ManifestUnknown(reference)
                uow.registry.delete_tag(r.id, tag)
                self._tag_event(uow, name, tag, previous, None, now)
                return
            assert digest is not None
            row = uow.registry.get_manifest(r.id, digest)
            if row is None:
                raise ManifestUnknown(reference)
            removed = uow.registry.tags_of(r.id, digest)
            for t in removed:
                uow.registry.delete_tag(r.id, t)
            uow.registry.delete_manifest(row.id)
            self._event(uow, ManifestDeleted(self.ctx.tenant, now, name, digest, tuple(removed)))
            for t in removed:
                self._tag_event(uow, name, t, digest, None, now, with_manifest=True)

    # --- referrers ----------------------------------------------------------------------

    def referrers(self, name: str, subject: Digest, artifact_type: str | None) -> dict[str, Any]:
        """An OCI index of the manifests whose subject is `subject`, optionally filtered."""
        check_name(name)
        descriptors: list[dict[str, Any]] = []
        with self.ctx.store.read() as uow:
            r = uow.registry.get_repository(self.ctx.tenant, name)
            rows = [] if r is None else uow.registry.referrers(r.id, subject)
            for row in rows:
                stored = uow.registry.manifest_content(row.digest)
                doc = json.loads(stored.content) if stored else {}
                kind = _referrer_artifact_type(row, doc)
                if artifact_type is not None and kind != artifact_type:
                    continue
                d: dict[str, Any] = {
                    "mediaType": row.media_type,
                    "digest": row.digest,
                    "size": row.size,
                }
                if kind:
                    d["artifactType"] = kind
                if isinstance(doc.get("annotations"), dict) and doc["annotations"]:
                    d["annotations"] = doc["annotations"]
                descriptors.append(d)
        return {
            "schemaVersion": 2,
            "mediaType": MediaType.OCI_INDEX.value,
            "manifests": descriptors,
        }


def _referrer_artifact_type(row: ManifestRow, doc: dict[str, Any]) -> str | None:
    """A referrer's artifact type: its `artifactType`, else its config's media type (image
    spec 1.1: the referrers list must fall back to the config descriptor's `mediaType`)."""
    if row.artifact_type:
        return row.artifact_type
    config = doc.get("config")
    if isinstance(config, dict) and isinstance(config.get("mediaType"), str):
        return str(config["mediaType"])
    return None


def _lookup_reference(reference: str) -> tuple[str | None, Digest | None]:
    """Split a reference for a read or delete: a malformed one names nothing (MANIFEST_UNKNOWN)."""
    try:
        return split_reference(reference)
    except InvalidInput as exc:
        raise ManifestUnknown(reference) from exc


def _with_digest(parsed: Manifest, content: bytes, digest: Digest) -> Manifest:
    """Re-key a manifest pushed by a non-sha256 digest, after checking that digest."""
    algorithm, _, encoded = digest.partition(":")
    if hashlib.new(algorithm, content).hexdigest() != encoded:
        raise DigestInvalidError(f"manifest does not match {digest}", digest)
    return replace(parsed, digest=digest)
