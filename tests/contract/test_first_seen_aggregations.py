"""Aggregations filtered by `firstObservedAt` equal a recount of the finding rows, on both
backends, at the grains of an image (IMAGE_LAYER: the images wholly inside a range and those it
cuts), for ranges inside, across and at the edges of the seconds the image first-seen rollup
keys (`finding_queries/aggregation_first_seen.py`), ends a microsecond either side of a finding,
open ends, empty ranges, with statuses, severities and image criteria beside them.

The findings of `findings_db` are given first observed instants crowded into a few seconds (at
their first and last microsecond, the middle, and between): the updates go through the rollups'
triggers (SQLite) or count log (PostgreSQL), and on PostgreSQL some statuses are flipped after
the copy, so the log holds rows when the aggregations read. The rollup itself must equal a
recount of the findings too."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select, update

from dockwatch.model.times import as_utc
from dockwatch.storage.sql import pg_rollups
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from tests.unit.queries import findings_db as fdb

from .conftest import BACKENDS, flips_left_in_count_log, random_findings

SECOND = timedelta(seconds=1)
US = timedelta(microseconds=1)
S = [fdb.BASE + timedelta(seconds=k) for k in range(5)]
"""The seconds the findings are first observed in (and one more hour for a few)."""
OFFSETS = (0, 1, 499_999, 500_000, 999_998, 999_999)


def _spread(conn: Connection, seed: int) -> None:
    """Each finding's first observation moved to an instant in one of the seconds `S`: about
    half the images have all their findings at one instant (observed by one scan), the others
    each finding at its own."""
    rnd = random.Random(seed)
    f = t.findings

    def instant() -> datetime:
        at = rnd.choice(S) + timedelta(microseconds=rnd.choice(OFFSETS))
        return at + timedelta(hours=1) if rnd.random() < 0.1 else at

    scanned_once: dict[tuple[int, str], datetime | None] = {}
    rows = conn.execute(select(f.c.id, f.c.repository_id, f.c.digest).order_by(f.c.id)).all()
    for fid, repository_id, digest in rows:
        image = (repository_id, digest)
        if image not in scanned_once:
            scanned_once[image] = instant() if rnd.random() < 0.5 else None
        at = scanned_once[image] or instant()
        conn.execute(update(f).where(f.c.id == fid).values(first_observed_at=at))


RANGES: list[tuple[datetime | None, datetime | None]] = [
    (S[1], None),
    (S[1] + US, None),
    (S[1] + timedelta(microseconds=500_000), None),
    (None, S[2]),
    (None, S[2] - US),
    (None, S[2] + timedelta(microseconds=999_999)),
    (None, S[2] + timedelta(microseconds=999_998)),
    (S[1] + timedelta(microseconds=499_999), S[3] + timedelta(microseconds=500_000)),
    (S[1], S[1] + timedelta(microseconds=999_999)),
    (S[1], S[2]),
    (S[2] + US, S[2] + timedelta(microseconds=999_998)),
    (S[2] + timedelta(microseconds=500_000), S[2] + timedelta(microseconds=500_000)),
    (S[1] + timedelta(microseconds=999_999), S[2]),
    (S[1] + timedelta(microseconds=500_000), S[2] + timedelta(microseconds=499_999)),
    (S[0] - 10 * SECOND, S[4] + 10 * SECOND),
    (S[0] + US, S[4] + timedelta(hours=2)),
]


def _eq(value: str) -> list[dict[str, str]]:
    return [{"comparison": "EQUALS", "value": value}]


OTHER_CRITERIA: list[dict[str, Any]] = [
    {},
    {"findingStatus": [{"comparison": "NOT_EQUALS", "value": "CLOSED"}]},
    {"findingStatus": _eq("SUPPRESSED"), "severity": _eq("HIGH")},
    {"ecrImageRepositoryName": [{"comparison": "PREFIX", "value": "app"}],
     "findingStatus": [{"comparison": "NOT_EQUALS", "value": "ACTIVE"}]},
    {"ecrImageTags": _eq("latest")},
]  # fmt: skip
KINDS = ("REPOSITORY", "AWS_ECR_CONTAINER", "IMAGE_LAYER", "ACCOUNT", "FINDING_TYPE")


def _matches(r: dict[str, Any], criteria: dict[str, Any], tags: dict[Any, set[str]]) -> bool:
    statuses = criteria.get("findingStatus", _eq("ACTIVE"))
    for s in statuses:
        if (r["status"] == s["value"]) != (s["comparison"] == "EQUALS"):
            return False
    if "severity" in criteria and r["severity"] != criteria["severity"][0]["value"]:
        return False
    if "ecrImageRepositoryName" in criteria:
        prefix = criteria["ecrImageRepositoryName"][0]["value"]
        if not r["repository_name"].startswith(prefix):
            return False
    if "ecrImageTags" in criteria:
        wanted = criteria["ecrImageTags"][0]["value"]
        if wanted not in tags[(r["repository_id"], r["digest"])]:
            return False
    return True


def _expected(
    conn: Connection, kind: str, criteria: dict[str, Any], low: Any, high: Any
) -> list[tuple[Any, ...]]:
    """The groups recounted in plain Python from every finding row of the tenant."""
    tags: dict[Any, set[str]] = defaultdict(set)
    for row in conn.execute(select(t.tags)):
        tags[(row.repository_id, row.manifest_digest)].add(row.name)
    layers: dict[str, set[str]] = defaultdict(set)
    dp = t.detail_packages
    for ref, layer in conn.execute(select(dp.c.detail_ref, dp.c.source_layer_hash)):
        if layer is not None:
            layers[ref].add(layer)
    groups: dict[tuple[Any, ...], Counter[str]] = defaultdict(Counter)
    images: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for row in conn.execute(select(t.findings)):
        r = dict(row._mapping)
        first = as_utc(r["first_observed_at"])
        if (r["account_id"], r["region"]) != (fdb.TENANT.account_id, fdb.TENANT.region):
            continue
        if (low is not None and first < low) or (high is not None and first > high):
            continue
        if not _matches(r, criteria, tags):
            continue
        by_kind: dict[str, list[tuple[Any, ...]]] = {
            "REPOSITORY": [(r["repository_name"],)],
            "AWS_ECR_CONTAINER": [(r["repository_name"], r["digest"])],
            # a finding counts once per distinct layer of its vulnerable packages
            "IMAGE_LAYER": [
                (r["repository_name"], r["digest"], h) for h in layers[r["detail_ref"]]
            ],
        }
        keys = by_kind.get(kind, [(r["account_id"],)])
        for key in keys:
            g = groups[key]
            g[r["severity"].lower()] += 1
            g["fix"] += r["fix_available"] in ("YES", "PARTIAL")
            g["exploit"] += r["exploit_available"] == "YES"
            images[key].add(r["digest"])
    out = []
    for key, g in groups.items():
        counts = {s: g[s] for s in fdb_severities()}
        extra: tuple[Any, ...] = ()
        if kind == "REPOSITORY":
            extra = (len(images[key]),)
        elif kind in ("ACCOUNT", "FINDING_TYPE"):
            extra = (g["fix"], g["exploit"])
        out.append((key, sum(counts.values()), tuple(sorted(counts.items())), extra))
    return sorted(out)


def fdb_severities() -> list[str]:
    return [s.lower() for s in fdb.SEVERITIES]


def _answered(db: Database, kind: str, criteria: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Every group of the answer, paged 3 at a time, as `_expected` spells them."""
    out = []
    with db.read() as conn:
        responses = fdb.aggregation_pages(
            conn, {"aggregationType": kind, "maxResults": 3, "filterCriteria": criteria}
        )
    for response in responses:
        (item,) = response.values()
        if kind == "REPOSITORY":
            key: tuple[Any, ...] = (item["repository"],)
            extra: tuple[Any, ...] = (item["affectedImages"],)
        elif kind == "AWS_ECR_CONTAINER":
            key, extra = (item["repository"], item["imageSha"]), ()
        elif kind == "IMAGE_LAYER":
            digest = item["resourceId"].rsplit("/", 1)[1]  # the image's ARN ends with it
            key, extra = (item["repository"], digest, item["layerHash"]), ()
        else:
            key = (item["accountId"],)
            extra = (item["fixAvailableCount"], item["exploitAvailableCount"])
        counts = {k: v for k, v in item["severityCounts"].items() if k != "all"}
        assert item["severityCounts"]["all"] == sum(counts.values())
        out.append((key, sum(counts.values()), tuple(sorted(counts.items())), extra))
    return sorted(out)


def _range(low: datetime | None, high: datetime | None) -> dict[str, str]:
    out = {}
    if low is not None:
        out["startInclusive"] = low.isoformat()
    if high is not None:
        out["endInclusive"] = high.isoformat()
    return out


def _stored(conn: Connection) -> Counter[tuple[Any, ...]]:
    out: Counter[tuple[Any, ...]] = Counter()
    for row in conn.execute(select(t.finding_image_first_counts)):
        m = row._mapping
        key = (m["account_id"], m["region"], m["status"], m["repository_id"], m["digest"],
               as_utc(m["first_observed_second"]))  # fmt: skip
        for c in (*t.ROLLUP_SEVERITIES, "fix_yes", "fix_partial", "exploit_yes"):
            if m[c]:
                out[(*key, c)] += m[c]
    return out


def _recount(conn: Connection) -> Counter[tuple[Any, ...]]:
    out: Counter[tuple[Any, ...]] = Counter()
    for row in conn.execute(select(t.findings)):
        m = row._mapping
        first = as_utc(m["first_observed_at"])
        key = (m["account_id"], m["region"], m["status"], m["repository_id"], m["digest"],
               first - timedelta(microseconds=first.microsecond))  # fmt: skip
        out[(*key, m["severity"].lower())] += 1
        out[(*key, "fix_" + m["fix_available"].lower())] += m["fix_available"] != "NO"
        out[(*key, "exploit_yes")] += m["exploit_available"] == "YES"
    return +out


@pytest.fixture(params=BACKENDS)
def spread(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """`findings_db`'s findings with their first observations crowded into `S` (on
    PostgreSQL through the count log, with some status flips left in it)."""
    with random_findings(request.param, request, tmp_path, 11, 30) as (_, db):
        with db.write() as conn:
            _spread(conn, 11)
        flips_left_in_count_log(db)
        yield db


def test_rollup_equals_a_recount(spread: Database) -> None:
    with spread.write() as conn:
        f = t.findings
        conn.execute(update(f).where(f.c.severity == "HIGH").values(status="CLOSED"))
        if conn.dialect.name == "postgresql":
            pg_rollups.fold(conn, wait=True)
    with spread.read() as conn:
        stored = _stored(conn)
        assert stored and stored == _recount(conn)


@pytest.mark.parametrize("other", OTHER_CRITERIA, ids=range(len(OTHER_CRITERIA)))
def test_aggregations_equal_a_recount(spread: Database, other: dict[str, Any]) -> None:
    answered = 0
    for low, high in RANGES:
        criteria = {**other, "firstObservedAt": [_range(low, high)]}
        for kind in KINDS:
            with spread.read() as conn:
                want = _expected(conn, kind, criteria, low, high)
            assert _answered(spread, kind, criteria) == want, (kind, low, high)
            answered += bool(want)
    assert answered > len(RANGES)  # most requests have groups to compare
