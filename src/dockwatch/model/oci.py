"""The one manifest model and parser: manifests, indexes and Docker schema 1, for a push and for
reading an image.

`parse_manifest` is strict about shape and lenient about unknown fields, as the image spec asks:
it reads what the registry must check (referenced blobs and manifests, subject, artifact type).
With `strict=False` it reads what registries, layouts and archives hold (a missing config or size
is tolerated) for cataloguing, into the same `ImageManifest` / `ImageIndex`.
"""

from __future__ import annotations

import base64
from dataclasses import field
from typing import Any, ClassVar

import orjson

from dockwatch.model.digest import Digest, DigestInvalid, compute, parse_digest
from dockwatch.model.oci_values import (
    DOCKER_CONFIG,
    IMAGE_CONFIG_TYPES,
    INDEX_TYPES,
    LAYER_TYPES,
    OCI_CONFIG,
    SCHEMA1_LAYER,
    SCHEMA1_TYPES,
    Descriptor,
    ManifestInvalid,
    ManifestMediaTypeUnsupported,
    MediaType,
    Platform,
    annotation_pairs,
    entry_artifact_kind,
    kind_from_hint,
)
from dockwatch.value_class import frozen

__all__ = [
    "DOCKER_CONFIG",
    "IMAGE_CONFIG_TYPES",
    "INDEX_TYPES",
    "LAYER_TYPES",
    "OCI_CONFIG",
    "SCHEMA1_LAYER",
    "SCHEMA1_TYPES",
    "Descriptor",
    "ImageIndex",
    "ImageManifest",
    "Manifest",
    "ManifestInvalid",
    "ManifestMediaTypeUnsupported",
    "MediaType",
    "Platform",
    "Schema1",
    "annotation_pairs",
    "detect_media_type",
    "entry_artifact_kind",
    "manifest_digest",
    "parse_manifest",
    "schema1_payload",
]


@frozen
class Schema1:
    """What only a Docker schema 1 manifest carries."""

    name: str | None
    tag: str | None
    fs_layers: tuple[Descriptor, ...]
    """Every `blobSum`, newest first as the document lists them, empty layers included."""
    config: dict[str, Any] | None = field(default=None, compare=False)
    """The top `v1Compatibility` object (holds architecture, os, config)."""


@frozen
class ImageManifest:
    """A single-platform manifest: config + layers (base layer first)."""

    media_type: str
    digest: Digest
    """The manifest digest clients see (schema 1: of the payload without signatures)."""
    config: Descriptor | None
    """None for schema 1, whose config is embedded in `history`."""
    layers: tuple[Descriptor, ...]
    """Schema 1: the layers a runtime unpacks (empty `throwaway` layers dropped)."""
    declared_artifact_type: str | None = None
    """The document's `artifactType`."""
    subject: Descriptor | None = None
    annotations: dict[str, Any] | None = field(default=None, compare=False)
    schema1: Schema1 | None = None

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        """Every blob referenced, which a registry must hold (except foreign layers with `urls`)."""
        if self.schema1 is not None:
            return self.schema1.fs_layers
        return self.layers if self.config is None else (self.config, *self.layers)

    @property
    def manifests(self) -> tuple[Descriptor, ...]:
        """Child manifests: none."""
        return ()

    @property
    def artifact_type(self) -> str | None:
        """OCI 1.1: `artifactType`, or the config media type for an artifact manifest."""
        if self.declared_artifact_type is not None:
            return self.declared_artifact_type
        if self.media_type == MediaType.OCI_MANIFEST and self.config is not None:
            return None if self.config.media_type == OCI_CONFIG else self.config.media_type
        return None

    @property
    def schema1_name(self) -> str | None:
        return self.schema1.name if self.schema1 is not None else None

    @property
    def schema1_tag(self) -> str | None:
        return self.schema1.tag if self.schema1 is not None else None

    @property
    def schema1_config(self) -> dict[str, Any] | None:
        return self.schema1.config if self.schema1 is not None else None

    def artifact_kind(self) -> str | None:
        """None for a runnable image, else what kind of artifact this manifest carries."""
        if self.media_type in SCHEMA1_TYPES:
            return None
        config_type = self.config.media_type if self.config else ""
        if self.declared_artifact_type or config_type not in IMAGE_CONFIG_TYPES:
            hint = " ".join(
                [
                    self.declared_artifact_type or "",
                    config_type,
                    *(layer.media_type for layer in self.layers),
                ]
            )
            return kind_from_hint(hint)
        if any(layer.media_type not in LAYER_TYPES for layer in self.layers):
            return kind_from_hint(" ".join(layer.media_type for layer in self.layers))
        return None


@frozen
class ImageIndex:
    """An OCI index or Docker manifest list."""

    media_type: str
    digest: Digest
    manifests: tuple[Descriptor, ...]
    artifact_type: str | None = None
    subject: Descriptor | None = None
    annotations: dict[str, Any] | None = field(default=None, compare=False)

    blobs: ClassVar[tuple[Descriptor, ...]] = ()
    schema1_name: ClassVar[str | None] = None
    schema1_tag: ClassVar[str | None] = None

    def runnable(self) -> tuple[Descriptor, ...]:
        """Entries that are platform images: not attestations, not `unknown/unknown`."""
        return tuple(d for d in self.manifests if entry_artifact_kind(d) is None)

    def entry_for(self, wanted: Platform) -> Descriptor | None:
        """The runnable entry for `wanted`; a single entry without a platform is the only image."""
        candidates = self.runnable()
        for desc in candidates:
            if desc.platform is not None and wanted.matches(desc.platform):
                return desc
        if len(candidates) == 1 and candidates[0].platform is None:
            return candidates[0]
        return None


Manifest = ImageManifest | ImageIndex


def _descriptor(raw: Any, where: str, strict: bool = True, kind: str | None = None) -> Descriptor:
    """One descriptor. Strict (a push) requires `mediaType` and a non-negative integer `size`;
    lenient (reading what registries hold) takes a missing media type as "" and size as -1."""
    if not isinstance(raw, dict):
        raise ManifestInvalid(f"{where}: descriptor must be an object", kind)
    media_type: str
    size: int
    if strict:
        pushed_type, pushed_size = raw.get("mediaType"), raw.get("size")
        if not isinstance(pushed_type, str) or not pushed_type:
            raise ManifestInvalid(f"{where}: mediaType missing")
        if not isinstance(raw.get("digest"), str):
            raise ManifestInvalid(f"{where}: digest missing")
        if not isinstance(pushed_size, int) or isinstance(pushed_size, bool) or pushed_size < 0:
            raise ManifestInvalid(f"{where}: size must be a non-negative integer")
        media_type, size = pushed_type, pushed_size
    try:
        digest = parse_digest(str(raw["digest"]))
        if not strict:
            media_type, size = str(raw.get("mediaType", "")), int(raw.get("size", -1))
    except (KeyError, TypeError, ValueError, DigestInvalid) as exc:
        if strict:
            raise ManifestInvalid(f"{where}: {exc}") from exc
        raise ManifestInvalid(f"bad descriptor {raw!r:.200}: {exc}", kind) from exc
    urls = raw.get("urls") or ()
    artifact_type = raw.get("artifactType")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        platform=Platform.from_json(raw.get("platform")),
        annotations=annotation_pairs(raw.get("annotations")),
        artifact_type=artifact_type if isinstance(artifact_type, str) else None,
        urls=tuple(u for u in urls if isinstance(u, str)) if isinstance(urls, list) else (),
    )


def _list(doc: dict[str, Any], key: str, strict: bool, kind: str | None) -> list[Any]:
    """A list member; lenient reading also requires objects in it and takes a missing one as []."""
    value = doc.get(key)
    if value is None and not strict and key in ("layers", "history"):
        return []
    if strict and not isinstance(value, list):
        raise ManifestInvalid(f"{key} must be a list")
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ManifestInvalid(f"{key!r} must be a list of objects", kind)
    return value


def _load(content: bytes, kind: str | None = None) -> dict[str, Any]:
    # orjson refuses nesting deeper than 1024 with a ValueError; the stdlib parser would recurse
    # into a RecursionError (a 500) on a body of a few hundred kilobytes of brackets
    try:
        doc = orjson.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestInvalid(f"manifest is not valid JSON: {exc}", kind) from exc
    if not isinstance(doc, dict):
        raise ManifestInvalid("manifest must be a JSON object", kind)
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


def parse_manifest(
    content: bytes, content_type: str | None = None, *, strict: bool = True
) -> ImageManifest | ImageIndex:
    """Parse a manifest or an index.

    `strict` validates a push: the Content-Type and the document's `mediaType` must agree, the
    media type must be one a registry stores, every descriptor complete. Lenient
    (`strict=False`) reads images from layouts, archives and remote registries: the document's own
    `mediaType`/`schemaVersion` decide over a generic `content_type`, and a missing config, layer
    list or size is tolerated. Anything else unreadable is `ManifestInvalid` in both modes.
    """
    doc = _load(content, None if strict else content_type)
    if strict:
        media_type = detect_media_type(content_type, doc)
    else:
        declared = doc.get("mediaType")
        media_type = declared if isinstance(declared, str) and declared else _clean(content_type)
    if media_type in SCHEMA1_TYPES or (not strict and doc.get("schemaVersion") == 1):
        return _parse_schema1(content, doc, media_type or MediaType.DOCKER_MANIFEST_V1, strict)
    if strict and media_type not in _STORED_TYPES:
        raise ManifestMediaTypeUnsupported(f"unsupported manifest media type {media_type!r}")
    if strict and doc.get("schemaVersion") != 2:
        raise ManifestInvalid("schemaVersion must be 2")
    digest = compute(content)
    subject = _subject(doc, strict, media_type)
    annotations = doc.get("annotations") if isinstance(doc.get("annotations"), dict) else None
    artifact_type = doc.get("artifactType") if isinstance(doc.get("artifactType"), str) else None
    if media_type in INDEX_TYPES or (not strict and not media_type and "manifests" in doc):
        raw = _list(doc, "manifests", strict, media_type)
        children = tuple(
            _descriptor(m, f"manifests[{i}]", strict, media_type) for i, m in enumerate(raw)
        )
        return ImageIndex(
            media_type or MediaType.OCI_INDEX, digest, children, artifact_type, subject, annotations
        )
    if not strict and not (
        media_type in (MediaType.OCI_MANIFEST, MediaType.DOCKER_MANIFEST_V2)
        or (not media_type and "layers" in doc)
        or "config" in doc
    ):
        raise ManifestInvalid(f"unknown manifest type {media_type!r}", content_type)
    raw_config = doc.get("config")
    config = (
        _descriptor(raw_config, "config", strict, media_type)
        if strict or isinstance(raw_config, dict)
        else None
    )
    raw_layers = _list(doc, "layers", strict, media_type)
    layers = tuple(
        _descriptor(layer, f"layers[{i}]", strict, media_type) for i, layer in enumerate(raw_layers)
    )
    return ImageManifest(
        media_type or MediaType.OCI_MANIFEST,
        digest,
        config,
        layers,
        artifact_type,
        subject,
        annotations,
    )


_STORED_TYPES = frozenset(
    {
        MediaType.DOCKER_MANIFEST_V2,
        MediaType.DOCKER_MANIFEST_LIST,
        MediaType.OCI_MANIFEST,
        MediaType.OCI_INDEX,
    }
)


def _clean(media_type: str | None) -> str:
    return (media_type or "").split(";")[0].strip()


def _subject(doc: dict[str, Any], strict: bool, kind: str) -> Descriptor | None:
    """OCI 1.1 `subject`; reading an image ignores one it cannot read (only a push needs it)."""
    if doc.get("subject") is None:
        return None
    try:
        return _descriptor(doc["subject"], "subject", strict, kind)
    except ManifestInvalid:
        if strict:
            raise
        return None


def manifest_digest(data: bytes) -> Digest:
    """The digest a registry gives these manifest bytes.

    For a signed schema 1 manifest (JWS "pretty" form) that is the digest of the payload without
    its `signatures` (`schema1_payload`); anything unreadable is digested as is.
    """
    try:
        doc = orjson.loads(data)
    except ValueError:
        return compute(data)
    if not isinstance(doc, dict) or doc.get("schemaVersion") != 1:
        return compute(data)
    try:
        return compute(schema1_payload(data, doc))
    except ManifestInvalid:
        return compute(data)


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


def _parse_schema1(
    content: bytes, doc: dict[str, Any], media_type: str, strict: bool
) -> ImageManifest:
    """Schema 1 lists layers newest first, paired with `history`; `throwaway` entries are empty
    layers (metadata-only Dockerfile steps): referenced, but not among the image's layers."""
    if strict and doc.get("schemaVersion") != 1:
        raise ManifestInvalid("schemaVersion must be 1")
    kind = None if strict else media_type
    fs_layers = _list(doc, "fsLayers", strict, kind)
    history = _list(doc, "history", strict, kind)
    if strict and not fs_layers:
        raise ManifestInvalid("fsLayers must be a non-empty list")
    if (strict or history) and len(history) != len(fs_layers):
        raise ManifestInvalid("history must have one entry per fsLayer", kind)
    blob_sums = tuple(_blob_sum(layer, i, kind) for i, layer in enumerate(fs_layers))
    compat = [_v1_compatibility(entry, i, kind) for i, entry in enumerate(history)]
    layers = tuple(
        blob_sums[i]
        for i in reversed(range(len(blob_sums)))
        if not (compat and compat[i].get("throwaway"))
    )
    try:
        digest = compute(schema1_payload(content, doc))
    except ManifestInvalid:
        if strict:
            raise
        digest = compute(content)
    name = doc.get("name") if isinstance(doc.get("name"), str) else None
    tag = doc.get("tag") if isinstance(doc.get("tag"), str) else None
    if strict and "signatures" in doc:
        media_type = MediaType.DOCKER_MANIFEST_V1_SIGNED
    details = Schema1(name, tag, blob_sums, compat[0] if compat else None)
    return ImageManifest(media_type, digest, None, layers, schema1=details)


def _blob_sum(layer: Any, i: int, kind: str | None) -> Descriptor:
    blob_sum = layer.get("blobSum") if isinstance(layer, dict) else None
    if not isinstance(blob_sum, str):
        raise ManifestInvalid(f"fsLayers[{i}].blobSum missing", kind)
    try:
        return Descriptor(SCHEMA1_LAYER, parse_digest(blob_sum), -1)
    except DigestInvalid as exc:
        raise ManifestInvalid(f"fsLayers[{i}]: {exc}", kind) from exc


def _v1_compatibility(entry: Any, i: int, kind: str | None) -> dict[str, Any]:
    raw = entry.get("v1Compatibility", "{}") if isinstance(entry, dict) else "{}"
    try:
        loaded = orjson.loads(str(raw))
    except ValueError as exc:
        raise ManifestInvalid(f"history[{i}] is not JSON", kind) from exc
    return loaded if isinstance(loaded, dict) else {}
