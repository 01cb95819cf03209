"""REPOSITORY and AWS_ECR_CONTAINER aggregations filtered by `inspectorScore` ranges equal a
recount of the finding rows, on both backends, and the image score rollup that answers them
equals a recount too, kept through status changes and deletes.

Scores of `findings_db` are None, 0.0, 4.5, 7.0, 9.8 and 10.0: the ranges end on them, between
them and cover none; a finding without a score matches no range. On PostgreSQL some statuses are
flipped after the copy, so the count log holds rows when the aggregations read.

Migration findings/15 is checked with findings/13 (tests/contract/test_first_seen_migration.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, delete, select, update

from dockwatch.storage.sql import pg_rollups
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from tests.unit.queries import findings_db as fdb

from .conftest import BACKENDS, flips_left_in_count_log, random_findings
from .test_first_seen_aggregations import OTHER_CRITERIA, _answered, _matches, fdb_severities

ADDED = t.finding_image_score_counts
KINDS = ("REPOSITORY", "AWS_ECR_CONTAINER")

RANGES: list[list[dict[str, float]]] = [
    [{"lowerInclusive": 7.0}],
    [{"upperInclusive": 4.5}],
    [{"lowerInclusive": 4.5, "upperInclusive": 7.0}, {"lowerInclusive": 10.0,
                                                      "upperInclusive": 10.0}],
    [{"lowerInclusive": 0.0, "upperInclusive": 0.0}],
    [{"lowerInclusive": 4.6, "upperInclusive": 9.8}],
    [{"lowerInclusive": 7.01, "upperInclusive": 9.79}],
    [{"lowerInclusive": 0.0, "upperInclusive": 10.0}],
]  # fmt: skip


def _in_ranges(score: float | None, ranges: list[dict[str, float]]) -> bool:
    if score is None:
        return False
    return any(
        r.get("lowerInclusive", float("-inf")) <= score <= r.get("upperInclusive", float("inf"))
        for r in ranges
    )


def _expected(
    conn: Connection, kind: str, criteria: dict[str, Any], ranges: list[dict[str, float]]
) -> list[tuple[Any, ...]]:
    """The groups recounted in plain Python from every finding row of the tenant."""
    tags: dict[Any, set[str]] = defaultdict(set)
    for row in conn.execute(select(t.tags)):
        tags[(row.repository_id, row.manifest_digest)].add(row.name)
    groups: dict[tuple[Any, ...], Counter[str]] = defaultdict(Counter)
    images: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for row in conn.execute(select(t.findings)):
        r = dict(row._mapping)
        if (r["account_id"], r["region"]) != (fdb.TENANT.account_id, fdb.TENANT.region):
            continue
        if not _in_ranges(r["inspector_score"], ranges) or not _matches(r, criteria, tags):
            continue
        key: tuple[Any, ...] = (r["repository_name"],)
        if kind == "AWS_ECR_CONTAINER":
            key = (r["repository_name"], r["digest"])
        groups[key][r["severity"].lower()] += 1
        images[key].add(r["digest"])
    out = []
    for key, g in groups.items():
        counts = {s: g[s] for s in fdb_severities()}
        extra = (len(images[key]),) if kind == "REPOSITORY" else ()
        out.append((key, sum(counts.values()), tuple(sorted(counts.items())), extra))
    return sorted(out)


def _stored(conn: Connection) -> Counter[tuple[Any, ...]]:
    out: Counter[tuple[Any, ...]] = Counter()
    for row in conn.execute(select(ADDED)):
        m = row._mapping
        key = (m["account_id"], m["region"], m["status"], m["repository_id"], m["digest"],
               m["score_key"], m["inspector_score"])  # fmt: skip
        for c in t.ROLLUP_SEVERITIES:
            if m[c]:
                out[(*key, c)] += m[c]
    return out


def _recount(conn: Connection) -> Counter[tuple[Any, ...]]:
    out: Counter[tuple[Any, ...]] = Counter()
    for row in conn.execute(select(t.findings)):
        m = row._mapping
        score = m["inspector_score"]
        key = (m["account_id"], m["region"], m["status"], m["repository_id"], m["digest"],
               -1.0 if score is None else score, score)  # fmt: skip
        out[(*key, m["severity"].lower())] += 1
    return out


@pytest.fixture(params=BACKENDS)
def scored(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """`findings_db`'s findings (on PostgreSQL with some status flips left in the count log)."""
    with random_findings(request.param, request, tmp_path, 17, 30) as (_, db):
        flips_left_in_count_log(db)
        yield db


def test_rollup_equals_a_recount(scored: Database) -> None:
    with scored.write() as conn:
        f = t.findings
        conn.execute(update(f).where(f.c.severity == "HIGH").values(status="CLOSED"))
        conn.execute(update(f).where(f.c.inspector_score == 4.5).values(inspector_score=None))
        conn.execute(delete(f).where(f.c.severity == "MEDIUM", f.c.inspector_score == 7.0))
        if conn.dialect.name == "postgresql":
            pg_rollups.fold(conn, wait=True)
    with scored.read() as conn:
        stored = _stored(conn)
        assert stored and stored == _recount(conn)


@pytest.mark.parametrize("other", OTHER_CRITERIA, ids=range(len(OTHER_CRITERIA)))
def test_aggregations_equal_a_recount(scored: Database, other: dict[str, Any]) -> None:
    answered = 0
    for ranges in RANGES:
        criteria = {**other, "inspectorScore": ranges}
        for kind in KINDS:
            with scored.read() as conn:
                want = _expected(conn, kind, criteria, ranges)
            assert _answered(scored, kind, criteria) == want, (kind, ranges)
            answered += bool(want)
    assert answered > len(RANGES)  # most requests have groups to compare
