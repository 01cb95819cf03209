"""Importing advisories into the database: idempotence, deltas, withdrawals, enrichment."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from dockwatch.clock import ControlledClock
from dockwatch.feeds.osv import iter_path, parse_record
from dockwatch.model.advisory import Advisory, CveID, EpssScore, KevEntry, canonical_content
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.storage.vuln_repo import EncodedAdvisory, unpack_content
from dockwatch.vulndb.service import KeyedAdvisory, VulnDb, encode_advisory
from tests.support.corpus import SHARED

RUSTSEC = SHARED / "vulndata" / "rustsec-advisory-db"


def _db(tmp_path: Path) -> VulnDb:
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(db)
    return VulnDb(SqlStore(db), ControlledClock())


def _advisories(path: Path) -> list[Advisory]:
    return [a for a in iter_path(path, "osv:crates.io") if isinstance(a, Advisory)]


@pytest.fixture
def rustsec() -> Path:
    if not RUSTSEC.exists():
        pytest.skip(f"{RUSTSEC} is absent (a fresh clone without ../shared)")
    return RUSTSEC


def test_reimport_and_other_forms_change_nothing(tmp_path: Path, rustsec: Path) -> None:
    vdb = _db(tmp_path)
    records = _advisories(rustsec)
    first = vdb.apply("osv:crates.io", records)
    assert first.changed and len(first.added) == len({a.id for a in records})
    assert not vdb.apply("osv:crates.io", records).changed
    # the same records as a zip
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted(rustsec.rglob("*.json")):
            z.write(f, f.name)
    again = vdb.apply("osv:crates.io", _advisories(archive))
    assert not again.changed and again.unchanged == len(first.added)
    status = vdb.status()
    assert status["version"] == first.version
    assert status["advisories"] == len(first.added)
    assert [s["name"] for s in status["sources"]] == ["osv:crates.io"]


def test_delta_names_exactly_what_differs(tmp_path: Path, rustsec: Path) -> None:
    records = sorted(_advisories(rustsec), key=lambda a: a.id)
    older, newer = records[: len(records) // 2], records[len(records) // 2 :]
    vdb = _db(tmp_path)
    vdb.apply("osv:crates.io", older)
    touched = older[:3]
    changed = [dataclasses.replace(a, summary=a.summary + " (updated)") for a in touched]
    withdrawn = dataclasses.replace(older[3], withdrawn=datetime(2026, 11, 1, tzinfo=UTC))
    result = vdb.apply("osv:crates.io", [*changed, withdrawn, *older[4:], *newer])
    assert sorted(result.added) == sorted(a.id for a in newer)
    assert sorted(result.modified) == sorted(a.id for a in touched)
    assert result.withdrawn == [older[3].id]
    # a new record that is already withdrawn can match nothing, so it names no package
    live_new = [a for a in newer if a.withdrawn is None]
    expected_keys = {
        (aff.ecosystem, aff.name) for a in [*live_new, *touched, older[3]] for aff in a.affected
    }
    assert result.package_keys == expected_keys


def test_complete_import_withdraws_what_is_gone(tmp_path: Path, rustsec: Path) -> None:
    records = _advisories(rustsec)[:50]
    vdb = _db(tmp_path)
    vdb.apply("osv:crates.io", records)
    result = vdb.apply("osv:crates.io", records[1:], complete=True)
    assert result.withdrawn == [records[0].id]
    assert not vdb.apply("osv:crates.io", records[1:], complete=True).changed


def test_enrichment_delta_by_cve(tmp_path: Path) -> None:
    vdb = _db(tmp_path)
    kev = KevEntry(CveID("CVE-2021-44228"), "Apache", "Log4j2", "Log4Shell", date(2021, 12, 10))
    epss = EpssScore(
        CveID("CVE-2021-44228"), 0.97, 0.999, "v2025.03.14", datetime(2026, 11, 25, tzinfo=UTC)
    )
    first = vdb.apply_enrichment("kev+epss", [kev, epss])
    assert first.cves == {"CVE-2021-44228"}
    # a new score date alone is not a change; a new score is
    same = dataclasses.replace(epss, score_date=datetime(2026, 11, 26, tzinfo=UTC))
    assert not vdb.apply_enrichment("epss", [same]).changed
    moved = dataclasses.replace(epss, score=0.5)
    assert vdb.apply_enrichment("epss", [moved]).cves == {"CVE-2021-44228"}


def test_failure_is_recorded_and_data_kept(tmp_path: Path, rustsec: Path) -> None:
    vdb = _db(tmp_path)
    vdb.apply("osv:crates.io", _advisories(rustsec)[:10])
    vdb.record_failure("osv:crates.io", "connection reset")
    source = vdb.status()["sources"][0]
    assert source["lastError"] == "connection reset" and source["advisories"] == 10


def test_enrichment_contents_are_what_asdict_makes() -> None:
    """Flat enrichment records are read field by field: the same content `dataclasses.asdict`
    gives, for every entry of the real KEV catalogue and for EPSS scores."""
    from dockwatch.feeds import kev
    from dockwatch.vulndb.service import _content

    catalogue = SHARED / "vulndata" / "cisagov-kev-data" / "known_exploited_vulnerabilities.json"
    if not catalogue.exists():
        pytest.skip(f"{catalogue} is absent")
    entries = [e for e in kev.parse_file(catalogue) if isinstance(e, KevEntry)]
    assert len(entries) > 1000
    scores = [
        EpssScore(CveID("CVE-2024-0001"), 0.5, 0.9),
        EpssScore(
            CveID("CVE-2024-0002"), 0.1, 0.2, "v2025.03.14", datetime(2025, 3, 14, tzinfo=UTC)
        ),
    ]
    records: list[KevEntry | EpssScore] = [*entries, *scores]
    for record in records:
        assert _content(record) == dataclasses.asdict(record)
    assert {type(v) for e in entries for v in _content(e).values()} >= {str, date}


def _osv(rid: str, packages: list[str], **extra: object) -> Advisory:
    doc = {
        "id": rid,
        "modified": "2026-03-04T05:06:07Z",
        "affected": [
            {
                "package": {"ecosystem": "AlmaLinux:9", "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fix}]}],
            }
            for name, fix in (p.split("@") for p in packages)
        ],
        **extra,
    }
    adv, _ = parse_record(doc, "osv")
    return adv


def test_rows_bringing_their_package_keys_store_what_rows_without_them_store(
    tmp_path: Path,
) -> None:
    """The parsing processes send each row's package keys with it (`KeyedAdvisory`): the
    versions, deltas and results are those of rows whose keys the writer works out itself,
    over a first import (entries repeating a package, a record already withdrawn) and a
    second (modified, withdrawn, gone from a complete import)."""
    first = [
        _osv("ALSA-1", ["zlib@1.3-2", "curl@8.0-1", "zlib@1.3-3", "bash@5.2-1"]),
        _osv("ALSA-2", ["curl@8.1-1"]),
        _osv("ALSA-3", ["vim@9.1-1"], withdrawn="2026-03-05T00:00:00Z"),
        _osv("ALSA-4", ["sudo@1.9-1"]),
        _osv("ALSA-5", ["git@2.4-1"]),
    ]
    second = [
        _osv("ALSA-1", ["zlib@1.3-2", "openssl@3.0-1"]),  # modified: keys before and after
        _osv("ALSA-2", ["curl@8.1-1"], withdrawn="2026-03-06T00:00:00Z"),
        _osv("ALSA-3", ["vim@9.1-1"], withdrawn="2026-03-05T00:00:00Z"),
        _osv("ALSA-5", ["git@2.4-1"]),
    ]  # ALSA-4 is gone

    def bare(adv: Advisory) -> EncodedAdvisory:
        keyed = encode_advisory(adv)
        assert isinstance(keyed, KeyedAdvisory)
        return EncodedAdvisory(
            *(getattr(keyed, f.name) for f in dataclasses.fields(EncodedAdvisory))
        )

    outcomes = []
    for name, encode in (("bare", bare), ("keyed", encode_advisory)):
        (tmp_path / name).mkdir()
        vdb = _db(tmp_path / name)
        results = [
            vdb.apply_rows("osv:AlmaLinux", [encode(a) for a in first]),
            vdb.apply_rows("osv:AlmaLinux", [encode(a) for a in second], complete=True),
        ]
        with vdb.store.read() as uow:
            deltas = uow.vulns.changes_between(0, uow.vulns.current_version())
        summary = [(r.version, r.added, r.modified, r.withdrawn, r.package_keys) for r in results]
        outcomes.append((summary, deltas))
    assert outcomes[0] == outcomes[1]

    # and what that is, said from the records themselves
    summary, deltas = outcomes[1]
    alma = "AlmaLinux:9"
    first_keys = {(1, "ALSA-1"): ["bash", "curl", "zlib"], (1, "ALSA-2"): ["curl"]}
    first_keys |= {(1, "ALSA-3"): [], (1, "ALSA-4"): ["sudo"], (1, "ALSA-5"): ["git"]}
    second_keys = {(2, "ALSA-1"): ["bash", "curl", "openssl", "zlib"], (2, "ALSA-2"): ["curl"]}
    second_keys[(2, "ALSA-4")] = ["sudo"]
    expected = {k: [[alma, n] for n in v] for k, v in (first_keys | second_keys).items()}
    assert {(version, aid): keys for version, _, aid, _, keys in deltas} == expected
    assert [(version, aid, change) for version, _, aid, change, _ in deltas if version == 2] == [
        (2, "ALSA-1", "modified"),
        (2, "ALSA-2", "withdrawn"),
        (2, "ALSA-4", "withdrawn"),
    ]
    assert summary[1][1:4] == ([], ["ALSA-1"], ["ALSA-2", "ALSA-4"])


def test_stored_bytes_are_the_sorted_serialization_of_the_content(rustsec: Path) -> None:
    """An advisory is stored as its content serialized with sorted keys (what its fingerprint
    hashes) and each affected entry as its own serialization: told here by the standard
    library's `json`, over the real RustSec records and a record with several entries (one
    package twice) and text beyond ASCII."""
    advisories = _advisories(rustsec)
    advisories.append(
        _osv(
            "ALSA-9",
            ["zlib@1.3-2", "curl@8.0-1", "zlib@1.3-3"],
            summary='résumé \u2028 \U0001f600 "quoted" \\ <tag>',
            aliases=["CVE-2026-0002", "CVE-2026-0001"],
        )
    )

    def serialized(value: object) -> bytes:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    for adv in advisories:
        content = canonical_content(adv)
        encoded = encode_advisory(adv)
        assert unpack_content(bytes(encoded.content)) == serialized(content), adv.id
        assert encoded.fingerprint == hashlib.sha256(serialized(content)).hexdigest(), adv.id
        assert [(eco, name, bytes(e)) for eco, name, e in encoded.affected] == [
            (a["ecosystem"], a["name"], serialized(a)) for a in content["affected"]
        ], adv.id
    assert any(len(encode_advisory(a).affected) > 1 for a in advisories)
