"""dpkg: status, distroless status.d, Source parsing, ownership lists, corrupt input."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from dockwatch.catalog.cataloger import FileEntry, LayerFiles, ParseEnv
from dockwatch.catalog.dpkg.cataloger import DpkgCataloger
from dockwatch.catalog.dpkg.parse_status import StatusCorrupt, parse_status
from dockwatch.model.distro import Distro
from tests.builders.layers import dpkg_stanza, dpkg_status

BOOKWORM = Distro("debian", "12", "bookworm")


def files_of(mapping: dict[str, str]) -> LayerFiles:
    return LayerFiles({p: FileEntry(p, len(d), 0o644, d.encode()) for p, d in mapping.items()})


def test_status_with_sources_and_states() -> None:
    status = dpkg_status(
        dpkg_stanza("libssl3", "3.0.11-1~deb12u2", source="openssl"),
        dpkg_stanza("bsdutils", "1:2.38.1-5+b1", source="util-linux (2.38.1-5)"),
        dpkg_stanza("gone", "1.0", status="deinstall ok config-files"),
        dpkg_stanza("tzdata", "2024a-0+deb12u1", arch="all"),
    )
    result = DpkgCataloger().catalog(
        files_of({"/var/lib/dpkg/status": status}), ParseEnv(BOOKWORM, LayerFiles())
    )
    by_name = {p.name: p for p in result.packages}
    assert set(by_name) == {"libssl3", "bsdutils", "tzdata"}
    assert (by_name["libssl3"].source_name, by_name["libssl3"].source_version) == ("openssl", None)
    assert (by_name["bsdutils"].source_name, by_name["bsdutils"].source_version) == (
        "util-linux",
        "2.38.1-5",
    )
    assert by_name["bsdutils"].epoch == 1
    assert by_name["tzdata"].source_name == "tzdata" and by_name["tzdata"].arch == "all"
    assert (
        by_name["libssl3"].purl
        == "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"
    )


def test_distroless_status_d_and_md5sums() -> None:
    files = files_of(
        {
            "/var/lib/dpkg/status.d/libc6": dpkg_stanza(
                "libc6", "2.36-9", status=None, source="glibc"
            ),
            "/var/lib/dpkg/status.d/libc6.md5sums": "d41d8cd98f00b204e9800998ecf8427e  lib/x86_64-linux-gnu/libc.so.6\n",
        }
    )
    result = DpkgCataloger().catalog(files, ParseEnv(BOOKWORM, LayerFiles()))
    assert [(p.name, p.source_name) for p in result.packages] == [("libc6", "glibc")]
    assert result.owned_files == (("libc6", ("/lib/x86_64-linux-gnu/libc.so.6",)),)


def test_info_lists() -> None:
    files = files_of(
        {
            "/var/lib/dpkg/status": dpkg_stanza(
                "libjackson2-databind-java", "2.14.0-1+deb12u1", arch="all"
            ),
            "/var/lib/dpkg/info/libjackson2-databind-java.list": "/.\n/usr\n/usr/share/java/jackson-databind.jar\n",
            "/var/lib/dpkg/info/libc6:amd64.list": "/lib/x.so\n",
        }
    )
    result = DpkgCataloger().catalog(files, ParseEnv(BOOKWORM, LayerFiles()))
    assert dict(result.owned_files) == {
        "libjackson2-databind-java": ("/usr", "/usr/share/java/jackson-databind.jar"),
        "libc6": ("/lib/x.so",),
    }


def test_corrupt_status_is_skipped_not_raised() -> None:
    status = dpkg_stanza("a", "1") + "\ngarbage without colon\n"
    with pytest.raises(StatusCorrupt):
        list(parse_status("/var/lib/dpkg/status", status.encode()))
    result = DpkgCataloger().catalog(
        files_of({"/var/lib/dpkg/status": status}), ParseEnv(None, LayerFiles())
    )
    assert result.skipped and "garbage" in result.skipped[0].reason


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="dpkg-query not installed")
def test_host_status_matches_dpkg_query() -> None:
    """Oracle: dpkg-query on this (Debian) host's own database."""
    out = subprocess.run(
        [
            "dpkg-query",
            "-W",
            "-f",
            "${db:Status-Status} ${Package} ${Version} ${Architecture} ${source:Package} ${source:Version}\n",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    expected = set()
    for line in out.splitlines():
        state, name, version, arch, src, src_version = line.split(" ")
        if state in (
            "installed",
            "half-configured",
            "unpacked",
            "half-installed",
            "triggers-awaited",
            "triggers-pending",
        ):
            expected.add((name, version, arch, src, src_version))
    data = Path("/var/lib/dpkg/status").read_bytes()
    got = {
        (e.name, e.version, e.architecture, e.source_name, e.source_version or e.version)
        for e in parse_status("s", data)
    }
    assert got == expected
    assert io.BytesIO(data)  # keep the import honest
