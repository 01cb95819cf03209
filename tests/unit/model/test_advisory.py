"""The advisory model (src/dockwatch/model/advisory.py): CVSS scores, names, fingerprints."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from dockwatch.model.advisory import (
    Advisory,
    AdvisoryID,
    Affected,
    Event,
    EventKind,
    Range,
    RangeType,
    Severity,
    SeverityType,
    cvss_score,
    cvss_type_of,
    fingerprint,
    normalize_package_name,
)

# FIRST, "CVSS v3.1 Examples" (https://www.first.org/cvss/v3.1/examples) and the same examples in
# "CVSS v3.0 Examples" (https://www.first.org/cvss/v3.0/examples): (CVE, base vector, score).
V3_EXAMPLES = [
    ("CVE-2013-1937", "AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
    ("CVE-2013-0375", "AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4),
    ("CVE-2014-3566", "AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1),
    ("CVE-2012-1516", "AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9),
    ("CVE-2009-0783", "AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L", 4.2),
    ("CVE-2012-0384", "AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8),
    ("CVE-2015-1098", "AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8),
    ("CVE-2014-0160", "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5),
    ("CVE-2014-6271", "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
    ("CVE-2008-1447", "AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N", 6.8),
    ("CVE-2014-2005", "AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 6.8),
    ("CVE-2010-0467", "AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N", 5.8),
    ("CVE-2013-6014", "AV:A/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:H", 9.3),
]

# FIRST, "A Complete Guide to the CVSS v2" (https://www.first.org/cvss/v2/guide), section 3.3.
V2_EXAMPLES = [
    ("CVE-2002-0392", "AV:N/AC:L/Au:N/C:N/I:N/A:C", 7.8),
    ("CVE-2003-0818", "AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0),
    ("CVE-2003-0062", "AV:L/AC:H/Au:N/C:C/I:C/A:C", 6.2),
]

# FIRST, "CVSS v4.0 Examples" (https://www.first.org/cvss/v4.0/examples) and the specification's
# bounds (no impact scores 0.0; every impact High scores 10.0).
V4_EXAMPLES = [
    ("CVE-2022-41741", "AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 8.5),
    ("CVE-2023-3089", "AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N", 8.7),
    ("CVE-2021-44228", "AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", 10.0),
    (
        "network, no subsequent impact",
        "AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        9.3,
    ),
    ("no impact", "AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", 0.0),
]


@pytest.mark.parametrize(("cve", "vector", "score"), V3_EXAMPLES)
@pytest.mark.parametrize("prefix", ["CVSS:3.1/", "CVSS:3.0/"])
def test_cvss3_first_examples(cve: str, vector: str, score: float, prefix: str) -> None:
    assert cvss_score(SeverityType.CVSS_V3, prefix + vector)[0] == score, cve
    assert cvss_type_of(prefix + vector) is SeverityType.CVSS_V3


@pytest.mark.parametrize(("cve", "vector", "score"), V2_EXAMPLES)
def test_cvss2_first_examples(cve: str, vector: str, score: float) -> None:
    assert cvss_score(SeverityType.CVSS_V2, vector)[0] == score, cve
    assert cvss_score(SeverityType.CVSS_V2, f"({vector})")[0] == score  # NVD's parenthesised form
    assert cvss_type_of(vector) is SeverityType.CVSS_V2


@pytest.mark.parametrize(("cve", "vector", "score"), V4_EXAMPLES)
def test_cvss4_first_examples(cve: str, vector: str, score: float) -> None:
    assert cvss_score(SeverityType.CVSS_V4, "CVSS:4.0/" + vector)[0] == score, cve


def test_ratings_and_bad_vectors() -> None:
    assert cvss_score(SeverityType.CVSS_V3, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") == (
        9.8,
        "CRITICAL",
    )
    assert cvss_score(SeverityType.CVSS_V2, "AV:N/AC:L/Au:N/C:N/I:N/A:C") == (7.8, "HIGH")
    for t, v in [(SeverityType.CVSS_V3, "garbage"), (SeverityType.CVSS_V4, "CVSS:4.0/AV:X"),
                 (SeverityType.CVSS_V2, "AV:N"), (SeverityType.VENDOR, "high")]:  # fmt: skip
        assert cvss_score(t, v) == (None, None)


@pytest.mark.parametrize(
    ("ecosystem", "raw", "normal"),
    [
        # PEP 503's own examples
        ("PyPI", "Friendly-Bard", "friendly-bard"),
        ("PyPI", "FRIENDLY-BARD", "friendly-bard"),
        ("PyPI", "friendly.bard", "friendly-bard"),
        ("PyPI", "friendly_bard", "friendly-bard"),
        ("PyPI", "friendly--bard", "friendly-bard"),
        ("PyPI", "FrIeNdLy-._.-bArD", "friendly-bard"),
        ("Go", "github.com/Foo/Bar", "github.com/Foo/Bar"),  # module paths are case-sensitive
        ("Maven", "org.apache.logging.log4j : log4j-core", "org.apache.logging.log4j:log4j-core"),
        ("NuGet", "Newtonsoft.Json", "newtonsoft.json"),
        ("Packagist", "Laravel/Framework", "laravel/framework"),
        ("npm", "@Babel/core", "@Babel/core"),
        ("Debian:12", "openssl", "openssl"),
        ("AlmaLinux:9", "kernel-rt", "kernel-rt"),
    ],
)
def test_package_names(ecosystem: str, raw: str, normal: str) -> None:
    assert normalize_package_name(ecosystem, raw) == normal


def _adv(**kw: object) -> Advisory:
    base = Advisory(
        id=AdvisoryID("GHSA-aaaa-bbbb-cccc"),
        source="osv:npm",
        aliases=("CVE-2024-0001", "GHSA-zzzz-zzzz-zzzz"),
        modified=datetime(2024, 1, 1, 12, tzinfo=UTC),
        severities=(Severity(SeverityType.CVSS_V3, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "s", 9.8, "CRITICAL"),),
        affected=(
            Affected("npm", "x", (Range(RangeType.SEMVER, (Event(EventKind.INTRODUCED, "0"), Event(EventKind.FIXED, "1.2.3"))),), ("0.1.0", "0.2.0")),
        ),
    )  # fmt: skip
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def test_fingerprint_ignores_form_but_not_content() -> None:
    a = _adv()
    same = [
        _adv(source="somewhere-else"),
        _adv(aliases=("GHSA-zzzz-zzzz-zzzz", "CVE-2024-0001")),
        _adv(modified=datetime(2024, 1, 1, 14, tzinfo=timezone(timedelta(hours=2)))),
        _adv(severities=(dataclasses.replace(a.severities[0], base_score=None, rating=None),)),
        _adv(affected=(dataclasses.replace(a.affected[0], versions=("0.2.0", "0.1.0")),)),
    ]
    for other in same:
        assert fingerprint(other) == fingerprint(a)
    different = [
        _adv(summary="x"),
        _adv(modified=datetime(2024, 1, 2, tzinfo=UTC)),
        _adv(withdrawn=datetime(2024, 1, 2, tzinfo=UTC)),
        _adv(affected=(dataclasses.replace(a.affected[0], name="y"),)),
        _adv(affected=(dataclasses.replace(a.affected[0], ranges=(Range(RangeType.SEMVER, (Event(EventKind.INTRODUCED, "0"), Event(EventKind.FIXED, "1.2.4"))),)),)),
    ]  # fmt: skip
    prints = {fingerprint(d) for d in different}
    assert fingerprint(a) not in prints and len(prints) == len(different)
    assert len(fingerprint(a)) == 64


def test_cve_ids_and_fixed_versions() -> None:
    assert _adv().cve_ids == ("CVE-2024-0001",)
    assert _adv(id=AdvisoryID("CVE-2024-0002")).cve_ids == ("CVE-2024-0002",)
    alsa = _adv(
        id=AdvisoryID("ALSA-2024:0001"), aliases=(), related=("CVE-2024-1", "CVE-2024-11111")
    )
    assert alsa.cve_ids == ("CVE-2024-11111",)
    two = Affected("npm", "x", (
        Range(RangeType.SEMVER, (Event(EventKind.INTRODUCED, "0"), Event(EventKind.FIXED, "1.0.0"))),
        Range(RangeType.SEMVER, (Event(EventKind.INTRODUCED, "2.0.0"), Event(EventKind.FIXED, "2.0.1"), Event(EventKind.FIXED, "1.0.0"))),
    ))  # fmt: skip
    assert two.fixed_versions == ("1.0.0", "2.0.1")


def test_values_are_frozen() -> None:
    a = _adv()
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.summary = "x"  # type: ignore[misc]
    assert not hasattr(a, "__dict__")
