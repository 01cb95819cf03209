"""Where images come from, skopeo-style: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
`docker-archive:FILE`, `docker://HOST[:PORT]/REPO[:TAG|@DIGEST]` and `dockwatch:REPO[:REF]`.

Every transport is a `BlobReader` (manifest by reference, blob by digest; `blobs.py`), on disk
(`layouts.py`) or remote (`remote.py`); `resolve()` turns a reader and a reference into a
`ResolvedImage` (ordered layers plus config), whatever the manifest format. dockwatch's own
blob store implements `BlobReader` too, so the server catalogues stored images without an HTTP
round trip.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import field
from typing import TYPE_CHECKING, Any

from dockwatch.image.blobs import MAX_MANIFEST_BYTES, BlobReader, check_digest
from dockwatch.image.blobs import diff_ids as _diff_ids
from dockwatch.image.blobs import read_small as _read_small
from dockwatch.image.errors import ImageError, ManifestInvalid, NotRunnable, SourceInvalid
from dockwatch.image.layouts import DockerArchive, OciArchive, OciLayout
from dockwatch.image.manifests import resolve_kind, select_platform
from dockwatch.image.remote import RegistryClient, RegistryRef
from dockwatch.model.digest import Digest
from dockwatch.model.oci import (
    ImageIndex,
    ImageManifest,
    Platform,
    entry_artifact_kind,
    manifest_digest,
    parse_manifest,
)
from dockwatch.value_class import frozen

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)


@frozen
class LayerRef:
    """One layer of a resolved image, base first."""

    digest: Digest
    """Compressed blob digest: the layer's identity everywhere in dockwatch."""
    media_type: str
    size: int
    diff_id: Digest | None = None
    """Uncompressed digest from the config (None for schema 1)."""


@frozen
class ResolvedImage:
    """A runnable single-platform image, ready to be catalogued."""

    reference: str
    manifest_digest: Digest
    media_type: str
    layers: tuple[LayerRef, ...]
    platform: Platform | None = None
    config: dict[str, Any] = field(default_factory=dict, compare=False)


@frozen
class SkippedArtifact:
    """An index entry or manifest that is not a runnable image, and what it is."""

    digest: Digest
    kind: str
    media_type: str


def resolve(
    reader: BlobReader, ref: str, platform: Platform | None = None, reference: str | None = None
) -> ResolvedImage:
    """Follow `ref` through an index (selecting `platform`) to a runnable image.

    Raises `NotRunnable` for artifacts and `PlatformNotFound` when the index lacks the platform.
    """
    data, media_type = reader.manifest(ref)
    parsed = parse_manifest(data, media_type, strict=False)
    digest = manifest_digest(data)
    if isinstance(parsed, ImageIndex):
        entry = select_platform(parsed, platform)
        data, media_type = reader.manifest(entry.digest)
        digest = entry.digest
        parsed = parse_manifest(data, media_type or entry.media_type, strict=False)
        if isinstance(parsed, ImageIndex):
            raise ManifestInvalid("nested index selected for a platform", parsed.media_type)
        return _image(reader, reference or ref, digest, parsed, entry.platform)
    return _image(reader, reference or ref, digest, parsed, None)


def iter_images(reader: BlobReader, ref: str) -> Iterator[ResolvedImage | SkippedArtifact]:
    """Every platform image under `ref` (the server treats each as its own image), with the
    artifacts found beside them reported as skipped."""
    data, media_type = reader.manifest(ref)
    parsed = parse_manifest(data, media_type, strict=False)
    if isinstance(parsed, ImageManifest):
        try:
            yield _image(reader, ref, manifest_digest(data), parsed, None)
        except NotRunnable as exc:
            yield SkippedArtifact(manifest_digest(data), exc.kind, exc.media_type)
        return
    for entry in parsed.manifests:
        kind = entry_artifact_kind(entry)
        if kind is not None:
            yield SkippedArtifact(entry.digest, kind, entry.media_type)
            continue
        child, child_type = reader.manifest(entry.digest)
        manifest = parse_manifest(child, child_type or entry.media_type, strict=False)
        if isinstance(manifest, ImageIndex):
            yield SkippedArtifact(entry.digest, "nested-index", manifest.media_type)
            continue
        try:
            yield _image(reader, ref, entry.digest, manifest, entry.platform)
        except NotRunnable as exc:
            yield SkippedArtifact(entry.digest, exc.kind, exc.media_type)


def _image(
    reader: BlobReader,
    reference: str,
    digest: Digest,
    manifest: ImageManifest,
    platform: Platform | None,
) -> ResolvedImage:
    resolve_kind(manifest)
    config: dict[str, Any] = {}
    if manifest.config is not None:
        raw = _read_small(reader.open_blob(manifest.config.digest), "config")
        check_digest(raw, manifest.config.digest, "config")  # its diff_ids and platform are used
        try:
            loaded = json.loads(raw)
        except ValueError as exc:
            raise ManifestInvalid(f"config {manifest.config.digest} is not JSON") from exc
        config = loaded if isinstance(loaded, dict) else {}
    elif manifest.schema1_config is not None:
        config = manifest.schema1_config
    diff_ids = _diff_ids(config)
    if diff_ids and len(diff_ids) != len(manifest.layers):
        logger.warning("config has %d diff_ids for %d layers", len(diff_ids), len(manifest.layers))
        diff_ids = []
    layers = tuple(
        LayerRef(d.digest, d.media_type, d.size, diff_ids[i] if diff_ids else None)
        for i, d in enumerate(manifest.layers)
    )
    if platform is None and config.get("os") and config.get("architecture"):
        platform = Platform(str(config["os"]), str(config["architecture"]), config.get("variant"))
    return ResolvedImage(reference, digest, manifest.media_type, layers, platform, config)


# --------------------------------------------------------------------------- source strings

#: `dockwatch:REPO` readers come from the server's store; the composition root installs this.
LocalStore = Callable[[str], BlobReader]


@frozen
class Source:
    """A parsed source string: the reader and the reference to resolve in it."""

    reader: BlobReader
    ref: str
    display: str


def open_source(
    spec: str,
    creds: tuple[str, str] | None = None,
    tls_verify: bool = True,
    local_store: LocalStore | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Source:
    """Parse a skopeo-style source string into a reader and a reference."""
    transport_name, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise SourceInvalid(spec, "expected TRANSPORT:LOCATION")
    if transport_name == "docker":
        if not rest.startswith("//"):
            raise SourceInvalid(spec, "docker transport wants docker://HOST/REPO")
        ref = RegistryRef.parse(rest[2:])
        client = RegistryClient(ref, creds, tls_verify, transport)
        return Source(client, ref.reference, spec)
    if transport_name in ("oci", "oci-archive", "docker-archive"):
        path, _, tag = rest.partition(":")
        if transport_name == "oci":
            return Source(OciLayout(path), tag, spec)
        if transport_name == "oci-archive":
            return Source(OciArchive(path), tag, spec)
        return Source(DockerArchive(path), tag, spec)
    if transport_name == "dockwatch":
        if local_store is None:
            raise SourceInvalid(spec, "the dockwatch: transport needs the server's blob store")
        repo, local_ref = _split_repo_ref(rest)
        return Source(local_store(repo), local_ref, spec)
    raise SourceInvalid(spec, f"unknown transport {transport_name!r}")


def _split_repo_ref(text: str) -> tuple[str, str]:
    if "@" in text:
        repo, digest = text.split("@", 1)
        return repo, digest
    slash, colon = text.rfind("/"), text.rfind(":")
    if colon > slash:
        return text[:colon], text[colon + 1 :]
    return text, "latest"


__all__ = [
    "MAX_MANIFEST_BYTES",
    "BlobReader",
    "DockerArchive",
    "ImageError",
    "LayerRef",
    "OciArchive",
    "OciLayout",
    "RegistryClient",
    "RegistryRef",
    "ResolvedImage",
    "SkippedArtifact",
    "Source",
    "iter_images",
    "open_source",
    "resolve",
]
