"""Every package-database parser, through the cataloger contract: whatever bytes sit at a path
a cataloger reads, `catalog()` returns a result (unreadable files become `skipped`), never an
exception. The low-level readers are fuzzed directly against their typed errors."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from dockwatch.catalog.cataloger import (
    Cataloger,
    CatalogError,
    FileEntry,
    LayerFiles,
    ParseEnv,
    match_glob,
)
from dockwatch.catalog.dotnet.parse_nuget import (
    parse_csproj,
    parse_packages_config,
    parse_packages_lock,
)
from dockwatch.catalog.golang.elf import ElfError, parse_elf
from dockwatch.catalog.golang.parse_gomod import parse_gomod, parse_gosum
from dockwatch.catalog.java.parse_manifest import parse_manifest, parse_properties
from dockwatch.catalog.java.parse_pom import declared
from dockwatch.catalog.layers import ReducingCataloger
from dockwatch.catalog.python.parse_locks import (
    parse_pipfile_lock,
    parse_poetry_lock,
    parse_uv_lock,
)
from dockwatch.catalog.python.parse_requirements import parse_requirements
from dockwatch.catalog.registry import default_registry
from dockwatch.catalog.rpm.header import HeaderCorrupt, parse_header
from dockwatch.catalog.rpm.rpmdb import RpmDbCorrupt, header_blobs
from dockwatch.model.distro import Distro
from tests.fuzz.harness import corpus, fuzz

CATALOGERS = {c.name: c for c in default_registry()}
EXECUTABLE = "/usr/local/bin/app"
DISTRO = Distro(id="debian", version_id="12")

#: catalogers that sniff binaries share the ELF seeds
SEEDS = {"go-binary": "elf", "rust-auditable-binary": "elf"}


def concrete(glob: str) -> str:
    """One path the glob matches (`/**/*.[jw]ar` -> `/app/x.jar`)."""
    path = glob.replace("/**/", "/app/")
    path = re.sub(r"\[(.)[^\]]*\]", r"\1", path).replace("*", "x")
    assert match_glob(glob, path), (glob, path)
    return path


def layer_files(c: Cataloger, data: bytes) -> LayerFiles:
    files = LayerFiles()
    paths = [concrete(g) for g in c.globs] or [EXECUTABLE]
    for path in paths:
        mode = 0o755 if path == EXECUTABLE else 0o644
        kept = data
        if not c.globs and isinstance(c, ReducingCataloger):
            if not c.wants(path, len(data), mode):
                continue
            reduced = c.reduce(path, data)  # as the layer reader does
            if reduced is None:
                continue
            kept = bytes(reduced)
        files.files[path] = FileEntry(path, len(data), mode, kept)
    return files


@pytest.mark.parametrize("name", sorted(CATALOGERS))
def test_cataloger_never_raises(name: str, fuzz_seconds: float) -> None:
    c = CATALOGERS[name]

    def run(data: bytes) -> None:
        files = layer_files(c, data)
        c.catalog(files, ParseEnv(DISTRO, files))

    fuzz(run, corpus(SEEDS.get(name, name)), (), fuzz_seconds)


def test_rpm_header(fuzz_seconds: float) -> None:
    fuzz(parse_header, corpus("rpm-header"), (HeaderCorrupt,), fuzz_seconds)


def test_rpmdb_formats(fuzz_seconds: float) -> None:
    fuzz(lambda data: list(header_blobs(data)), corpus("rpm-db"), (RpmDbCorrupt,), fuzz_seconds)


def test_elf_reader(fuzz_seconds: float) -> None:
    fuzz(parse_elf, corpus("elf"), (ElfError,), fuzz_seconds)


def test_java_manifest_and_properties(fuzz_seconds: float) -> None:
    def run(data: bytes) -> None:
        parse_manifest(data)
        parse_properties(data)

    fuzz(run, corpus("java-manifest"), (CatalogError,), fuzz_seconds)


#: manifest parsers called directly (the cataloger targets above reach them through their globs
#: too): each either returns or raises a `CatalogError` (bad shape) or `UnicodeError` (bad text)
MANIFEST_PARSERS: dict[str, tuple[str, Callable[[bytes], object]]] = {
    "requirements": ("python-manifest", lambda d: parse_requirements("/r.txt", d)),
    "pipfile-lock": ("python-manifest", lambda d: list(parse_pipfile_lock("/Pipfile.lock", d))),
    "poetry-lock": ("python-manifest", lambda d: list(parse_poetry_lock("/poetry.lock", d))),
    "uv-lock": ("python-manifest", lambda d: list(parse_uv_lock("/uv.lock", d))),
    "go-mod": ("go-mod-manifest", lambda d: parse_gomod("/go.mod", d)),
    "go-sum": ("go-mod-manifest", parse_gosum),
    "pom": ("java-pom-manifest", lambda d: declared("/a/pom.xml", d, lambda p: d)),
    "packages-lock": ("nuget-manifest", lambda d: list(parse_packages_lock("/p.json", d))),
    "packages-config": ("nuget-manifest", lambda d: list(parse_packages_config("/p.config", d))),
    "csproj": ("nuget-manifest", lambda d: list(parse_csproj("/a.csproj", d))),
}


@pytest.mark.parametrize("name", sorted(MANIFEST_PARSERS))
def test_manifest_parser(name: str, fuzz_seconds: float) -> None:
    seeds, parser = MANIFEST_PARSERS[name]
    fuzz(parser, corpus(seeds), (CatalogError, UnicodeError), fuzz_seconds)
