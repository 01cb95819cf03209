"""The dockwatch JSON SBOM: the shape DESIGN.md fixes, and the same bytes for the same image."""

from __future__ import annotations

import json
import random

from dockwatch.reports.sbom import json_format, render
from tests.unit.reports.sbom.inventories import APP, BASE, MANIFEST, digest, inventory, packages


def test_document_names_the_image_and_its_layers() -> None:
    doc = json.loads(json_format.dumps(inventory()))
    assert doc["source"]["reference"] == "oci:/images/debian-app:latest"
    assert doc["source"]["manifestDigest"] == MANIFEST
    assert doc["source"]["platform"] == "linux/amd64"
    assert [(x["digest"], x["diffId"]) for x in doc["source"]["layers"]] == [
        (BASE, digest("base tar")),
        (APP, digest("app tar")),
    ]
    assert doc["distro"]["id"] == "debian" and doc["distro"]["versionId"] == "12"
    assert doc["distro"]["codename"] == "bookworm"
    assert doc["warnings"] == ["layer x: something partial"]
    assert doc["skipped"] == [{"path": "/usr/share/java/broken.jar", "reason": "not a zip"}]


def test_every_package_has_the_required_fields() -> None:
    doc = json.loads(json_format.dumps(inventory()))
    assert len(doc["packages"]) == len(packages())
    for p in doc["packages"]:
        assert {"name", "version", "type", "purl", "layerDigest", "locations"} <= set(p)
        assert p["purl"].startswith("pkg:")
        assert p["layerDigest"] in (BASE, APP)
        assert p["locations"] and all(loc.startswith("/") for loc in p["locations"])


def test_optional_fields_appear_where_they_apply() -> None:
    doc = json.loads(json_format.dumps(inventory()))
    by = {(p["name"], tuple(p["locations"])): p for p in doc["packages"]}
    ssl = by[("openssl", ("/var/lib/dpkg/status",))]
    assert ssl["sourceName"] == "openssl" and ssl["sourceVersion"] == "3.0.11-1~deb12u2"
    assert ssl["arch"] == "amd64" and ssl["licenses"] == ["Apache-2.0"]
    assert ssl["foundBy"] == "dpkg-db"
    jar = by[
        ("com.fasterxml.jackson.core:jackson-databind", ("/usr/share/java/jackson-databind.jar",))
    ]
    assert jar["osPackage"] == {
        "type": "deb",
        "name": "libjackson2-databind-java",
        "version": "2.14.0-1+deb12u1",
        "sourceName": "jackson-databind",
    }
    assert jar["metadata"] == {"evidence": "pom.properties"}
    assert "sourceName" not in jar and "licenses" not in jar
    lodash = [p for p in doc["packages"] if p["name"] == "lodash"]
    assert len(lodash) == 2  # two copies in two places stay two entries
    assert all("osPackage" not in p and "sourceName" not in p for p in lodash)


def test_packages_are_sorted_and_output_is_deterministic() -> None:
    first = render(inventory(), "json")
    for seed in range(5):
        shuffled = packages()
        random.Random(seed).shuffle(shuffled)
        assert render(inventory(shuffled), "json") == first
    doc = json.loads(first)
    keys = [(p["type"], p["name"], p["version"], p["locations"]) for p in doc["packages"]]
    assert keys == sorted(keys)
    assert first.endswith("\n")


def test_image_without_os_has_null_distro() -> None:
    doc = json.loads(json_format.dumps(inventory(with_distro=False)))
    assert doc["distro"] is None


def test_empty_inventory_is_a_valid_document() -> None:
    doc = json.loads(json_format.dumps(inventory([])))
    assert doc["packages"] == []
    assert len(doc["source"]["layers"]) == 2
