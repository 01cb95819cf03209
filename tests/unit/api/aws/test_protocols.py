"""Both protocol adapters in process: routing, input checks from botocore's model, error
answers per protocol (dockwatch's error families included), request ids, size limits."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from dockwatch.api.aws import ecr, inspector
from dockwatch.api.aws.context import AwsContext
from dockwatch.api.aws.errors import AwsError
from dockwatch.api.aws.inspector_protocol import find_route
from dockwatch.errors import BackendUnavailable, Conflict, InvalidInput, NotFound
from dockwatch.registry.errors import NameUnknown

from .conftest import Signed

pytestmark = pytest.mark.anyio


def raising(exc: Exception) -> Any:
    async def handler(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
        raise exc

    return handler


async def test_describe_registry_answers_in_awsjson(signed: Signed) -> None:
    r = await signed.ecr("DescribeRegistry")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-amz-json-1.1"
    assert r.headers["x-amzn-RequestId"]
    assert r.json() == {"registryId": "000000000000", "replicationConfiguration": {"rules": []}}


async def test_the_tenant_is_the_signers_account_in_the_scope_region(
    signed: Signed, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[AwsContext] = []

    async def record(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
        seen.append(ctx)
        return {}

    monkeypatch.setitem(ecr.OPERATIONS, "DescribeRegistry", record)
    r = await signed.ecr("DescribeRegistry", region="eu-west-1")
    assert r.status_code == 200, r.text
    [ctx] = seen
    assert ctx.tenant.region == "eu-west-1" and ctx.tenant.account_id == ctx.principal.account_id
    assert ctx.services.tenant == ctx.tenant  # that tenant's services, not the default one's


async def test_ecr_input_is_checked_against_the_model(
    signed: Signed, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []

    async def echo(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
        seen.append(body)
        return {}

    monkeypatch.setitem(ecr.OPERATIONS, "DescribeRepositories", echo)
    ok = await signed.ecr(
        "DescribeRepositories", orjson.dumps({"repositoryNames": ["team/app"], "extra": 1})
    )
    assert ok.status_code == 200 and seen == [{"repositoryNames": ["team/app"]}]
    bad = await signed.ecr(
        "DescribeRepositories", orjson.dumps({"repositoryNames": ["Team App"], "maxResults": 0})
    )
    assert bad.status_code == 400 and bad.json()["__type"] == "InvalidParameterException"
    message = bad.json()["message"]
    assert message.startswith("2 validation errors detected: ")
    assert (
        "Value 'Team App' at 'repositoryNames.1.member' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern" in message
    )
    assert "Value '0' at 'maxResults'" in message
    typed = await signed.ecr("DescribeRepositories", b'{"maxResults": "ten"}')
    assert (typed.status_code, typed.json()["__type"]) == (400, "SerializationException")
    assert len(seen) == 1


async def test_dockwatch_errors_take_each_protocols_names(
    signed: Signed, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = [
        (NameUnknown("team/app"), 400, "RepositoryNotFoundException", 404,
         "ResourceNotFoundException"),
        (NotFound("x"), 400, "InvalidParameterException", 404, "ResourceNotFoundException"),
        (InvalidInput("x"), 400, "InvalidParameterException", 400, "ValidationException"),
        (Conflict("x"), 400, "InvalidParameterException", 409, "ConflictException"),
        (BackendUnavailable("disk"), 500, "ServerException", 500, "InternalServerException"),
        (RuntimeError("bug"), 500, "ServerException", 500, "InternalServerException"),
        (AwsError("LimitExceededException", "too many", 400), 400, "LimitExceededException",
         400, "LimitExceededException"),
    ]  # fmt: skip
    for exc, ecr_status, ecr_code, ins_status, ins_code in cases:
        monkeypatch.setitem(ecr.OPERATIONS, "DescribeRegistry", raising(exc))
        monkeypatch.setitem(inspector.OPERATIONS, "ListAccountPermissions", raising(exc))
        r = await signed.ecr("DescribeRegistry")
        assert (r.status_code, r.json()["__type"]) == (ecr_status, ecr_code), exc
        r = await signed.send("POST", "/accountpermissions/list", service="inspector2", body=b"{}")
        assert (r.status_code, r.headers["x-amzn-ErrorType"]) == (ins_status, ins_code), exc
        assert "message" in r.json() and r.headers["x-amzn-RequestId"]
        if ins_code == "ValidationException":
            assert r.json()["reason"] == "OTHER"
        if ins_status == 500:
            assert r.headers["Retry-After"]
            assert "bug" not in r.text  # a bug's text stays in the log


async def test_restjson_path_query_and_body_members_are_merged(
    signed: Signed, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []

    async def echo(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
        seen.append(body)
        return {"tags": {"team": "a"}}

    monkeypatch.setitem(inspector.OPERATIONS, "ListTagsForResource", echo)
    monkeypatch.setitem(inspector.OPERATIONS, "UntagResource", echo)
    arn = "arn:aws:inspector2:us-east-1:000000000000:filter/f 1"
    encoded = arn.replace(":", "%3A").replace("/", "%2F").replace(" ", "%20")
    r = await signed.send("GET", f"/tags/{encoded}", service="inspector2")
    assert r.status_code == 200 and r.json() == {"tags": {"team": "a"}}
    r = await signed.send("DELETE", f"/tags/{encoded}?tagKeys=a&tagKeys=b", service="inspector2")
    assert r.status_code == 200
    assert seen == [{"resourceArn": arn}, {"resourceArn": arn, "tagKeys": ["a", "b"]}]


def test_routes_come_from_the_model() -> None:
    found = find_route("POST", "/findings/list")
    assert found is not None and found[0].name == "ListFindings"
    found = find_route("GET", "/tags/arn%3Ax")
    assert found is not None and found[0].name == "ListTagsForResource"
    assert found[1] == {"resourceArn": "arn:x"}
    assert find_route("GET", "/findings/list") is None
    assert find_route("POST", "/findings/list/more") is None


async def test_bodies_beyond_the_limit_are_refused_before_parsing(signed: Signed) -> None:
    big = b'{"registryId": "' + b"1" * (1024 * 1024 + 1) + b'"}'
    r = await signed.ecr("DescribeRegistry", big)
    assert (r.status_code, r.json()["__type"]) == (413, "RequestEntityTooLargeException")


async def test_other_paths_still_need_their_own_credentials(signed: Signed) -> None:
    r = await signed.client.get("/api/v1/findings")
    assert r.status_code == 401
    r = await signed.client.post("/", content=b"{}")
    assert (r.status_code, r.json()["__type"]) == (403, "MissingAuthenticationTokenException")
    r = await signed.client.post("/findings/list", content=b"{}")
    assert (r.status_code, r.headers["x-amzn-ErrorType"]) == (
        403,
        "MissingAuthenticationTokenException",
    )
    r = await signed.client.get("/findings/list")  # not an Inspector2 method: not AWS's
    assert r.status_code == 401 and "x-amzn-ErrorType" not in r.headers
