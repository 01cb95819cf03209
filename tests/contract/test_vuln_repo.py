"""`VulnRepo` contract: advisories per source, versions and their deltas, enrichment, feed
bookkeeping and the sync lease, as the importer, the matcher and the feed scheduler use them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from dockwatch.storage.unit_of_work import Store
from dockwatch.storage.vuln_repo import (
    AdvisoryRow,
    Change,
    EncodedAdvisory,
    SourceImport,
    StoredAdvisory,
    encode,
    pack_content,
    unpack_content,
)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _advisory(
    vid: str, *packages: tuple[str, str], withdrawn: bool = False, fingerprint: str = ""
) -> AdvisoryRow:
    """An advisory affecting `packages` ((ecosystem, name) pairs), each entry naming its package."""
    content: dict[str, Any] = {"id": vid, "affected": [list(p) for p in packages]}
    affected = [(eco, name, {"package": name, "of": vid}) for eco, name in packages]
    return AdvisoryRow(vid, fingerprint or f"fp-{vid}", withdrawn, T0, content, affected)


def _write(store: Store, source: str, *rows: AdvisoryRow) -> int:
    with store.write() as uow:
        version = uow.vulns.new_version(source, {"added": len(rows)}, T0)
        uow.vulns.write_advisories(source, rows, version)
    return version


def test_an_empty_database_reads_as_empty(store: Store) -> None:
    with store.read() as uow:
        assert uow.vulns.current_version() == 0
        assert uow.vulns.version_created_at(1) is None
        assert uow.vulns.count_advisories() == 0
        assert uow.vulns.stored_advisories("osv") == {}
        assert list(uow.vulns.all_affected()) == []
        assert uow.vulns.affected_for([("PyPI", "alpha")]) == []
        assert uow.vulns.changes_between(0, 10) == []
        assert uow.vulns.advisory_contents([("osv", "X")]) == {}
        assert uow.vulns.enrichment_for(["CVE-1"]) == {}
        assert list(uow.vulns.advisory_documents()) == []
        assert list(uow.vulns.enrichment_documents()) == []
        assert uow.vulns.source("osv") is None
        assert uow.vulns.sources() == []


def test_versions_count_up_and_remember_when(store: Store) -> None:
    with store.write() as uow:
        first = uow.vulns.new_version("osv", {"added": 1}, T0)
        second = uow.vulns.new_version("nvd", {}, T0 + timedelta(hours=1))
    assert second > first >= 1
    with store.read() as uow:
        assert uow.vulns.current_version() == second
        assert uow.vulns.version_created_at(first) == T0
        assert uow.vulns.version_created_at(second) == T0 + timedelta(hours=1)
        assert uow.vulns.version_created_at(second + 1) is None


def test_advisories_round_trip_per_source(store: Store) -> None:
    a = _advisory("A-1", ("PyPI", "alpha"), ("npm", "alpha"))
    b = _advisory("A-2", ("PyPI", "beta"), withdrawn=True)
    _write(store, "osv", a, b)
    _write(store, "ghsa", _advisory("A-1", ("PyPI", "gamma")))
    with store.read() as uow:
        assert uow.vulns.stored_advisories("osv") == {
            "A-1": StoredAdvisory(
                "fp-A-1", False, frozenset({("PyPI", "alpha"), ("npm", "alpha")})
            ),
            "A-2": StoredAdvisory("fp-A-2", True, frozenset({("PyPI", "beta")})),
        }
        assert set(uow.vulns.stored_advisories("ghsa")) == {"A-1"}
        assert uow.vulns.stored_advisories("nvd") == {}
        assert uow.vulns.count_advisories() == 3
        assert uow.vulns.count_advisories("osv") == 2
        assert uow.vulns.count_advisories("nvd") == 0
        # withdrawn advisories are kept (and readable) but never matched
        contents = uow.vulns.advisory_contents([("osv", "A-1"), ("osv", "A-2"), ("osv", "nope")])
        assert contents == {("osv", "A-1"): a.content, ("osv", "A-2"): b.content}
        got = {(r.source, r.advisory_id, r.ecosystem, r.name) for r in uow.vulns.all_affected()}
        assert got == {
            ("osv", "A-1", "PyPI", "alpha"),
            ("osv", "A-1", "npm", "alpha"),
            ("ghsa", "A-1", "PyPI", "gamma"),
        }
        rows = uow.vulns.affected_for([("PyPI", "alpha"), ("PyPI", "beta"), ("PyPI", "alpha")])
        assert [(r.source, r.advisory_id, r.ecosystem, r.name, r.entry) for r in rows] == [
            ("osv", "A-1", "PyPI", "alpha", {"package": "alpha", "of": "A-1"})
        ]
        documents = list(uow.vulns.advisory_documents())
    assert [(source, orjson.loads(doc)["id"]) for source, doc in documents] == [
        ("ghsa", "A-1"),
        ("osv", "A-1"),
        ("osv", "A-2"),
    ]
    assert orjson.loads(documents[1][1]) == a.content


def test_contents_are_stored_packed_and_read_back_as_json(store: Store) -> None:
    details = "A heap overflow in the parser of the frobnicator. " * 40
    packed = _advisory("P-1", ("PyPI", "alpha"))
    packed = AdvisoryRow(
        packed.id, packed.fingerprint, False, T0, {**packed.content, "details": details}, []
    )
    old = {"id": "P-0", "affected": [], "details": "written before contents were packed"}
    with store.write() as uow:
        version = uow.vulns.new_version("osv", {"added": 2}, T0)
        uow.vulns.write_advisories("osv", [packed], version)
        # a database written before contents were packed holds the JSON itself
        raw = EncodedAdvisory("P-0", "fp-P-0", False, T0, orjson.dumps(old), ())
        uow.vulns.insert_advisories("osv", [raw], version)
    with store.read() as uow:
        contents = uow.vulns.advisory_contents([("osv", "P-0"), ("osv", "P-1")])
        documents = {
            orjson.loads(doc)["id"]: orjson.loads(doc) for _, doc in uow.vulns.advisory_documents()
        }
    assert contents == {("osv", "P-0"): old, ("osv", "P-1"): packed.content}
    assert documents == {"P-0": old, "P-1": packed.content}
    blob = orjson.dumps(packed.content, option=orjson.OPT_SORT_KEYS)
    assert len(encode(packed).content) < len(blob) // 10  # the repeated text packs down
    assert unpack_content(pack_content(blob)) == blob
    assert unpack_content(blob) == blob


def test_read_digests_are_kept_per_advisory_and_known_by_source(store: Store) -> None:
    def row(vid: str, digest: str | None) -> EncodedAdvisory:
        return EncodedAdvisory(vid, f"fp-{vid}", False, T0, b"{}", (), digest)

    with store.write() as uow:
        version = uow.vulns.new_version("osv:Go", {"added": 3}, T0)
        uow.vulns.insert_advisories("osv:Go", [row("G-1", "d1"), row("G-2", None)], version)
        uow.vulns.insert_advisories("osv:npm", [row("N-1", "d3")], version)
    with store.read() as uow:
        assert uow.vulns.stored_read_digests("osv:Go") == {"G-1": "d1"}
        assert uow.vulns.known_records() == {"d1": ("G-1", "osv:Go"), "d3": ("N-1", "osv:npm")}
        assert uow.vulns.known_records("osv:npm") == {"d3": ("N-1", "osv:npm")}
    with store.write() as uow:
        uow.vulns.set_read_digests("osv:Go", [("G-2", "d2"), ("G-1", "d4")])
        uow.vulns.set_read_digests("osv:npm", [("G-2", "elsewhere")])  # no such advisory
    with store.read() as uow:
        assert uow.vulns.stored_read_digests("osv:Go") == {"G-1": "d4", "G-2": "d2"}
        assert uow.vulns.known_records("osv:npm") == {"d3": ("N-1", "osv:npm")}
        assert uow.vulns.stored_fingerprints("osv:Go") == {
            "G-1": ("fp-G-1", False),
            "G-2": ("fp-G-2", False),
        }


def test_affected_documents_are_the_stored_entries_of_matchable_advisories(store: Store) -> None:
    _write(
        store,
        "osv",
        _advisory("A-1", ("PyPI", "alpha"), ("npm", "alpha")),
        _advisory("A-2", ("PyPI", "alpha"), withdrawn=True),
        _advisory("A-3", ("PyPI", "beta")),
    )
    with store.read() as uow:
        every = sorted(
            (eco, name, source, aid, orjson.loads(entry))
            for eco, name, source, aid, entry in uow.vulns.affected_documents()
        )
        some = [
            (eco, name, source, aid)
            for eco, name, source, aid, _ in uow.vulns.affected_documents([("PyPI", "beta")])
        ]
        none = list(uow.vulns.affected_documents([]))
    # the withdrawn A-2 can match nothing, so the index never sees it
    assert every == [
        ("PyPI", "alpha", "osv", "A-1", {"package": "alpha", "of": "A-1"}),
        ("PyPI", "beta", "osv", "A-3", {"package": "beta", "of": "A-3"}),
        ("npm", "alpha", "osv", "A-1", {"package": "alpha", "of": "A-1"}),
    ]
    assert some == [("PyPI", "beta", "osv", "A-3")]
    assert none == []


def test_fingerprints_and_package_keys_are_read_apart(store: Store) -> None:
    _write(
        store,
        "osv",
        _advisory("A-1", ("PyPI", "alpha"), ("npm", "alpha")),
        _advisory("A-2", ("PyPI", "beta"), withdrawn=True),
    )
    with store.write() as uow:  # bulk insert of serialized rows, as an import writes them
        row = encode(_advisory("A-3", ("Go", "example.com/m")))
        uow.vulns.insert_advisories("osv", [row], uow.vulns.new_version("osv", {}, T0))
    with store.read() as uow:
        assert uow.vulns.stored_fingerprints("osv") == {
            "A-1": ("fp-A-1", False),
            "A-2": ("fp-A-2", True),
            "A-3": ("fp-A-3", False),
        }
        assert uow.vulns.stored_fingerprints("ghsa") == {}
        assert uow.vulns.stored_package_keys("osv", ["A-1", "A-3", "missing"]) == {
            "A-1": frozenset({("PyPI", "alpha"), ("npm", "alpha")}),
            "A-3": frozenset({("Go", "example.com/m")}),
        }
        assert uow.vulns.advisory_contents([("osv", "A-3")]) == {
            ("osv", "A-3"): {"id": "A-3", "affected": [["Go", "example.com/m"]]}
        }
        stored = uow.vulns.stored_advisories("osv")["A-3"]
    assert stored == StoredAdvisory("fp-A-3", False, frozenset({("Go", "example.com/m")}))


def test_rewriting_an_advisory_replaces_its_affected_rows(store: Store) -> None:
    _write(store, "osv", _advisory("A-1", ("PyPI", "alpha")), _advisory("A-2", ("PyPI", "beta")))
    _write(store, "osv", _advisory("A-1", ("PyPI", "delta"), fingerprint="fp-new"))
    with store.read() as uow:
        stored = uow.vulns.stored_advisories("osv")
        assert stored["A-1"] == StoredAdvisory("fp-new", False, frozenset({("PyPI", "delta")}))
        assert stored["A-2"].fingerprint == "fp-A-2"  # untouched by the rewrite
        assert uow.vulns.affected_for([("PyPI", "alpha")]) == []
        assert [r.advisory_id for r in uow.vulns.affected_for([("PyPI", "delta")])] == ["A-1"]
        assert uow.vulns.count_advisories("osv") == 2
    with store.write() as uow:
        uow.vulns.delete_advisories("osv", ["A-1", "missing"])
        uow.vulns.write_advisories("osv", [], 1)  # nothing to write is not an error
    with store.read() as uow:
        assert set(uow.vulns.stored_advisories("osv")) == {"A-2"}
        assert uow.vulns.affected_for([("PyPI", "delta")]) == []
        assert uow.vulns.advisory_contents([("osv", "A-1")]) == {}


def test_changes_are_read_by_version_range(store: Store) -> None:
    versions = []
    for n in range(3):
        with store.write() as uow:
            version = uow.vulns.new_version("osv", {}, T0)
            uow.vulns.record_changes(
                version,
                "osv",
                [
                    Change(f"A-{n}", "added", [("PyPI", "zeta"), ("PyPI", "alpha")]),
                    Change(f"W-{n}", "withdrawn", []),
                ],
            )
            uow.vulns.record_changes(version, "osv", [])  # no changes, no rows
            versions.append(version)
    v0, v1, v2 = versions
    with store.read() as uow:
        everything = uow.vulns.changes_between(0, v2)
        assert [row[0] for row in everything] == sorted(row[0] for row in everything)
        assert {(v, s, a, c) for v, s, a, c, _ in everything} == {
            (v, "osv", f"{kind}-{n}", change)
            for n, v in enumerate(versions)
            for kind, change in (("A", "added"), ("W", "withdrawn"))
        }
        keys = {a: k for _, _, a, _, k in everything}
        assert keys["A-1"] == [["PyPI", "alpha"], ["PyPI", "zeta"]]
        assert keys["W-1"] == []
        # (after, upto]: the lower bound is excluded, the upper one included
        assert {row[2] for row in uow.vulns.changes_between(v0, v1)} == {"A-1", "W-1"}
        assert uow.vulns.changes_between(v2, v2 + 5) == []
        assert uow.vulns.changes_between(v1, v0) == []


def test_enrichment_round_trips_and_is_replaced_per_kind(store: Store) -> None:
    kev = {"dateAdded": "2026-01-01"}
    with store.write() as uow:
        uow.vulns.write_enrichment("epss", [("CVE-2", "e2", {"score": 0.2})], 1)
        uow.vulns.write_enrichment("epss", [("CVE-1", "e1", {"score": 0.1})], 1)
        uow.vulns.write_enrichment("kev", [("CVE-1", "k1", kev)], 1)
        uow.vulns.write_enrichment("kev", [], 1)
    with store.write() as uow:
        uow.vulns.write_enrichment("epss", [("CVE-1", "e1b", {"score": 0.9})], 2)
    with store.read() as uow:
        assert uow.vulns.enrichment_fingerprints("epss") == {"CVE-1": "e1b", "CVE-2": "e2"}
        assert uow.vulns.enrichment_fingerprints("kev") == {"CVE-1": "k1"}
        assert uow.vulns.enrichment_fingerprints("cvss") == {}
        assert uow.vulns.enrichment_for(["CVE-1", "CVE-3", "CVE-1"]) == {
            "CVE-1": {"epss": {"score": 0.9}, "kev": kev}
        }
        records = list(uow.vulns.enrichment_documents())
    assert [(r.kind, r.cve_id) for r in records] == [
        ("epss", "CVE-1"),
        ("epss", "CVE-2"),
        ("kev", "CVE-1"),
    ]
    assert orjson.loads(records[0].content) == {"score": 0.9}


def test_enrichment_for_many_cves_of_several_kinds(store: Store) -> None:
    """More CVEs than one query's worth, kinds holding different CVEs: the result equals a
    lookup in what was written."""
    written: dict[str, dict[str, dict[str, int]]] = {}
    with store.write() as uow:
        for kind, step in (("epss", 1), ("kev", 7), ("nvd", 3)):
            rows = [(f"CVE-{i}", f"{kind}{i}", {"n": i}) for i in range(0, 1_200, step)]
            uow.vulns.write_enrichment(kind, rows, 1)
            for cve, _, doc in rows:
                written.setdefault(cve, {})[kind] = doc
    asked = [f"CVE-{i}" for i in range(0, 2_400, 2)] + ["CVE-0", "CVE-none"]
    expected = {cve: written[cve] for cve in set(asked) if cve in written}
    with store.read() as uow:
        assert uow.vulns.enrichment_for(asked) == expected
        assert uow.vulns.enrichment_for([]) == {}


def test_feed_bookkeeping(store: Store) -> None:
    t1, t2, t3 = T0 + timedelta(hours=1), T0 + timedelta(hours=2), T0 + timedelta(hours=3)
    with store.write() as uow:
        uow.vulns.record_import(
            "osv", SourceImport("vulnerability", 10, T0, True, feed_version=3, fingerprint="f1")
        )
        uow.vulns.record_failure("alpine", "connection refused", T0)
    with store.write() as uow:
        uow.vulns.record_heartbeat("osv", t1)
        uow.vulns.record_failure("osv", "HTTP 503", t2)
    with store.read() as uow:
        osv = uow.vulns.source("osv")
        assert [s.name for s in uow.vulns.sources()] == ["alpine", "osv"]
        alpine = uow.vulns.source("alpine")
    assert osv is not None and alpine is not None
    assert (osv.kind, osv.feed_version, osv.fingerprint, osv.records) == (
        "vulnerability",
        3,
        "f1",
        10,
    )
    assert (osv.last_success_at, osv.last_change_at) == (t1, T0)
    assert (osv.last_attempt_at, osv.last_error, osv.last_error_at) == (t2, "HTTP 503", t2)
    assert alpine.last_success_at is None and alpine.last_error == "connection refused"
    # an import without changes keeps the change time, the parser version and the fingerprint
    with store.write() as uow:
        uow.vulns.record_import("osv", SourceImport("vulnerability", 12, t3, False))
    with store.read() as uow:
        again = uow.vulns.source("osv")
    assert again is not None
    assert (again.records, again.feed_version, again.fingerprint) == (12, 3, "f1")
    assert (again.last_success_at, again.last_change_at, again.last_error) == (t3, T0, None)


def test_the_sync_lease_has_one_holder_until_it_expires(store: Store) -> None:
    later = T0 + timedelta(minutes=5)
    with store.write() as uow:
        assert uow.vulns.acquire_lease("sync", "a", T0, later)
        assert not uow.vulns.acquire_lease("sync", "b", T0, later)
        assert uow.vulns.acquire_lease("sync", "a", T0, later)  # a renewal
        assert uow.vulns.acquire_lease("other", "b", T0, later)  # leases are per name
    with store.write() as uow:
        assert not uow.vulns.acquire_lease("sync", "b", later - timedelta(seconds=1), later)
        assert uow.vulns.acquire_lease(
            "sync", "b", later + timedelta(seconds=1), later + timedelta(minutes=5)
        )
    with store.write() as uow:
        uow.vulns.release_lease("sync", "a")  # not the holder any more: nothing changes
        assert not uow.vulns.acquire_lease("sync", "a", T0, later)
        uow.vulns.release_lease("sync", "b")
        assert uow.vulns.acquire_lease("sync", "a", T0, later)


def test_a_lease_whose_holder_is_gone_is_taken_and_the_holder_is_read(store: Store) -> None:
    later = T0 + timedelta(minutes=5)
    asked: list[str] = []

    def gone(holder: str) -> bool:
        asked.append(holder)
        return holder == "dead"

    with store.write() as uow:
        assert uow.vulns.lease("sync") is None
        assert uow.vulns.acquire_lease("sync", "alive", T0, later)
        assert uow.vulns.lease("sync") == ("alive", later)
        assert not uow.vulns.acquire_lease("sync", "b", T0, later, gone)
        assert uow.vulns.acquire_lease("sync", "alive", T0, later, gone)  # its own: not asked
        assert asked == ["alive"]
    with store.write() as uow:
        uow.vulns.release_lease("sync", "alive")
        assert uow.vulns.acquire_lease("sync", "dead", T0, later)
        assert uow.vulns.acquire_lease("sync", "b", T0, later + timedelta(minutes=1), gone)
    with store.read() as uow:
        assert uow.vulns.lease("sync") == ("b", later + timedelta(minutes=1))
    assert asked == ["alive", "dead"]


def test_a_rolled_back_unit_of_work_writes_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as uow:
        version = uow.vulns.new_version("osv", {}, T0)
        uow.vulns.write_advisories("osv", [_advisory("A-1", ("PyPI", "alpha"))], version)
        uow.vulns.write_enrichment("kev", [("CVE-1", "k", {})], version)
        raise RuntimeError("the import failed half way")
    with store.read() as uow:
        assert uow.vulns.current_version() == 0
        assert uow.vulns.count_advisories() == 0
        assert uow.vulns.enrichment_fingerprints("kev") == {}


def test_racing_sync_lease_takers_get_one_holder(store: Store) -> None:
    """Processes taking an absent, then an expired, sync lease at the same moment: one wins,
    and no process fails."""
    import threading

    won: list[str] = []
    failed: list[BaseException] = []

    def take(holder: str, now: datetime, start: threading.Barrier) -> None:
        start.wait()
        try:
            with store.write() as uow:
                if uow.vulns.acquire_lease("sync", holder, now, now + timedelta(minutes=5)):
                    won.append(holder)
        except BaseException as exc:  # reported below
            failed.append(exc)

    for now in (T0, T0 + timedelta(hours=1)):  # absent, then expired
        won.clear()
        start = threading.Barrier(4)
        threads = [
            threading.Thread(target=take, args=(f"p{n}-{now:%H}", now, start)) for n in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failed == []
        assert len(won) == 1


def test_contents_of_many_keys_across_sources(store: Store) -> None:
    # more keys than one query takes, the same ids under several sources, ids of one source
    # asked under another, unknown keys: each key reads the content written under it
    written: dict[tuple[str, str], dict[str, Any]] = {}
    for source, count in (("osv", 1_100), ("ghsa", 300), ("nvd", 5)):
        rows = [_advisory(f"ID-{n}", ("PyPI", f"{source}-{n}")) for n in range(count)]
        _write(store, source, *rows)
        written.update({(source, r.id): r.content for r in rows})
    wanted = [*written, ("nvd", "ID-900"), ("almalinux", "ID-1"), ("osv", "ID-1")]
    with store.read() as uow:
        got = uow.vulns.advisory_contents(reversed(wanted))
    assert got == written
    assert got[("ghsa", "ID-7")]["affected"] == [["PyPI", "ghsa-7"]]
