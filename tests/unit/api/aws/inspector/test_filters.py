"""Create/Update/Delete/ListFilters through the Inspector2 handlers: SUPPRESS filters suppress
what they match in ListFindings at once, NONE filters are saved searches, each account keeps its
own."""

from __future__ import annotations

import pytest

from dockwatch.api.aws.errors import AwsError

from .conftest import MEMBER, OUTSIDER, Org, call

pytestmark = pytest.mark.anyio
TOOLS = {"ecrImageRepositoryName": [{"comparison": "EQUALS", "value": "tools"}]}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _statuses(org: Org) -> dict[str, str]:
    found = (await call(org[MEMBER], "ListFindings", {}))["findings"]
    return {f["packageVulnerabilityDetails"]["vulnerabilityId"]: f["status"] for f in found}


async def test_a_suppress_filter_suppresses_until_it_is_deleted(org: Org) -> None:
    assert await _statuses(org) == dict.fromkeys(("PYSEC-9-1", "PYSEC-9-2", "PYSEC-9-3"), "ACTIVE")
    created = await call(org[MEMBER], "CreateFilter", {
        "name": "tools-accepted", "action": "SUPPRESS", "filterCriteria": TOOLS,
        "reason": "accepted risk", "description": "tools image", "tags": {"team": "x"}})  # fmt: skip
    arn = created["arn"]
    assert arn.startswith(f"arn:aws:inspector2:us-east-1:{MEMBER}:owner/{MEMBER}/filter/")
    assert (await _statuses(org))["PYSEC-9-3"] == "SUPPRESSED"
    assert {v for k, v in (await _statuses(org)).items() if k != "PYSEC-9-3"} == {"ACTIVE"}
    saved = await call(org[MEMBER], "CreateFilter", {
        "name": "alpha-search", "action": "NONE",
        "filterCriteria": {"vulnerabilityId": [{"comparison": "PREFIX", "value": "PYSEC-9-"}]}})  # fmt: skip
    assert (await _statuses(org))["PYSEC-9-1"] == "ACTIVE"  # a saved search changes nothing
    listed = await call(org[MEMBER], "ListFilters", {})
    assert [(f["name"], f["action"]) for f in listed["filters"]] == [
        ("tools-accepted", "SUPPRESS"), ("alpha-search", "NONE")]  # fmt: skip
    first = listed["filters"][0]
    assert (first["ownerId"], first["reason"], first["tags"]) == (
        MEMBER,
        "accepted risk",
        {"team": "x"},
    )
    assert first["criteria"] == TOOLS
    only = await call(org[MEMBER], "ListFilters", {"action": "NONE"})
    assert [f["arn"] for f in only["filters"]] == [saved["arn"]]
    page = await call(org[MEMBER], "ListFilters", {"maxResults": 1})
    rest = await call(org[MEMBER], "ListFilters", {"maxResults": 1, "nextToken": page["nextToken"]})
    assert [f["arn"] for f in page["filters"] + rest["filters"]] == [arn, saved["arn"]]
    assert (await call(org[OUTSIDER], "ListFilters", {}))["filters"] == []  # its own filters only
    with pytest.raises(AwsError) as dup:
        await call(
            org[MEMBER],
            "CreateFilter",
            {"name": "alpha-search", "action": "NONE", "filterCriteria": TOOLS},
        )
    assert (dup.value.code, dup.value.status) == ("BadRequestException", 400)
    # widened to every repository: the alpha findings are suppressed too
    await call(org[MEMBER], "UpdateFilter", {"filterArn": arn, "filterCriteria": {
        "vulnerabilityId": [{"comparison": "PREFIX", "value": "PYSEC-9-"}]}})  # fmt: skip
    assert set((await _statuses(org)).values()) == {"SUPPRESSED"}
    assert await call(org[MEMBER], "DeleteFilter", {"arn": arn}) == {"arn": arn}
    assert set((await _statuses(org)).values()) == {"ACTIVE"}
    with pytest.raises(AwsError) as gone:
        await call(org[MEMBER], "DeleteFilter", {"arn": arn})
    assert (gone.value.code, gone.value.status) == ("ResourceNotFoundException", 404)
    with pytest.raises(AwsError) as bad:
        await call(
            org[MEMBER], "CreateFilter", {"name": "x1y", "action": "SUPPRESS", "filterCriteria": {}}
        )
    assert bad.value.code == "ValidationException"
