"""What every SBOM format shares: package order, stable identifiers, the image's name, the time.

Formats differ in shape, not in content: they all list packages in `ordered()` order and name the
image the same way, so a diff between two formats of one image is a diff of shapes only.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Iterable
from datetime import UTC, datetime

from dockwatch.model.package import Package

TOOL_NAME = "dockwatch"


def tool_version() -> str:
    """dockwatch's version, as recorded in every document."""
    from dockwatch import __version__

    return __version__


def sort_key(p: Package) -> tuple[str, str, str, tuple[str, ...], str, str]:
    """Total order on packages: ecosystem, name, version, then where it was found."""
    return (p.type, p.name, p.version, p.locations, p.layer_digest or "", p.purl)


def ordered(packages: Iterable[Package]) -> list[Package]:
    """`packages` in the deterministic order every format uses."""
    return sorted(packages, key=sort_key)


def package_id(p: Package) -> str:
    """A short identifier stable across runs, unique per (key, purl, locations, layer) within an
    image: two copies of one jar in different places stay two entries."""
    text = "\0".join([p.type, p.name, p.version, p.purl, p.layer_digest or "", *p.locations])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def created_at(created: datetime | None = None) -> datetime:
    """The document time: `created`, else `SOURCE_DATE_EPOCH`, else now (UTC, whole seconds)."""
    if created is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
        created = datetime.fromtimestamp(int(epoch), UTC) if epoch.isdigit() else datetime.now(UTC)
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created.astimezone(UTC).replace(microsecond=0)


def image_name(reference: str) -> str:
    """A short name for the image from its source string: the repository for `docker://` and
    `dockwatch:`, the folder or file name for layouts and archives (`oci:/x/debian:latest` ->
    `debian`)."""
    transport, _, rest = reference.partition(":")
    if transport == "docker":
        rest = rest.removeprefix("//")
        rest = rest.split("@", 1)[0]
        slash, colon = rest.rfind("/"), rest.rfind(":")
        if colon > slash:
            rest = rest[:colon]
        first, sep, repo = rest.partition("/")
        return repo if sep and ("." in first or ":" in first or first == "localhost") else rest
    if transport == "dockwatch":
        repo = rest.split("@", 1)[0]
        slash, colon = repo.rfind("/"), repo.rfind(":")
        return repo[:colon] if colon > slash else repo
    if transport in ("oci", "oci-archive", "docker-archive"):
        path = rest.split(":", 1)[0].rstrip("/")
        base = posixpath.basename(path) or path or "image"
        for ext in (".tar.gz", ".tgz", ".tar"):
            if base.endswith(ext):
                return base[: -len(ext)] or base
        return base
    return reference or "image"


def image_tag(reference: str) -> str | None:
    """The tag the source string names, if any (`oci:DIR:TAG`, `docker://H/R:TAG`)."""
    transport, _, rest = reference.partition(":")
    if transport in ("oci", "oci-archive", "docker-archive"):
        _, sep, tag = rest.partition(":")
        return (tag or None) if sep else None
    if transport in ("docker", "dockwatch"):
        rest = rest.removeprefix("//")
        if "@" in rest:
            return None
        slash, colon = rest.rfind("/"), rest.rfind(":")
        return (rest[colon + 1 :] or None) if colon > slash else None
    return None


def image_purl(reference: str, manifest_digest: str) -> str:
    """`pkg:oci/NAME@DIGEST?repository_url=...&tag=...`, the purl spec's OCI type."""
    from packageurl import PackageURL

    qualifiers: dict[str, str] = {}
    transport, _, rest = reference.partition(":")
    if transport == "docker":
        repo_url = rest.removeprefix("//").split("@", 1)[0]
        slash, colon = repo_url.rfind("/"), repo_url.rfind(":")
        if colon > slash:
            repo_url = repo_url[:colon]
        qualifiers["repository_url"] = repo_url.lower()
    tag = image_tag(reference)
    if tag:
        qualifiers["tag"] = tag
    short = image_name(reference).rsplit("/", 1)[-1].lower()
    return str(
        PackageURL(type="oci", name=short, version=manifest_digest, qualifiers=qualifiers or None)
    )
