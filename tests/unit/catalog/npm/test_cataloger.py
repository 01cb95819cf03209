"""The npm catalogers: node_modules and lockfiles written by the real npm, yarn/pnpm in code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockwatch.catalog.cataloger import (
    CatalogResult,
    FileEntry,
    GlobCataloger,
    LayerFiles,
    ParseEnv,
)
from dockwatch.catalog.npm import INSTALLED_CATALOGER, LOCK_CATALOGER
from tests.unit.catalog.npm.npmreg import (
    DEV,
    RUNTIME,
    npm_available,
    npm_install,
    registry,
    tool_available,
    tool_install,
)


def run(cataloger: GlobCataloger, entries: dict[str, bytes]) -> CatalogResult:
    files = LayerFiles({p: FileEntry(p, len(d), 0o644, d) for p, d in entries.items()})
    return cataloger.catalog(files, ParseEnv(None, files))


def tree(root: Path, prefix: str) -> dict[str, bytes]:
    return {
        f"{prefix}/{p.relative_to(root)}": p.read_bytes() for p in root.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    if not npm_available():
        pytest.skip("npm is not installed")
    work = tmp_path_factory.mktemp("npm")
    with registry() as url:
        return {v: npm_install(work, url, v) for v in (1, 2, 3)}


def test_installed_node_modules(projects: dict[int, Path]) -> None:
    result = run(INSTALLED_CATALOGER, tree(projects[3], "/app"))
    assert result.skipped == ()
    got = {(p.name, p.version) for p in result.packages}
    # Everything npm put on disk (dev included: it is installed), plus the app's own manifest.
    assert got == RUNTIME | DEV | {("app", "1.0.0")}
    by_loc = {p.locations[0]: p for p in result.packages}
    nested = by_loc["/app/node_modules/plain/node_modules/dep/package.json"]
    assert nested.version == "2.0.0"
    scoped = by_loc["/app/node_modules/@acme/util/package.json"]
    assert scoped.purl == "pkg:npm/%40acme/util@1.2.3"
    assert scoped.licenses == ("MIT",)
    assert dict(by_loc["/app/package.json"].metadata) == {"private": "true"}
    assert all(p.type == "npm" and p.found_by == "npm-installed" for p in result.packages)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_package_lock_versions(projects: dict[int, Path], version: int) -> None:
    lock = (projects[version] / "package-lock.json").read_bytes()
    assert json.loads(lock)["lockfileVersion"] == version
    result = run(LOCK_CATALOGER, {"/app/package-lock.json": lock})
    assert result.skipped == ()
    assert sorted((p.name, p.version) for p in result.packages) == sorted(RUNTIME)
    assert all(p.locations == ("/app/package-lock.json",) for p in result.packages)
    assert all(p.found_by == "npm-lockfile" for p in result.packages)


@pytest.mark.parametrize("tool", ["yarn", "pnpm"])
def test_yarn_classic_and_pnpm_9_written_by_the_tools(
    tmp_path_factory: pytest.TempPathFactory, tool: str
) -> None:
    """yarn 1 and pnpm 9 (installed from npm; skipped without them) against the same
    registry. yarn.lock does not mark dev packages, so yarn's lock reports them too; pnpm's is
    told apart through its importers."""
    if not tool_available(tool):
        pytest.skip(f"{tool} is not installed (npm install -g yarn@1 pnpm@9)")
    work = tmp_path_factory.mktemp(tool)
    with registry() as url:
        project = tool_install(work, url, tool)
    lock = "yarn.lock" if tool == "yarn" else "pnpm-lock.yaml"
    result = run(LOCK_CATALOGER, {f"/app/{lock}": (project / lock).read_bytes()})
    assert result.skipped == ()
    got = {(p.name, p.version) for p in result.packages}
    assert got == (RUNTIME | DEV if tool == "yarn" else RUNTIME)
    # What the tool installed on disk (pnpm: node_modules/.pnpm/NAME@VER/node_modules/NAME).
    installed = run(INSTALLED_CATALOGER, tree(project, "/app"))
    assert {(p.name, p.version) for p in installed.packages} == RUNTIME | DEV | {("app", "1.0.0")}


def test_non_package_manifests_yield_nothing() -> None:
    result = run(
        INSTALLED_CATALOGER,
        {
            "/app/node_modules/x/esm/package.json": b'{"type": "module"}',
            "/app/node_modules/y/package.json": b'{"name": "y"}',
            "/app/node_modules/z/package.json": b"[1, 2]",
        },
    )
    assert result == CatalogResult()


def test_malformed_and_hostile_json_is_skipped() -> None:
    result = run(
        INSTALLED_CATALOGER,
        {
            "/a/node_modules/bad/package.json": b'{"name": "bad", "version": ',
            "/a/node_modules/deep/package.json": b"[" * 200_000,
            "/a/node_modules/bin/package.json": b"\xff\xfe\x00garbage",
            "/a/node_modules/ok/package.json": b'{"name": "ok", "version": "1.0.0"}',
        },
    )
    assert [(p.name, p.version) for p in result.packages] == [("ok", "1.0.0")]
    assert len(result.skipped) == 3


def test_lockfile_v1_nesting_bomb_is_bounded() -> None:
    doc: dict[str, object] = {"version": "1.0.0"}
    for _ in range(100):
        doc = {"version": "1.0.0", "dependencies": {"x": doc}}
    lock = json.dumps({"lockfileVersion": 1, "dependencies": {"x": doc}}).encode()
    result = run(LOCK_CATALOGER, {"/package-lock.json": lock})
    assert len(result.skipped) == 1 and "nested deeper" in result.skipped[0].reason


# yarn classic, as documented at https://classic.yarnpkg.com/lang/en/docs/yarn-lock/
YARN_V1 = b"""# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
# yarn lockfile v1


"@babel/code-frame@^7.0.0", "@babel/code-frame@^7.10.4":
  version "7.12.13"
  resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.12.13.tgz#dcfc826beef65e75c50e21d3837d7d95798dd658"
  integrity sha512-HV1Cm0Q3ZrpCR93tkWOYiuYIgLxZXZFVG2VgK+MBWjUqZTundupbfx2aXarXuw5Ko5aMcjtJgbSs4vUGBS5v6g==
  dependencies:
    "@babel/highlight" "^7.12.13"

lodash@4.17.15, lodash@^4.17.14:
  version "4.17.15"
  resolved "https://registry.yarnpkg.com/lodash/-/lodash-4.17.15.tgz#b447f6670a0455bbfeedd11392eff330ea097548"

ms@2.0.0:
  version "2.0.0"
"""

# yarn berry (v2+): YAML with __metadata (https://yarnpkg.com/advanced/lexicon#lockfile)
YARN_BERRY = b"""# This file is generated by running "yarn install" inside your project.

__metadata:
  version: 6
  cacheKey: 8

"@babel/code-frame@npm:^7.0.0":
  version: 7.12.13
  resolution: "@babel/code-frame@npm:7.12.13"
  dependencies:
    "@babel/highlight": ^7.12.13
  checksum: 471532bb7c
  languageName: node
  linkType: hard

"lodash@npm:^4.17.14, lodash@npm:^4.17.15":
  version: 4.17.21
  resolution: "lodash@npm:4.17.21"
  languageName: node
  linkType: hard

"my-app@workspace:.":
  version: 0.0.0-use.local
  resolution: "my-app@workspace:."
  languageName: unknown
  linkType: soft
"""


def test_yarn_classic_and_berry() -> None:
    result = run(LOCK_CATALOGER, {"/a/yarn.lock": YARN_V1, "/b/yarn.lock": YARN_BERRY})
    assert result.skipped == ()
    got = {(p.locations[0], p.name, p.version) for p in result.packages}
    assert got == {
        ("/a/yarn.lock", "@babel/code-frame", "7.12.13"),
        ("/a/yarn.lock", "lodash", "4.17.15"),
        ("/a/yarn.lock", "ms", "2.0.0"),
        ("/b/yarn.lock", "@babel/code-frame", "7.12.13"),
        ("/b/yarn.lock", "lodash", "4.17.21"),
    }


# pnpm lockfiles, https://github.com/pnpm/spec/tree/master/lockfile (5.4, 6.0 and 9.0 layouts)
PNPM_5 = b"""lockfileVersion: 5.4
specifiers:
  express: ^4.18.2
dependencies:
  express: 4.18.2
packages:
  /express/4.18.2:
    resolution: {integrity: sha512-x}
    dev: false
  /@types/node/18.11.9:
    resolution: {integrity: sha512-y}
    dev: false
  /react-dom/18.2.0_react@18.2.0:
    resolution: {integrity: sha512-z}
    dev: false
  /jest/29.0.0:
    resolution: {integrity: sha512-w}
    dev: true
"""

PNPM_6 = b"""lockfileVersion: '6.0'
packages:
  /express@4.18.2:
    resolution: {integrity: sha512-x}
    dev: false
  /@types/node@18.11.9:
    resolution: {integrity: sha512-y}
    dev: false
  /react-dom@18.2.0(react@18.2.0):
    resolution: {integrity: sha512-z}
    dev: false
  /jest@29.0.0:
    resolution: {integrity: sha512-w}
    dev: true
"""

PNPM_9 = b"""lockfileVersion: '9.0'
importers:
  .:
    dependencies:
      express:
        specifier: ^4.18.2
        version: 4.18.2
      react-dom:
        specifier: ^18.2.0
        version: 18.2.0(react@18.2.0)
    devDependencies:
      jest:
        specifier: ^29.0.0
        version: 29.0.0
packages:
  express@4.18.2:
    resolution: {integrity: sha512-x}
  '@types/node@18.11.9':
    resolution: {integrity: sha512-y}
  react-dom@18.2.0:
    resolution: {integrity: sha512-z}
  jest@29.0.0:
    resolution: {integrity: sha512-w}
snapshots:
  express@4.18.2:
    dependencies:
      '@types/node': 18.11.9
  '@types/node@18.11.9': {}
  react-dom@18.2.0(react@18.2.0):
    dependencies:
      react: 18.2.0
  jest@29.0.0: {}
"""


@pytest.mark.parametrize("lock", [PNPM_5, PNPM_6, PNPM_9])
def test_pnpm_lock(lock: bytes) -> None:
    result = run(LOCK_CATALOGER, {"/app/pnpm-lock.yaml": lock})
    assert result.skipped == ()
    assert {(p.name, p.version) for p in result.packages} == {
        ("express", "4.18.2"),
        ("@types/node", "18.11.9"),
        ("react-dom", "18.2.0"),
    }


def test_malformed_lockfiles_are_skipped() -> None:
    result = run(
        LOCK_CATALOGER,
        {
            "/a/pnpm-lock.yaml": b"lockfileVersion: '6.0'\npackages: [unclosed",
            "/b/yarn.lock": b"__metadata:\n  version: 6\n\tbad: [",
            "/c/package-lock.json": b"{",
            "/d/pnpm-lock.yaml": b"a: " + b"[" * 10_000,
            "/e/pnpm-lock.yaml": b"lockfileVersion: .inf\npackages: {}\n",
        },
    )
    assert result.packages == ()
    assert {s.path for s in result.skipped} == {
        "/a/pnpm-lock.yaml",
        "/b/yarn.lock",
        "/c/package-lock.json",
        "/d/pnpm-lock.yaml",
        "/e/pnpm-lock.yaml",
    }
