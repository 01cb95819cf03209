"""apk: installed db with origins and F:/R: ownership."""

from __future__ import annotations

from dockwatch.catalog.apk.cataloger import INSTALLED, ApkCataloger
from dockwatch.catalog.cataloger import FileEntry, LayerFiles, ParseEnv
from dockwatch.model.distro import Distro
from tests.builders.layers import apk_entry


def test_installed_db() -> None:
    db = "\n".join(
        [
            apk_entry("musl", "1.2.4-r2", files={"lib": ["ld-musl-x86_64.so.1"]}),
            apk_entry(
                "libcrypto3",
                "3.1.4-r0",
                origin="openssl",
                files={"lib": ["libcrypto.so.3"], "usr/lib": ["x"]},
            ),
        ]
    )
    files = LayerFiles({INSTALLED: FileEntry(INSTALLED, len(db), 0o644, db.encode())})
    result = ApkCataloger().catalog(files, ParseEnv(Distro("alpine", "3.19.1"), LayerFiles()))
    by = {p.name: p for p in result.packages}
    assert by["libcrypto3"].source_name == "openssl" and by["musl"].source_name == "musl"
    assert (
        by["libcrypto3"].purl
        == "pkg:apk/alpine/libcrypto3@3.1.4-r0?arch=x86_64&distro=alpine-3.19.1&upstream=openssl"
    )
    assert dict(result.owned_files)["libcrypto3"] == ("/lib/libcrypto.so.3", "/usr/lib/x")


def test_corrupt_db() -> None:
    db = "P:musl\nV:1\nthis is not apk\n"
    files = LayerFiles({INSTALLED: FileEntry(INSTALLED, len(db), 0o644, db.encode())})
    result = ApkCataloger().catalog(files, ParseEnv(None, LayerFiles()))
    assert not result.packages and result.skipped
