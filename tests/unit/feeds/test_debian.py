"""Debian security tracker JSON, as Debian means each status and urgency."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from dockwatch.feeds.debian import parse_document, parse_file
from dockwatch.feeds.feed import FeedFormatError, ParseProblem
from dockwatch.model.advisory import Advisory, AffectedStatus, EventKind, fingerprint
from tests.builders import feeds as b


def _parse(doc: Any) -> tuple[dict[str, Advisory], list[ParseProblem]]:
    items = list(parse_document(doc, "test"))
    advs: dict[str, Advisory] = {x.id: x for x in items if isinstance(x, Advisory)}
    return advs, [x for x in items if isinstance(x, ParseProblem)]


def _view(adv: Advisory) -> list[tuple[str, str, str, tuple[str, ...], str | None, str | None]]:
    """(package, ecosystem, status, fixed versions, urgency, rating) per affected entry."""
    out = []
    for a in adv.affected:
        sev = a.severities[0] if a.severities else None
        out.append((a.name, a.ecosystem, a.status.value, a.fixed_versions,
                    sev.value if sev else None, sev.rating if sev else None))  # fmt: skip
    return out


def test_documented_example() -> None:
    advs, probs = _parse(b.DEBIAN_EXAMPLE)
    assert probs == []
    assert set(advs) == {"CVE-2014-0160", "CVE-2023-5678", "CVE-2024-26581", "TEMP-0000000-F7A20F"}
    # sid is not a matchable release, so it is left out
    assert _view(advs["CVE-2014-0160"]) == [
        ("openssl", "Debian:12", "affected", ("1.0.1g-1",), "high", "HIGH"),
        ("openssl", "Debian:13", "not_affected", (), None, None),
    ]
    assert _view(advs["CVE-2023-5678"]) == [
        ("openssl", "Debian:11", "affected", ("1.1.1w-0+deb11u1",), "low", "LOW"),
        ("openssl", "Debian:12", "affected", (), "low**", "LOW"),  # open, no DSA (ignored)
    ]
    assert _view(advs["CVE-2024-26581"]) == [
        ("linux", "Debian:11", "wont_fix", (), None, None),  # end-of-life
        ("linux", "Debian:12", "affected", (), "unimportant", "NEGLIGIBLE"),
        ("linux", "Debian:13", "affected", (), None, None),  # postponed
    ]
    assert _view(advs["TEMP-0000000-F7A20F"]) == [
        ("bash", "Debian:12", "undetermined", (), None, None),
        ("bash", "Debian:13", "affected", ("1:5.2.21-1",), "medium", "MEDIUM"),
    ]
    heart = advs["CVE-2014-0160"]
    assert heart.source == "debian" and heart.summary.startswith("The (1) TLS")
    assert [r.url for r in heart.references] == [
        "https://security-tracker.debian.org/tracker/CVE-2014-0160",
        "https://bugs.debian.org/743883",
    ]
    assert heart.cve_ids == ("CVE-2014-0160",)
    fixed = heart.affected[0].ranges[0].events
    assert [(e.kind, e.version) for e in fixed] == [
        (EventKind.INTRODUCED, "0"),
        (EventKind.FIXED, "1.0.1g-1"),
    ]
    open_ = advs["CVE-2023-5678"].affected[1]
    assert [(e.kind, e.version) for e in open_.ranges[0].events] == [(EventKind.INTRODUCED, "0")]
    assert advs["CVE-2014-0160"].affected[1].ranges == ()


def _reverse(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse(v) for k, v in reversed(list(value.items()))}
    return value


def test_key_order_does_not_change_fingerprints() -> None:
    a, _ = _parse(b.DEBIAN_EXAMPLE)
    c, _ = _parse(_reverse(b.DEBIAN_EXAMPLE))
    assert {k: fingerprint(v) for k, v in a.items()} == {k: fingerprint(v) for k, v in c.items()}


def test_one_cve_across_packages_is_one_advisory() -> None:
    doc = {
        "glibc": {"CVE-2099-1": {"releases": {"bookworm": {"status": "open", "urgency": "low"}}}},
        "eglibc": {
            "CVE-2099-1": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "2.1"}}}
        },
    }
    advs, _ = _parse(doc)
    assert [a.name for a in advs["CVE-2099-1"].affected] == ["eglibc", "glibc"]


def test_malformed_entries_are_problems() -> None:
    doc = {
        "good": {"CVE-2099-1": {"releases": {"bookworm": {"status": "open"}}}},
        "weird-status": {"CVE-2099-2": {"releases": {"bookworm": {"status": "maybe"}}}},
        "int-version": {
            "CVE-2099-3": {"releases": {"bookworm": {"status": "resolved", "fixed_version": 3}}}
        },
        "absurd": {
            "CVE-2099-4": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "1 2"}}}
        },
        "not-object": ["CVE-2099-5"],
        "releases-list": {"CVE-2099-6": {"releases": ["bookworm"]}},
        "issue-str": {"CVE-2099-7": "open"},
    }
    advs, probs = _parse(doc)
    assert set(advs) == {"CVE-2099-1"}
    assert len(probs) == 6 and all(p.feed == "debian" and p.reason for p in probs)


def test_whole_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FeedFormatError):
        list(parse_document([1, 2], "x"))
    bad = tmp_path / "json"
    bad.write_bytes(b'{"openssl": {')
    with pytest.raises(FeedFormatError):
        list(parse_file(str(bad)))
    good = tmp_path / "good.json"
    good.write_bytes(b.debian_tracker())
    assert len([x for x in parse_file(str(good)) if isinstance(x, Advisory)]) == 4


def test_generated_document_counts() -> None:
    doc = b.generated_debian(packages=40, cves_per_package=5)
    advs, probs = _parse(orjson.loads(orjson.dumps(doc)))
    assert probs == [] and len(advs) == 200
    # 4 of the 5 generated releases are in the distros table (sid is not)
    assert all(len(a.affected) == 4 for a in advs.values())
    statuses = {x.status for a in advs.values() for x in a.affected}
    assert statuses == {
        AffectedStatus.AFFECTED,
        AffectedStatus.NOT_AFFECTED,
        AffectedStatus.UNDETERMINED,
    }
