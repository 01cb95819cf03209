"""Aggregations over HTTP (GET and POST), their 400s, and the rollups' upkeep.

The counts themselves are checked against brute force in test_aggregations_property.py; here:
the two doors give one answer, invalid requests and tokens get clear 400 errors, the rollups
rebuilt from scratch equal the ones the triggers kept, and without the triggers the same answers
come from the findings table.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select

from dockwatch.api.app import create_app
from dockwatch.app import Services, build
from dockwatch.config import Settings
from dockwatch.queries import aggregations as ag
from dockwatch.storage.sql import rollups
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.finding_query_repo import SqlFindingQueryRepo
from dockwatch.storage.sql.migrations import migrate
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.builders.layers import make_image, make_layer
from tests.builders.push import push_image

CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def _layer(packages: dict[str, str], marker: str) -> Any:
    return make_layer(
        {
            **{
                f"usr/lib/python3/site-packages/{n}-{v}.dist-info/METADATA": (
                    f"Metadata-Version: 2.1\nName: {n}\nVersion: {v}\n"
                )
                for n, v in packages.items()
            },
            "marker": marker,
        }
    )


def _osv(vid: str, package: str, fixed: str | None, **extra: Any) -> dict[str, Any]:
    events: list[dict[str, str]] = [{"introduced": "0"}]
    if fixed:
        events.append({"fixed": fixed})
    return {
        "id": vid,
        "modified": "2031-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
        **extra,
    }


class AppClient:
    """A blocking HTTP client over the ASGI app in process (starlette's needs `httpx2`)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __enter__(self) -> AppClient:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def run() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                return await c.request(method, url, **kwargs)

        return asyncio.run(run())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._call("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._call("POST", url, **kwargs)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """Three repositories, four images sharing a base layer, three vulnerabilities."""
    s = build(Settings(data_dir=tmp_path / "d", test_mode=True, auth=False))
    try:
        folder = tmp_path / "osv"
        folder.mkdir()
        for rec in (
            _osv("PYSEC-1", "alpha", "2.0", aliases=["CVE-2090-0001"],
                 severity=[{"type": "CVSS_V3", "score": CRITICAL}]),
            _osv("PYSEC-2", "beta", None),
            _osv("PYSEC-3", "gamma", "9.0"),
        ):  # fmt: skip
            (folder / f"{rec['id']}.json").write_text(json.dumps(rec))
        import_paths(VulnDb(s.store, s.clock), [folder])
        s.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
        base = _layer({"alpha": "1.0", "beta": "1.0"}, "base")
        for n, (repo, app) in enumerate(
            [("api", {"gamma": "1.0"}), ("api", {}), ("web", {"gamma": "2.0"}), ("worker", {})]
        ):
            push_image(s, repo, make_image([base, _layer(app, f"app-{n}")]), f"v{n}")
        s.worker.drain()
        yield s
    finally:
        s.close()


def _all(services: Services) -> dict[str, Any]:
    with services.db.read() as conn:
        return {
            kind: ag.aggregate(
                SqlFindingQueryRepo(conn),
                services.tenant,
                ag.parse_request({"aggregationType": kind}),
            )
            for kind in ag.MEMBERS
        }


def test_get_and_post_give_one_answer(services: Services) -> None:
    with AppClient(create_app(services)) as client:
        got = client.get(
            "/api/v1/findings/aggregations",
            params={"type": "REPOSITORY", "sortBy": "AFFECTED_IMAGES", "repositories": "!web"},
        )
        posted = client.post(
            "/api/v1/findings/aggregations/list",
            json={
                "aggregationType": "REPOSITORY",
                "aggregationRequest": {
                    "repositoryAggregation": {
                        "sortBy": "AFFECTED_IMAGES",
                        "repositories": [{"comparison": "NOT_EQUALS", "value": "web"}],
                    }
                },
            },
        )
    assert got.status_code == posted.status_code == 200
    assert got.json() == posted.json()
    rows = [r["repositoryAggregation"] for r in got.json()["responses"]]
    assert [(r["repository"], r["affectedImages"]) for r in rows] == [("api", 2), ("worker", 1)]
    # api: alpha (CRITICAL) and beta in both images, gamma in one
    assert rows[0]["severityCounts"] == {
        "all": 5, "critical": 2, "high": 0, "medium": 0, "low": 0, "informational": 0,
        "untriaged": 3,
    }  # fmt: skip


def test_query_parameters_carry_finding_criteria(services: Services) -> None:
    with AppClient(create_app(services)) as client:
        fixable = client.get(
            "/api/v1/findings/aggregations", params={"type": "PACKAGE", "fixAvailable": "YES"}
        ).json()
        suppressed = client.get(
            "/api/v1/findings/aggregations",
            params={"type": "TITLE", "findingStatus": "SUPPRESSED"},
        ).json()
        totals = client.get("/api/v1/findings/aggregations").json()
    assert totals["aggregationType"] == "ACCOUNT"
    assert totals["responses"][0]["accountAggregation"]["severityCounts"]["all"] == 10
    names = {r["packageAggregation"]["packageName"] for r in fixable["responses"]}
    assert names == {"alpha", "gamma"}  # beta has no fix
    assert suppressed == {"aggregationType": "TITLE", "responses": []}


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({}, "aggregationType"),
        ({"aggregationType": "NOPE"}, "aggregationType"),
        ({"aggregationType": "REPOSITORY", "maxResults": 0}, "maxResults"),
        ({"aggregationType": "REPOSITORY", "maxResults": 101}, "maxResults"),
        ({"aggregationType": "REPOSITORY", "unknown": 1}, "unknown"),
        (
            {"aggregationType": "REPOSITORY", "aggregationRequest": {"packageAggregation": {}}},
            "aggregationRequest",
        ),
        (
            {
                "aggregationType": "PACKAGE",
                "aggregationRequest": {"packageAggregation": {"sortBy": "AFFECTED_IMAGES"}},
            },
            "sortBy",
        ),
        (
            {
                "aggregationType": "REPOSITORY",
                "aggregationRequest": {
                    "repositoryAggregation": {
                        "repositories": [{"comparison": "LIKE", "value": "a"}]
                    }
                },
            },
            "comparison",
        ),
        (
            {
                "aggregationType": "REPOSITORY",
                "aggregationRequest": {"repositoryAggregation": {"repositories": []}},
            },
            "repositories",
        ),
        (
            {
                "aggregationType": "AWS_ECR_CONTAINER",
                "aggregationRequest": {
                    "awsEcrContainerAggregation": {
                        "architectures": [{"comparison": "EQUALS", "value": "arm64"}]
                    }
                },
            },
            "architectures",
        ),
        ({"aggregationType": "REPOSITORY", "nextToken": "not-a-token"}, "nextToken"),
        ({"aggregationType": "REPOSITORY", "aggregationRequest": []}, "aggregationRequest"),
        (
            {
                "aggregationType": "AWS_ECR_CONTAINER",
                "aggregationRequest": {"awsEcrContainerAggregation": []},
            },
            "awsEcrContainerAggregation",
        ),  # fmt: skip
        (
            {"aggregationType": "REPOSITORY", "filterCriteria": {"severity": "HIGH"}},
            "severity",
        ),
    ],
)
def test_invalid_requests_are_400(
    services: Services, request_body: dict[str, Any], field: str
) -> None:
    with AppClient(create_app(services)) as client:
        answer = client.post("/api/v1/findings/aggregations/list", json=request_body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["__type"] == "ValidationException"
    assert field in answer.json()["message"]


def test_invalid_query_parameters_are_400(services: Services) -> None:
    with AppClient(create_app(services)) as client:
        for params, field in (
            ({"type": "NOPE"}, "type"),
            ({"type": "PACKAGE", "repositories": "api"}, "repositories"),
            ({"type": "PACKAGE", "maxResults": "ten"}, "maxResults"),
            ({"type": "PACKAGE", "colour": "red"}, "colour"),
        ):
            answer = client.get("/api/v1/findings/aggregations", params=params)
            assert answer.status_code == 400, (params, answer.text)
            assert field in answer.json()["message"]
        bad = client.post("/api/v1/findings/aggregations/list", content=b"{not json")
        assert bad.status_code == 400


def test_tokens_page_and_are_bound_to_their_request(services: Services) -> None:
    with AppClient(create_app(services)) as client:
        url = "/api/v1/findings/aggregations/list"
        body: dict[str, Any] = {"aggregationType": "AWS_ECR_CONTAINER", "maxResults": 3}
        first = client.post(url, json=body).json()
        second = client.post(url, json={**body, "nextToken": first["nextToken"]}).json()
        assert "nextToken" not in second
        digests = [
            r["awsEcrContainerAggregation"]["imageSha"]
            for r in first["responses"] + second["responses"]
        ]
        assert len(digests) == len(set(digests)) == 4
        other = client.post(
            url,
            json={
                **body,
                "nextToken": first["nextToken"],
                "aggregationRequest": {"awsEcrContainerAggregation": {"sortBy": "HIGH"}},
            },
        )
        assert other.status_code == 400 and "another request" in other.json()["message"]


def test_other_resource_types_answer_nothing(services: Services) -> None:
    with services.db.read() as conn:
        for kind in ag.OTHER_MEMBERS:
            answer = ag.aggregate(
                SqlFindingQueryRepo(conn),
                services.tenant,
                ag.parse_request({"aggregationType": kind}),
            )
            assert answer == {"aggregationType": kind, "responses": []}


def _rollup_rows(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    with services.db.read() as conn:
        return {
            table.name: sorted(tuple(r) for r in conn.execute(select(table)))
            for table in rollups.TABLES
        }


def test_rebuilt_rollups_equal_the_kept_ones(services: Services) -> None:
    kept = _rollup_rows(services)
    assert all(kept.values())
    with services.db.write() as conn:
        rollups.rebuild(conn)
    assert _rollup_rows(services) == kept


def test_without_triggers_the_findings_table_answers_the_same(services: Services) -> None:
    before = _all(services)
    with services.db.write() as conn:
        rollups.drop_triggers(conn)
        for table in rollups.TABLES:
            conn.execute(delete(table))
        assert not rollups.enabled(conn)
    assert _all(services) == before


def test_the_migration_fills_rollups_from_stored_findings(services: Services) -> None:
    before = _all(services)
    with services.db.write() as conn:
        rollups.drop_triggers(conn)
        for table in rollups.TABLES:
            table.drop(conn)
        m = t.schema_migrations
        conn.execute(delete(m).where(m.c.subsystem == "findings", m.c.number == 1))
    applied = migrate(services.db)
    assert [(m.subsystem, m.number) for m in applied] == [("findings", 1)]
    with services.db.read() as conn:
        assert rollups.enabled(conn)
    assert _all(services) == before


def test_null_members_stand_for_absent_ones(services: Services) -> None:
    """As in AWS's JSON protocol: a null request, member or field is left out."""
    bodies = [
        {"aggregationType": "IMAGE_LAYER", "aggregationRequest": None},
        {"aggregationType": "IMAGE_LAYER", "aggregationRequest": {"imageLayerAggregation": None}},
        {
            "aggregationType": "IMAGE_LAYER",
            "aggregationRequest": {"imageLayerAggregation": {"sortBy": None, "sortOrder": None}},
        },
    ]
    with AppClient(create_app(services)) as client:
        absent = client.post(
            "/api/v1/findings/aggregations/list", json={"aggregationType": "IMAGE_LAYER"}
        )
        assert absent.status_code == 200, absent.text
        for body in bodies:
            answer = client.post("/api/v1/findings/aggregations/list", json=body)
            assert answer.status_code == 200, answer.text
            assert answer.json() == absent.json()
