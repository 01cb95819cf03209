"""Which distribution an image runs: os-release first, then the older release files.

Reads the squashed view of the candidate files (`/etc/os-release` is usually a symlink to
`../usr/lib/os-release`, so links are resolved within that view, a bounded number of hops).
No file found means no OS: scratch images and distroless static ones.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Mapping

from dockwatch.model.catalog import FileEntry
from dockwatch.model.distro import Distro

OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
FALLBACKS = (
    "/etc/alpine-release",
    "/etc/photon-release",
    "/etc/lsb-release",
    "/etc/system-release",
    "/etc/debian_version",
    "/etc/redhat-release",
)
#: Every file `detect` may read: the cataloguer keeps these in memory.
GLOBS = OS_RELEASE + FALLBACKS

_REDHAT = (
    ("red hat enterprise linux", "rhel"),
    ("centos stream", "centos"),
    ("centos", "centos"),
    ("rocky", "rocky"),
    ("almalinux", "almalinux"),
    ("fedora", "fedora"),
    ("oracle", "ol"),
)


def resolve(files: Mapping[str, FileEntry], path: str, hops: int = 8) -> FileEntry | None:
    """The entry at `path`, following symlinks inside `files` (never outside the root)."""
    for _ in range(hops):
        entry = files.get(path)
        if entry is None or entry.link_target is None or entry.data is not None:
            return entry
        target = entry.link_target
        base = "/" if target.startswith("/") else posixpath.dirname(path)
        path = posixpath.normpath(posixpath.join(base, target))
        if not path.startswith("/"):
            path = "/" + path
    return None


def parse_os_release(data: bytes) -> dict[str, str]:
    """KEY=value pairs, shell-unquoted (os-release(5))."""
    out: dict[str, str] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        try:
            words = shlex.split(value)
        except ValueError:
            words = [value.strip("\"'")]
        out[key.strip()] = " ".join(words)
    return out


def detect(files: Mapping[str, FileEntry]) -> Distro | None:
    """The distribution described by the squashed files, or None."""
    for path in OS_RELEASE:
        entry = resolve(files, path)
        if entry is not None and entry.data:
            fields = parse_os_release(entry.data)
            if fields.get("ID"):
                return Distro(
                    id=fields["ID"].lower(),
                    version_id=fields.get("VERSION_ID") or None,
                    codename=fields.get("VERSION_CODENAME") or None,
                    pretty_name=fields.get("PRETTY_NAME") or None,
                    id_like=tuple(fields.get("ID_LIKE", "").split()),
                )
    text = _text(files, "/etc/alpine-release")
    if text:
        return Distro("alpine", text.split()[0], pretty_name=f"Alpine Linux v{text.split()[0]}")
    photon = _PHOTON.match(_text(files, "/etc/photon-release"))
    if photon:  # before lsb-release, where Photon writes DISTRIB_ID="VMware Photon OS"
        return Distro("photon", photon.group(1), pretty_name=photon.group(0))
    lsb = _lsb_release(files)
    if lsb is not None:
        return lsb
    text = _text(files, "/etc/system-release")
    amazon = _AMAZON.match(text)
    if amazon:
        return Distro("amzn", amazon.group(1), pretty_name=text.strip())
    text = _text(files, "/etc/debian_version")
    if text:
        m = re.match(r"(\d+)", text)
        return Distro("debian", m.group(1) if m else None, None if m else text.split("/")[0])
    text = _text(files, "/etc/redhat-release")
    if text:
        lowered = text.lower()
        ident = next((i for needle, i in _REDHAT if needle in lowered), "rhel")
        m = re.search(r"release\s+(\d+(?:\.\d+)?)", lowered)
        return Distro(ident, m.group(1) if m else None, pretty_name=text.strip())
    return None


_PHOTON = re.compile(r"VMware Photon(?: OS)? (\d+\.\d+)")
"""`/etc/photon-release` (photon-release package): `VMware Photon OS 5.0` then the build number."""

_AMAZON = re.compile(r"Amazon Linux(?: AMI)? release (\d+(?:\.\d+)*)")
"""`/etc/system-release` of Amazon Linux: `Amazon Linux release 2023.6.20241010 (Amazon Linux)`,
`Amazon Linux release 2 (Karoo)`, `Amazon Linux AMI release 2018.03`."""


def _lsb_release(files: Mapping[str, FileEntry]) -> Distro | None:
    """`/etc/lsb-release` (Ubuntu before os-release was universal): DISTRIB_ID, _RELEASE,
    _CODENAME. Read before `/etc/debian_version`, which Ubuntu also ships (`bookworm/sid`)."""
    entry = resolve(files, "/etc/lsb-release")
    if entry is None or not entry.data:
        return None
    fields = parse_os_release(entry.data)
    ident = fields.get("DISTRIB_ID", "").strip().lower()
    if not ident:
        return None
    return Distro(
        id=ident,
        version_id=fields.get("DISTRIB_RELEASE") or None,
        codename=fields.get("DISTRIB_CODENAME") or None,
        pretty_name=fields.get("DISTRIB_DESCRIPTION") or None,
    )


def _text(files: Mapping[str, FileEntry], path: str) -> str:
    entry = resolve(files, path)
    if entry is None or not entry.data:
        return ""
    return entry.data.decode("utf-8", errors="replace").strip()
