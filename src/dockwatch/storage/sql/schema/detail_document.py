"""Finding detail documents compressed on SQLite; PostgreSQL keeps the JSON.

A detail (`finding_details.doc`) is the Inspector-shaped JSON of a finding's content, 1-3 KB,
and at 1,000,000 findings its rows were the largest table after `findings` (241 bytes a
finding at 8 KB pages). SQLite compresses nothing, so there the document is stored as a zstd frame made with
`DICTIONARY_V1`: the document's field names and the values most details share, which a frame
then refers to instead of spelling them (real details, `osv:PyPI` and `osv:Go`: 1,990 bytes of
JSON, 951 as a plain zstd frame, 531 with the dictionary). PostgreSQL compresses large
values itself (TOAST) and its filters read the document as `jsonb`, so there it stays JSON
(`DETAIL_DOCUMENT` is a variant for SQLite only).

A stored value says how it is stored by its first byte: `{` is a plain JSON document (every
detail written before migration findings/8), `FORMAT_V1` a frame made with `DICTIONARY_V1`.
The dictionary is part of the stored format: it never changes. A better one gets a new format
byte, and the reader keeps the old one for the frames already written.

No query reads inside the document: the fields filters compare are columns of their own
(`storage/sql/detail_columns.py`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import zstandard
from sqlalchemy import LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

FORMAT_V1 = b"\x01"
"""First byte of a value compressed with `DICTIONARY_V1`."""

PLAIN_JSON = b"{"[0]
"""First byte of a value stored as plain JSON (a detail document is always a JSON object)."""

DICTIONARY_V1 = (
    b'"relatedVulnerabilities":["GHSA-","PYSEC-","GO-","RUSTSEC-","DLA-","DSA-","ALAS-",'
    b'"RHSA-","USN-"],"referenceUrls":["https://github.com/advisories/GHSA-",'
    b'"https://nvd.nist.gov/vuln/detail/CVE-","https://security-tracker.debian.org/tracker/CVE-",'
    b'"https://access.redhat.com/security/cve/CVE-","https://ubuntu.com/security/CVE-",'
    b'"https://alas.aws.amazon.com/","https://go.dev/issue/","https://go.dev/cl/",'
    b'"https://pkg.go.dev/vuln/GO-","https://osv.dev/vulnerability/","https://github.com/",'
    b'"https://security.alpinelinux.org/vuln/CVE-","https://www.cve.org/CVERecord?id=CVE-"],'
    b'{"advisory":"osv:Debian/","ecosystem":"Debian:12","fixed":null,"introduced":"0",'
    b'"lastAffected":null,"name":"","package":"deb/debian/","scheme":"dpkg",'
    b'"searchedBy":"source name","version":"","via":"range"},'
    b'{"advisory":"osv:Alpine/","ecosystem":"Alpine:v3.19","package":"apk/alpine/",'
    b'"scheme":"apk","searchedBy":"ecosystem name"},'
    b'{"advisory":"osv:npm/GHSA-","ecosystem":"npm","package":"npm/","scheme":"npm"},'
    b'{"advisory":"osv:Maven/GHSA-","ecosystem":"Maven","package":"maven/","scheme":"Maven"},'
    b'{"advisory":"osv:crates.io/RUSTSEC-","ecosystem":"crates.io","package":"cargo/"},'
    b'{"advisory":"osv:RubyGems/GHSA-","ecosystem":"RubyGems","package":"gem/"},'
    b'{"advisory":"osv:Packagist/GHSA-","ecosystem":"Packagist","package":"composer/"},'
    b'{"advisory":"osv:NuGet/GHSA-","ecosystem":"NuGet","package":"nuget/"},'
    b'{"advisory":"redhat:RHSA-","ecosystem":"Red Hat","package":"rpm/redhat/","scheme":"rpm"},'
    b'{"advisory":"alas:ALAS-","ecosystem":"Amazon Linux 2023","package":"rpm/amzn/"},'
    b'{"advisory":"ubuntu:USN-","ecosystem":"Ubuntu:22.04","package":"deb/ubuntu/"},'
    b'"packageManager":"NODEPKG","purl":"pkg:npm/","packageManager":"JAR","purl":"pkg:maven/",'
    b'"packageManager":"GEMV2","purl":"pkg:gem/","packageManager":"CARGO","purl":"pkg:cargo/",'
    b'"packageManager":"COMPOSER","purl":"pkg:composer/","packageManager":"NUGET",'
    b'"purl":"pkg:nuget/","packageManager":"RPM","purl":"pkg:rpm/redhat/","arch":"x86_64",'
    b'"packageManager":"APK","purl":"pkg:apk/alpine/","packageManager":"DPKG",'
    b'"purl":"pkg:deb/debian/","arch":"amd64","arch":"all","arch":"arm64","arch":"noarch",'
    b'"packageManager":"OS","packageManager":"PYTHONPKG","purl":"pkg:pypi/",'
    b'"packageManager":"GOBINARY","purl":"pkg:golang/","filePath":"/usr/local/bin/",'
    b'"fixedInVersion":"NotAvailable","remediation":"No fixed version is known",'
    b'"remediation":"Upgrade ","vendorSeverity":"Medium","vendorSeverity":"High",'
    b'"vendorSeverity":"Low","vendorSeverity":"unimportant","vendorSeverity":"Important",'
    b'"vendorSeverity":"Moderate","vendorSeverity":"CRITICAL","vendorSeverity":"HIGH",'
    b'"vendorSeverity":"MEDIUM","vendorSeverity":"LOW","source":"NVD","source":"osv:Debian",'
    b'"source":"osv:Alpine","source":"osv:npm","source":"osv:Maven","source":"osv:Go",'
    b'"scoringVector":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H","version":"3.1"},'
    b'"scoringVector":"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",'
    b'"scoringVector":"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N",'
    b'"scoringVector":"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H",'
    b'"scoringVector":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",'
    b'"version":"4.0"},"scoringVector":"CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P","version":"2.0"},'
    b'{"description":"","epss":{"score":0.0},"evidence":[{"advisory":"osv:PyPI/PYSEC-",'
    b'"ecosystem":"PyPI","fixed":null,"introduced":null,"lastAffected":null,"name":"",'
    b'"package":"python/","scheme":"PyPI","searchedBy":"ecosystem name","version":"",'
    b'"via":"versions"},{"advisory":"osv:Go/GO-","ecosystem":"Go","fixed":"","introduced":"0",'
    b'"lastAffected":null,"name":"","package":"go/","scheme":"Go","searchedBy":"ecosystem name",'
    b'"version":"v","via":"range"}],"exploitAvailable":"NO","fixAvailable":"NO",'
    b'"inspectorScore":null,"inspectorScoreDetails":{"adjustedCvss":{"adjustments":[],'
    b'"baseScore":7.5,"cvssSource":"osv:PyPI","score":7.5,"scoreSource":"osv:PyPI",'
    b'"scoringVector":"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H","source":"osv:PyPI",'
    b'"version":"3.1"}},"packageVulnerabilityDetails":{"cvss":[{"baseScore":7.5,'
    b'"scoringVector":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H","source":"osv:PyPI",'
    b'"version":"3.1"}],"referenceUrls":["https://github.com/advisories/GHSA-",'
    b'"https://nvd.nist.gov/vuln/detail/CVE-"],"relatedVulnerabilities":["GHSA-","PYSEC-"],'
    b'"source":"osv:PyPI","sourceUrl":"https://github.com/advisories/GHSA-",'
    b'"vendorSeverity":null,"vulnerabilityId":"CVE-20","vulnerablePackages":[{"arch":null,'
    b'"epoch":null,"filePath":null,"fixedInVersion":"NotAvailable","name":"",'
    b'"packageManager":"PYTHONPKG","purl":"pkg:pypi/","release":null,'
    b'"remediation":"No fixed version is known","sourceLayerHash":"sha256:","sourceName":null,'
    b'"version":""}]},"remediation":{"recommendation":{"text":"No fixed version is known"}},'
    b'"title":"CVE-20","type":"PACKAGE_VULNERABILITY"}'
)
"""The raw-content dictionary of format 1: the values details share most (sources,
ecosystems, package managers, purl and URL prefixes, common CVSS vectors), then the skeleton of
a whole document with its field names in their canonical order, last, where a frame reaches it
with the shortest offsets. Frozen: frames written with it are decoded with it
(`DICTIONARY_V1_SHA256` guards it)."""

DICTIONARY_V1_SHA256 = "5bde6738216ba2343e8f7025e3a547edbae2639cb27e0c0e6eb7882b07970cf4"
"""The digest `DICTIONARY_V1` must have (checked when the module loads)."""

LEVEL = 3
"""zstd level: 15 us for a 2 KB detail; level 9 saves under 1% more at three times the cost."""

if hashlib.sha256(DICTIONARY_V1).hexdigest() != DICTIONARY_V1_SHA256:  # pragma: no cover
    raise RuntimeError("DICTIONARY_V1 changed: stored detail documents would not decode")

_DICT = zstandard.ZstdCompressionDict(DICTIONARY_V1, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
_COMPRESS = zstandard.ZstdCompressor(
    level=LEVEL, dict_data=_DICT, write_checksum=False, write_dict_id=False
)
_DECOMPRESS = zstandard.ZstdDecompressor(dict_data=_DICT)


class StoredDocumentError(ValueError):
    """A stored detail value in no format this version reads."""


def pack(doc: bytes) -> bytes:
    """The stored form of a detail's JSON bytes on SQLite."""
    return FORMAT_V1 + _COMPRESS.compress(doc)


def unpack(stored: bytes) -> bytes:
    """A detail's JSON bytes from its stored form (either format)."""
    if not stored or stored[0] == PLAIN_JSON:
        return stored
    if stored[:1] == FORMAT_V1:
        return _DECOMPRESS.decompress(stored[1:])
    raise StoredDocumentError(f"detail document stored in an unknown format {stored[:1]!r}")


class DetailDocument(TypeDecorator[bytes]):
    """A detail's JSON bytes, stored as `pack` gives them; read back as JSON bytes."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        return None if value is None else pack(value)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> bytes | None:
        return None if value is None else unpack(bytes(value))


DETAIL_DOCUMENT = LargeBinary().with_variant(DetailDocument(), "sqlite")
"""The `finding_details.doc` column type: `DetailDocument` on SQLite, bytes elsewhere."""
