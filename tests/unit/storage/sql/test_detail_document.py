"""Detail documents on SQLite are stored compressed and read back byte for byte: any JSON
document survives `pack`/`unpack`, a plain JSON value (written before findings/8) reads as it
is, and an unknown format is refused rather than handed on as JSON. Through the table, SQLite
keeps the compressed form, and the fields filters compare in their columns."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from dockwatch.model.finding import (
    Cvss,
    FindingDetail,
    MatchEvidence,
    VulnerablePackage,
    detail_json,
)
from dockwatch.storage.finding_repo import detail_document
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.finding_repo import insert_details, load_details
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.schema import detail_document as dd

NOW = datetime(2026, 1, 1, tzinfo=UTC)

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@given(value=st.dictionaries(st.text(), _json, max_size=8))
def test_any_document_reads_back_byte_for_byte(value: dict[str, object]) -> None:
    doc = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    stored = dd.pack(doc)
    assert stored[:1] == dd.FORMAT_V1
    assert dd.unpack(stored) == doc


def test_plain_json_reads_as_it_is() -> None:
    assert dd.unpack(b'{"title":"CVE-1 - x"}') == b'{"title":"CVE-1 - x"}'


@pytest.mark.parametrize("stored", [b"\x02abc", b"[1]", b"\x01not a frame"])
def test_an_unknown_or_broken_value_is_refused(stored: bytes) -> None:
    with pytest.raises(Exception) as caught:
        dd.unpack(stored)
    assert not isinstance(caught.value, AssertionError)


def test_the_dictionary_is_the_one_frames_were_written_with() -> None:
    assert hashlib.sha256(dd.DICTIONARY_V1).hexdigest() == (
        "5bde6738216ba2343e8f7025e3a547edbae2639cb27e0c0e6eb7882b07970cf4"
    )


def _detail(n: int) -> FindingDetail:
    """A detail as `findings.build` makes them for a Debian package (the shape, not its data)."""
    vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    return FindingDetail(
        title=f"CVE-2024-{n:05d} - openssl",
        description="Issue summary: processing a maliciously formatted PKCS12 file may lead "
        f"OpenSSL to crash leading to a potential Denial of Service attack ({n}).",
        inspector_score=7.5,
        exploit_available="NO",
        epss_score=0.00043,
        fix_available="YES",
        vulnerability_id=f"CVE-2024-{n:05d}",
        source="osv:Debian",
        source_url=f"https://security-tracker.debian.org/tracker/CVE-2024-{n:05d}",
        vendor_severity="medium",
        cvss=(Cvss(7.5, vector, "osv:Debian", "3.1"),),
        reference_urls=(f"https://nvd.nist.gov/vuln/detail/CVE-2024-{n:05d}",),
        related_vulnerabilities=(f"DSA-{5000 + n}-1",),
        packages=(
            VulnerablePackage(
                name="openssl", version="3.0.11-1~deb12u2", epoch=None, release=None,
                arch="amd64", package_manager="OS", file_path=None,
                source_layer_hash=f"sha256:{n:064x}", fixed_in_version="3.0.13-1~deb12u1",
                remediation="Upgrade openssl to 3.0.13-1~deb12u1",
                purl="pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
                source_name="openssl",
            ),
        ),
        evidence=(
            MatchEvidence(
                f"osv:Debian/DLA-{n}-1", "deb/debian/openssl@3.0.11-1~deb12u2", "source name",
                "Debian:12", "openssl", "3.0.11-1~deb12u2", "dpkg", "range", "0",
                "3.0.13-1~deb12u1", None,
            ),
        ),
    )  # fmt: skip


def test_sqlite_stores_details_compressed_with_their_filter_fields(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'd.db'}")
    try:
        migrate(db)
        docs = dict(detail_document(detail_json(_detail(n))) for n in range(40))
        package = {"pkg_ref": "p" * 32, "name": "openssl", "version": "3.0.11-1~deb12u2",
                   "package_manager": "OS", "source_layer_hash": None,
                   "fixed_in_version": "3.0.13-1~deb12u1", "file_path": None}  # fmt: skip
        with db.write() as conn:
            insert_details(conn, {ref: (doc, [package]) for ref, doc in docs.items()}, NOW)
        with db.read() as conn:
            rows = conn.execute(text("SELECT ref, doc FROM finding_details")).all()
            stored = {str(ref): bytes(doc) for ref, doc in rows}
            assert load_details(conn, docs) == {r: orjson.loads(d) for r, d in docs.items()}
            fields = conn.execute(
                text("SELECT vendor_severity, related_vulnerabilities FROM finding_details")
            ).all()
            packages = conn.execute(
                text("SELECT DISTINCT arch, release, epoch FROM detail_packages")
            ).all()
            typed = conn.execute(select(t.finding_details.c.doc)).scalars().all()
        assert sorted(fields) == sorted(("medium", f'["DSA-{5000 + n}-1"]') for n in range(40))
        assert packages == [("amd64", None, None)]
        assert sorted(typed) == sorted(docs.values())
        for ref, doc in docs.items():
            assert stored[ref][:1] == dd.FORMAT_V1
            assert len(stored[ref]) < len(doc) / 2, (len(stored[ref]), len(doc))
    finally:
        db.close()
