"""Findings name each vulnerable package's manager as Inspector does: the manager of the file the
package was found in (a yarn.lock entry YARN, a package-lock one NPM, an installed package.json
NODEPKG), not one word per ecosystem."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import orjson

from dockwatch.app import build
from dockwatch.catalog.cataloger import FileEntry, LayerFiles, ParseEnv
from dockwatch.catalog.registry import default_registry
from dockwatch.config import Settings
from dockwatch.model.finding import detail_json
from dockwatch.model.package import Package
from dockwatch.model.package_doc import dump_package
from dockwatch.scan.pipeline import evaluate
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb

TODAY = date(2026, 11, 26)
ADVISORY = {
    "id": "GHSA-wwww-xxxx-yyyy",
    "aliases": ["CVE-2026-0101"],
    "modified": "2026-11-01T00:00:00Z",
    "affected": [{
        "package": {"ecosystem": "npm", "name": "ms"},
        "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "2.1.3"}]}],
    }],
}  # fmt: skip
FILES = {
    "/web/yarn.lock": b'# yarn lockfile v1\n\nms@^2.1.1:\n  version "2.1.2"\n',
    "/api/package-lock.json": json.dumps(
        {"lockfileVersion": 3, "packages": {"": {}, "node_modules/ms": {"version": "2.0.0"}}}
    ).encode(),
    "/srv/node_modules/ms/package.json": b'{"name": "ms", "version": "2.1.1"}',
}


def test_vulnerable_packages_name_the_manager_of_their_file(tmp_path: Path) -> None:
    layer = LayerFiles({p: FileEntry(p, len(d), 0o644, d) for p, d in FILES.items()})
    env = ParseEnv(None, layer)
    packages = [p for c in default_registry(plugins=False) for p in c.catalog(layer, env).packages]
    services = build(Settings(data_dir=tmp_path / "data"))
    try:
        folder = tmp_path / "osv"
        folder.mkdir()
        (folder / "GHSA-wwww-xxxx-yyyy.json").write_text(json.dumps(ADVISORY))
        import_paths(VulnDb(services.store, services.clock), [folder])
        evaluation = evaluate(packages, None, services.scanner.index, services.store, today=TODAY)
    finally:
        services.close()
    doc = detail_json(evaluation.drafts["CVE-2026-0101"].detail)
    got = {(p["filePath"], p["version"], p["packageManager"])
           for p in doc["packageVulnerabilityDetails"]["vulnerablePackages"]}  # fmt: skip
    assert got == {
        ("/web/yarn.lock", "2.1.2", "YARN"),
        ("/api/package-lock.json", "2.0.0", "NPM"),
        ("/srv/node_modules/ms/package.json", "2.1.1", "NODEPKG"),
    }


def test_packages_stored_before_the_manager_keep_their_document_and_fall_back(
    tmp_path: Path,
) -> None:
    """A package catalogued before packages carried a manager (a cached layer result) dumps to
    the document it was stored under, and its finding derives the manager from its type."""
    old = Package("zeta", "1.0", "python", "pkg:pypi/zeta@1.0")
    assert b"package_manager" not in dump_package(old)
    assert orjson.loads(dump_package(old)) == {
        k: v for k, v in orjson.loads(dump_package(Package("zeta", "1.0", "python",
            "pkg:pypi/zeta@1.0", package_manager="PIP"))).items() if k != "package_manager"
    }  # fmt: skip
    services = build(Settings(data_dir=tmp_path / "data"))
    try:
        folder = tmp_path / "osv"
        folder.mkdir()
        rec = {**ADVISORY, "id": "PYSEC-2026-9", "aliases": [],
               "affected": [{**ADVISORY["affected"][0], "package": {"ecosystem": "PyPI", "name": "zeta"},  # type: ignore[dict-item]
                             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}]}]}  # fmt: skip
        (folder / "PYSEC-2026-9.json").write_text(json.dumps(rec))
        import_paths(VulnDb(services.store, services.clock), [folder])
        evaluation = evaluate([old], None, services.scanner.index, services.store, today=TODAY)
    finally:
        services.close()
    [pkg] = evaluation.drafts["PYSEC-2026-9"].detail.packages
    assert pkg.package_manager == "PYTHONPKG"


def test_packages_read_by_ref_are_named_by_that_ref() -> None:
    """A rescan's packages come from the store under their ref (`remember_refs`); its drafts
    name them as a scan that serializes each package names them."""
    from dockwatch.findings.build import _ref, remember_refs
    from dockwatch.model.package_doc import load_package, package_ref

    pkg = Package(
        name="left-pad-remembered", version="1.3.0", type="npm",
        purl="pkg:npm/left-pad-remembered@1.3.0", locations=("/app/package.json",),
    )  # fmt: skip
    doc = dump_package(pkg)
    loaded = load_package(doc)
    remember_refs({package_ref(doc): loaded})
    assert _ref(loaded) == package_ref(dump_package(loaded)) == package_ref(doc)
    other = Package(name="left-pad-unseen", version="1.3.0", type="npm", purl="pkg:npm/x@1")
    assert _ref(other) == package_ref(dump_package(other))
