"""OSV records: the whole shared snapshot, GHSA fixtures, encodings, and hostile input."""

from __future__ import annotations

import json
import re
import struct
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from dockwatch.feeds.feed import ParseProblem
from dockwatch.feeds.osv import Limits, iter_file, iter_path, iter_zip
from dockwatch.model.advisory import (
    Advisory,
    AffectedStatus,
    EventKind,
    RangeType,
    SeverityType,
    fingerprint,
)
from tests.builders import feeds as b

VULNDATA = Path(__file__).resolve().parents[3].parent / "shared" / "vulndata"
needs_shared = pytest.mark.skipif(not VULNDATA.is_dir(), reason="../shared/vulndata is absent")

# Counts from ../shared/vulndata/MANIFEST.md: (folder, files, withdrawn, distinct ids). AlmaLinux
# ships 34 advisories in two or three release folders, byte for byte (39 extra files).
SNAPSHOT = [
    ("pypa-advisory-database", 6868, 268, 6868, {"PyPI"}),
    ("golang-vulndb", 4156, 9, 4156, {"Go"}),
    ("rustsec-advisory-db", 1170, 13, 1170, {"crates.io"}),
    ("bitnami-vulndb", 7221, 0, 7221, {"Bitnami"}),
    ("almalinux-osv-database", 5503, 0, 5464, {"AlmaLinux:8", "AlmaLinux:9", "AlmaLinux:10"}),
]


def _split(items: list[Any]) -> tuple[list[Advisory], list[ParseProblem]]:
    advs = [x for x in items if isinstance(x, Advisory)]
    probs = [x for x in items if isinstance(x, ParseProblem)]
    assert len(advs) + len(probs) == len(items)
    return advs, probs


def _pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _oracle_view(raw: dict[str, Any]) -> tuple[Any, ...]:
    """What the record says, read with the standard library only."""
    affected = []
    for a in raw.get("affected") or []:
        eco, name = a["package"]["ecosystem"], a["package"]["name"]
        ranges = [
            (r["type"], [(k, str(v)) for ev in r["events"] for k, v in ev.items()])
            for r in a.get("ranges") or []
        ]
        affected.append(
            (
                eco,
                _pep503(name) if eco == "PyPI" else name,
                ranges,
                [str(v) for v in a.get("versions") or []],
            )
        )
    return (
        raw["id"],
        sorted(set(raw.get("aliases") or [])),
        raw.get("withdrawn") is not None,
        affected,
    )


def _our_view(adv: Advisory) -> tuple[Any, ...]:
    affected = [
        (
            a.ecosystem,
            a.name,
            [(r.type.value, [(e.kind.value, e.version) for e in r.events]) for r in a.ranges],
            list(a.versions),
        )
        for a in adv.affected
    ]
    return (adv.id, list(adv.aliases), adv.withdrawn is not None, affected)


@needs_shared
@pytest.mark.parametrize(("folder", "files", "withdrawn", "distinct", "ecosystems"), SNAPSHOT)
def test_shared_snapshot_parses_every_record(
    folder: str, files: int, withdrawn: int, distinct: int, ecosystems: set[str]
) -> None:
    advs, probs = _split(list(iter_path(VULNDATA / folder, f"osv:{folder}")))
    assert probs == []
    assert {a.ecosystem for adv in advs for a in adv.affected} == ecosystems
    assert len(advs) == distinct == len({a.id for a in advs})
    # every file was read: counting each id once per file gives the manifest's count
    ids_in_files = Counter(
        (json.loads(p.read_bytes())["id"] if p.suffix == ".json" else p.stem)
        for p in (VULNDATA / folder).rglob("*")
        if p.suffix in (".json", ".yaml")
    )
    assert sum(ids_in_files.values()) == files
    assert {a.id for a in advs} == set(ids_in_files)
    assert sum(a.withdrawn is not None for a in advs) == withdrawn
    # every record agrees with a plain standard-library reading of its file
    by_id = {a.id: a for a in advs}
    for path in sorted((VULNDATA / folder).rglob("*")):
        if path.suffix == ".json" and path.name != "DERIVED-git-dates.csv":
            raw = json.loads(path.read_bytes())
        elif path.suffix == ".yaml":
            raw = yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
        else:
            continue
        assert _our_view(by_id[raw["id"]]) == _oracle_view(raw), path


@needs_shared
def test_kev_and_other_non_records_in_the_tree_are_skipped_quietly() -> None:
    items = list(iter_path(VULNDATA / "cisagov-kev-data", "x"))
    assert items == []


@needs_shared
def test_go_placeholder_dates_mean_unknown() -> None:
    advs, _ = _split(list(iter_path(VULNDATA / "golang-vulndb", "go")))
    raw_placeholders = 0
    for path in (VULNDATA / "golang-vulndb/data/osv").glob("*.json"):
        raw = json.loads(path.read_bytes())
        raw_placeholders += raw.get("published", "").startswith("0001-01-01")
    assert sum(a.published is None for a in advs) == raw_placeholders > 0


def _sample(folder: str, n: int) -> list[dict[str, Any]]:
    paths = sorted((VULNDATA / folder).rglob("*.json"))[:n]
    return [json.loads(p.read_bytes()) for p in paths]


@needs_shared
def test_same_records_hash_the_same_in_every_form(tmp_path: Path) -> None:
    records = _sample("rustsec-advisory-db", 150) + _sample("almalinux-osv-database", 150)
    records += _sample("golang-vulndb", 150) + _sample("bitnami-vulndb", 150)
    forms = {
        "json-folder": b.osv_folder(tmp_path / "j", records),
        "yaml-folder": b.osv_folder(tmp_path / "y", records, as_yaml=True),
        "zip-reordered": b.osv_zip(tmp_path / "all.zip", records, shuffle_keys=True),
    }
    prints = {}
    for form, path in forms.items():
        advs, probs = _split(list(iter_path(path, "osv:test")))
        assert probs == []
        prints[form] = {a.id: fingerprint(a) for a in advs}
    assert len(prints["json-folder"]) == len(records)
    assert prints["json-folder"] == prints["yaml-folder"] == prints["zip-reordered"]


@needs_shared
def test_pypa_yaml_and_its_json_form_hash_the_same(tmp_path: Path) -> None:
    paths = sorted((VULNDATA / "pypa-advisory-database/vulns").rglob("*.yaml"))[:400]
    # the default resolvers turn bare timestamps into datetimes, which JSON writes differently
    records = [yaml.load(p.read_bytes(), Loader=yaml.CSafeLoader) for p in paths]
    out = tmp_path / "pypa-json"
    out.mkdir()
    for r in records:
        (out / f"{r['id']}.json").write_bytes(orjson.dumps(r, option=orjson.OPT_NAIVE_UTC))
    from_yaml = {
        a.id: fingerprint(a) for p in paths for a in iter_file(p, "p") if isinstance(a, Advisory)
    }
    from_json = {a.id: fingerprint(a) for a in iter_path(out, "p") if isinstance(a, Advisory)}
    assert from_json == from_yaml and len(from_json) == len(records)


def test_a_change_changes_the_fingerprint(tmp_path: Path) -> None:
    advs, _ = _split(list(iter_path(b.osv_folder(tmp_path / "a", b.GHSA_EXAMPLES), "s")))
    changed = [dict(r) for r in b.GHSA_EXAMPLES]
    changed[0] = {**changed[0], "details": "changed"}
    advs2, _ = _split(list(iter_path(b.osv_folder(tmp_path / "b", changed), "s")))
    before = {a.id: fingerprint(a) for a in advs}
    after = {a.id: fingerprint(a) for a in advs2}
    assert {k for k in before if before[k] != after[k]} == {b.GHSA_EXAMPLES[0]["id"]}


def test_ghsa_fixtures(tmp_path: Path) -> None:
    advs, probs = _split(list(iter_path(b.osv_folder(tmp_path, b.GHSA_EXAMPLES), "osv:GHSA")))
    assert probs == []
    by: dict[str, Advisory] = {a.id: a for a in advs}
    lodash = by["GHSA-jf85-cpcp-j695"]
    assert lodash.cve_ids == ("CVE-2019-10744",)
    assert lodash.cwe_ids == ("CWE-1321", "CWE-20")
    cvss = [s for s in lodash.severities if s.type is SeverityType.CVSS_V3]
    assert cvss[0].base_score == 9.1 and cvss[0].rating == "CRITICAL"
    assert [s.rating for s in lodash.severities if s.type is SeverityType.VENDOR] == ["CRITICAL"]
    log4j = by["GHSA-jfh8-c2jp-5v3q"]
    assert log4j.affected[0].name == "org.apache.logging.log4j:log4j-core"
    assert {s.type: s.base_score for s in log4j.severities if s.base_score is not None} == {
        SeverityType.CVSS_V3: 10.0,
        SeverityType.CVSS_V4: 10.0,
    }
    assert by["GHSA-5crp-9r3c-p9vr"].affected[0].name == "newtonsoft.json"
    assert by["GHSA-5crp-9r3c-p9vr"].affected[0].ranges[0].events[1].kind is EventKind.LAST_AFFECTED
    noko = by["GHSA-vr8q-g5c7-m54m"].affected[0]
    assert [e.kind for e in noko.ranges[0].events][-1] is EventKind.LIMIT
    assert noko.versions == ("1.5.1", "1.5.2", "1.5.3") and noko.fixed_versions == ("1.5.4",)
    assert [s.rating for s in by["GHSA-vr8q-g5c7-m54m"].severities] == ["MEDIUM"]  # MODERATE
    laravel = by["GHSA-2m57-hf25-phgg"].affected[0]
    assert laravel.name == "laravel/framework" and laravel.ranges[0].type is RangeType.SEMVER
    git = by["GHSA-xxxx-git0-test"].affected[0]
    assert (
        git.ranges[0].type is RangeType.GIT
        and git.ranges[0].repo == "https://github.com/example/example-git"
    )
    assert git.purl == "pkg:npm/example-git"
    assert by["GHSA-wwww-with-draw"].withdrawn is not None
    assert all(a.status is AffectedStatus.AFFECTED for adv in advs for a in adv.affected)


# --- hostile input --------------------------------------------------------------------------

GOOD = b.GHSA_EXAMPLES[0]


def _write(dir_: Path, name: str, data: bytes | str) -> None:
    p = dir_ / name
    if isinstance(data, str):
        p.write_text(data)
    else:
        p.write_bytes(data)


def test_malformed_records_are_skipped_with_reasons(tmp_path: Path) -> None:
    d = tmp_path / "bad"
    d.mkdir()
    _write(d, "good.json", orjson.dumps(GOOD))
    _write(d, "invalid.json", b'{"id": "X-1", "affected": [')
    _write(d, "not-utf8.yaml", b"id: \xff\xfe\naffected: []\n")
    _write(d, "id-int.json", orjson.dumps({**GOOD, "id": 12}))
    _write(d, "affected-str.json", orjson.dumps({**GOOD, "id": "X-2", "affected": "lodash"}))
    _write(
        d,
        "versions-int.json",
        orjson.dumps(
            {**GOOD, "id": "X-3", "affected": [{**GOOD["affected"][0], "versions": [1, 2]}]}
        ),
    )
    _write(
        d,
        "absurd-version.json",
        orjson.dumps(
            {
                **GOOD,
                "id": "X-4",
                "affected": [
                    {
                        **GOOD["affected"][0],
                        "ranges": [
                            {
                                "type": "ECOSYSTEM",
                                "events": [{"introduced": "0"}, {"fixed": "9" * 100_000}],
                            }
                        ],
                    }
                ],
            }
        ),
    )
    _write(
        d,
        "control-version.json",
        orjson.dumps(
            {
                **GOOD,
                "id": "X-5",
                "affected": [{**GOOD["affected"][0], "versions": ["1.0\x00evil"]}],
            }
        ),
    )
    _write(
        d,
        "two-key-event.json",
        orjson.dumps(
            {
                **GOOD,
                "id": "X-6",
                "affected": [
                    {
                        **GOOD["affected"][0],
                        "ranges": [
                            {"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "1"}]}
                        ],
                    }
                ],
            }
        ),
    )
    _write(
        d,
        "bad-range-type.json",
        orjson.dumps(
            {
                **GOOD,
                "id": "X-7",
                "affected": [{**GOOD["affected"][0], "ranges": [{"type": "WEIRD", "events": []}]}],
            }
        ),
    )
    _write(d, "bad-time.json", orjson.dumps({**GOOD, "id": "X-8", "modified": "yesterday"}))
    _write(
        d,
        "deep.json",
        b'{"id": "X-9", "modified": "2020-01-01T00:00:00Z", "affected": '
        + b"[" * 5000
        + b"]" * 5000
        + b"}",
    )
    _write(d, "list.json", b"[1, 2, 3]")  # not a record: skipped quietly
    _write(d, "unknown-eco.json", orjson.dumps({**GOOD, "id": "X-10", "affected": [{**GOOD["affected"][0], "package": {"ecosystem": "Frobnicate", "name": "x"}}, GOOD["affected"][0]]}))  # fmt: skip
    items = list(iter_path(d, "osv:test"))
    advs, probs = _split(items)
    assert sorted(a.id for a in advs) == sorted([GOOD["id"], "X-10"])
    x10 = next(a for a in advs if a.id == "X-10")
    assert [a.ecosystem for a in x10.affected] == ["npm"]  # the unknown-ecosystem entry is dropped
    where = {Path(p.where).name for p in probs}
    assert where == {
        "invalid.json", "not-utf8.yaml", "id-int.json", "affected-str.json", "versions-int.json",
        "absurd-version.json", "control-version.json", "two-key-event.json", "bad-range-type.json",
        "bad-time.json", "deep.json", "unknown-eco.json",
    }  # fmt: skip
    assert all(p.reason for p in probs)
    assert next(p for p in probs if p.where.endswith("unknown-eco.json")).record_id == "X-10"


def test_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    bomb = "\n".join(lines) + "\nid: BOMB-1\nmodified: '2020-01-01T00:00:00Z'\naffected: *a8\n"
    (tmp_path / "bomb.yaml").write_text(bomb)
    advs, probs = _split(list(iter_path(tmp_path, "osv:test")))
    assert advs == [] and len(probs) == 1 and "alias" in probs[0].reason


def test_yaml_keeps_versions_and_timestamps_as_written(tmp_path: Path) -> None:
    rec = (
        "id: PYSEC-0000-1\nmodified: 2021-04-01T14:15:00Z\npublished: 2021-04-01 14:15:00\n"
        "affected:\n- package: {ecosystem: PyPI, name: Foo_Bar}\n  versions: [1.10, 2.0, 3]\n"
        "  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: 0\n    - fixed: 1.20\n"
    )
    (tmp_path / "r.yaml").write_text(rec)
    (adv,) = [x for x in iter_path(tmp_path, "p") if isinstance(x, Advisory)]
    assert adv.affected[0].name == "foo-bar"
    assert adv.affected[0].versions == ("1.10", "2.0", "3")
    assert adv.affected[0].fixed_versions == ("1.20",)
    assert adv.modified == adv.published and adv.modified is not None


def _bomb_zip(path: Path, member_size: int, members: int = 1) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ok.json", orjson.dumps(GOOD))
        chunk = b" " * member_size
        for i in range(members):
            zf.writestr(f"bomb{i}.json", b'{"id": "B"}' + chunk)


def test_zip_bomb_members_are_capped(tmp_path: Path) -> None:
    path = tmp_path / "all.zip"
    _bomb_zip(path, 20 << 20)  # 20 MiB of spaces compress to ~20 KiB
    assert path.stat().st_size < 200_000
    advs, probs = _split(list(iter_zip(path, "osv:t", Limits(max_record_bytes=1 << 20))))
    assert [a.id for a in advs] == [GOOD["id"]]
    assert len(probs) == 1 and "too large" in probs[0].reason


def test_zip_member_lying_about_its_size(tmp_path: Path) -> None:
    path = tmp_path / "liar.zip"
    _bomb_zip(path, 20 << 20)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("bomb0.json")
        pos = zf.start_dir  # offset of the central directory
    # claim 100 bytes uncompressed: local header field at +22, central directory field at +24
    struct.pack_into("<I", data, info.header_offset + 22, 100)
    while data[pos : pos + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        if data[pos + 46 : pos + 46 + name_len] == b"bomb0.json":
            struct.pack_into("<I", data, pos + 24, 100)
        pos += 46 + name_len + extra_len + comment_len
    path.write_bytes(bytes(data))
    advs, probs = _split(list(iter_zip(path, "osv:t", Limits(max_record_bytes=1 << 20))))
    assert [a.id for a in advs] == [GOOD["id"]]
    assert len(probs) == 1


def test_zip_archive_total_cap(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    _bomb_zip(path, 600_000, members=10)
    advs, probs = _split(
        list(iter_zip(path, "osv:t", Limits(max_record_bytes=1 << 20, max_archive_bytes=2 << 20)))
    )
    assert [a.id for a in advs] == [GOOD["id"]]
    assert "cap" in probs[-1].reason
    assert len(probs) <= 10


def test_huge_record_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "huge.json").write_bytes(orjson.dumps({**GOOD, "details": "x" * (2 << 20)}))
    (tmp_path / "ok.json").write_bytes(orjson.dumps(GOOD))
    advs, probs = _split(list(iter_path(tmp_path, "t", Limits(max_record_bytes=1 << 20))))
    assert [a.id for a in advs] == [GOOD["id"]] and len(probs) == 1


def test_broken_zip_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "x.zip").write_bytes(b"PK\x03\x04 not really")
    advs, probs = _split(list(iter_path(tmp_path / "x.zip", "t")))
    assert advs == [] and len(probs) == 1


def test_hidden_and_non_record_files_are_skipped(tmp_path: Path) -> None:
    b.osv_folder(tmp_path, [GOOD])
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.json").write_bytes(b"{broken")
    (tmp_path / "schema.json").write_bytes(orjson.dumps({"$schema": "x", "type": "object"}))
    (tmp_path / "modified_id.csv").write_text("2024-01-01T00:00:00Z,GHSA-x\n")
    items = list(iter_path(tmp_path, "t"))
    assert [type(x) for x in items] == [Advisory]


def test_yaml_tags_never_build_objects(tmp_path: Path) -> None:
    rec = (
        "id: !!python/object/apply:os.system ['true']\nmodified: '2020-01-01T00:00:00Z'\n"
        "affected: []\nsummary: !!binary aGVsbG8=\n"
    )
    (tmp_path / "r.yaml").write_text(rec)
    items = list(iter_path(tmp_path, "t"))
    # the tag is ignored and a sequence is not an id, so the record is a problem, never a call
    assert len(items) == 1 and isinstance(items[0], ParseProblem)


def test_yaml_deep_nesting_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "deep.yaml").write_text(
        "id: X\nmodified: '2020-01-01'\naffected: " + "[" * 5000 + "]" * 5000 + "\n"
    )
    items = list(iter_path(tmp_path, "t"))
    assert len(items) == 1 and isinstance(items[0], ParseProblem)
