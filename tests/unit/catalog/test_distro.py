"""OS detection: os-release (through its usual symlink), fallbacks, none."""

from __future__ import annotations

from dockwatch.catalog.cataloger import FileEntry
from dockwatch.catalog.distro import detect


def f(path: str, text: str | None = None, link: str | None = None) -> tuple[str, FileEntry]:
    return path, FileEntry(path, 0, 0o644, text.encode() if text is not None else None, link)


def test_os_release_through_symlink() -> None:
    files = dict(
        [
            f("/etc/os-release", link="../usr/lib/os-release"),
            f(
                "/usr/lib/os-release",
                'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
            ),
        ]
    )
    d = detect(files)
    assert d is not None and (d.id, d.version_id, d.codename) == ("debian", "12", "bookworm")


def test_fallbacks() -> None:
    assert detect(dict([f("/etc/alpine-release", "3.19.1\n")])).version_id == "3.19.1"  # type: ignore[union-attr]
    d = detect(dict([f("/etc/debian_version", "12.4\n")]))
    assert d is not None and (d.id, d.version_id) == ("debian", "12")
    r = detect(dict([f("/etc/redhat-release", "Rocky Linux release 9.3 (Blue Onyx)\n")]))
    assert r is not None and (r.id, r.version_id) == ("rocky", "9.3")


def test_none_and_loops() -> None:
    assert detect({}) is None
    assert detect(dict([f("/etc/os-release", link="/etc/os-release")])) is None
