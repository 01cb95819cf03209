"""Each package carries Inspector's PackageManager for the file it was found in.

The expected words are Inspector's (REFERENCE.md §1.4, the PackageManager enum), per file kind,
written here independently of the catalogers: a yarn.lock entry is YARN, a Gemfile.lock one
BUNDLER, an installed gemspec GEMSPEC, and so on. Every built-in cataloger is run over one layer
holding one small file of each kind, as the layer reader would hand it over.
"""

from __future__ import annotations

import json
import zlib

from dockwatch.catalog.cataloger import FileEntry, LayerFiles, ParseEnv
from dockwatch.catalog.golang.cataloger import MIN_SIZE
from dockwatch.catalog.golang.reduce import build_elf
from dockwatch.catalog.registry import default_registry
from dockwatch.model.package import PACKAGE_MANAGERS, Package
from tests.unit.catalog.java.jars import jar

#: path -> (content, Inspector's manager for what it declares)
FILES: dict[str, tuple[bytes, str]] = {
    "/app/node_modules/left-pad/package.json": (
        b'{"name": "left-pad", "version": "1.3.0"}', "NODEPKG"),
    "/app/package-lock.json": (json.dumps({"lockfileVersion": 3, "packages": {
        "": {"name": "app"}, "node_modules/ms": {"version": "2.1.3"}}}).encode(), "NPM"),
    "/web/yarn.lock": (b'# yarn lockfile v1\n\nms@^2.1.1:\n  version "2.1.2"\n', "YARN"),
    "/pn/pnpm-lock.yaml": (b"lockfileVersion: '6.0'\npackages:\n  /debug@4.3.4:\n"
                           b"    resolution: {integrity: sha512-x}\n", "NPM"),
    "/usr/lib/python3/site-packages/six-1.16.0.dist-info/METADATA": (
        b"Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n", "PYTHONPKG"),
    "/srv/requirements.txt": (b"flask==3.0.0\n", "PIP"),
    "/srv/Pipfile.lock": (json.dumps({"_meta": {}, "default": {
        "click": {"version": "==8.1.7"}}, "develop": {}}).encode(), "PIPENV"),
    "/srv/poetry.lock": (b'[[package]]\nname = "idna"\nversion = "3.6"\n', "POETRY"),
    "/srv/uv.lock": (b'version = 1\n[[package]]\nname = "anyio"\nversion = "4.2.0"\n'
                     b'source = { registry = "https://pypi.org/simple" }\n', "PIP"),
    "/usr/local/bundle/specifications/rake-13.0.6.gemspec": (
        b'# stub: rake 13.0.6 ruby lib\nGem::Specification.new do |s|\n'
        b'  s.name = "rake".freeze\n  s.version = "13.0.6"\nend\n', "GEMSPEC"),
    "/srv/Gemfile.lock": (b"GEM\n  remote: https://rubygems.org/\n  specs:\n"
                          b"    rack (2.2.8)\n\nDEPENDENCIES\n  rack\n", "BUNDLER"),
    "/src/Cargo.lock": (b'version = 3\n[[package]]\nname = "serde"\nversion = "1.0.195"\n'
                        b'source = "registry+https://github.com/rust-lang/crates.io-index"\n',
                        "CARGO"),
    "/var/www/vendor/composer/installed.json": (json.dumps({"packages": [
        {"name": "psr/log", "version": "3.0.0"}]}).encode(), "COMPOSER"),
    "/var/www/composer.lock": (json.dumps({"packages": [
        {"name": "monolog/monolog", "version": "3.5.0"}]}).encode(), "COMPOSER"),
    "/app/api.deps.json": (json.dumps({"libraries": {
        "Serilog/3.1.1": {"type": "package"}}}).encode(), "DOTNET_CORE"),
    "/src/api/packages.lock.json": (json.dumps({"version": 1, "dependencies": {"net8.0": {
        "Polly": {"type": "Direct", "requested": "[8.2.0, )", "resolved": "8.2.0"}}}}).encode(),
        "NUGET"),
    "/src/legacy/packages.config": (
        b'<?xml version="1.0"?><packages><package id="Dapper" version="2.1.24"/></packages>',
        "NUGET"),
    "/src/web/web.csproj": (b'<Project Sdk="Microsoft.NET.Sdk"><ItemGroup><PackageReference '
                            b'Include="AutoMapper" Version="12.0.1" /></ItemGroup></Project>',
                            "NUGET"),
    "/src/go/go.mod": (b"module example.com/app\n\ngo 1.21\n\n"
                       b"require golang.org/x/text v0.14.0\n", "GOMOD"),
    "/src/pom/pom.xml": (b"<project><modelVersion>4.0.0</modelVersion><groupId>a</groupId>"
                         b"<artifactId>b</artifactId><version>1</version><dependencies>"
                         b"<dependency><groupId>org.yaml</groupId><artifactId>snakeyaml"
                         b"</artifactId><version>2.2</version></dependency></dependencies>"
                         b"</project>", "POM"),
}  # fmt: skip


def catalogue(files: dict[str, bytes]) -> list[Package]:
    layer = LayerFiles({p: FileEntry(p, len(d), 0o644, d) for p, d in files.items()})
    env = ParseEnv(None, layer)
    out: list[Package] = []
    for c in default_registry(plugins=False):
        result = c.catalog(layer, env)
        assert result.skipped == (), (c.name, result.skipped)
        out.extend(result.packages)
    return out


def test_every_file_kind_names_inspectors_manager() -> None:
    packages = catalogue({p: data for p, (data, _) in FILES.items()})
    by_file: dict[str, set[str]] = {}
    for p in packages:
        by_file.setdefault(p.locations[0], set()).add(p.package_manager)
    assert by_file == {p: {manager} for p, (_, manager) in FILES.items()}
    assert {p.package_manager for p in packages} <= set(PACKAGE_MANAGERS)


def test_jar_and_rust_binary() -> None:
    """A jar is JAR; the crates cargo-auditable embeds in a binary are CARGO (the Go binary's
    GOBINARY is checked where a real Go build is made, tests/unit/catalog/golang)."""
    audit = {
        "packages": [
            {"name": "app", "version": "0.1.0", "source": "local", "root": True},
            {"name": "serde", "version": "1.0.195", "source": "crates.io"},
        ]
    }
    elf = build_elf([(".dep-v0", zlib.compress(json.dumps(audit).encode()))])
    elf += bytes(MIN_SIZE - len(elf))  # as big as a real executable the reader would keep
    layer = LayerFiles({
        "/opt/app.jar": FileEntry("/opt/app.jar", 1, 0o644, jar({}, (("org.example", "lib", "1.0.0"),))),
        "/usr/local/bin/tool": FileEntry("/usr/local/bin/tool", len(elf), 0o755, elf),
    })  # fmt: skip
    env = ParseEnv(None, layer)
    got = {(p.locations[0], p.name, p.package_manager)
           for c in default_registry(plugins=False) for p in c.catalog(layer, env).packages}  # fmt: skip
    assert got == {
        ("/opt/app.jar", "org.example:lib", "JAR"),
        ("/usr/local/bin/tool", "app", "CARGO"),
        ("/usr/local/bin/tool", "serde", "CARGO"),
    }
