"""The ECR handlers of this package called as the AWS dispatcher calls them (an `AwsContext`
over real services): GetAuthorizationToken and the repository policy operations, their
answers in botocore's output shapes and their errors by ECR's exception names."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dockwatch.api.aws.context import AwsContext, Principal
from dockwatch.api.aws.ecr import OPERATIONS
from dockwatch.api.aws.errors import AwsError
from dockwatch.app import Services, build
from dockwatch.clock import ControlledClock
from dockwatch.config import Settings
from dockwatch.model.identity import Tenant
from tests.builders.layers import make_image, make_layer
from tests.builders.push import push_image

T0 = datetime(2031, 7, 1, 9, 0, tzinfo=UTC)
B = Tenant("222222222222", "us-east-1")


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = build(Settings(data_dir=tmp_path / "d", test_mode=True, port=5123))
    assert isinstance(built.clock, ControlledClock)
    built.clock.set(T0)
    try:
        yield built
    finally:
        built.close()


def _call(services: Services, tenant: Tenant, op: str, body: dict[str, Any]) -> dict[str, Any]:
    ctx = AwsContext(
        services.for_tenant(tenant), tenant, Principal(tenant.account_id, "bob", "AKIA"), "r1"
    )

    async def call() -> dict[str, Any]:
        return await OPERATIONS[op](ctx, body)

    return asyncio.run(call())


def test_get_authorization_token_logs_in_to_the_callers_account(services: Services) -> None:
    out = _call(services, B, "GetAuthorizationToken", {})
    [data] = out["authorizationData"]
    assert data["proxyEndpoint"] == "http://127.0.0.1:5123"
    assert data["expiresAt"] == (T0 + timedelta(hours=12)).timestamp()
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS"
    assert services.registry_tokens is not None
    claims = services.registry_tokens.verify(password, "login")
    assert claims is not None and claims.tenant == B and claims.user == "bob"
    with pytest.raises(AwsError) as err:
        _call(services, B, "GetAuthorizationToken", {"registryIds": ["111111111111"]})
    assert err.value.code == "InvalidParameterException"


def test_repository_policy_set_get_delete(services: Services) -> None:
    push_image(services.for_tenant(B), "app", make_image([make_layer({"f": "1"})]))
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "pull", "Effect": "Allow", "Principal": {"AWS": ["333333333333"]},
                 "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}
            ],
        }
    )  # fmt: skip
    expected = {"registryId": B.account_id, "repositoryName": "app", "policyText": text}
    with pytest.raises(AwsError) as err:
        _call(services, B, "GetRepositoryPolicy", {"repositoryName": "app"})
    assert err.value.code == "RepositoryPolicyNotFoundException"
    body = {"repositoryName": "app", "policyText": text}
    assert _call(services, B, "SetRepositoryPolicy", body) == expected
    assert _call(services, B, "GetRepositoryPolicy", {"repositoryName": "app"}) == expected
    assert _call(services, B, "DeleteRepositoryPolicy", {"repositoryName": "app"}) == expected
    with pytest.raises(AwsError) as err:
        _call(services, B, "DeleteRepositoryPolicy", {"repositoryName": "app"})
    assert err.value.code == "RepositoryPolicyNotFoundException"


@pytest.mark.parametrize(
    ("tenant", "body", "code"),
    [
        (
            Tenant("000000000000", "us-east-1"),
            {"repositoryName": "app"},
            "RepositoryNotFoundException",
        ),
        (B, {"repositoryName": "nope"}, "RepositoryNotFoundException"),
        (B, {"repositoryName": "app", "registryId": "000000000000"}, "RepositoryNotFoundException"),
        (B, {"repositoryName": "app", "policyText": "{"}, "InvalidParameterException"),
    ],
)
def test_repository_policy_errors(
    services: Services, tenant: Tenant, body: dict[str, Any], code: str
) -> None:
    push_image(services.for_tenant(B), "app", make_image([make_layer({"f": "1"})]))
    valid = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:*"}],
    }
    body = {"policyText": json.dumps(valid), **body}
    with pytest.raises(AwsError) as err:
        _call(services, tenant, "SetRepositoryPolicy", body)
    assert err.value.code == code
