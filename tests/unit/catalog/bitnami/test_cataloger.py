"""The Bitnami cataloger on SPDX documents shaped as Bitnami ships them.

Bitnami's images carry `/opt/bitnami/<component>/.spdx-<component>.spdx`, an SPDX 2.3 JSON
document (https://spdx.github.io/spdx-spec/v2.3/) whose packages have a `pkg:bitnami` purl
external reference (https://github.com/bitnami/containers, any `*/prebuildfs` image). Written in
code: no Bitnami image is in the corpus.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from dockwatch.catalog.bitnami import CATALOGER
from dockwatch.catalog.cataloger import CatalogResult, FileEntry, LayerFiles, ParseEnv


def spdx_doc(*packages: Mapping[str, object]) -> bytes:
    return json.dumps(
        {
            "SPDXID": "SPDXRef-DOCUMENT",
            "spdxVersion": "SPDX-2.3",
            "dataLicense": "CC0-1.0",
            "name": "redis",
            "documentNamespace": "https://bitnami.com/spdx/redis-7.2.4-0",
            "creationInfo": {"created": "2024-02-01T00:00:00Z", "creators": ["Tool: bitnami"]},
            "packages": list(packages),
        }
    ).encode()


REDIS = {
    "SPDXID": "SPDXRef-redis",
    "name": "redis",
    "versionInfo": "7.2.4-0",
    "downloadLocation": "NOASSERTION",
    "licenseConcluded": "BSD-3-Clause",
    "licenseDeclared": "BSD-3-Clause",
    "externalRefs": [
        {
            "referenceCategory": "SECURITY",
            "referenceType": "cpe23Type",
            "referenceLocator": "cpe:2.3:*:redis:redis:7.2.4:*:*:*:*:*:*:*",
        },
        {
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": "pkg:bitnami/redis@7.2.4-0?arch=amd64&distro=debian-12",
        },
    ],
}
GOSU = {
    "SPDXID": "SPDXRef-gosu",
    "name": "gosu",
    "versionInfo": "1.17.0",
    "licenseConcluded": "NOASSERTION",
    "licenseDeclared": "Apache-2.0",
}


def run(entries: dict[str, bytes]) -> CatalogResult:
    files = LayerFiles({p: FileEntry(p, len(d), 0o644, d) for p, d in entries.items()})
    return CATALOGER.catalog(files, ParseEnv(None, files))


def test_components_with_their_purls() -> None:
    result = run({"/opt/bitnami/redis/.spdx-redis.spdx": spdx_doc(REDIS, GOSU, {"name": "x"})})
    assert result.skipped == ()
    got = {p.name: p for p in result.packages}
    assert set(got) == {"redis", "gosu"}
    assert got["redis"].version == "7.2.4-0"
    assert got["redis"].purl == "pkg:bitnami/redis@7.2.4-0?arch=amd64&distro=debian-12"
    assert got["gosu"].purl == "pkg:bitnami/gosu@1.17.0"
    assert got["redis"].licenses == ("BSD-3-Clause",) and got["gosu"].licenses == ("Apache-2.0",)
    assert dict(got["redis"].metadata)["install_dir"] == "/opt/bitnami/redis"
    assert all(p.type == "bitnami" and p.found_by == "bitnami-spdx" for p in result.packages)


def test_only_files_under_opt_bitnami() -> None:
    assert run({"/tmp/.spdx-redis.spdx": spdx_doc(REDIS)}) == CatalogResult()
    nested = "/opt/bitnami/common/lib/.spdx-common.spdx"
    assert [p.name for p in run({nested: spdx_doc(GOSU)}).packages] == ["gosu"]


def test_malformed_spdx_is_skipped() -> None:
    result = run(
        {
            "/opt/bitnami/a/.spdx-a.spdx": b"SPDXVersion: SPDX-2.3\n",  # tag-value, not JSON
            "/opt/bitnami/b/.spdx-b.spdx": b'{"packages": {}}',
        }
    )
    assert result.packages == ()
    assert len(result.skipped) == 2
