"""OSV range evaluation: the schema's semantics on small cases, then the real snapshot.

The real-data test takes every record of ../shared/vulndata with an explicit `versions` list
(only PyPA publishes them; the Go, RustSec, Bitnami and AlmaLinux records have none, which is
asserted), removes the list, and checks the ranges alone against it.

What a fair oracle is. Upstream computed each list by enumerating the package's releases *when
the record was written* and keeping those inside the ranges. So:

- every listed version must be inside the ranges;
- an unlisted version is only evidence of "not affected" if it was a release at that time. We
  take as "known released when record R was written" a version that some record of the same
  package written no later than R lists AND some record written no earlier than R lists (R
  itself counts on both sides). A version only newer records list may have been released after
  R; one only older records list may have been deleted from PyPI by then (both happen a lot:
  yanked-and-deleted files, lists that predate a release). The neighbours checked are, for each
  listed version, the nearest known-released version below and above it in the package's
  order, so every interval boundary the list implies is exercised.

A record that still disagrees is an upstream inconsistency: each is named, with the reason, in
tests/data/versions/osv/pypa-list-inconsistencies.txt, and the test fails if the set changes.
A version or event the scheme cannot parse yields Indeterminate; that is allowed only when
`packaging` (the reference) rejects the same string.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.version import InvalidVersion as PackagingInvalid
from packaging.version import Version

from dockwatch.model.advisory import RangeType
from dockwatch.versions import (
    Affected,
    Event,
    EventKind,
    Indeterminate,
    InvalidRange,
    NotAffected,
    Range,
    evaluate,
    fixed_versions,
    range_from_osv,
    ranges_from_osv,
    scheme_for,
)
from dockwatch.versions.ranges import fixed_versions_prepared, prepare
from dockwatch.versions.scheme import InvalidVersion, SortKey, VersionScheme

VULNDATA = Path(__file__).resolve().parents[3].parent / "shared" / "vulndata"
NOTES = Path(__file__).resolve().parents[2] / "data/versions/osv/pypa-list-inconsistencies.txt"
MAX_DOCUMENTED = 30

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader


def rng(*events: tuple[str, str], rtype: str = "ECOSYSTEM") -> Range:
    return Range(RangeType(rtype), tuple(Event(EventKind(k), v) for k, v in events))


def _scheme(ecosystem: str) -> VersionScheme:
    scheme = scheme_for(ecosystem)
    assert scheme is not None
    return scheme


PYPI = _scheme("PyPI")


# --- the schema's semantics ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "expected"),
    [("0.9", False), ("1.0", True), ("1.5", True), ("2.0", False), ("2.5", False), ("3.0", True)],
)
def test_introduced_fixed_and_reintroduced(version: str, expected: bool) -> None:
    r = rng(("introduced", "1.0"), ("fixed", "2.0"), ("introduced", "3.0"))
    assert isinstance(evaluate(version, PYPI, [r]), Affected) is expected


def test_introduced_zero_and_last_affected() -> None:
    r = rng(("introduced", "0"), ("last_affected", "1.4"))
    assert isinstance(evaluate("0.0.1.dev0", PYPI, [r]), Affected)
    assert isinstance(evaluate("1.4", PYPI, [r]), Affected)
    assert isinstance(evaluate("1.4.post1", PYPI, [r]), NotAffected)
    verdict = evaluate("1.0", PYPI, [r])
    assert verdict == Affected(via="range", range_index=0, introduced="0", last_affected="1.4")


def test_limit_bounds_the_range() -> None:
    r = rng(("introduced", "1.0"), ("limit", "1.5"))
    assert isinstance(evaluate("1.2", PYPI, [r]), Affected)
    assert isinstance(evaluate("1.5", PYPI, [r]), NotAffected)
    assert isinstance(evaluate("9", PYPI, [r]), NotAffected)
    star = rng(("introduced", "1.0"), ("limit", "*"))
    assert isinstance(evaluate("9", PYPI, [star]), Affected)
    # several limits: the schema's BeforeLimits needs the version below any one of them
    two = rng(("introduced", "1.0"), ("limit", "1.5"), ("limit", "3.0"))
    assert isinstance(evaluate("2.0", PYPI, [two]), Affected)
    assert isinstance(evaluate("3.0", PYPI, [two]), NotAffected)


def test_events_are_sorted_and_ties_keep_record_order() -> None:
    # scrapy/PYSEC-2024-258 writes [0, 2.0.0) then [2.0.0, 2.11.2): 2.5 is affected
    r = rng(("introduced", "0"), ("fixed", "2.0.0"), ("introduced", "2.0.0"), ("fixed", "2.11.2"))
    assert isinstance(evaluate("2.5", PYPI, [r]), Affected)
    shuffled = rng(("fixed", "2.0"), ("introduced", "3.0"), ("introduced", "1.0"), ("fixed", "4.0"))
    assert [isinstance(evaluate(v, PYPI, [shuffled]), Affected) for v in ("1.5", "2.5", "3.5")] == [
        True,
        False,
        True,
    ]
    empty = rng(("introduced", "1.0"), ("fixed", "1.0"))
    assert isinstance(evaluate("1.0", PYPI, [empty]), NotAffected)


def test_any_range_or_listed_version_affects() -> None:
    ranges = [
        rng(("introduced", "1.0"), ("fixed", "1.1")),
        rng(("introduced", "2.0"), ("fixed", "2.1")),
    ]
    assert evaluate("2.0.5", PYPI, ranges) == Affected(
        via="range", range_index=1, introduced="2.0", fixed="2.1"
    )
    assert evaluate("5.0", PYPI, ranges, versions=["5.0.0"]) == Affected(via="versions")
    assert isinstance(evaluate("5.1", PYPI, ranges, versions=["5.0"]), NotAffected)


def test_unparseable_version_is_indeterminate_never_not_affected() -> None:
    r = rng(("introduced", "0"), ("fixed", "2.0"))
    verdict = evaluate("not a version", PYPI, [r])
    assert isinstance(verdict, Indeterminate)
    assert "not a version" in verdict.reason
    # an exact string in the explicit list still matches
    assert evaluate("0.1-bulbasaur", PYPI, [r], versions=["0.1-bulbasaur"]) == Affected(
        via="versions"
    )


def test_unparseable_event_is_indeterminate_unless_another_range_decides() -> None:
    bad = rng(("introduced", "0"), ("fixed", "4.6.0.stable11"))
    good = rng(("introduced", "1.0"), ("fixed", "2.0"))
    verdict = evaluate("3.0", PYPI, [bad])
    assert isinstance(verdict, Indeterminate)
    assert "4.6.0.stable11" in verdict.reason
    assert isinstance(evaluate("1.5", PYPI, [bad, good]), Affected)
    assert isinstance(evaluate("3.0", PYPI, [bad, good]), Indeterminate)


def test_git_ranges_do_not_decide() -> None:
    git = Range(
        RangeType.GIT,
        (Event(EventKind.INTRODUCED, "0"), Event(EventKind.FIXED, "abc123")),
        "https://x",
    )
    assert isinstance(evaluate("1.0", PYPI, [git]), Indeterminate)
    assert isinstance(evaluate("1.0", PYPI, [git], versions=["0.9"]), NotAffected)
    assert isinstance(evaluate("0.9", PYPI, [git], versions=["0.9"]), Affected)
    assert isinstance(evaluate("1.0", PYPI, []), Indeterminate)


def test_semver_type_over_go_scheme() -> None:
    go = scheme_for("Go")
    assert go is not None
    r = rng(("introduced", "0"), ("fixed", "1.20.5"), rtype="SEMVER")
    assert isinstance(evaluate("v1.20.4", go, [r]), Affected)
    assert isinstance(evaluate("v1.20.5", go, [r]), NotAffected)
    assert isinstance(evaluate("v0.0.0-20230101000000-abcdefabcdef", go, [r]), Affected)


def test_fixed_versions() -> None:
    r = rng(("introduced", "0"), ("fixed", "1.2"), ("introduced", "2.0"), ("fixed", "2.3"))
    other = rng(("introduced", "2.1"), ("fixed", "2.2"))
    assert fixed_versions("2.1.5", PYPI, [r, other]) == ("2.2", "2.3")
    assert fixed_versions("1.0", PYPI, [r]) == ("1.2",)
    assert fixed_versions("1.5", PYPI, [r]) == ()
    assert fixed_versions(None, PYPI, [r, other]) == ("1.2", "2.2", "2.3")
    open_ended = rng(("introduced", "1.0"))
    assert fixed_versions("1.5", PYPI, [open_ended]) == ()


def test_fixed_versions_prepared_agrees_with_fixed_versions() -> None:
    # the one-off path (events sorted per call) is the oracle, over every version an entry
    # names, versions between and around them, and entries with a range the scheme rejects
    r = rng(("introduced", "0"), ("fixed", "1.2"), ("introduced", "2.0"), ("fixed", "2.3"))
    other = rng(("introduced", "2.1"), ("fixed", "2.2"))
    reopened = rng(("fixed", "2.0"), ("introduced", "2.0"), ("introduced", "1.0"))
    closed = rng(("introduced", "1.0"), ("last_affected", "1.4"), ("fixed", "1.6"))
    limited = rng(("introduced", "0"), ("fixed", "3.0"), ("limit", "2.5"))
    bad = rng(("introduced", "0"), ("fixed", "not a version!"))
    git = rng(("introduced", "abc"), ("fixed", "def"), rtype="GIT")
    entries = [[r, other], [r], [reopened], [closed], [limited], [bad, other], [git, r], []]
    probes = ["0", "0.5", "1.0", "1.2", "1.3", "1.4", "1.5", "1.6", "2.0", "2.1", "2.1.5", "2.2"]
    probes += ["2.4", "2.5", "2.9", "3.0", "4"]
    checked = 0
    for ranges in entries:
        prepared = prepare(PYPI, ranges, ("1.0", "2.1"))
        for version in probes:
            expected = fixed_versions(version, PYPI, ranges)
            assert fixed_versions_prepared(version, PYPI, prepared) == expected, (ranges, version)
            checked += bool(expected)
        with pytest.raises(InvalidVersion):
            fixed_versions_prepared("not a version!", PYPI, prepared)
    assert checked > 20  # most probes have a fix: the comparison is not of empty tuples


@pytest.mark.slow
def test_fixed_versions_prepared_agrees_on_pypa_listed_versions() -> None:
    # every explicitly listed version of a sample of PyPA entries, the matcher's use
    checked = 0
    for entries in list(_pypa_entries().values())[::20]:
        for entry in entries:
            prepared = prepare(PYPI, entry.ranges, entry.versions)
            for version in entry.versions:
                try:
                    expected = fixed_versions(version, PYPI, entry.ranges)
                except InvalidVersion:
                    with pytest.raises(InvalidVersion):
                        fixed_versions_prepared(version, PYPI, prepared)
                    continue
                assert fixed_versions_prepared(version, PYPI, prepared) == expected
                checked += bool(expected)
    assert checked > 1000


@pytest.mark.parametrize(
    "data",
    [
        {"type": "NPM", "events": [{"introduced": "0"}]},
        {"type": "ECOSYSTEM", "events": []},
        {"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "1"}]},
        {"type": "ECOSYSTEM", "events": [{"patched": "1"}]},
        {"type": "ECOSYSTEM", "events": [{"fixed": 1}]},
        "not a range",
    ],
)
def test_from_osv_rejects_malformed(data: Any) -> None:
    with pytest.raises(InvalidRange):
        range_from_osv(data)


def test_from_osv_reads_a_record() -> None:
    (r,) = ranges_from_osv(
        [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.3"}]}]
    )
    assert r == Range(
        RangeType.SEMVER, (Event(EventKind.INTRODUCED, "0"), Event(EventKind.FIXED, "1.2.3"))
    )


# --- the real snapshot -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One `affected` entry of one record."""

    record: str
    modified: dt.datetime
    ranges: tuple[Range, ...]
    versions: tuple[str, ...]


def _modified(raw: Any) -> dt.datetime:
    if isinstance(raw, str):
        raw = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if not isinstance(raw, dt.datetime):
        raise TypeError(f"bad modified {raw!r}")
    return raw if raw.tzinfo else raw.replace(tzinfo=dt.UTC)


def _pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pypa_entries() -> dict[str, list[Entry]]:
    root = VULNDATA / "pypa-advisory-database" / "vulns"
    if not root.is_dir():
        pytest.skip(f"{root} is absent (../shared/vulndata)")
    by_package: dict[str, list[Entry]] = defaultdict(list)
    for path in sorted(root.glob("*/*.yaml")):
        record = yaml.load(path.read_text(), Loader=_Loader)
        name = f"{path.parent.name}/{path.stem}"
        for affected in record.get("affected", []):
            by_package[_pep503(affected["package"]["name"])].append(
                Entry(
                    name,
                    _modified(record["modified"]),
                    ranges_from_osv(affected.get("ranges", [])),
                    tuple(affected.get("versions") or ()),
                )
            )
    return by_package


def _key(scheme: VersionScheme, v: str) -> SortKey | None:
    try:
        return scheme.key(v)
    except InvalidVersion:
        return None


def _pep440_rejects(v: str) -> bool:
    try:
        Version(v)
    except PackagingInvalid:
        return True
    return False


@dataclass
class Outcome:
    """What the real-data check found."""

    checks: int = 0
    entries: int = 0
    git_only: int = 0
    indeterminate: int = 0
    disagreeing: dict[str, list[str]] | None = None


def _check_package(entries: list[Entry], out: Outcome) -> Iterator[tuple[str, str]]:
    scheme = PYPI
    assert out.disagreeing is not None
    keyed: dict[str, SortKey] = {}
    for e in entries:
        for v in e.versions:
            k = _key(scheme, v)
            if k is not None:
                keyed[v] = k
    # versions listed by records written no later / no earlier than each modification time
    times = sorted({e.modified for e in entries})
    listed_at: dict[dt.datetime, set[SortKey]] = defaultdict(set)
    for e in entries:
        listed_at[e.modified].update(keyed[v] for v in e.versions if v in keyed)
    before_at: dict[dt.datetime, set[SortKey]] = {}
    after_at: dict[dt.datetime, set[SortKey]] = {}
    running: set[SortKey] = set()
    for t in times:
        running = running | listed_at[t]
        before_at[t] = running
    running = set()
    for t in reversed(times):
        running = running | listed_at[t]
        after_at[t] = running
    for entry in entries:
        if not entry.versions:
            continue
        if not any(r.type in ("ECOSYSTEM", "SEMVER") for r in entry.ranges):
            out.git_only += 1
            continue
        out.entries += 1
        known_keys = before_at[entry.modified] & after_at[entry.modified]
        known = {v for v, k in keyed.items() if k in known_keys}
        # one representative string per distinct version, in order
        order = sorted({keyed[v]: v for v in known}.items(), key=lambda kv: _Box(kv[0]))
        ordered_keys = [k for k, _ in order]
        listed_keys = {keyed[v] for v in entry.versions if v in keyed}
        candidates = set(entry.versions)
        for k in listed_keys:
            i = _bisect(ordered_keys, k)
            if i > 0:
                candidates.add(order[i - 1][1])
            j = i + 1 if i < len(ordered_keys) and ordered_keys[i] == k else i
            if j < len(order):
                candidates.add(order[j][1])
        assert known_keys >= listed_keys
        for v in sorted(candidates):
            out.checks += 1
            k = keyed.get(v)
            expected = v in entry.versions or (k is not None and k in listed_keys)
            verdict = evaluate(v, scheme, entry.ranges)
            if isinstance(verdict, Indeterminate):
                out.indeterminate += 1
                yield v, verdict.reason
                continue
            if isinstance(verdict, Affected) is not expected:
                out.disagreeing.setdefault(entry.record, []).append(
                    f"{v}: list says {'affected' if expected else 'not affected'}"
                )


class _Box:
    __slots__ = ("k",)

    def __init__(self, k: SortKey) -> None:
        self.k = k

    def __lt__(self, other: _Box) -> bool:
        return bool(self.k < other.k)


def _bisect(keys: list[SortKey], k: SortKey) -> int:
    lo, hi = 0, len(keys)
    while lo < hi:
        mid = (lo + hi) // 2
        if keys[mid] < k:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _documented() -> dict[str, str]:
    notes: dict[str, str] = {}
    for line in NOTES.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            record, why = line.split(None, 1)
            notes[record] = why
    return notes


@pytest.mark.slow
def test_pypa_ranges_agree_with_explicit_versions() -> None:
    by_package = _pypa_entries()
    out = Outcome(disagreeing={})
    unparsed: list[tuple[str, str]] = []
    for entries in by_package.values():
        unparsed.extend(_check_package(entries, out))
    assert out.entries > 6000
    assert out.checks > 100_000
    # Indeterminate only where the reference implementation rejects a string too
    for _version, reason in unparsed:
        bad = re.findall(r"invalid PyPI version '([^']*)'", reason)
        assert bad, reason
        assert all(_pep440_rejects(b) for b in bad), reason
    documented = _documented()
    assert len(documented) <= MAX_DOCUMENTED
    assert all(len(why) > 40 for why in documented.values())
    assert out.disagreeing is not None
    undocumented = {r: v[:5] for r, v in out.disagreeing.items() if r not in documented}
    assert undocumented == {}
    stale = sorted(set(documented) - set(out.disagreeing))
    assert stale == [], "documented inconsistencies that no longer disagree"


def _osv_json(source: str, pattern: str) -> Iterator[tuple[str, dict[str, Any]]]:
    root = VULNDATA / source
    if not root.is_dir():
        pytest.skip(f"{root} is absent (../shared/vulndata)")
    for path in sorted(root.glob(pattern)):
        yield path.name, json.loads(path.read_text())


SOURCES = [
    ("golang-vulndb", "data/osv/*.json"),
    ("rustsec-advisory-db", "crates/*.json"),
    ("bitnami-vulndb", "data/*/*.json"),
    ("almalinux-osv-database", "advisories/*/*.json"),
]
#: event versions upstream writes that the ecosystem's own grammar rejects (checked below)
KNOWN_UNPARSEABLE = {"Bitnami": {"nightly.2026-03-10.0"}}


@pytest.mark.slow
@pytest.mark.parametrize(("source", "pattern"), SOURCES, ids=[s for s, _ in SOURCES])
def test_ranges_of_other_sources_at_their_boundaries(source: str, pattern: str) -> None:
    """No list to compare with, so check what each event means, on every real range:
    an `introduced` version is affected, a `fixed` version is not, a `last_affected` one is,
    whenever the interval is well formed (introduced < closer, intervals in order)."""
    listed = 0
    checked = 0
    unparsed: set[str] = set()
    for _name, record in _osv_json(source, pattern):
        for affected in record.get("affected", []):
            listed += bool(affected.get("versions"))
            scheme = scheme_for(affected["package"]["ecosystem"])
            assert scheme is not None, affected["package"]["ecosystem"]
            for r in ranges_from_osv(affected.get("ranges", [])):
                if r.type == "GIT":
                    continue
                try:
                    keys = [None if e.version == "0" else scheme.key(e.version) for e in r.events]
                except InvalidVersion as e:
                    unparsed.add(e.version)
                    assert isinstance(evaluate("1.0.0", scheme, [r]), Indeterminate | Affected)
                    continue
                if not _well_formed(r, keys):
                    continue
                for ev in r.events:
                    if ev.version == "0" or ev.kind is EventKind.LIMIT:
                        continue
                    verdict = evaluate(ev.version, scheme, [r])
                    want = ev.kind is not EventKind.FIXED
                    assert isinstance(verdict, Affected) is want, (record["id"], ev)
                    checked += 1
    assert listed == 0, f"{source} now publishes explicit versions lists: compare them too"
    assert checked > 1000
    eco = {"bitnami-vulndb": "Bitnami"}.get(source, "")
    assert unparsed <= KNOWN_UNPARSEABLE.get(eco, set())


def _well_formed(r: Range, keys: list[SortKey | None]) -> bool:
    """Events alternate introduced / closer with strictly increasing versions."""
    previous: SortKey | None = None
    expect_intro = True
    for ev, k in zip(r.events, keys, strict=True):
        if ev.kind is EventKind.LIMIT:
            return False
        if (ev.kind is EventKind.INTRODUCED) is not expect_intro:
            return False
        if previous is not None and (k is None or not previous < k):
            return False
        if k is None and previous is not None:
            return False
        previous = k if k is not None else previous
        expect_intro = not expect_intro
    return True


def test_accepts_the_domain_models_ranges() -> None:
    """The matcher passes `dockwatch.model.advisory` ranges straight through."""
    from dockwatch.model import advisory as model

    r = model.Range(
        model.RangeType.ECOSYSTEM,
        (
            model.Event(model.EventKind.INTRODUCED, "1.0"),
            model.Event(model.EventKind.FIXED, "1.2"),
        ),
    )
    assert evaluate("1.1", PYPI, [r]) == Affected(
        via="range", range_index=0, introduced="1.0", fixed="1.2"
    )
    assert isinstance(evaluate("1.2", PYPI, [r]), NotAffected)
    assert fixed_versions("1.1", PYPI, [r]) == ("1.2",)
