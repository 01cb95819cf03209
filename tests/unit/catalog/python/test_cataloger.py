"""The Python cataloger on metadata written by real producers (pip, setuptools) and in code."""

from __future__ import annotations

import importlib.metadata
import io
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from dockwatch.catalog.cataloger import CatalogResult, FileEntry, LayerFiles, ParseEnv
from dockwatch.catalog.python import CATALOGER
from tests.builders.zips import UNREADABLE_MEMBERS, unreadable_member


def pep503(name: str) -> str:
    """PEP 503 normalization, written from the PEP, as the oracle."""
    return re.sub(r"[-_.]+", "-", name).lower()


def run(entries: dict[str, bytes]) -> CatalogResult:
    files = LayerFiles({p: FileEntry(p, len(d), 0o644, d) for p, d in entries.items()})
    return CATALOGER.catalog(files, ParseEnv(None, files))


def tree(root: Path, prefix: str) -> dict[str, bytes]:
    """Every file under `root`, keyed by its path under `prefix` in the image."""
    return {
        f"{prefix}/{p.relative_to(root)}": p.read_bytes() for p in root.rglob("*") if p.is_file()
    }


def oracle(metadata_dirs: list[Path]) -> set[tuple[str, str]]:
    """(normalized name, version) of each distribution, read by importlib.metadata."""
    out = set()
    for d in metadata_dirs:
        dist = importlib.metadata.PathDistribution(d)
        out.add((pep503(dist.metadata["Name"]), dist.version))
    return out


def test_pip_installed_site_packages_match_importlib_metadata() -> None:
    """The venv's site-packages were written by pip: every distribution importlib finds, we find."""
    site = Path(sysconfig.get_paths()["purelib"])
    dirs = sorted(site.glob("*.dist-info"))
    entries = {
        f"/usr/local/lib/python3.11/site-packages/{d.name}/METADATA": (d / "METADATA").read_bytes()
        for d in dirs
    }
    result = run(entries)
    assert result.skipped == ()
    want = oracle(dirs)
    assert len(want) > 20
    assert {(p.name, p.version) for p in result.packages} == want
    assert all(p.type == "python" and p.found_by == "python-installed" for p in result.packages)
    assert all(p.purl == f"pkg:pypi/{p.name}@{p.version}" for p in result.packages)
    assert all(p.locations[0].endswith(".dist-info/METADATA") for p in result.packages)


DEBIAN_DIST = Path("/usr/lib/python3/dist-packages")


@pytest.mark.skipif(not DEBIAN_DIST.is_dir(), reason="no Debian python3 dist-packages here")
def test_debian_packaged_dist_and_egg_info() -> None:
    """Debian's python3-* packages ship dist-info, egg-info directories and egg-info files."""
    dirs = sorted(p for p in DEBIAN_DIST.iterdir() if p.name.endswith((".dist-info", ".egg-info")))
    entries: dict[str, bytes] = {}
    for d in dirs:
        meta = d / ("METADATA" if d.name.endswith(".dist-info") else "PKG-INFO")
        src = meta if d.is_dir() else d
        if src.is_file():
            entries[f"{DEBIAN_DIST}/{d.name}" + ("/" + meta.name if d.is_dir() else "")] = (
                src.read_bytes()
            )
    result = run(entries)
    assert result.skipped == ()
    assert {(p.name, p.version) for p in result.packages} == oracle(dirs)


SETUP_PY = """from setuptools import setup
setup(name="My_Tool.Kit", version="1.4.0.post2", license="MIT", py_modules=["mytool"])
"""


@pytest.fixture(scope="module")
def setuptools_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    proj = tmp_path_factory.mktemp("proj")
    (proj / "setup.py").write_text(SETUP_PY)
    (proj / "mytool.py").write_text("X = 1\n")
    return proj


def test_setuptools_egg_info_directory(setuptools_project: Path) -> None:
    subprocess.run(
        [sys.executable, "setup.py", "-q", "egg_info"],
        cwd=setuptools_project, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    [egg_info] = setuptools_project.glob("*.egg-info")
    result = run(tree(egg_info, f"/usr/lib/python3/dist-packages/{egg_info.name}"))
    [pkg] = result.packages
    assert (pkg.name, pkg.version) == ("my-tool-kit", "1.4.0.post2")
    assert pkg.licenses == ("MIT",)
    assert pkg.locations == (f"/usr/lib/python3/dist-packages/{egg_info.name}/PKG-INFO",)


def test_setuptools_zipped_egg(setuptools_project: Path) -> None:
    subprocess.run(
        [sys.executable, "setup.py", "-q", "bdist_egg"],
        cwd=setuptools_project, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    [egg] = (setuptools_project / "dist").glob("*.egg")
    assert zipfile.is_zipfile(egg)
    [pkg] = run({f"/opt/eggs/{egg.name}": egg.read_bytes()}).packages
    assert (pkg.name, pkg.version) == ("my-tool-kit", "1.4.0.post2")
    assert dict(pkg.metadata)["evidence"] == "egg"


# Core metadata: https://packaging.python.org/en/latest/specifications/core-metadata/
DJANGO = b"""Metadata-Version: 2.1
Name: Django
Version: 3.2
Summary: A high-level Python Web framework
License: BSD-3-Clause
Classifier: License :: OSI Approved :: BSD License

Long description that mentions Version: 9.9 and Name: evil
"""


def test_version_exactly_as_metadata_says() -> None:
    [pkg] = run({"/s/Django-3.2.dist-info/METADATA": DJANGO}).packages
    assert (pkg.name, pkg.version, pkg.licenses) == ("django", "3.2", ("BSD-3-Clause",))


def test_licence_from_expression_then_classifiers() -> None:
    expr = b"Metadata-Version: 2.4\nName: a\nVersion: 1\nLicense-Expression: MIT OR Apache-2.0\n\n"
    cls = b"Metadata-Version: 2.1\nName: b\nVersion: 1\nLicense: UNKNOWN\nClassifier: License :: OSI Approved :: MIT License\n\n"
    got = {
        p.name: p.licenses
        for p in run({"/a.dist-info/METADATA": expr, "/b.dist-info/METADATA": cls}).packages
    }
    assert got == {"a": ("MIT OR Apache-2.0",), "b": ("MIT License",)}


def test_distutils_egg_info_file() -> None:
    data = b"Metadata-Version: 1.1\nName: python-apt\nVersion: 2.6.0\n"
    [pkg] = run({"/usr/lib/python3/dist-packages/python_apt-2.6.0.egg-info": data}).packages
    assert (pkg.name, pkg.version) == ("python-apt", "2.6.0")


def test_malformed_metadata_is_skipped() -> None:
    result = run(
        {
            "/x/noversion.dist-info/METADATA": b"Metadata-Version: 2.1\nName: x\n\n",
            "/x/binary.dist-info/METADATA": bytes(range(256)) * 4,
            "/x/good.dist-info/METADATA": b"Name: good\nVersion: 1.0\n",
            "/x/broken.egg": b"PK\x03\x04 truncated",
        }
    )
    assert [(p.name, p.version) for p in result.packages] == [("good", "1.0")]
    assert {s.path for s in result.skipped} == {
        "/x/noversion.dist-info/METADATA",
        "/x/binary.dist-info/METADATA",
        "/x/broken.egg",
    }


@pytest.mark.parametrize("how", UNREADABLE_MEMBERS)
def test_an_egg_zipfile_cannot_read_is_skipped_not_the_layer(how: str) -> None:
    """(`zipfile` raised RuntimeError for it, which failed the whole cataloger: every Python
    package of the layer was lost.)"""
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("EGG-INFO/PKG-INFO", "Metadata-Version: 1.1\nName: hidden\nVersion: 1.0\n")
    egg = unreadable_member(packed.getvalue(), 0, how)
    result = run({"/x/crafted.egg": egg, "/x/good.dist-info/METADATA": b"Name: good\nVersion: 1\n"})
    assert [(p.name, p.version) for p in result.packages] == [("good", "1")]
    assert [s.path for s in result.skipped] == ["/x/crafted.egg"]


def test_globs() -> None:
    assert "/**/*.dist-info/METADATA" in CATALOGER.globs
    assert "/**/*.egg-info/PKG-INFO" in CATALOGER.globs
