"""The rpm manifest of distroless CBL-Mariner / Azure Linux images."""

from __future__ import annotations

from dockwatch.catalog.cataloger import FileEntry, LayerFiles, ParseEnv
from dockwatch.catalog.registry import default_registry
from dockwatch.catalog.rpm.manifest import MANIFEST, RpmManifestCataloger
from dockwatch.model.distro import Distro
from dockwatch.model.package import Package

#: lines of a CBL-Mariner 2.0 distroless image's manifest (anchore/syft test fixture
#: syft/pkg/cataloger/redhat/test-fixtures/container-manifest-2), plus an epoch and a bad line
LINES = (
    "glibc\t2.35-2.cm2\t1653816591\t1653628955\tMicrosoft Corporation\t(none)\t10855265\tx86_64\t"
    "0\tglibc-2.35-2.cm2.src.rpm\n"
    "openssl-libs\t1.1.1k-15.cm2\t1653816591\t1653631609\tMicrosoft Corporation\t(none)\t4365048\t"
    "x86_64\t0\topenssl-1.1.1k-15.cm2.src.rpm\n"
    "perl-Time-Local\t1.300-1.cm2\t1\t1\tMicrosoft Corporation\t2\t1\tnoarch\t2\t"
    "perl-Time-Local-1.300-1.cm2.src.rpm\n"
    "broken line without tabs\n"
    "\n"
)


def _catalog(data: bytes) -> tuple[dict[str, Package], list[str]]:
    files = LayerFiles({MANIFEST: FileEntry(MANIFEST, len(data), 0o644, data)})
    result = RpmManifestCataloger().catalog(files, ParseEnv(Distro("mariner", "2.0"), files))
    by = {p.name: p for p in result.packages}
    return by, [s.path for s in result.skipped]


def test_packages_with_source_epoch_and_arch() -> None:
    by, skipped = _catalog(LINES.encode())
    assert set(by) == {"glibc", "openssl-libs", "perl-Time-Local"}
    ssl = by["openssl-libs"]
    assert (ssl.version, ssl.source_name, ssl.arch, ssl.type) == (
        "1.1.1k-15.cm2",
        "openssl",
        "x86_64",
        "rpm",
    )
    perl = by["perl-Time-Local"]
    assert (perl.version, perl.epoch) == ("2:1.300-1.cm2", 2)
    assert perl.purl.startswith("pkg:rpm/mariner/perl-Time-Local@1.300-1.cm2?")
    assert skipped == [f"{MANIFEST}:4"]


def test_registered() -> None:
    assert "rpm-manifest" in default_registry(plugins=False).names()
