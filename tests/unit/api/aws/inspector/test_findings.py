"""ListFindings, BatchGetFindingDetails and ListFindingAggregations through the Inspector2
handlers, expected values from the pushed images and the advisories written in conftest."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from dockwatch.api.aws.errors import AwsError
from dockwatch.queries.aggregation_request import MEMBERS, OTHER_MEMBERS

from .conftest import (
    ADMIN,
    ADVISORIES,
    IMAGES,
    MANAGEMENT,
    MEMBER,
    OUTSIDER,
    Org,
    call,
    expected_findings,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _ids(findings: list[dict[str, Any]]) -> list[str]:
    return [f["packageVulnerabilityDetails"]["vulnerabilityId"] for f in findings]


async def test_list_findings_filters_sorts_and_pages(org: Org) -> None:
    every = (await call(org[MEMBER], "ListFindings", {}))["findings"]
    assert sorted(_ids(every)) == sorted(vid for _, vid in expected_findings(MEMBER))
    assert all(f["status"] == "ACTIVE" and f["type"] == "PACKAGE_VULNERABILITY" for f in every)
    pkgs = {f["resources"][0]["details"]["awsEcrContainerImage"]["repositoryName"]:
            f["packageVulnerabilityDetails"]["vulnerablePackages"][0]["name"] for f in every}  # fmt: skip
    assert pkgs == IMAGES[MEMBER]
    by_repo = {
        "filterCriteria": {"ecrImageRepositoryName": [{"comparison": "EQUALS", "value": "tools"}]}
    }
    assert _ids((await call(org[MEMBER], "ListFindings", by_repo))["findings"]) == ["PYSEC-9-3"]
    prefix = {"filterCriteria": {"vulnerabilityId": [{"comparison": "PREFIX", "value": "PYSEC-9-"}],
                                 "findingStatus": [{"comparison": "NOT_EQUALS", "value": "CLOSED"}]}}  # fmt: skip
    assert len((await call(org[MEMBER], "ListFindings", prefix))["findings"]) == 3
    ordered = {"sortCriteria": {"field": "VULNERABILITY_ID", "sortOrder": "ASC"}}
    assert _ids((await call(org[MEMBER], "ListFindings", ordered))["findings"]) == sorted(
        vid for _, vid in expected_findings(MEMBER)
    )
    first = await call(org[MEMBER], "ListFindings", {**ordered, "maxResults": 2})
    rest = await call(
        org[MEMBER], "ListFindings", {**ordered, "maxResults": 2, "nextToken": first["nextToken"]}
    )
    assert _ids(first["findings"] + rest["findings"]) == ["PYSEC-9-1", "PYSEC-9-2", "PYSEC-9-3"]
    assert "nextToken" not in rest
    with pytest.raises(AwsError) as bad:  # a token replayed with other criteria
        await call(org[MEMBER], "ListFindings", {**by_repo, "nextToken": first["nextToken"]})
    assert (bad.value.code, bad.value.status) == ("ValidationException", 400)
    with pytest.raises(AwsError) as bad:
        await call(
            org[MEMBER],
            "ListFindings",
            {"filterCriteria": {"severity": [{"comparison": "LIKE", "value": "x"}]}},
        )
    assert bad.value.code == "ValidationException"


async def test_batch_get_finding_details(org: Org) -> None:
    arns = [f["findingArn"] for f in (await call(org[MEMBER], "ListFindings", {}))["findings"]]
    outsider = (await call(org[OUTSIDER], "ListFindings", {}))["findings"][0]["findingArn"]
    answer = await call(org[MEMBER], "BatchGetFindingDetails",
                        {"findingArns": [*arns, outsider, "arn:aws:s3:::nope"]})  # fmt: skip
    assert [d["findingArn"] for d in answer["findingDetails"]] == arns
    errors = {e["findingArn"]: e["errorCode"] for e in answer["errors"]}
    assert errors == {outsider: "FINDING_DETAILS_NOT_FOUND", "arn:aws:s3:::nope": "INVALID_INPUT"}


async def test_aggregations_count_what_the_listing_lists(org: Org) -> None:
    for kind in MEMBERS:
        answer = await call(org[MEMBER], "ListFindingAggregations", {"aggregationType": kind})
        assert answer["aggregationType"] == kind
        assert answer["responses"], kind
    repos = await call(org[MEMBER], "ListFindingAggregations", {"aggregationType": "REPOSITORY"})
    counts = {r["repositoryAggregation"]["repository"]: r["repositoryAggregation"]["severityCounts"]["all"]
              for r in repos["responses"]}  # fmt: skip
    assert counts == dict(Counter(repo for repo, _ in expected_findings(MEMBER)))
    packages = await call(org[MEMBER], "ListFindingAggregations", {"aggregationType": "PACKAGE"})
    by_package = {r["packageAggregation"]["packageName"]: r["packageAggregation"]["severityCounts"]["all"]
                  for r in packages["responses"]}  # fmt: skip
    assert by_package == dict(Counter(package for package, _ in ADVISORIES.values()))
    for kind in OTHER_MEMBERS:  # resources dockwatch does not have: valid, empty
        answer = await call(org[MEMBER], "ListFindingAggregations", {"aggregationType": kind})
        assert answer == {"aggregationType": kind, "responses": []}


async def test_the_delegated_admin_aggregates_over_its_members(org: Org) -> None:
    await call(org[MANAGEMENT], "EnableDelegatedAdminAccount", {"delegatedAdminAccountId": ADMIN})
    await call(org[ADMIN], "AssociateMember", {"accountId": MEMBER})
    accounts = await call(org[ADMIN], "ListFindingAggregations", {"aggregationType": "ACCOUNT"})
    totals = {r["accountAggregation"]["accountId"]: r["accountAggregation"]["severityCounts"]["all"]
              for r in accounts["responses"]}  # fmt: skip
    assert totals == {a: len(expected_findings(a)) for a in (ADMIN, MEMBER)}
    pages: list[dict[str, Any]] = []
    body: dict[str, Any] = {"aggregationType": "REPOSITORY", "maxResults": 1}
    while True:
        page = await call(org[ADMIN], "ListFindingAggregations", body)
        pages += page["responses"]
        if "nextToken" not in page:
            break
        body = {**body, "nextToken": page["nextToken"]}
    seen = [
        (r["repositoryAggregation"]["accountId"], r["repositoryAggregation"]["repository"])
        for r in pages
    ]
    assert sorted(seen) == sorted(
        {(a, repo) for a in (ADMIN, MEMBER) for repo, _ in expected_findings(a)}
    )
    assert len(seen) == len(set(seen))
    only = {
        "aggregationType": "REPOSITORY",
        "accountIds": [{"comparison": "EQUALS", "value": MEMBER}],
    }
    answer = await call(org[ADMIN], "ListFindingAggregations", only)
    assert {r["repositoryAggregation"]["accountId"] for r in answer["responses"]} == {MEMBER}
