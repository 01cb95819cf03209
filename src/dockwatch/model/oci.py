"""The one manifest model: media types, platforms, descriptors, and the validation of a push.

`parse_manifest` is strict about shape and lenient about unknown fields, as the image spec asks:
it reads what the registry must check (referenced blobs and manifests, subject, artifact type).
Reading an image for cataloguing (`dockwatch.image.manifests`) reduces the same documents, built
of the same `Descriptor` and `Platform`, to config + layers, leniently, for what registries hold.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from dockwatch.errors import InvalidInput
from dockwatch.model.digest import Digest, DigestInvalid, compute, parse_digest


class MediaType(StrEnum):
    """Manifest media types dockwatch stores and serves."""

    DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
    DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
    DOCKER_MANIFEST_V1 = "application/vnd.docker.distribution.manifest.v1+json"
    DOCKER_MANIFEST_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
    OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
    OCI_INDEX = "application/vnd.oci.image.index.v1+json"


INDEX_TYPES = frozenset({MediaType.DOCKER_MANIFEST_LIST, MediaType.OCI_INDEX})
SCHEMA1_TYPES = frozenset({MediaType.DOCKER_MANIFEST_V1, MediaType.DOCKER_MANIFEST_V1_SIGNED})


class ManifestInvalid(InvalidInput):
    """A manifest or index cannot be parsed, or is not valid for its media type."""

    def __init__(self, reason: str, media_type: str | None = None) -> None:
        super().__init__(f"invalid manifest ({media_type}): {reason}" if media_type else reason)
        self.reason = reason
        self.media_type = media_type


class ManifestMediaTypeUnsupported(ManifestInvalid):
    """The media type is not one a registry stores as a manifest."""


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI platform; `variant` is normalized (arm64 -> v8, arm -> v7 when absent)."""

    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base

    @classmethod
    def parse(cls, text: str) -> Platform:
        """`linux/amd64`, `linux/arm64/v8`, `linux/arm/v7`."""
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"platform must be os/arch[/variant], got {text!r}")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    @classmethod
    def from_json(cls, raw: Any) -> Platform | None:
        """A descriptor's `platform` object, or None when it names no os and architecture."""
        if isinstance(raw, dict) and raw.get("os") and raw.get("architecture"):
            return cls(str(raw["os"]), str(raw["architecture"]), raw.get("variant") or None)
        return None

    def matches(self, other: Platform) -> bool:
        """Same os and architecture; variants compared after applying the usual defaults."""
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        mine, theirs = _default_variant(self), _default_variant(other)
        return mine is None or theirs is None or mine == theirs


def _default_variant(p: Platform) -> str | None:
    if p.variant:
        return p.variant
    return {"arm64": "v8", "arm": "v7"}.get(p.architecture)


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A content descriptor: what a manifest says about a blob or a child manifest."""

    media_type: str
    digest: Digest
    size: int
    """-1 when a document read leniently gives none (schema 1)."""
    platform: Platform | None = None
    annotations: tuple[tuple[str, str], ...] = ()
    artifact_type: str | None = None
    urls: tuple[str, ...] = ()
    """Foreign layers: where the blob lives instead of the registry."""

    def annotation(self, key: str) -> str | None:
        """One annotation's value, if present."""
        return dict(self.annotations).get(key)


def annotation_pairs(raw: Any) -> tuple[tuple[str, str], ...]:
    """A JSON `annotations` object as sorted (key, value) pairs (empty when not an object)."""
    if not isinstance(raw, dict):
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in raw.items()))


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    """What the registry learns from a manifest's bytes."""

    media_type: str
    digest: Digest
    """The manifest digest clients see (schema 1: of the payload without signatures)."""
    blobs: tuple[Descriptor, ...]
    """Config and layers, which must exist (except foreign layers with `urls`)."""
    manifests: tuple[Descriptor, ...]
    """Child manifests of an index, which must exist."""
    subject: Descriptor | None
    artifact_type: str | None
    """OCI 1.1: `artifactType`, or the config media type for an artifact manifest."""
    config_media_type: str | None
    annotations: dict[str, str] | None
    schema1_name: str | None = None
    schema1_tag: str | None = None


def _descriptor(raw: Any, where: str) -> Descriptor:
    if not isinstance(raw, dict):
        raise ManifestInvalid(f"{where}: descriptor must be an object")
    media_type = raw.get("mediaType")
    digest = raw.get("digest")
    size = raw.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise ManifestInvalid(f"{where}: mediaType missing")
    if not isinstance(digest, str):
        raise ManifestInvalid(f"{where}: digest missing")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestInvalid(f"{where}: size must be a non-negative integer")
    try:
        parsed = parse_digest(digest)
    except DigestInvalid as exc:
        raise ManifestInvalid(f"{where}: {exc}") from exc
    urls = raw.get("urls") or ()
    artifact_type = raw.get("artifactType")
    return Descriptor(
        media_type=media_type,
        digest=parsed,
        size=size,
        platform=Platform.from_json(raw.get("platform")),
        annotations=annotation_pairs(raw.get("annotations")),
        artifact_type=artifact_type if isinstance(artifact_type, str) else None,
        urls=tuple(u for u in urls if isinstance(u, str)) if isinstance(urls, list) else (),
    )


def _load(content: bytes) -> dict[str, Any]:
    # orjson refuses nesting deeper than 1024 with a ValueError; the stdlib parser would recurse
    # into a RecursionError (a 500) on a body of a few hundred kilobytes of brackets
    try:
        doc = orjson.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestInvalid(f"manifest is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ManifestInvalid("manifest must be a JSON object")
    return doc


def detect_media_type(content_type: str | None, doc: dict[str, Any]) -> str:
    """The media type of a pushed manifest: the Content-Type header, else the `mediaType` field.

    A header and a field that disagree are refused, as distribution does.
    """
    header = (content_type or "").split(";")[0].strip().lower()
    field = doc.get("mediaType")
    if header in ("", "application/json", "application/octet-stream"):
        if isinstance(field, str) and field:
            return field
        if doc.get("schemaVersion") == 1:
            return (
                MediaType.DOCKER_MANIFEST_V1_SIGNED
                if "signatures" in doc
                else MediaType.DOCKER_MANIFEST_V1
            )
        if doc.get("schemaVersion") == 2 and "manifests" in doc:
            return MediaType.OCI_INDEX
        if doc.get("schemaVersion") == 2 and "layers" in doc:
            return MediaType.OCI_MANIFEST
        raise ManifestMediaTypeUnsupported("cannot tell the manifest's media type")
    if isinstance(field, str) and field and field != header and header not in SCHEMA1_TYPES:
        raise ManifestInvalid(f"mediaType {field!r} does not match Content-Type {header!r}")
    return header


def parse_manifest(content: bytes, content_type: str | None) -> ParsedManifest:
    """Parse and validate the structure of a pushed manifest."""
    doc = _load(content)
    media_type = detect_media_type(content_type, doc)
    if media_type in SCHEMA1_TYPES:
        return _parse_schema1(content, doc, media_type)
    if media_type not in (
        MediaType.DOCKER_MANIFEST_V2,
        MediaType.DOCKER_MANIFEST_LIST,
        MediaType.OCI_MANIFEST,
        MediaType.OCI_INDEX,
    ):
        raise ManifestMediaTypeUnsupported(f"unsupported manifest media type {media_type!r}")
    if doc.get("schemaVersion") != 2:
        raise ManifestInvalid("schemaVersion must be 2")
    digest = compute(content)
    subject = _descriptor(doc["subject"], "subject") if doc.get("subject") is not None else None
    annotations = doc.get("annotations") if isinstance(doc.get("annotations"), dict) else None
    artifact_type = doc.get("artifactType") if isinstance(doc.get("artifactType"), str) else None
    if media_type in INDEX_TYPES:
        raw = doc.get("manifests")
        if not isinstance(raw, list):
            raise ManifestInvalid("manifests must be a list")
        children = tuple(_descriptor(m, f"manifests[{i}]") for i, m in enumerate(raw))
        return ParsedManifest(
            media_type, digest, (), children, subject, artifact_type, None, annotations
        )
    config = _descriptor(doc.get("config"), "config")
    raw_layers = doc.get("layers")
    if not isinstance(raw_layers, list):
        raise ManifestInvalid("layers must be a list")
    layers = tuple(_descriptor(layer, f"layers[{i}]") for i, layer in enumerate(raw_layers))
    if media_type == MediaType.OCI_MANIFEST and artifact_type is None:
        if config.media_type not in ("application/vnd.oci.image.config.v1+json",):
            artifact_type = config.media_type
    return ParsedManifest(
        media_type,
        digest,
        (config, *layers),
        (),
        subject,
        artifact_type,
        config.media_type,
        annotations,
    )


def _b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def schema1_payload(content: bytes, doc: dict[str, Any]) -> bytes:
    """The signed payload of a schema 1 manifest: the bytes its digest is computed over.

    libtrust's JWS puts `formatLength` and `formatTail` in each signature's protected header: the
    payload is the first `formatLength` bytes of the document followed by the decoded tail.
    """
    signatures = doc.get("signatures")
    if not signatures:
        return content
    if not isinstance(signatures, list) or not isinstance(signatures[0], dict):
        raise ManifestInvalid("signatures must be a list of objects")
    try:
        protected = orjson.loads(_b64url(signatures[0]["protected"]))
        length = int(protected["formatLength"])
        tail = _b64url(protected["formatTail"])
    except (KeyError, ValueError, TypeError) as exc:
        raise ManifestInvalid(f"malformed schema 1 signature header: {exc}") from exc
    if not 0 < length <= len(content):
        raise ManifestInvalid("schema 1 formatLength out of range")
    return content[:length] + tail


def _parse_schema1(content: bytes, doc: dict[str, Any], media_type: str) -> ParsedManifest:
    if doc.get("schemaVersion") != 1:
        raise ManifestInvalid("schemaVersion must be 1")
    fs_layers = doc.get("fsLayers")
    history = doc.get("history")
    if not isinstance(fs_layers, list) or not fs_layers:
        raise ManifestInvalid("fsLayers must be a non-empty list")
    if not isinstance(history, list) or len(history) != len(fs_layers):
        raise ManifestInvalid("history must have one entry per fsLayer")
    blobs: list[Descriptor] = []
    for i, layer in enumerate(fs_layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("blobSum"), str):
            raise ManifestInvalid(f"fsLayers[{i}].blobSum missing")
        try:
            d = parse_digest(layer["blobSum"])
        except DigestInvalid as exc:
            raise ManifestInvalid(f"fsLayers[{i}]: {exc}") from exc
        blobs.append(Descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", d, 0))
    payload = schema1_payload(content, doc)
    name = doc.get("name") if isinstance(doc.get("name"), str) else None
    tag = doc.get("tag") if isinstance(doc.get("tag"), str) else None
    return ParsedManifest(
        MediaType.DOCKER_MANIFEST_V1_SIGNED if "signatures" in doc else media_type,
        compute(payload),
        tuple(blobs),
        (),
        None,
        None,
        None,
        None,
        schema1_name=name,
        schema1_tag=tag,
    )
