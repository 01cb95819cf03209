"""Inspector's multi-account model through the Inspector2 handlers: the management account names
the delegated administrator, which associates members, reads their findings and coverage and
manages their scanning; members cannot disable Inspector nor change the re-scan duration."""

from __future__ import annotations

from typing import Any

import pytest

from dockwatch.api.aws.errors import AwsError

from .conftest import ADMIN, MANAGEMENT, MEMBER, OUTSIDER, Org, call, expected_findings

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _organize(org: Org) -> None:
    await call(org[MANAGEMENT], "EnableDelegatedAdminAccount", {"delegatedAdminAccountId": ADMIN})
    await call(org[ADMIN], "AssociateMember", {"accountId": MEMBER})


async def _all_findings(org: Org, account: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = None
    while True:
        page = await call(
            org[account], "ListFindings", {**body, **({"nextToken": token} if token else {})}
        )
        found += page["findings"]
        token = page.get("nextToken")
        if not token:
            return found


def _keys(findings: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (f["awsAccountId"], f["resources"][0]["details"]["awsEcrContainerImage"]["repositoryName"],
         f["packageVulnerabilityDetails"]["vulnerabilityId"])
        for f in findings
    }  # fmt: skip


def _expected(*accounts: str) -> set[tuple[str, str, str]]:
    return {(a, repo, vid) for a in accounts for repo, vid in expected_findings(a)}


async def test_the_delegated_admin_lists_member_findings_and_filters_by_account(org: Org) -> None:
    before = await _all_findings(org, ADMIN, {})
    assert _keys(before) == _expected(ADMIN)
    await _organize(org)
    every = await _all_findings(org, ADMIN, {"maxResults": 2})
    assert _keys(every) == _expected(ADMIN, MEMBER)
    assert len(every) == len(_expected(ADMIN, MEMBER))  # pages neither repeat nor skip
    member_only = {"filterCriteria": {"awsAccountId": [{"comparison": "EQUALS", "value": MEMBER}]}}
    assert _keys(await _all_findings(org, ADMIN, member_only)) == _expected(MEMBER)
    for f in every:
        assert f["findingArn"].startswith(
            f"arn:aws:inspector2:us-east-1:{f['awsAccountId']}:finding/"
        )
        assert f["resources"][0]["id"].startswith(f"arn:aws:ecr:us-east-1:{f['awsAccountId']}:")
    # the member and the outsider see their own findings only
    assert _keys(await _all_findings(org, MEMBER, {})) == _expected(MEMBER)
    assert _keys(await _all_findings(org, OUTSIDER, {})) == _expected(OUTSIDER)
    # once disassociated, the member's findings leave the administrator's view
    await call(org[ADMIN], "DisassociateMember", {"accountId": MEMBER})
    assert _keys(await _all_findings(org, ADMIN, {})) == _expected(ADMIN)


async def test_a_member_is_refused_disable_and_update_configuration(org: Org) -> None:
    await _organize(org)
    with pytest.raises(AwsError) as refused:
        await call(org[MEMBER], "Disable", {"resourceTypes": ["ECR"]})
    assert (refused.value.code, refused.value.status) == ("AccessDeniedException", 403)
    assert "member account" in refused.value.message
    with pytest.raises(AwsError) as refused:
        await call(org[MEMBER], "UpdateConfiguration",
                   {"ecrConfiguration": {"rescanDuration": "DAYS_30"}})  # fmt: skip
    assert (refused.value.code, refused.value.status) == ("AccessDeniedException", 403)
    assert "Member accounts" in refused.value.message
    status = await call(org[MEMBER], "BatchGetAccountStatus", {})
    assert status["accounts"][0]["resourceState"]["ecr"]["status"] == "ENABLED"
    # a standalone account may do both
    await call(
        org[OUTSIDER], "UpdateConfiguration", {"ecrConfiguration": {"rescanDuration": "DAYS_30"}}
    )
    await call(org[OUTSIDER], "Disable", {"resourceTypes": ["ECR"]})
    status = await call(org[OUTSIDER], "BatchGetAccountStatus", {})
    assert status["accounts"][0]["resourceState"]["ecr"]["status"] == "DISABLED"


async def test_the_admin_sets_the_rescan_duration_and_scanning_of_its_members(org: Org) -> None:
    await _organize(org)
    await call(org[ADMIN], "UpdateConfiguration",
               {"ecrConfiguration": {"rescanDuration": "DAYS_14",
                                     "pullDateRescanDuration": "DAYS_7",
                                     "pullDateRescanMode": "LAST_PULL_DATE"}})  # fmt: skip
    for account in (ADMIN, MEMBER):
        state = (await call(org[account], "GetConfiguration", {}))["ecrConfiguration"]
        assert state["rescanDurationState"]["rescanDuration"] == "DAYS_14"
        assert state["rescanDurationState"]["pullDateRescanDuration"] == "DAYS_7"
    outsider = (await call(org[OUTSIDER], "GetConfiguration", {}))["ecrConfiguration"]
    assert outsider["rescanDurationState"]["rescanDuration"] == "LIFETIME"  # untouched default
    # the admin reads a member's configuration, not an outsider's
    read = await call(org[ADMIN], "GetConfiguration", {"accountId": MEMBER})
    assert read["ecrConfiguration"]["rescanDurationState"]["rescanDuration"] == "DAYS_14"
    with pytest.raises(AwsError) as refused:
        await call(org[ADMIN], "GetConfiguration", {"accountId": OUTSIDER})
    assert refused.value.code == "AccessDeniedException"
    # the admin disables and enables scanning for its member; an outsider fails, named
    answer = await call(
        org[ADMIN], "Disable", {"accountIds": [MEMBER, OUTSIDER], "resourceTypes": ["ECR"]}
    )
    assert [a["accountId"] for a in answer["accounts"]] == [MEMBER]
    assert answer["accounts"][0]["resourceStatus"]["ecr"] == "DISABLED"
    assert [(f["accountId"], f["errorCode"]) for f in answer["failedAccounts"]] == [
        (OUTSIDER, "ACCESS_DENIED")
    ]
    status = await call(
        org[ADMIN], "BatchGetAccountStatus", {"accountIds": [ADMIN, MEMBER, OUTSIDER]}
    )
    states = {a["accountId"]: a["resourceState"]["ecr"]["status"] for a in status["accounts"]}
    assert states == {ADMIN: "ENABLED", MEMBER: "DISABLED"}
    assert [f["accountId"] for f in status["failedAccounts"]] == [OUTSIDER]
    assert org[MEMBER].scanner.settings()[0].scan_type.value == "BASIC"
    await call(org[ADMIN], "Enable", {"accountIds": [MEMBER], "resourceTypes": ["ECR"]})
    assert org[MEMBER].scanner.settings()[0].scan_type.value == "ENHANCED"
    assert org[OUTSIDER].scanner.settings()[0].scan_type.value == "ENHANCED"


async def test_management_only_operations_are_refused_for_others(org: Org) -> None:
    for account in (ADMIN, MEMBER, OUTSIDER):
        for operation, body in (
            ("EnableDelegatedAdminAccount", {"delegatedAdminAccountId": account}),
            ("DisableDelegatedAdminAccount", {"delegatedAdminAccountId": ADMIN}),
            ("ListDelegatedAdminAccounts", {}),
        ):
            with pytest.raises(AwsError) as refused:
                await call(org[account], operation, body)
            assert refused.value.code == "AccessDeniedException", (account, operation)
    assert await call(org[MANAGEMENT], "GetDelegatedAdminAccount", {}) == {}
    await _organize(org)
    assert await call(org[MANAGEMENT], "ListDelegatedAdminAccounts", {}) == {
        "delegatedAdminAccounts": [{"accountId": ADMIN, "status": "ENABLED"}]
    }
    got = await call(org[ADMIN], "GetDelegatedAdminAccount", {})
    assert got == {"delegatedAdmin": {"accountId": ADMIN, "relationshipStatus": "ENABLED"}}
    with pytest.raises(AwsError) as refused:  # one administrator at a time
        await call(
            org[MANAGEMENT], "EnableDelegatedAdminAccount", {"delegatedAdminAccountId": OUTSIDER}
        )
    assert (refused.value.code, refused.value.status) == ("ConflictException", 409)
    # only the administrator associates members
    for account in (MANAGEMENT, MEMBER, OUTSIDER):
        with pytest.raises(AwsError) as refused:
            await call(
                org[account],
                "AssociateMember",
                {"accountId": OUTSIDER if account != OUTSIDER else MEMBER},
            )
        assert refused.value.code == "AccessDeniedException"
    # removing the administrator disassociates its members
    await call(org[MANAGEMENT], "DisableDelegatedAdminAccount", {"delegatedAdminAccountId": ADMIN})
    assert await call(org[MANAGEMENT], "GetDelegatedAdminAccount", {}) == {}
    member = (await call(org[MEMBER], "GetMember", {"accountId": MEMBER}))["member"]
    assert member["relationshipStatus"] == "REMOVED"
    await call(org[MEMBER], "Disable", {"resourceTypes": ["ECR"]})  # no longer a member


async def test_members_are_listed_and_read(org: Org) -> None:
    await _organize(org)
    await call(org[ADMIN], "AssociateMember", {"accountId": OUTSIDER})
    first = await call(org[ADMIN], "ListMembers", {"maxResults": 1})
    second = await call(
        org[ADMIN], "ListMembers", {"maxResults": 1, "nextToken": first["nextToken"]}
    )
    assert [m["accountId"] for m in first["members"] + second["members"]] == [MEMBER, OUTSIDER]
    assert "nextToken" not in second
    assert {m["relationshipStatus"] for m in first["members"] + second["members"]} == {"ENABLED"}
    await call(org[ADMIN], "DisassociateMember", {"accountId": OUTSIDER})
    listed = await call(org[ADMIN], "ListMembers", {})
    assert [m["accountId"] for m in listed["members"]] == [MEMBER]
    every = await call(org[ADMIN], "ListMembers", {"onlyAssociated": False})
    assert [(m["accountId"], m["relationshipStatus"]) for m in every["members"]] == [
        (MEMBER, "ENABLED"), (OUTSIDER, "REMOVED")]  # fmt: skip
    got = await call(org[ADMIN], "GetMember", {"accountId": MEMBER})
    assert got["member"]["delegatedAdminAccountId"] == ADMIN
    with pytest.raises(AwsError) as missing:
        await call(org[ADMIN], "GetMember", {"accountId": "555555555555"})
    assert (missing.value.code, missing.value.status) == ("ResourceNotFoundException", 404)
    with pytest.raises(AwsError) as refused:
        await call(org[MEMBER], "ListMembers", {})
    assert refused.value.code == "AccessDeniedException"
    with pytest.raises(AwsError) as bad:
        await call(org[ADMIN], "AssociateMember", {"accountId": "12345678901x"})
    assert (bad.value.code, bad.value.status) == ("ValidationException", 400)
