"""Manifest formats: Docker v2 schema 2, OCI, Docker schema 1 (signed or not), indexes.

Everything is reduced to one shape, `ImageManifest` (config + ordered layers, base first), or
`ImageIndex` (platform entries). Artifacts stored in registries next to images (cosign
signatures, SBOM and provenance attestations, Helm charts, `unknown/unknown` index entries) are
recognised here so that callers skip them instead of failing on them.
"""

from __future__ import annotations

import platform as _platform
from dataclasses import dataclass, field
from typing import Any

import orjson

from dockwatch.image.errors import NotRunnable, PlatformNotFound
from dockwatch.model.digest import Digest, DigestInvalid, compute, parse_digest
from dockwatch.model.oci import (
    Descriptor,
    ManifestInvalid,
    MediaType,
    Platform,
    annotation_pairs,
    schema1_payload,
)

__all__ = ["Descriptor", "ImageIndex", "ImageManifest", "Platform", "parse_manifest"]

OCI_MANIFEST = MediaType.OCI_MANIFEST.value
OCI_INDEX = MediaType.OCI_INDEX.value
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = MediaType.DOCKER_MANIFEST_V2.value
DOCKER_LIST = MediaType.DOCKER_MANIFEST_LIST.value
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_SCHEMA1 = MediaType.DOCKER_MANIFEST_V1.value
DOCKER_SCHEMA1_SIGNED = MediaType.DOCKER_MANIFEST_V1_SIGNED.value

#: Accept header value for registries: every manifest type this module parses.
ACCEPT = (
    OCI_INDEX,
    OCI_MANIFEST,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    DOCKER_SCHEMA1_SIGNED,
    DOCKER_SCHEMA1,
)

IMAGE_CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})

#: Layer media types a container runtime unpacks (compression is sniffed from bytes anyway).
LAYER_TYPES = frozenset(
    {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar.zstd",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    }
)

#: Substrings of config/layer/artifact media types and the artifact kind they reveal.
_ARTIFACT_HINTS: tuple[tuple[str, str], ...] = (
    ("cosign.simplesigning", "signature"),
    ("notary.signature", "signature"),
    ("sigstore.bundle", "signature"),
    ("in-toto", "attestation"),
    ("dsse.envelope", "attestation"),
    ("spdx", "sbom"),
    ("cyclonedx", "sbom"),
    ("syft", "sbom"),
    ("helm", "helm-chart"),
    ("wasm", "wasm"),
)


_MACHINES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def host_platform() -> Platform:
    """The platform of this machine, the default when an index must be resolved."""
    machine = _platform.machine().lower()
    if machine.startswith("armv7"):
        return Platform("linux", "arm", "v7")
    return Platform("linux", _MACHINES.get(machine, machine))


@dataclass(frozen=True, slots=True)
class ImageManifest:
    """A single-platform manifest reduced to config + layers (base layer first)."""

    media_type: str
    config: Descriptor | None
    """None for schema 1, whose config is embedded in `history`."""
    layers: tuple[Descriptor, ...]
    artifact_type: str | None = None
    schema1_config: dict[str, Any] | None = field(default=None, compare=False)
    """Schema 1 only: the top `v1Compatibility` object (holds architecture, os, config)."""

    def artifact_kind(self) -> str | None:
        """None for a runnable image, else what kind of artifact this manifest carries."""
        if self.media_type in (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED):
            return None
        config_type = self.config.media_type if self.config else ""
        if self.artifact_type or config_type not in IMAGE_CONFIG_TYPES:
            hint = " ".join(
                [
                    self.artifact_type or "",
                    config_type,
                    *(layer.media_type for layer in self.layers),
                ]
            )
            return _kind_from_hint(hint)
        if any(layer.media_type not in LAYER_TYPES for layer in self.layers):
            return _kind_from_hint(" ".join(layer.media_type for layer in self.layers))
        return None


def _kind_from_hint(hint: str) -> str:
    hint = hint.lower()
    for needle, kind in _ARTIFACT_HINTS:
        if needle in hint:
            return kind
    return "artifact"


@dataclass(frozen=True, slots=True)
class ImageIndex:
    """An OCI index or Docker manifest list."""

    media_type: str
    manifests: tuple[Descriptor, ...]

    def runnable(self) -> tuple[Descriptor, ...]:
        """Entries that are platform images: not attestations, not `unknown/unknown`."""
        return tuple(d for d in self.manifests if entry_artifact_kind(d) is None)

    def select(self, wanted: Platform | None = None) -> Descriptor:
        """The entry for `wanted` (default: this host's platform)."""
        target = wanted or host_platform()
        candidates = self.runnable()
        for desc in candidates:
            if desc.platform is not None and target.matches(desc.platform):
                return desc
        # A single entry without a platform is the only image there is.
        if len(candidates) == 1 and candidates[0].platform is None:
            return candidates[0]
        available = tuple(str(d.platform) for d in candidates if d.platform is not None)
        raise PlatformNotFound(str(target), available)


def entry_artifact_kind(desc: Descriptor) -> str | None:
    """Kind of artifact an index entry points at, from its descriptor alone, else None."""
    if desc.annotation("vnd.docker.reference.type") == "attestation-manifest":
        return "attestation"
    if desc.platform is not None and (desc.platform.os, desc.platform.architecture) == (
        "unknown",
        "unknown",
    ):
        return "attestation"
    if desc.artifact_type:
        return _kind_from_hint(desc.artifact_type)
    if desc.media_type not in (OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST, ""):
        return _kind_from_hint(desc.media_type)
    return None


def parse_manifest(data: bytes, media_type: str | None = None) -> ImageManifest | ImageIndex:
    """Parse manifest bytes; `media_type` (from a Content-Type or descriptor) may be absent or
    generic, in which case the document's own `mediaType`/`schemaVersion` decide."""
    try:
        doc = orjson.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestInvalid(f"not JSON: {exc}", media_type) from exc
    if not isinstance(doc, dict):
        raise ManifestInvalid("not a JSON object", media_type)
    declared = doc.get("mediaType")
    kind = declared if isinstance(declared, str) and declared else _clean(media_type)
    if doc.get("schemaVersion") == 1 or kind in (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED):
        return _parse_schema1(doc, kind or DOCKER_SCHEMA1)
    if kind in (OCI_INDEX, DOCKER_LIST) or (not kind and "manifests" in doc):
        return ImageIndex(
            kind or OCI_INDEX, tuple(_descriptor(m, kind) for m in _list(doc, "manifests", kind))
        )
    if kind in (OCI_MANIFEST, DOCKER_MANIFEST) or (not kind and "layers" in doc) or "config" in doc:
        config_doc = doc.get("config")
        config = _descriptor(config_doc, kind) if isinstance(config_doc, dict) else None
        layers = tuple(
            _descriptor(layer, kind) for layer in _list(doc, "layers", kind, optional=True)
        )
        artifact = doc.get("artifactType")
        return ImageManifest(
            kind or OCI_MANIFEST, config, layers, artifact if isinstance(artifact, str) else None
        )
    raise ManifestInvalid(f"unknown manifest type {kind!r}", media_type)


def _clean(media_type: str | None) -> str:
    return (media_type or "").split(";")[0].strip()


def _list(doc: dict[str, Any], key: str, kind: str, optional: bool = False) -> list[dict[str, Any]]:
    value = doc.get(key)
    if value is None and optional:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ManifestInvalid(f"{key!r} must be a list of objects", kind)
    return value


def _descriptor(doc: dict[str, Any], kind: str) -> Descriptor:
    try:
        digest = parse_digest(str(doc["digest"]))
        size = int(doc.get("size", -1))
    except (KeyError, TypeError, ValueError, DigestInvalid) as exc:
        raise ManifestInvalid(f"bad descriptor {doc!r:.200}: {exc}", kind) from exc
    artifact = doc.get("artifactType")
    urls = doc.get("urls")
    return Descriptor(
        media_type=str(doc.get("mediaType", "")),
        digest=digest,
        size=size,
        platform=Platform.from_json(doc.get("platform")),
        annotations=annotation_pairs(doc.get("annotations")),
        artifact_type=artifact if isinstance(artifact, str) else None,
        urls=tuple(u for u in urls if isinstance(u, str)) if isinstance(urls, list) else (),
    )


def _parse_schema1(doc: dict[str, Any], kind: str) -> ImageManifest:
    """Schema 1 lists layers newest first, paired with `history`; `throwaway` entries are empty
    layers (metadata-only Dockerfile steps) and are dropped."""
    fs_layers = _list(doc, "fsLayers", kind)
    history = _list(doc, "history", kind, optional=True)
    if history and len(history) != len(fs_layers):
        raise ManifestInvalid("fsLayers and history differ in length", kind)
    layers: list[Descriptor] = []
    top: dict[str, Any] | None = None
    for i in reversed(range(len(fs_layers))):
        compat: dict[str, Any] = {}
        if history:
            try:
                loaded = orjson.loads(str(history[i].get("v1Compatibility", "{}")))
            except ValueError as exc:
                raise ManifestInvalid(f"history[{i}] is not JSON", kind) from exc
            compat = loaded if isinstance(loaded, dict) else {}
        if i == 0:
            top = compat
        if compat.get("throwaway"):
            continue
        try:
            digest = parse_digest(str(fs_layers[i]["blobSum"]))
        except (KeyError, DigestInvalid) as exc:
            raise ManifestInvalid(f"fsLayers[{i}] has no valid blobSum", kind) from exc
        layers.append(Descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", digest, -1))
    return ImageManifest(kind, None, tuple(layers), None, top)


def manifest_digest(data: bytes) -> Digest:
    """The digest a registry gives these manifest bytes.

    For a signed schema 1 manifest (JWS "pretty" form) that is the digest of the payload without
    its `signatures` (`model.oci.schema1_payload`); anything unreadable is digested as is.
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


def resolve_kind(manifest: ImageManifest) -> None:
    """Raise `NotRunnable` when `manifest` is an artifact rather than an image."""
    kind = manifest.artifact_kind()
    if kind is not None:
        config_type = manifest.config.media_type if manifest.config else manifest.media_type
        raise NotRunnable(kind, manifest.artifact_type or config_type)
