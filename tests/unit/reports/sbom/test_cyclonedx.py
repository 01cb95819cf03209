"""CycloneDX 1.6: valid against the schema cyclonedx-python-lib ships, every purl present, the image
as metadata.component, layer digests as properties, the same bytes for the same input."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

from dockwatch.reports.sbom import cyclonedx, render
from tests.unit.reports.sbom.inventories import APP, BASE, MANIFEST, inventory, packages

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _validate(text: str) -> None:
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, str(error)


def _props(component: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for prop in component.get("properties", []):
        out.setdefault(prop["name"], []).append(prop["value"])
    return out


def test_document_validates_against_the_1_6_schema() -> None:
    text = cyclonedx.dumps(inventory(), WHEN)
    _validate(text)
    doc = json.loads(text)
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
    assert doc["metadata"]["timestamp"].startswith("2026-01-02T03:04:05")


@pytest.mark.parametrize("with_distro", [True, False])
def test_empty_and_os_less_inventories_validate(with_distro: bool) -> None:
    _validate(cyclonedx.dumps(inventory([], with_distro=with_distro), WHEN))


def test_every_package_is_a_component_with_its_purl_and_layer() -> None:
    doc = json.loads(cyclonedx.dumps(inventory(), WHEN))
    libraries = [c for c in doc["components"] if c["type"] == "library"]
    assert sorted(c["purl"] for c in libraries) == sorted(p.purl for p in packages())
    for c in libraries:
        props = _props(c)
        assert props["dockwatch:layerDigest"][0] in (BASE, APP)
        assert props["dockwatch:location"]
    assert len({c["bom-ref"] for c in doc["components"]}) == len(doc["components"])


def test_image_is_the_metadata_component() -> None:
    doc = json.loads(cyclonedx.dumps(inventory(), WHEN))
    root = doc["metadata"]["component"]
    assert root["type"] == "container"
    assert root["name"] == "debian-app"
    assert root["version"] == MANIFEST
    assert root["hashes"] == [{"alg": "SHA-256", "content": MANIFEST.split(":", 1)[1]}]
    assert (
        root["purl"]
        == PackageURL("oci", None, "debian-app", MANIFEST, {"tag": "latest"}).to_string()
    )
    props = _props(root)
    assert props["dockwatch:image:layer:0:digest"] == [BASE]
    assert props["dockwatch:image:layer:1:digest"] == [APP]
    deps = {d["ref"]: d.get("dependsOn", []) for d in doc["dependencies"]}
    assert len(deps[root["bom-ref"]]) == len(doc["components"])


def test_file_based_package_names_its_os_package_and_java_group() -> None:
    doc = json.loads(cyclonedx.dumps(inventory(), WHEN))
    (jar,) = [c for c in doc["components"] if c["name"] == "jackson-databind"]
    assert jar["group"] == "com.fasterxml.jackson.core"
    props = _props(jar)
    assert props["dockwatch:osPackage:name"] == ["libjackson2-databind-java"]
    assert props["dockwatch:osPackage:version"] == ["2.14.0-1+deb12u1"]
    (os_component,) = [c for c in doc["components"] if c["type"] == "operating-system"]
    assert (os_component["name"], os_component["version"]) == ("debian", "12")


def test_licences_spdx_ids_and_free_text() -> None:
    doc = json.loads(cyclonedx.dumps(inventory(), WHEN))
    by_name = {c["name"]: c for c in doc["components"]}
    assert by_name["openssl"]["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    assert by_name["bash"]["licenses"] == [{"license": {"name": "GPL-3+"}}]


def test_output_is_deterministic() -> None:
    first = render(inventory(), "cyclonedx-json", WHEN)
    for seed in range(3):
        shuffled = packages()
        random.Random(seed).shuffle(shuffled)
        assert render(inventory(shuffled), "cyclonedx-json", WHEN) == first
    later = json.loads(render(inventory(), "cyclonedx-json", datetime(2027, 1, 1, tzinfo=UTC)))
    assert later["serialNumber"] != json.loads(first)["serialNumber"]


def test_source_date_epoch_fixes_the_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01T00:00:00Z
    doc = json.loads(render(inventory(), "cyclonedx-json"))
    assert doc["metadata"]["timestamp"].startswith("2026-01-01T00:00:00")


@pytest.mark.parametrize(
    "reference",
    ["oci:/tmp/my image dir:v1", "docker://127.0.0.1:5000/team/app@sha256:" + "c" * 64],
)
def test_any_image_name_validates(reference: str) -> None:
    _validate(cyclonedx.dumps(inventory(reference=reference), WHEN))
