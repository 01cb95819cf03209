"""The Composer cataloger on files written by Debian's composer (offline, a path repository).

Oracle: `composer show` (installed, and `--locked`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dockwatch.catalog.cataloger import CatalogResult, FileEntry, LayerFiles, ParseEnv
from dockwatch.catalog.php import CATALOGER, LOCK_CATALOGER


def run(entries: dict[str, bytes]) -> CatalogResult:
    """Both catalogers (installed, lockfile) over the files, results joined."""
    files = LayerFiles({p: FileEntry(p, len(d), 0o644, d) for p, d in entries.items()})
    results = [c.catalog(files, ParseEnv(None, files)) for c in (CATALOGER, LOCK_CATALOGER)]
    return CatalogResult(
        tuple(p for r in results for p in r.packages),
        tuple(s for r in results for s in r.skipped),
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("composer") is None:
        pytest.skip("Debian's composer is not installed")
    root = tmp_path_factory.mktemp("php")
    for name, version, lic in [("util", "1.3.0", "MIT"), ("devtool", "0.9.2", "BSD-3-Clause")]:
        pkg = root / "pkgs" / name
        pkg.mkdir(parents=True)
        (pkg / "composer.json").write_text(
            json.dumps({"name": f"acme/{name}", "version": version, "license": [lic]})
        )
    app = root / "app"
    app.mkdir()
    (app / "composer.json").write_text(
        json.dumps(
            {
                "name": "acme/app",
                "repositories": [
                    {"type": "path", "url": "../pkgs/*", "options": {"symlink": False}},
                    {"packagist.org": False},
                ],
                "require": {"acme/util": "^1.3"},
                "require-dev": {"acme/devtool": "*"},
            }
        )
    )
    env = {**os.environ, "COMPOSER_HOME": str(root / "home"), "COMPOSER_NO_INTERACTION": "1"}
    subprocess.run(["composer", "install", "--no-plugins", "--quiet"], cwd=app, env=env,
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    return app


def composer_show(app: Path, *flags: str) -> set[tuple[str, str]]:
    out = subprocess.run(
        ["composer", "show", "--format=json", *flags], cwd=app, check=True, capture_output=True,
        text=True, timeout=120, env={**os.environ, "COMPOSER_HOME": str(app.parent / "home")},
    ).stdout  # fmt: skip
    doc = json.loads(out)
    return {(p["name"], p["version"]) for p in doc.get("installed", doc.get("locked", []))}


def test_installed_json_v2(project: Path) -> None:
    data = (project / "vendor" / "composer" / "installed.json").read_bytes()
    assert isinstance(json.loads(data), dict)  # Composer 2 layout
    result = run({"/var/www/vendor/composer/installed.json": data})
    assert result.skipped == ()
    assert {(p.name, p.version) for p in result.packages} == composer_show(project)
    by_name = {p.name: p for p in result.packages}
    assert by_name["acme/util"].purl == "pkg:composer/acme/util@1.3.0"
    assert by_name["acme/util"].licenses == ("MIT",)
    assert dict(by_name["acme/devtool"].metadata) == {"dev": "true"}
    assert "dev" not in dict(by_name["acme/util"].metadata)
    assert all(p.type == "composer" and p.found_by == "php-composer" for p in result.packages)
    assert {p.package_manager for p in result.packages} == {"COMPOSER"}


def test_composer_lock(project: Path) -> None:
    result = run({"/var/www/composer.lock": (project / "composer.lock").read_bytes()})
    assert result.skipped == ()
    assert {(p.name, p.version) for p in result.packages} == composer_show(project, "--locked")
    assert {(p.found_by, p.package_manager) for p in result.packages} == {
        ("php-composer-lock", "COMPOSER")
    }


# Composer 1 wrote installed.json as a bare list (composer 1.10 FilesystemRepository::write).
COMPOSER1 = b"""[
    {"name": "monolog/monolog", "version": "1.25.1", "version_normalized": "1.25.1.0",
     "license": ["MIT"], "type": "library"},
    {"name": "psr/log", "version": "1.1.0", "license": ["MIT"]}
]"""


def test_installed_json_v1_list() -> None:
    got = {(p.name, p.version) for p in run({"/v/composer/installed.json": COMPOSER1}).packages}
    assert got == {("monolog/monolog", "1.25.1"), ("psr/log", "1.1.0")}


def test_malformed_files_are_skipped() -> None:
    result = run(
        {
            "/a/composer/installed.json": b'{"packages": 3}',
            "/b/composer/installed.json": b"[" * 100_000,
            "/c/composer.lock": b"not json",
        }
    )
    assert result.packages == ()
    assert len(result.skipped) == 3


def test_entries_without_a_package_name_are_left_out() -> None:
    # found by fuzzing: a blank or `vendor/` name has no purl
    entries = [{"name": n, "version": "1.0"} for n in (" ", "a/ ", "a//", "a/./", "v/ok")]
    entries.append({"name": "v/blank-version", "version": " "})
    result = run({"/a/composer/installed.json": json.dumps({"packages": entries}).encode()})
    assert [p.purl for p in result.packages] == ["pkg:composer/v/ok@1.0"]
