"""OCI values: media types, platforms, content descriptors, and what a descriptor's media types
say about the artifact behind it (signature, SBOM, chart, ...) rather than a runnable image."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from dockwatch.errors import InvalidInput
from dockwatch.model.digest import Digest
from dockwatch.value_class import frozen


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


@frozen
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


@frozen
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


OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
IMAGE_CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
SCHEMA1_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
_RUNNABLE_MANIFEST_TYPES = frozenset(
    {MediaType.OCI_MANIFEST, MediaType.DOCKER_MANIFEST_V2, *INDEX_TYPES, ""}
)

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
        SCHEMA1_LAYER,
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


def kind_from_hint(hint: str) -> str:
    hint = hint.lower()
    for needle, kind in _ARTIFACT_HINTS:
        if needle in hint:
            return kind
    return "artifact"


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
        return kind_from_hint(desc.artifact_type)
    if desc.media_type not in _RUNNABLE_MANIFEST_TYPES:
        return kind_from_hint(desc.media_type)
    return None
