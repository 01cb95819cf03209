"""ListCoverage and ListCoverageStatistics through the Inspector2 handlers, for one account and
for a delegated administrator over its member."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ADMIN, IMAGES, MANAGEMENT, MEMBER, Org, call

pytestmark = pytest.mark.anyio
IMAGE, REPOSITORY = "AWS_ECR_CONTAINER_IMAGE", "AWS_ECR_REPOSITORY"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _all(org: Org, account: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        page = await call(org[account], "ListCoverage", body)
        out += page["coveredResources"]
        if "nextToken" not in page:
            return out
        body = {**body, "nextToken": page["nextToken"]}


def _expected(*accounts: str) -> set[tuple[str, str, str]]:
    """(account, resource type, repository): every repository and its one image, all covered
    (ENHANCED with no rules scans every repository continuously)."""
    return {(a, kind, repo) for a in accounts for repo in IMAGES[a] for kind in (IMAGE, REPOSITORY)}


def _keys(resources: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(r["accountId"], r["resourceType"], r["resourceMetadata"]["ecrRepository"]["name"])
            for r in resources}  # fmt: skip


async def test_coverage_of_one_account_and_of_the_administrator(org: Org) -> None:
    mine = await _all(org, MEMBER, {})
    assert _keys(mine) == _expected(MEMBER)
    assert all(r["scanStatus"] == {"statusCode": "ACTIVE", "reason": "SUCCESSFUL"} for r in mine)
    await call(org[MANAGEMENT], "EnableDelegatedAdminAccount", {"delegatedAdminAccountId": ADMIN})
    await call(org[ADMIN], "AssociateMember", {"accountId": MEMBER})
    paged = await _all(org, ADMIN, {"maxResults": 2})
    assert _keys(paged) == _expected(ADMIN, MEMBER)
    assert len(paged) == len(_expected(ADMIN, MEMBER))
    images = await _all(org, ADMIN, {"filterCriteria": {
        "resourceType": [{"comparison": "EQUALS", "value": IMAGE}],
        "accountId": [{"comparison": "EQUALS", "value": MEMBER}]}})  # fmt: skip
    assert _keys(images) == {k for k in _expected(MEMBER) if k[1] == IMAGE}
    stats = await call(org[ADMIN], "ListCoverageStatistics", {"groupBy": "ACCOUNT_ID"},
                       enums={"GroupKey"})  # fmt: skip
    assert stats["totalCounts"] == len(_expected(ADMIN, MEMBER))
    assert {g["groupKey"]: g["count"] for g in stats["countsByGroup"]} == {
        a: 2 * len(IMAGES[a]) for a in (ADMIN, MEMBER)
    }
    by_type = await call(org[ADMIN], "ListCoverageStatistics", {"groupBy": "RESOURCE_TYPE"},
                         enums={"GroupKey"})  # fmt: skip
    assert {g["groupKey"]: g["count"] for g in by_type["countsByGroup"]} == {
        IMAGE: 3,
        REPOSITORY: 3,
    }
