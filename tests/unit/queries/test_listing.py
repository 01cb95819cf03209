"""Keyset listings: every page of every sort equals a brute-force sort of the filtered findings;
tokens are checked; the planner uses the indexes; one finding; findings by layer."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select

from dockwatch.errors import InvalidInput, NotFound
from dockwatch.findings.criteria import parse_criteria
from dockwatch.findings.criteria_match import matches
from dockwatch.model import page_token
from dockwatch.model.finding_criteria import Criteria
from dockwatch.model.finding_sort import SortField, SortOrder
from dockwatch.queries.listing import (
    findings_by_layer,
    get_finding,
    list_findings,
    parse_limit,
    parse_sort,
)
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.finding_query_repo import SqlFindingQueryRepo

from . import findings_db as fdb

RANK = {s: i for i, s in enumerate(reversed(fdb.SEVERITIES))}  # UNTRIAGED 0 ... CRITICAL 5
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[fdb.FindingsDb]:
    built = fdb.build_db(tmp_path_factory.mktemp("listing") / "f.db", 7, images=30)
    yield built
    built.db.close()


@pytest.fixture(scope="module")
def seqs(store: fdb.FindingsDb) -> dict[str, int]:
    """Each finding's stored order (`seq`), the tie-break of every sort, read from the table."""
    with store.db.read() as conn:
        return {r.id: r.seq for r in conn.execute(select(t.findings.c.id, t.findings.c.seq))}


def _id(finding: dict[str, Any]) -> str:
    return str(finding["findingArn"].rsplit("/", 1)[1])


def _time(value: str | None) -> datetime:
    return EPOCH if value is None else datetime.fromisoformat(value)


def _key(field: SortField, f: dict[str, Any]) -> Any:
    """The sort value, read from the Inspector shape (the oracle)."""
    image = f["resources"][0]["details"]["awsEcrContainerImage"]
    pvd = f["packageVulnerabilityDetails"]
    values: dict[SortField, Callable[[], Any]] = {
        SortField.SEVERITY: lambda: RANK[f["severity"]],
        SortField.FIRST_OBSERVED_AT: lambda: _time(f["firstObservedAt"]),
        SortField.LAST_OBSERVED_AT: lambda: _time(f["lastObservedAt"]),
        SortField.FINDING_STATUS: lambda: f["status"],
        SortField.ECR_IMAGE_PUSHED_AT: lambda: _time(image.get("pushedAt")),
        SortField.ECR_IMAGE_REPOSITORY_NAME: lambda: image["repositoryName"],
        SortField.VULNERABILITY_ID: lambda: pvd["vulnerabilityId"],
        SortField.VULNERABILITY_SOURCE: lambda: pvd.get("source") or "",
        SortField.INSPECTOR_SCORE: lambda: (
            -1.0 if f.get("inspectorScore") is None else f["inspectorScore"]
        ),
        SortField.EPSS_SCORE: lambda: -1.0 if f.get("epss") is None else f["epss"]["score"],
    }
    return values[field]()


def _all_pages(store: fdb.FindingsDb, criteria: Criteria, sort: Any, limit: int) -> list[str]:
    seen: list[str] = []
    token = None
    with store.db.read() as conn:
        for _ in range(1000):
            page = list_findings(
                SqlFindingQueryRepo(conn), fdb.TENANT, criteria, sort, limit, token
            )
            assert len(page.findings) <= limit
            seen += [_id(f) for f in page.findings]
            token = page.next_token
            if token is None:
                return seen
            assert len(page.findings) == limit
    raise AssertionError("no end of pages")


CRITERIA = [
    {},
    {"severity": [{"comparison": "EQUALS", "value": "HIGH"}]},
    {"severity": [{"comparison": "EQUALS", "value": "LOW"},
                  {"comparison": "EQUALS", "value": "CRITICAL"}]},
    {"findingStatus": [{"comparison": "EQUALS", "value": "SUPPRESSED"}]},
    {"ecrImageRepositoryName": [{"comparison": "EQUALS", "value": "app"}]},
    {"vulnerabilityId": [{"comparison": "EQUALS", "value": "CVE-2024-0002"}]},
    {"vulnerabilitySource": [{"comparison": "EQUALS", "value": "osv"}]},
    {"ecrImageTags": [{"comparison": "EQUALS", "value": "v1"}]},
    {"vulnerablePackages": [{"name": {"comparison": "EQUALS", "value": "zlib"}}]},
    {"findingStatus": [{"comparison": "NOT_EQUALS", "value": "CLOSED"}],
     "epssScore": [{"lowerInclusive": 0.0}]},
]  # fmt: skip


@pytest.mark.parametrize("doc", CRITERIA)
@pytest.mark.parametrize("field", list(SortField))
@pytest.mark.parametrize("order", list(SortOrder))
def test_every_page_of_every_sort(
    store: fdb.FindingsDb,
    seqs: dict[str, int],
    doc: dict[str, Any],
    field: SortField,
    order: SortOrder,
) -> None:
    criteria = parse_criteria(doc)
    wanted = [f for f in store.shaped.values() if matches(criteria, f)]
    wanted.sort(key=lambda f: (_key(field, f), seqs[_id(f)]), reverse=order is SortOrder.DESC)
    sort = parse_sort(field.value, order.value)
    limit = 1 + (len(doc) * 3 + len(field.value)) % 7
    assert _all_pages(store, criteria, sort, limit) == [_id(f) for f in wanted]


def test_defaults_and_other_tenants(store: fdb.FindingsDb) -> None:
    assert parse_sort(None, None) == parse_sort("SEVERITY", "DESC")
    ids = _all_pages(store, Criteria(), parse_sort(None, None), 100)
    assert sorted(ids) == sorted(store.shaped)  # no finding of the other tenant
    with store.db.read() as conn:
        total = conn.execute(select(t.findings.c.id)).all()
    assert len(total) > len(ids)


def _token(store: fdb.FindingsDb, criteria: Criteria, sort: Any) -> str:
    with store.db.read() as conn:
        token = list_findings(SqlFindingQueryRepo(conn), fdb.TENANT, criteria, sort, 2).next_token
    assert token is not None
    return token


def test_tokens_are_checked(store: fdb.FindingsDb) -> None:
    sort = parse_sort(None, None)
    token = _token(store, Criteria(), sort)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    body = json.loads(raw[12:])  # after the MAC: {"b": binding, "p": position}
    raw[-3] ^= 1
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    high = parse_criteria({"severity": [{"comparison": "EQUALS", "value": "HIGH"}]})
    position = {k: v for k, v in body["p"].items() if k != "n"}
    earlier = page_token.encode({**position, "i": "0" * 32}, bound_to=body["b"])
    cases = [
        (earlier, Criteria(), sort, "earlier version"),
        ("garbage!", Criteria(), sort, "not a token"),
        ("", Criteria(), sort, None),
        (tampered, Criteria(), sort, "not a token"),
        (token[:-4], Criteria(), sort, "not a token"),
        (token, Criteria(), parse_sort("VULNERABILITY_ID", "ASC"), "sort"),
        (token, high, sort, "filter criteria"),
    ]
    with store.db.read() as conn:
        for value, criteria, s, words in cases:
            if words is None:
                list_findings(SqlFindingQueryRepo(conn), fdb.TENANT, criteria, s, 2, value or None)
                continue
            with pytest.raises(InvalidInput, match=words):
                list_findings(SqlFindingQueryRepo(conn), fdb.TENANT, criteria, s, 2, value)


@pytest.mark.parametrize("raw", ["0", "1001", "x", "1.5", True])
def test_bad_limits(raw: Any) -> None:
    with pytest.raises(InvalidInput, match="maxResults"):
        parse_limit(raw)


def test_bad_sorts() -> None:
    with pytest.raises(InvalidInput, match="sortBy"):
        parse_sort("RESOURCE_TYPE", None)
    with pytest.raises(InvalidInput, match="sortOrder"):
        parse_sort(None, "UP")
    assert parse_limit(None) == 100 and parse_limit("1000") == 1000


def test_get_one_by_id_or_arn(store: fdb.FindingsDb) -> None:
    some = next(iter(store.shaped.values()))
    with store.db.read() as conn:
        by_id = get_finding(SqlFindingQueryRepo(conn), fdb.TENANT, _id(some))
        by_arn = get_finding(SqlFindingQueryRepo(conn), fdb.TENANT, some["findingArn"])
        assert by_id == by_arn
        assert "evidence" in by_id and by_id["status"] == some["status"]
        for bad in ("nope", some["findingArn"].replace("us-east-1", "eu-west-1"), ""):
            with pytest.raises(NotFound):
                get_finding(SqlFindingQueryRepo(conn), fdb.TENANT, bad)


def test_by_layer(store: fdb.FindingsDb) -> None:
    """Grouped by each package's layer in manifest order; counts only ACTIVE findings."""
    layers = ["sha256:b2", "sha256:aa", "sha256:aa11"]
    rows = [f for f in store.shaped.values() if f["status"] != "CLOSED"]
    image = rows[0]["resources"][0]["details"]["awsEcrContainerImage"]
    mine = [
        f for f in rows
        if f["resources"][0]["details"]["awsEcrContainerImage"]["imageHash"] == image["imageHash"]
    ]  # fmt: skip
    criteria = parse_criteria({"findingStatus": [{"comparison": "NOT_EQUALS", "value": "CLOSED"}]})
    with store.db.read() as conn:
        repo_id = (
            conn.execute(
                select(t.findings.c.repository_id).where(t.findings.c.digest == image["imageHash"])
            )
            .scalars()
            .first()
        )
        assert repo_id is not None
        out = findings_by_layer(
            SqlFindingQueryRepo(conn), fdb.TENANT, repo_id, image["repositoryName"], image["imageHash"], layers,
            criteria,
        )  # fmt: skip
    got = {g["layerDigest"]: g for g in out["layers"]}
    assert [g["layerDigest"] for g in out["layers"]][:3] == layers
    for layer in [*layers, None]:
        expected = [
            f for f in mine
            if layer in {p["sourceLayerHash"] for p in
                         f["packageVulnerabilityDetails"]["vulnerablePackages"]}
        ]  # fmt: skip
        group = got.get(layer, {"findings": [], "findingSeverityCounts": {}})
        assert sorted(_id(f) for f in group["findings"]) == sorted(_id(f) for f in expected)
        counts: dict[str, int] = {}
        for f in expected:
            if f["status"] == "ACTIVE":
                counts[f["severity"]] = counts.get(f["severity"], 0) + 1
        assert group["findingSeverityCounts"] == counts


# --- the planner uses the indexes (plans do not depend on table size: there are no stats) ------


def _plan(store: fdb.FindingsDb, doc: dict[str, Any], field: str, order: str) -> str:
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "ORDER BY" in statement:
            statements.append((statement, params))

    event.listen(store.db.engine, "before_cursor_execute", record)
    try:
        with store.db.read() as conn:
            criteria = parse_criteria(doc)
            sort = parse_sort(field, order)
            token = list_findings(
                SqlFindingQueryRepo(conn), fdb.TENANT, criteria, sort, 1
            ).next_token
            list_findings(SqlFindingQueryRepo(conn), fdb.TENANT, criteria, sort, 1, token)
            statement, params = statements[-1]
            raw = conn.connection.dbapi_connection
            assert raw is not None
            rows = raw.execute("EXPLAIN QUERY PLAN " + statement, params).fetchall()
    finally:
        event.remove(store.db.engine, "before_cursor_execute", record)
    return "\n".join(str(r[3]) for r in rows)


@pytest.mark.parametrize(
    ("doc", "field", "order", "index"),
    [
        ({}, "SEVERITY", "DESC", "ix_findings_sort_severity (tenant_key=? AND severity_rank=? AND rowid<?)"),
        ({}, "FIRST_OBSERVED_AT", "ASC", "ix_findings_sort_first (tenant_key=? AND first_observed_at>?)"),
        ({}, "INSPECTOR_SCORE", "ASC", "ix_findings_sort_score"),
        ({"severity": [{"comparison": "EQUALS", "value": "CRITICAL"}]}, "SEVERITY", "ASC",
         "ix_findings_sort_severity (tenant_key=? AND severity_rank=? AND rowid>?)"),
        ({"ecrImageRepositoryName": [{"comparison": "EQUALS", "value": "app"}]}, "SEVERITY",
         "DESC", "ix_findings_image (repository_id=?)"),
        ({"ecrImageHash": [{"comparison": "EQUALS", "value": "sha256:" + "0" * 64}]},
         "LAST_OBSERVED_AT", "DESC", "ix_findings_image (repository_id=? AND image_key=?)"),
        ({"findingStatus": [{"comparison": "EQUALS", "value": "SUPPRESSED"}]}, "SEVERITY", "DESC",
         "ix_findings_status_rank (tenant_key=? AND status=? AND severity_rank=? AND rowid<?)"),
        ({"vulnerabilityId": [{"comparison": "EQUALS", "value": "CVE-2024-0001"}]},
         "LAST_OBSERVED_AT", "DESC", "ix_findings_sort_vulnerability (tenant_key=? AND vulnerability_id=?)"),
        ({"vulnerablePackages": [{"name": {"comparison": "EQUALS", "value": "zlib"}}]},
         "SEVERITY", "DESC", "ix_detail_packages_name"),
        ({"ecrImageTags": [{"comparison": "EQUALS", "value": "v1"}]}, "SEVERITY", "DESC",
         "ix_tags_name"),
    ],
)  # fmt: skip
def test_plans_use_indexes(
    store: fdb.FindingsDb, doc: dict[str, Any], field: str, order: str, index: str
) -> None:
    plan = _plan(store, doc, field, order)
    assert index in plan, plan
    assert "SCAN findings" not in plan, plan
