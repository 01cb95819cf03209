"""Bottlerocket's application inventory as rpm packages."""

from __future__ import annotations

import pytest

from dockwatch.catalog.bottlerocket.cataloger import CATALOGER, INVENTORY
from dockwatch.catalog.cataloger import FileEntry, LayerFiles, ParseEnv
from dockwatch.catalog.distro import detect
from dockwatch.catalog.registry import default_registry
from tests.builders import amazon as al


def _layer(data: bytes) -> LayerFiles:
    os_release = al.BOTTLEROCKET_OS_RELEASE.encode()
    return LayerFiles(
        {
            INVENTORY: FileEntry(INVENTORY, len(data), 0o644, data),
            "/etc/os-release": FileEntry("/etc/os-release", len(os_release), 0o644, os_release),
        }
    )


def test_inventory_entries_are_rpm_packages() -> None:
    layer = _layer(
        al.bottlerocket_inventory(
            [
                ("glibc", 1, "2.43", "1.1773716061.e2e9d7a9.br1"),
                ("kernel-6.1", None, "6.1.140", "1.br1"),
            ]
        )
    )
    distro = detect(layer.files)
    assert distro is not None and (distro.id, distro.version_id) == ("bottlerocket", "1.19.2")
    result = CATALOGER.catalog(layer, ParseEnv(distro, layer))
    assert result.skipped == ()
    by = {p.name: p for p in result.packages}
    glibc = by["glibc"]
    assert (glibc.type, glibc.version, glibc.epoch, glibc.release, glibc.arch) == (
        "rpm",
        "1:2.43-1.1773716061.e2e9d7a9.br1",
        1,
        "1.1773716061.e2e9d7a9.br1",
        "x86_64",
    )
    assert glibc.purl.startswith("pkg:rpm/bottlerocket/glibc@2.43-1.1773716061.e2e9d7a9.br1?")
    assert "epoch=1" in glibc.purl and "distro=bottlerocket-1.19.2" in glibc.purl
    assert by["kernel-6.1"].version == "6.1.140-1.br1" and by["kernel-6.1"].epoch is None
    assert "bottlerocket-inventory" in {c.name for c in default_registry(plugins=False)}


@pytest.mark.parametrize(
    "data",
    [
        b"{not json",
        b'{"Content": {}}',
        b'{"Content": [{"Name": "glibc", "Version": "2.43"}]}',  # no Release
        b'{"Content": [{"Name": "gl ibc", "Version": "2.43", "Release": "1"}]}',
        b'{"Content": [{"Name": "glibc", "Version": "2.43", "Release": "1", "Epoch": "x"}]}',
    ],
)
def test_bad_inventory_is_skipped_with_a_reason(data: bytes) -> None:
    layer = _layer(data)
    result = CATALOGER.catalog(layer, ParseEnv(None, layer))
    assert result.packages == ()
    ((skipped),) = result.skipped
    assert skipped.path == INVENTORY and skipped.reason
