"""The Python manifest cataloger on files the real tools wrote (fixtures/README.md).

Each oracle is the tool's own reading of its file (pip's requirements reader, `uv export`,
Poetry's locker, `pipenv requirements`), recorded when the fixture was made.
"""

from __future__ import annotations

from pathlib import Path

from packageurl import PackageURL
from packaging.utils import canonicalize_name

from dockwatch.catalog.cataloger import CatalogResult, FileEntry, LayerFiles, ParseEnv
from dockwatch.catalog.coalesce import LayerCatalog, coalesce
from dockwatch.catalog.python import CATALOGER, MANIFEST_CATALOGER
from dockwatch.model.digest import Digest

FIXTURES = Path(__file__).parent / "fixtures"


def run(entries: dict[str, bytes]) -> CatalogResult:
    files = LayerFiles({p: FileEntry(p, len(d), 0o644, d) for p, d in entries.items()})
    return MANIFEST_CATALOGER.catalog(files, ParseEnv(None, files))


def oracle(name: str) -> set[tuple[str, str]]:
    """(PEP 503 name, version) of `name==version` lines (markers and comments dropped)."""
    out: set[tuple[str, str]] = set()
    for line in (FIXTURES / name).read_text().splitlines():
        spec = line.split(";", 1)[0].strip()
        if "==" in spec and not spec.startswith(("#", "-")):
            n, v = spec.split("==", 1)
            out.add((canonicalize_name(n), v.strip()))
    return out


def pins(result: CatalogResult) -> set[tuple[str, str]]:
    return {(p.name, p.version) for p in result.packages}


def test_pip_compile_output_with_hashes_extras_and_markers() -> None:
    result = run({"/app/requirements.txt": (FIXTURES / "requirements.txt").read_bytes()})
    assert result.skipped == ()
    assert pins(result) == oracle("requirements.expected.txt")
    by_name = {p.name: p for p in result.packages}
    assert dict(by_name["requests"].metadata)["extras"] == "socks"
    assert dict(by_name["pyyaml"].metadata)["marker"] == 'python_version >= "3.8"'
    assert {p.package_manager for p in result.packages} == {"PIP"}
    assert by_name["requests"].purl == "pkg:pypi/requests@2.31.0"


def test_only_exact_pins_are_packages() -> None:
    text = (
        b"# pip freeze output and hand-written lines\n"
        b"Django==4.2.7  # pinned\n"
        b"flask>=2.0\n"
        b"numpy==1.*\n"
        b"-e git+https://example.com/repo.git#egg=local\n"
        b"tool @ https://example.com/tool-1.0.tar.gz\n"
        b"ruamel.yaml===0.18.5\n"
        b"--index-url https://pypi.org/simple\n"
        b"urllib3==2.1.0 \\\n    --hash=sha256:00\n"
    )
    result = run({"/srv/requirements-prod.txt": text})
    assert pins(result) == {("django", "4.2.7"), ("ruamel-yaml", "0.18.5"), ("urllib3", "2.1.0")}


def test_includes_in_the_layer_are_catalogued_and_missing_ones_reported() -> None:
    result = run(
        {
            "/srv/requirements/prod.txt": b"-r base.txt\n-r ../common.txt\n-c constraints.txt\n"
            b"gunicorn==21.2.0\n",
            "/srv/requirements/base.txt": b"django==4.2.7\n",
        }
    )
    assert {(p.locations[0], p.name) for p in result.packages} == {
        ("/srv/requirements/prod.txt", "gunicorn"),
        ("/srv/requirements/base.txt", "django"),
    }
    [missing] = result.skipped
    assert missing.path == "/srv/common.txt" and "/srv/requirements/prod.txt" in missing.reason


def test_uv_lock() -> None:
    result = run({"/app/uv.lock": (FIXTURES / "uv.lock").read_bytes()})
    assert result.skipped == ()
    assert pins(result) == oracle("uv.expected.txt")
    assert "fixture-app" not in {p.name for p in result.packages}  # the project itself
    assert {p.package_manager for p in result.packages} == {"PIP"}


def test_poetry_lock() -> None:
    result = run({"/app/poetry.lock": (FIXTURES / "poetry.lock").read_bytes()})
    assert result.skipped == ()
    assert pins(result) == oracle("poetry.expected.txt")
    assert {p.package_manager for p in result.packages} == {"POETRY"}
    dev = {p.name for p in result.packages if dict(p.metadata).get("dev") == "true"}
    assert "pytest" in dev and "requests" not in dev


def test_pipfile_lock_default_and_develop() -> None:
    result = run({"/app/Pipfile.lock": (FIXTURES / "Pipfile.lock").read_bytes()})
    assert result.skipped == ()
    default, develop = oracle("pipenv.expected.txt"), oracle("pipenv-dev.expected.txt")
    assert pins(result) == default | develop
    dev = {(p.name, p.version) for p in result.packages if dict(p.metadata).get("dev")}
    assert dev == develop
    assert {p.package_manager for p in result.packages} == {"PIPENV"}


def test_purls_are_valid_pypi_purls() -> None:
    result = run({"/app/uv.lock": (FIXTURES / "uv.lock").read_bytes()})
    for p in result.packages:
        purl = PackageURL.from_string(p.purl)
        assert (purl.type, purl.name, purl.version) == ("pypi", p.name, p.version)


def test_malformed_manifests_are_skipped_not_fatal() -> None:
    result = run(
        {"/a/poetry.lock": b"[[package]\n", "/b/Pipfile.lock": b"{", "/c/uv.lock": b"\xff"}
    )
    assert result.packages == ()
    assert {s.path for s in result.skipped} == {"/a/poetry.lock", "/b/Pipfile.lock", "/c/uv.lock"}


def test_installed_distribution_wins_over_the_manifest_naming_it() -> None:
    """One package when a dist-info and a requirements file agree on the version (installed,
    PYTHONPKG, located at both); two when they disagree."""
    metadata = b"Metadata-Version: 2.1\nName: Django\nVersion: 4.2.7\n"
    layer = {
        "/usr/lib/python3/site-packages/Django-4.2.7.dist-info/METADATA": metadata,
        "/srv/requirements.txt": b"django==4.2.7\nflask==3.0.0\n",
        "/srv/poetry.lock": b'[[package]]\nname = "flask"\nversion = "2.3.3"\n',
    }
    files = LayerFiles({p: FileEntry(p, len(d), 0o644, d) for p, d in layer.items()})
    env = ParseEnv(None, files)
    results = {c.name: c.catalog(files, env) for c in (CATALOGER, MANIFEST_CATALOGER)}
    packages = coalesce([LayerCatalog(Digest("sha256:" + "1" * 64), results)])
    got = {(p.name, p.version, p.package_manager, p.locations) for p in packages}
    assert got == {
        ("django", "4.2.7", "PYTHONPKG", (
            "/usr/lib/python3/site-packages/Django-4.2.7.dist-info/METADATA",
            "/srv/requirements.txt")),
        ("flask", "3.0.0", "PIP", ("/srv/requirements.txt",)),
        ("flask", "2.3.3", "POETRY", ("/srv/poetry.lock",)),
    }  # fmt: skip
