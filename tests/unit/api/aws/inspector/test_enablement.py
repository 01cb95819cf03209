"""Enable, Disable and BatchGetAccountStatus through the Inspector2 handlers: ECR scanning on
is the registry's ENHANCED scanning, off is BASIC, as Inspector's deactivation page says."""

from __future__ import annotations

import pytest

from dockwatch.api.aws.errors import AwsError

from .conftest import MANAGEMENT, OUTSIDER, Org, call

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _ecr(org: Org, account: str) -> str:
    status = await call(org[account], "BatchGetAccountStatus", {})
    [only] = status["accounts"]
    assert only["accountId"] == account
    assert {
        only["resourceState"][k]["status"]
        for k in ("ec2", "lambda", "lambdaCode", "codeRepository")
    } == {"DISABLED"}
    assert only["state"]["status"] == only["resourceState"]["ecr"]["status"]
    return str(only["resourceState"]["ecr"]["status"])


async def test_enable_and_disable_switch_enhanced_scanning(org: Org) -> None:
    services = org[MANAGEMENT]
    assert await _ecr(org, MANAGEMENT) == "DISABLED"  # a new account scans BASIC
    answer = await call(services, "Enable", {"resourceTypes": ["ECR"]})
    assert answer["accounts"] == [{"accountId": MANAGEMENT, "status": "ENABLED", "resourceStatus": {
        "ec2": "DISABLED", "ecr": "ENABLED", "lambda": "DISABLED", "lambdaCode": "DISABLED",
        "codeRepository": "DISABLED"}}]  # fmt: skip
    config, _ = services.scanner.settings()
    assert (config.scan_type.value, config.rules) == ("ENHANCED", ())  # every repository continuous
    assert await _ecr(org, MANAGEMENT) == "ENABLED"
    await call(services, "Enable", {"resourceTypes": ["ECR"]})  # again: nothing changes
    assert await _ecr(org, MANAGEMENT) == "ENABLED"
    answer = await call(services, "Disable", {})
    assert answer["accounts"][0]["resourceStatus"]["ecr"] == "DISABLED"
    assert services.scanner.settings()[0].scan_type.value == "BASIC"
    assert await _ecr(org, MANAGEMENT) == "DISABLED"
    # disabling an account's ECR scanning closes and removes its enhanced findings
    assert (await call(org[OUTSIDER], "ListFindings", {}))["findings"]
    await call(org[OUTSIDER], "Disable", {"resourceTypes": ["ECR"]})
    assert (await call(org[OUTSIDER], "ListFindings", {}))["findings"] == []


async def test_resource_types_dockwatch_does_not_scan_are_refused(org: Org) -> None:
    for body in ({"resourceTypes": ["EC2"]}, {"resourceTypes": ["ECR", "LAMBDA"]}):
        with pytest.raises(AwsError) as refused:
            await call(org[MANAGEMENT], "Enable", body)
        assert (refused.value.code, refused.value.status) == ("ValidationException", 400)
        assert "ECR" in refused.value.message
    with pytest.raises(AwsError) as refused:
        await call(org[MANAGEMENT], "Enable", {"resourceTypes": ["ECS"]})
    assert refused.value.code == "ValidationException"
    status = await call(org[MANAGEMENT], "BatchGetAccountStatus", {"accountIds": [OUTSIDER]})
    assert status["accounts"] == []
    assert [(f["accountId"], f["errorCode"]) for f in status["failedAccounts"]] == [
        (OUTSIDER, "ACCESS_DENIED")
    ]
