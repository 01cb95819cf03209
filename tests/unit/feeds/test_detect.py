"""Telling feed formats apart for `db import`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest

from dockwatch.feeds.detect import Format, parse_found, scan, sniff
from tests.builders import feeds as b

VULNDATA = Path(__file__).resolve().parents[3].parent / "shared" / "vulndata"


def _mixed(root: Path) -> dict[str, Format | None]:
    root.mkdir()
    files: dict[str, tuple[bytes, Format | None]] = {
        "ghsa/GHSA-jf85-cpcp-j695.json": (orjson.dumps(b.GHSA_EXAMPLES[0]), Format.OSV),
        "pypa/PYSEC-1.yaml": (b"id: PYSEC-1\nmodified: '2020-01-01T00:00:00Z'\naffected: []\n", Format.OSV),
        "all.zip": (b.osv_zip(root / "tmp.zip", b.GHSA_EXAMPLES[1:3]).read_bytes(), Format.OSV),
        "debian.json": (b.debian_tracker(), Format.DEBIAN),
        "alpine/v3.19/main.json": (b.alpine_secdb("v3.19", "main", b.ALPINE_MAIN_V319), Format.ALPINE),
        "nvd/page-0.json": (orjson.dumps(b.nvd_page(b.NVD_EXAMPLES, 0, 4, 2000)), Format.NVD),
        "kev.json": (b.kev_catalogue([{"cveID": "CVE-2021-44228", "dateAdded": "2021-12-10"}]), Format.KEV),
        "epss.csv.gz": (b.epss_csv(b.EPSS_EXAMPLE_ROWS), Format.EPSS),
        "epss-plain.csv": (b.epss_csv(b.EPSS_EXAMPLE_ROWS, gz=False), Format.EPSS),
        "LICENSE": (b"CC-BY-4.0", None),
        "README.md": (b"# data", None),
        "kev_schema.json": (b'{"$schema": "x", "properties": {"catalogVersion": {"type": "string"}, "vulnerabilities": {}}}', None),
        "kev.csv": (b"cveID,vendorProject\nCVE-2021-44228,Apache\n", None),
        "empty.zip": (b"PK\x05\x06" + b"\0" * 18, None),
    }  # fmt: skip
    (root / "tmp.zip").unlink()
    for rel, (data, _) in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return {rel: fmt for rel, (_, fmt) in files.items()}


def test_sniff_and_scan(tmp_path: Path) -> None:
    expected = _mixed(tmp_path / "m")
    for rel, fmt in expected.items():
        assert sniff(tmp_path / "m" / rel) == fmt, rel
    found = list(scan(tmp_path / "m"))
    assert {str(x.path.relative_to(tmp_path / "m")): x.format for x in found} == {
        rel: fmt for rel, fmt in expected.items() if fmt is not None
    }
    counts = Counter(type(x).__name__ for x in parse_found(found))
    # 1 + 1 + 2 OSV, 4 Debian, 11 Alpine (v3.19 main), 4 NVD, 1 KEV, 4 + 4 EPSS
    assert counts == {"Advisory": 19, "NvdCvss": 4, "KevEntry": 1, "EpssScore": 8}


@pytest.mark.skipif(not VULNDATA.is_dir(), reason="../shared/vulndata is absent")
def test_the_shared_snapshot() -> None:
    found = list(scan(VULNDATA))
    by = Counter((x.format, x.path.relative_to(VULNDATA).parts[0]) for x in found)
    assert by == {
        (Format.OSV, "pypa-advisory-database"): 6868,
        (Format.OSV, "golang-vulndb"): 4156,
        (Format.OSV, "rustsec-advisory-db"): 1170,
        (Format.OSV, "bitnami-vulndb"): 7221,
        (Format.OSV, "almalinux-osv-database"): 5503,
        (Format.KEV, "cisagov-kev-data"): 1,
    }
