"""`sql_filter` selects exactly the findings `matches` accepts, for random criteria.

The store holds random findings over a colliding vocabulary (findings_db.py); Hypothesis draws
FilterCriteria documents naming those values, their prefixes and values that occur nowhere,
with every comparison; the in-memory matcher on Inspector-shaped findings is the oracle.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockwatch.findings.criteria import parse_criteria
from dockwatch.findings.criteria_match import matches
from tests.unit.queries import findings_db as fdb


@pytest.fixture(scope="module", params=[1, 2])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[fdb.FindingsDb]:
    built = fdb.build_db(tmp_path_factory.mktemp("crit") / "f.db", request.param)
    yield built
    built.db.close()


def _strings(values: tuple[str, ...], *, enum: bool = False) -> st.SearchStrategy[str]:
    real = [v for v in values if v]
    prefixes = sorted({v[:k] for v in real for k in range(1, len(v))})
    if enum:
        return st.sampled_from(real)
    return st.one_of(
        st.sampled_from(real),
        st.sampled_from(prefixes or real),
        st.text(st.characters(codec="utf-8", blacklist_characters="\x00"),
                min_size=1, max_size=6),
    )  # fmt: skip


def _string_filters(values: tuple[str, ...], enum: bool = False) -> st.SearchStrategy[Any]:
    one = st.one_of(
        st.builds(
            lambda c, v: {"comparison": c, "value": v},
            st.sampled_from(("EQUALS", "NOT_EQUALS")),
            _strings(values, enum=enum),
        ),
        st.builds(lambda v: {"comparison": "PREFIX", "value": v}, _strings(values, enum=False)),
    )
    return st.lists(one, min_size=1, max_size=3)


def _vocabulary(store: fdb.FindingsDb) -> dict[str, tuple[str, ...]]:
    arns = tuple(f["findingArn"] for f in store.shaped.values())[:6]
    rids = tuple({f["resources"][0]["id"] for f in store.shaped.values()})[:6]
    titles = tuple({f["title"] for f in store.shaped.values()})[:6]
    return {
        "findingArn": (*arns, "arn:aws:inspector2:us-east-1:123456789012:finding/zz"),
        "awsAccountId": (fdb.TENANT.account_id, fdb.OTHER.account_id),
        "title": titles,
        "resourceId": rids,
        "ecrImageRegistry": (fdb.TENANT.account_id, "000000000000"),
        "ecrImageRepositoryName": fdb.REPOS,
        "ecrImageTags": fdb.TAGS,
        "ecrImageHash": tuple(store.digests[:5]),
        "vulnerabilityId": fdb.VULNS,
        "vulnerabilitySource": tuple(s for s in fdb.SOURCES if s),
        "vendorSeverity": tuple(s for s in fdb.VENDOR if s),
        "relatedVulnerabilities": fdb.RELATED,
    }


ENUMS = {
    "severity": fdb.SEVERITIES,
    "findingStatus": fdb.STATUSES,
    "fixAvailable": ("YES", "NO", "PARTIAL"),
    "exploitAvailable": ("YES", "NO"),
    "findingType": ("PACKAGE_VULNERABILITY", "CODE_VULNERABILITY"),
    "resourceType": ("AWS_ECR_CONTAINER_IMAGE", "AWS_LAMBDA_FUNCTION"),
}

_hours = st.integers(min_value=-10, max_value=600).map(
    lambda h: (fdb.BASE + timedelta(hours=h)).isoformat()
)
_dates = st.lists(
    st.fixed_dictionaries({}, optional={"startInclusive": _hours, "endInclusive": _hours}).filter(
        lambda d: d.get("startInclusive", "") <= d.get("endInclusive", "\uffff")
    ),
    min_size=1,
    max_size=2,
)
_num = st.sampled_from([-1.0, 0.0, 0.0005, 0.001, 0.5, 4.5, 5.0, 7.0, 9.8, 10.0, 11.0])
_numbers = st.lists(
    st.fixed_dictionaries({}, optional={"lowerInclusive": _num, "upperInclusive": _num}).filter(
        lambda d: d.get("lowerInclusive", -99) <= d.get("upperInclusive", 99)
    ),
    min_size=1,
    max_size=2,
)


def _one_string(values: tuple[str, ...]) -> st.SearchStrategy[dict[str, str]]:
    return st.builds(
        lambda c, v: {"comparison": c, "value": v},
        st.sampled_from(("EQUALS", "PREFIX", "NOT_EQUALS")),
        _strings(values),
    )


_package = st.fixed_dictionaries(
    {},
    optional={
        "name": _one_string(fdb.NAMES),
        "version": _one_string(fdb.VERSIONS),
        "release": _one_string(tuple(r for r in fdb.RELEASES if r)),
        "architecture": _one_string(tuple(a for a in fdb.ARCHES if a)),
        "sourceLayerHash": _one_string(tuple(h for h in fdb.LAYERS if h)),
        "filePath": _one_string(tuple(p for p in fdb.PATHS if p)),
        "epoch": st.fixed_dictionaries(
            {},
            optional={
                "lowerInclusive": st.sampled_from([0.0, 1.0, 2.0]),
                "upperInclusive": st.sampled_from([0.0, 1.0, 3.0]),
            },
        ).filter(lambda d: d.get("lowerInclusive", -9) <= d.get("upperInclusive", 9)),
    },
).filter(bool)


@st.composite
def criteria_docs(draw: st.DrawFn, vocab: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    keys = draw(
        st.lists(
            st.sampled_from(
                sorted(vocab)
                + sorted(ENUMS)
                + ["firstObservedAt", "lastObservedAt", "updatedAt", "ecrImagePushedAt"]
                + ["inspectorScore", "epssScore", "vulnerablePackages"]
            ),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    for key in keys:
        if key in vocab:
            doc[key] = draw(_string_filters(vocab[key]))
        elif key in ENUMS:
            doc[key] = draw(_string_filters(ENUMS[key], enum=True))
        elif key in ("inspectorScore", "epssScore"):
            doc[key] = draw(_numbers)
        elif key == "vulnerablePackages":
            doc[key] = draw(st.lists(_package, min_size=1, max_size=2))
        else:
            doc[key] = draw(_dates)
    return doc


def _sql_ids(store: fdb.FindingsDb, doc: dict[str, Any]) -> set[str]:
    return fdb.filtered_ids(store.db, doc)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_sql_filter_equals_matches(store: fdb.FindingsDb, data: st.DataObject) -> None:
    doc = data.draw(criteria_docs(_vocabulary(store)))
    criteria = parse_criteria(doc)
    expected = {i for i, f in store.shaped.items() if matches(criteria, f)}
    assert _sql_ids(store, doc) == expected, doc


def test_the_vocabulary_hits_and_misses(store: fdb.FindingsDb) -> None:
    """The store is varied enough for the property to mean something."""
    everything = set(store.shaped)
    for doc in (
        {"ecrImageTags": [{"comparison": "EQUALS", "value": "v1"}]},
        {"ecrImageTags": [{"comparison": "NOT_EQUALS", "value": "v1"}]},
        {"vendorSeverity": [{"comparison": "NOT_EQUALS", "value": "HIGH"}]},
        {"vulnerablePackages": [{"architecture": {"comparison": "EQUALS", "value": "arm64"}}]},
        {"epssScore": [{"lowerInclusive": 0.001}]},
        {"ecrImagePushedAt": [{"startInclusive": fdb.BASE.isoformat()}]},
        {"relatedVulnerabilities": [{"comparison": "PREFIX", "value": "GHSA-1"}]},
    ):
        got = _sql_ids(store, doc)
        assert got and got != everything, doc


def test_related_vulnerabilities_of_every_spelling(store: fdb.FindingsDb) -> None:
    """Every related value, and each of its prefixes, with every comparison: as the matcher
    says, whether the value stands in the stored JSON as it is or escaped (quote, backslash,
    non-ASCII)."""
    values = {v[:k] for v in fdb.RELATED for k in range(1, len(v) + 1)}
    assert any('"' in v for v in values)
    for value in sorted(values):
        for comparison in ("EQUALS", "PREFIX", "NOT_EQUALS"):
            doc = {"relatedVulnerabilities": [{"comparison": comparison, "value": value}]}
            criteria = parse_criteria(doc)
            expected = {i for i, f in store.shaped.items() if matches(criteria, f)}
            assert _sql_ids(store, doc) == expected, doc


def test_case_matters(store: fdb.FindingsDb) -> None:
    """PREFIX is case-sensitive in SQL too (SQLite's LIKE would not be)."""
    upper = _sql_ids(store, {"ecrImageRepositoryName": [{"comparison": "PREFIX", "value": "P"}]})
    assert upper == {
        i for i, f in store.shaped.items()
        if f["resources"][0]["details"]["awsEcrContainerImage"]["repositoryName"] == "Prod-api"
    }  # fmt: skip
