"""The Java cataloger on the corpus image debian-java (Debian-packaged jars)."""

from __future__ import annotations

import io
import zipfile

import pytest

from dockwatch.catalog.cataloger import CatalogResult, LayerFiles, ParseEnv
from dockwatch.catalog.java import CATALOGER
from tests.unit.catalog.python.corpus_layers import contents_section, corpus_image, squashed_files

IMAGE = "debian-java"

pytestmark = pytest.mark.skipif(
    corpus_image(IMAGE) is None, reason=f"corpus image {IMAGE} absent (build-corpus.sh)"
)


@pytest.fixture(scope="module")
def scanned() -> tuple[LayerFiles, CatalogResult]:
    layout = corpus_image(IMAGE)
    assert layout is not None
    files = squashed_files(layout, [CATALOGER])
    return files, CATALOGER.catalog(files, ParseEnv(None, files))


def test_every_jar_is_reported_from_evidence(scanned: tuple[LayerFiles, CatalogResult]) -> None:
    _, result = scanned
    jars = set(contents_section(IMAGE, "jar files"))
    assert len(jars) == 41
    assert result.skipped == ()
    assert {p.locations[0] for p in result.packages} == jars
    evidence = {dict(p.metadata)["evidence"] for p in result.packages}
    assert evidence == {"pom.properties", "maven-repo"}


def test_known_components_and_versions(scanned: tuple[LayerFiles, CatalogResult]) -> None:
    """Versions the image README names (upstream versions: Debian's patches are the OS package's
    business, through `os_package` set by coalescing)."""
    _, result = scanned
    got = {(p.name, p.version) for p in result.packages}
    for want in [
        ("org.apache.logging.log4j:log4j-core", "2.19.0"),
        ("org.yaml:snakeyaml", "1.33"),
        ("com.fasterxml.jackson.core:jackson-databind", "2.14.0"),
        ("org.apache.httpcomponents:httpclient", "4.5.14"),
        ("org.slf4j:slf4j-api", "1.7.32"),
        ("com.google.code.gson:gson", "2.10"),
    ]:
        assert want in got


def test_pom_evidence_agrees_with_the_jar(scanned: tuple[LayerFiles, CatalogResult]) -> None:
    """Each pom.properties package: the jar holds exactly that file with that version line."""
    files, result = scanned
    for pkg in result.packages:
        meta = dict(pkg.metadata)
        if meta["evidence"] != "pom.properties":
            continue
        data = files.files[pkg.locations[0]].data
        assert data is not None
        text = zipfile.ZipFile(io.BytesIO(data)).read(meta["pom_properties"]).decode()
        assert f"version={pkg.version}" in text.splitlines()
        group, artifact = pkg.name.split(":")
        assert meta["pom_properties"] == f"META-INF/maven/{group}/{artifact}/pom.properties"


def test_jars_without_pom_get_debian_maven_repo_coordinates(
    scanned: tuple[LayerFiles, CatalogResult],
) -> None:
    """syft invents coordinates for these: `pkg:maven/mongodb-driver/mongodb-driver@3.6.3` from
    the file name of a jar that says nothing about itself, and `pkg:maven/org.apache/logging@1.2`
    from commons-logging's Implementation-Vendor-Id. Debian's maven-repo link states them."""
    files, result = scanned
    by_jar = {p.locations[0]: p for p in result.packages}
    path = "/usr/share/java/mongodb-driver-3.6.3.jar"
    data = files.files[path].data
    assert data is not None
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert not [n for n in zf.namelist() if n.endswith("pom.properties")]
    assert zf.read("META-INF/MANIFEST.MF").strip() == b"Manifest-Version: 1.0"
    link = "/usr/share/maven-repo/org/mongodb/mongodb-driver/3.6.3/mongodb-driver-3.6.3.jar"
    assert files.files[link].link_target == "../../../../../java/mongodb-driver-3.6.3.jar"
    pkg = by_jar[path]
    assert (pkg.name, pkg.version) == ("org.mongodb:mongodb-driver", "3.6.3")
    assert dict(pkg.metadata) == {"evidence": "maven-repo", "maven_repo_link": link}

    logging = "/usr/share/java/commons-logging-1.2.jar"
    data = files.files[logging].data
    assert data is not None
    manifest = zipfile.ZipFile(io.BytesIO(data)).read("META-INF/MANIFEST.MF")
    assert b"Implementation-Vendor-Id: org.apache" in manifest
    assert by_jar[logging].purl == "pkg:maven/commons-logging/commons-logging@1.2"
