"""Aggregations filtered by something that keeps nearly every finding (`lastObservedAt`,
`firstObservedAt`, `updatedAt`, `inspectorScore`, `epssScore`, one `vulnerabilitySource`), which are
counted as a rollup's answer less the findings the filter drops
(`finding_queries/aggregation_complement.py`), equal a recount of the finding rows for every
aggregation type, page by page in the answer's order, on both backends.

The filters are made from `findings_db`'s own values so that they drop a few findings: the
earliest or latest observations, a gap between two ranges, findings without a score, all but one
source (most findings are given it here). Others drop none of the tenant's findings (the other
tenant's are outside them) or more than they keep, and are answered by the other paths, against
the same recount. Beside them: statuses, severities, images, fixes (rollups) and a vendor
severity (the findings' detail index at the grains of an image). On PostgreSQL some statuses
are flipped after the copy, so the rollups' count log holds rows when the aggregations read.
The netted path must answer most of the requests."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from dockwatch.model.times import as_utc
from dockwatch.queries import aggregations as ag
from dockwatch.storage.sql import finding_repo
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.finding_queries import aggregation_complement
from tests.unit.queries import findings_db as fdb
from tests.unit.queries.test_aggregations_property import _expected, _facts

from .conftest import BACKENDS, flips_left_in_count_log, random_findings
from .test_first_seen_aggregations import OTHER_CRITERIA, _matches, _range

Row = dict[str, Any]
US = timedelta(microseconds=1)


@pytest.fixture(params=BACKENDS)
def findings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """`findings_db`'s findings, most of them of source `osv` (on PostgreSQL with status flips
    left in the count log)."""
    with random_findings(request.param, request, tmp_path, 23, 30) as (_, db):
        with db.write() as conn:
            f = t.findings
            conn.execute(update(f).where(f.c.severity != "CRITICAL").values(source="osv"))
        flips_left_in_count_log(db)
        yield db


def _in(value: Any, ranges: list[tuple[Any, Any]]) -> bool:
    return value is not None and any(
        (lo is None or value >= lo) and (hi is None or value <= hi) for lo, hi in ranges
    )


def _filters(rows: list[Row]) -> list[tuple[dict[str, Any], Callable[[Row], bool]]]:
    """Filters on the tenant's own values, each with the same test in Python."""
    out: list[tuple[dict[str, Any], Callable[[Row], bool]]] = []
    for key, column in (("lastObservedAt", "last_observed_at"),
                        ("firstObservedAt", "first_observed_at"),
                        ("updatedAt", "updated_at")):  # fmt: skip
        at = sorted({as_utc(r[column]) for r in rows})
        choices: list[list[tuple[datetime | None, datetime | None]]] = [
            [(at[2], None)],  # drops the two earliest instants
            [(at[0] - US, at[-3])],  # the two latest
            [(None, at[len(at) // 2 - 1]), (at[len(at) // 2 + 1], at[-1])],  # a gap in the middle
            [(at[1] + US, at[-1]), (None, at[1])],  # two ranges that touch: none dropped
            [(at[0] - timedelta(days=1), None)],  # every finding of the tenant
        ]
        for ranges in choices:

            def test(r: Row, c: str = column, rs: Any = ranges) -> bool:
                return _in(as_utc(r[c]), rs)

            out.append(({key: [_range(lo, hi) for lo, hi in ranges]}, test))
    scores: list[tuple[str, str, list[tuple[float | None, float | None]]]] = [
        ("inspectorScore", "inspector_score", [(0.0, 10.0)]),  # drops findings without one
        ("inspectorScore", "inspector_score", [(None, 9.8)]),  # and 10.0
        ("inspectorScore", "inspector_score", [(None, 4.5), (7.0, None)]),
        ("epssScore", "epss_score", [(0.0, None)]),
        ("epssScore", "epss_score", [(0.001, 0.96)]),
    ]
    for key, column, bounded in scores:
        bounds = [
            {**({"lowerInclusive": lo} if lo is not None else {}),
             **({"upperInclusive": hi} if hi is not None else {})}
            for lo, hi in bounded
        ]  # fmt: skip

        def in_range(r: Row, c: str = column, rs: Any = bounded) -> bool:
            return _in(r[c], rs)

        out.append(({key: bounds}, in_range))
    for source in ("osv", "nvd"):
        value = [{"comparison": "EQUALS", "value": source}]

        def of_source(r: Row, s: str = source) -> bool:
            return bool(r["source"] == s)

        out.append(({"vulnerabilitySource": value}, of_source))
    return out


FIXED = {"fixAvailable": [{"comparison": "EQUALS", "value": "YES"}]}
VENDOR_HIGH = {
    "vendorSeverity": [{"comparison": "EQUALS", "value": "HIGH"}],
    "findingStatus": [{"comparison": "NOT_EQUALS", "value": "CLOSED"}],
}


def _others(tags: dict[Any, list[str]]) -> list[tuple[dict[str, Any], Callable[[Row], bool]]]:
    """The criteria given beside the filter (statuses, severities, images, fixes, a vendor
    severity), each with the same test in Python."""
    sets: dict[Any, set[str]] = defaultdict(set)
    for image, names in tags.items():
        sets[image] = set(names)

    def matching(criteria: dict[str, Any]) -> Callable[[Row], bool]:
        return lambda r: _matches(r, criteria, sets)

    out: list[tuple[dict[str, Any], Callable[[Row], bool]]] = [
        (c, matching(c)) for c in OTHER_CRITERIA
    ]
    out.append((FIXED, lambda r: r["fix_available"] == "YES" and r["status"] == "ACTIVE"))
    # a field of the detail document: the findings' detail index at the grains of an image
    out.append((VENDOR_HIGH, lambda r: r["vendor"] == "HIGH" and r["status"] != "CLOSED"))
    return out


def _pages(db: Database, body: dict[str, Any]) -> list[dict[str, Any]]:
    with db.read() as conn:
        return fdb.aggregation_pages(conn, body)


def test_aggregations_equal_a_recount(findings: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    netted = 0
    real = aggregation_complement._netted

    def counting(*args: Any) -> Any:
        nonlocal netted
        netted += 1
        return real(*args)

    monkeypatch.setattr(aggregation_complement, "_netted", counting)
    with findings.read() as conn:
        rows, tags, pulled = _facts(conn)
        docs = finding_repo.load_details(conn, {r["detail_ref"] for r in rows})
    for r in rows:
        r["vendor"] = docs[r["detail_ref"]]["packageVulnerabilityDetails"].get("vendorSeverity")
    tenant = fdb.TENANT
    rows = [r for r in rows if (r["account_id"], r["region"]) == (tenant.account_id, tenant.region)]
    requests = 0
    for i, (other, other_test) in enumerate(_others(tags)):
        for j, (criteria, test) in enumerate(_filters(rows)):
            selected = [r for r in rows if other_test(r) and test(r)]
            for n, kind in enumerate(ag.MEMBERS):
                sorts = ag.SORT_BY[kind]
                turn = i + j + n
                sort_by = sorts[turn % len(sorts)]
                order = "ASC" if turn % 2 else "DESC"
                body = {
                    "aggregationType": kind,
                    "maxResults": 1 + turn % 4,
                    "filterCriteria": {**other, **criteria},
                    "aggregationRequest": {
                        ag.MEMBERS[kind]: {"sortBy": sort_by, "sortOrder": order}
                    },
                }
                want = _expected(
                    kind, selected, tags, pulled, tenant.account_id, tenant.region, sort_by, order
                )
                assert _pages(findings, body) == want, (kind, other, criteria)
                requests += 1
    assert netted > requests // 3, (netted, requests)
