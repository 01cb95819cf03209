"""SPDX 2.3: valid by spdx-tools' own validation (of the model and of the written JSON parsed
back), purls as external references, DESCRIBES and CONTAINS relationships, deterministic bytes.

spdx-tools does not ship the SPDX 2.3 JSON schema, so the schema check is its validator only.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from dockwatch.reports.sbom import render, spdx
from tests.unit.reports.sbom.inventories import APP, MANIFEST, inventory, packages

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_model_validates() -> None:
    assert validate_full_spdx_document(spdx.to_document(inventory(), WHEN), "SPDX-2.3") == []


@pytest.mark.parametrize("with_distro", [True, False])
def test_written_json_parses_back_and_validates(tmp_path: Path, with_distro: bool) -> None:
    path = tmp_path / "sbom.spdx.json"
    path.write_text(spdx.dumps(inventory(with_distro=with_distro), WHEN))
    parsed = parse_file(str(path))
    assert validate_full_spdx_document(parsed, "SPDX-2.3") == []
    assert parsed.creation_info.spdx_version == "SPDX-2.3"
    assert len(parsed.packages) == 1 + len(packages()) + (1 if with_distro else 0)


def test_empty_inventory_validates() -> None:
    assert validate_full_spdx_document(spdx.to_document(inventory([]), WHEN), "SPDX-2.3") == []


def test_packages_carry_purls_and_relationships() -> None:
    doc = json.loads(spdx.dumps(inventory(), WHEN))
    by_id = {p["SPDXID"]: p for p in doc["packages"]}
    image = by_id["SPDXRef-Image"]
    assert image["primaryPackagePurpose"] == "CONTAINER"
    assert image["versionInfo"] == MANIFEST
    assert image["checksums"] == [
        {"algorithm": "SHA256", "checksumValue": MANIFEST.split(":", 1)[1]}
    ]
    purls = [
        ref["referenceLocator"]
        for p in doc["packages"]
        if p["SPDXID"].startswith("SPDXRef-Package-")
        for ref in p["externalRefs"]
        if ref["referenceType"] == "purl"
    ]
    assert sorted(purls) == sorted(p.purl for p in packages())
    rels = {
        (r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"])
        for r in doc["relationships"]
    }
    assert ("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image") in rels
    for spdx_id in by_id:
        if spdx_id != "SPDXRef-Image":
            assert ("SPDXRef-Image", "CONTAINS", spdx_id) in rels


def test_layer_owner_and_licences() -> None:
    doc = json.loads(spdx.dumps(inventory(), WHEN))
    by_name = {p["name"]: p for p in doc["packages"]}
    jar = by_name["com.fasterxml.jackson.core:jackson-databind"]
    assert APP in jar["sourceInfo"] and "/usr/share/java/jackson-databind.jar" in jar["sourceInfo"]
    assert "libjackson2-databind-java 2.14.0-1+deb12u1" in jar["comment"]
    assert by_name["openssl"]["licenseDeclared"] == "Apache-2.0"
    assert by_name["requests"]["licenseDeclared"] == "Apache-2.0 AND MIT"
    assert by_name["bash"]["licenseDeclared"] == "NOASSERTION"
    assert "GPL-3+" in by_name["bash"]["licenseComments"]


def test_output_is_deterministic() -> None:
    first = render(inventory(), "spdx-json", WHEN)
    for seed in range(3):
        shuffled = packages()
        random.Random(seed).shuffle(shuffled)
        assert render(inventory(shuffled), "spdx-json", WHEN) == first
    other = json.loads(render(inventory(), "spdx-json", datetime(2027, 1, 1, tzinfo=UTC)))
    assert other["documentNamespace"] != json.loads(first)["documentNamespace"]


@pytest.mark.parametrize(
    "reference",
    [
        "oci:/tmp/my image dir:v1",
        "docker://127.0.0.1:5000/team/app:1.2",
        "docker-archive:/tmp/saved.tar",
    ],
)
def test_any_image_name_gives_a_valid_namespace(reference: str) -> None:
    document = spdx.to_document(inventory(reference=reference), WHEN)
    assert validate_full_spdx_document(document, "SPDX-2.3") == []
