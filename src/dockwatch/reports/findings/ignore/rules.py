"""The rules an ignore file becomes, and what the three formats share to build them."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from packageurl import PackageURL

from dockwatch.errors import InvalidInput
from dockwatch.value_class import frozen

_PEP503 = re.compile(r"[-_.]+")


class IgnoreFileError(InvalidInput):
    """The ignore file cannot be used (unreadable, not one of the three shapes, malformed)."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"ignore file {source}: {problem}")
        self.source = source
        self.problem = problem


@frozen
class ImageIdentity:
    """What a VEX product is compared with to decide that it names the scanned image."""

    digest: str | None = None
    """The manifest digest (`sha256:...`)."""
    name: str | None = None
    """The image's short name (the repository's last part), for `pkg:oci/NAME` products."""


def norm_name(name: str, ptype: str | None = None) -> str:
    """Names compared case-insensitively; Python names by PEP 503 (`Foo_Bar` == `foo-bar`)."""
    lowered = name.strip().lower()
    return _PEP503.sub("-", lowered) if ptype in (None, "pypi", "python") else lowered


@frozen
class PackageSelector:
    """A package an ignore rule is limited to: by name, or by purl (version optional)."""

    name: str
    """Normalized name (see `norm_name`)."""
    purl_type: str | None = None
    namespace: str | None = None
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> PackageSelector:
        """A selector from a package name or a purl (`pkg:pypi/requests@2.0.0`)."""
        text = text.strip()
        if text.startswith("pkg:"):
            purl = PackageURL.from_string(text)  # ValueError on a malformed purl
            ptype = purl.type.lower()
            return cls(
                norm_name(purl.name, ptype),
                ptype,
                (purl.namespace or "").lower() or None,
                purl.version,
            )
        return cls(norm_name(text))

    def matches(self, package: Mapping[str, Any]) -> bool:
        """Does the (Inspector-shaped) vulnerable package fall under this selector?"""
        names = {str(package.get("name") or ""), str(package.get("sourceName") or "")} - {""}
        ptype: str | None = None
        purl_text = str(package.get("purl") or "")
        parsed: PackageURL | None = None
        if purl_text.startswith("pkg:"):
            try:
                parsed = PackageURL.from_string(purl_text)
                ptype = parsed.type.lower()
            except ValueError:
                parsed = None
        if self.purl_type is not None:
            if parsed is None or ptype != self.purl_type:
                return False
            if self.namespace and (parsed.namespace or "").lower() != self.namespace:
                return False
            names.add(parsed.name)
            if self.version is not None and self.version not in (
                str(package.get("version")),
                parsed.version,
            ):
                return False
        return any(norm_name(n, ptype) == self.name for n in names)


@frozen
class IgnoreRule:
    """One decision: ignore a vulnerability (for some packages, or all) for a reason."""

    ids: frozenset[str]
    """The vulnerability's ids, upper-cased (a finding matches by its id or a related id)."""
    packages: tuple[PackageSelector, ...]
    """The packages it applies to; empty means every package of the image."""
    reason: str
    origin: str
    """Where it came from, for messages: `ignore list entry 2`, `OpenVEX statement 1`."""
    state: str = "not_affected"
    """The VEX state to report: `not_affected`, `fixed`, `false_positive`, `resolved`..."""
    justification: str | None = None
    """A CycloneDX analysis justification, when the source gave one."""
    expires: datetime | None = None

    def suppression(self) -> dict[str, Any]:
        """The `suppression` object a suppressed finding carries."""
        out: dict[str, Any] = {"reason": self.reason, "origin": self.origin, "state": self.state}
        if self.justification:
            out["justification"] = self.justification
        if self.expires is not None:
            out["expiresAt"] = self.expires.isoformat()
        return out


@frozen
class IgnoreFile:
    """An ignore file, read: its kind, the rules in force, and what the user should know."""

    kind: str
    """`ignore list`, `OpenVEX` or `CycloneDX VEX`."""
    rules: tuple[IgnoreRule, ...]
    warnings: tuple[str, ...] = ()


def identifiers_of(value: object) -> Iterator[str]:
    """Identifier strings of an OpenVEX product or subcomponent."""
    if isinstance(value, str):
        yield value
        return
    if not isinstance(value, Mapping):
        return
    for key in ("@id", "id"):
        if isinstance(value.get(key), str):
            yield value[key]
    for section in ("identifiers", "hashes"):
        items = value.get(section)
        if isinstance(items, Mapping):
            yield from (v for v in items.values() if isinstance(v, str))


def names_image(identifiers: list[str], image: ImageIdentity) -> bool:
    hex_digest = (image.digest or "").split(":", 1)[-1].lower()
    for ident in identifiers:
        text = unquote(ident).lower()
        if hex_digest and hex_digest in text:
            return True
        if text.startswith("pkg:oci/") and image.name:
            try:
                purl = PackageURL.from_string(ident)
            except ValueError:
                continue
            if purl.version is None and purl.name.lower() == image.name.rsplit("/", 1)[-1].lower():
                return True
    return False


def package_purl(identifiers: list[str]) -> PackageSelector | None:
    for ident in identifiers:
        if ident.startswith("pkg:") and not ident.lower().startswith("pkg:oci/"):
            try:
                return PackageSelector.parse(ident)
            except ValueError:
                continue
    return None
