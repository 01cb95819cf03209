"""ListUsageTotals through the Inspector2 handler: initial scans and rescans per account, from
the images each account pushed (conftest) and the rescans a test causes."""

from __future__ import annotations

from typing import Any

import pytest

from dockwatch.api.aws.errors import AwsError
from tests.builders.layers import make_image, make_layer
from tests.builders.push import push_image

from .conftest import ADMIN, IMAGES, MANAGEMENT, MEMBER, OUTSIDER, Org, call

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _totals(answer: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {t["accountId"]: {u["type"]: u["total"] for u in t["usage"]} for t in answer["totals"]}


async def test_usage_counts_initial_scans_and_rescans_per_account(org: Org) -> None:
    answer = await call(org[MEMBER], "ListUsageTotals", {})
    assert _totals(answer) == {
        MEMBER: {"ECR_INITIAL_SCAN": float(len(IMAGES[MEMBER])), "ECR_RESCAN": 0.0}
    }
    # one more image: one more initial scan; the same image pushed under a second tag: a rescan
    image = make_image(
        [
            make_layer(
                {
                    "usr/lib/python3/site-packages/gamma-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: gamma\nVersion: 1.0\n"
                }
            )
        ]
    )
    push_image(org[MEMBER], "extra", image, "v1")
    org[MEMBER].worker.drain()
    push_image(org[MEMBER], "extra", image, "v2")
    org[MEMBER].worker.drain()
    counts = _totals(await call(org[MEMBER], "ListUsageTotals", {}))[MEMBER]
    assert counts == {"ECR_INITIAL_SCAN": len(IMAGES[MEMBER]) + 1, "ECR_RESCAN": 1}
    # the delegated administrator reads its members', page by page; others are refused
    await call(org[MANAGEMENT], "EnableDelegatedAdminAccount", {"delegatedAdminAccountId": ADMIN})
    await call(org[ADMIN], "AssociateMember", {"accountId": MEMBER})
    first = await call(org[ADMIN], "ListUsageTotals", {"maxResults": 1})
    second = await call(
        org[ADMIN], "ListUsageTotals", {"maxResults": 1, "nextToken": first["nextToken"]}
    )
    assert list(_totals(first)) + list(_totals(second)) == [ADMIN, MEMBER]
    assert _totals(first)[ADMIN]["ECR_INITIAL_SCAN"] == len(IMAGES[ADMIN])
    with pytest.raises(AwsError) as refused:
        await call(org[ADMIN], "ListUsageTotals", {"accountIds": [OUTSIDER]})
    assert refused.value.code == "AccessDeniedException"
