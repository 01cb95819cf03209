"""The AWS protocols of a real server with real clients: boto3 and the aws CLI reach
DescribeRegistry (awsJson1.1) and ListAccountPermissions (restJson1) with an access key made
by the command line; signatures, keys, scopes, unknown operations and malformed input get
AWS's errors, never a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.support.aws import OTHER_REGION, AwsEndpoint
from tests.support.botocore_shapes import assert_output

TARGET = "AmazonEC2ContainerRegistry_V20150921."
ECR_JSON = {"Content-Type": "application/x-amz-json-1.1"}


def answer(response: dict[str, Any]) -> dict[str, Any]:
    """A boto3 answer without its ResponseMetadata."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def error_of(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    err = caught.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


def test_boto3_reaches_both_protocols_and_answers_fit_botocores_shapes(
    aws_endpoint: AwsEndpoint,
) -> None:
    ecr = aws_endpoint.client("ecr")
    registry = ecr.describe_registry()
    assert registry["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert answer(registry) == {
        "registryId": aws_endpoint.key.account_id,
        "replicationConfiguration": {"rules": []},
    }
    assert_output("ecr", "DescribeRegistry", answer(registry))

    inspector = aws_endpoint.client("inspector2")
    first = inspector.list_account_permissions()
    assert_output("inspector2", "ListAccountPermissions", answer(first))
    every = {(p["service"], p["operation"]) for p in first["permissions"]}
    assert every == {
        ("ECR", op)
        for op in ("ENABLE_SCANNING", "DISABLE_SCANNING", "ENABLE_REPOSITORY", "DISABLE_REPOSITORY")
    }
    pages = inspector.get_paginator("list_account_permissions").paginate(
        PaginationConfig={"PageSize": 1}
    )
    paged = [(p["service"], p["operation"]) for page in pages for p in page["permissions"]]
    assert sorted(paged) == sorted(every) and len(paged) == len(every)
    assert inspector.list_account_permissions(service="EC2")["permissions"] == []


def test_the_aws_cli_reaches_both_protocols(aws_endpoint: AwsEndpoint) -> None:
    registry = aws_endpoint.aws("ecr", "describe-registry")
    assert registry.returncode == 0, registry.stderr
    assert json.loads(registry.stdout)["registryId"] == aws_endpoint.key.account_id
    listed = aws_endpoint.aws("inspector2", "list-account-permissions", "--service", "ECR")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["permissions"]) == 4
    wrong = aws_endpoint.aws("ecr", "describe-registry", env={"AWS_SECRET_ACCESS_KEY": "x" * 40})
    assert wrong.returncode != 0 and "InvalidSignatureException" in wrong.stderr


def test_keys_signatures_and_scopes_are_checked(aws_endpoint: AwsEndpoint) -> None:
    ecr = aws_endpoint.client
    bad_secret = error_of(lambda: ecr("ecr", aws_secret_access_key="x" * 40).describe_registry())
    assert bad_secret[:2] == ("InvalidSignatureException", 403)
    unknown = error_of(
        lambda: ecr("ecr", aws_access_key_id="AKIANOSUCHKEY0000000").describe_registry()
    )
    assert unknown == (
        "UnrecognizedClientException",
        403,
        "The security token included in the request is invalid.",
    )
    region = error_of(lambda: ecr("ecr", region_name="ap-south-1").describe_registry())
    assert region[:2] == ("InvalidSignatureException", 403) and "valid region" in region[2]
    # a served region is another tenant of the same account: a registry of its own
    ecr("ecr").create_repository(repositoryName="scopes/home-region-only")
    elsewhere = ecr("ecr", region_name=OTHER_REGION)
    assert elsewhere.describe_registry()["registryId"] == aws_endpoint.key.account_id
    names = {r["repositoryName"] for r in elsewhere.describe_repositories()["repositories"]}
    assert "scopes/home-region-only" not in names

    service = aws_endpoint.send_signed(
        "POST", "/", service="inspector2", body=b"{}",
        headers={**ECR_JSON, "X-Amz-Target": TARGET + "DescribeRegistry"},
    )  # fmt: skip
    assert service.status_code == 403
    assert service.json()["__type"] == "InvalidSignatureException"
    assert "scoped to correct service: 'ecr'" in service.json()["message"]

    bare = httpx.post(
        aws_endpoint.url + "/",
        content=b"{}",
        headers={**ECR_JSON, "X-Amz-Target": TARGET + "DescribeRegistry"},
    )
    assert (bare.status_code, bare.json()["__type"]) == (
        403,
        "MissingAuthenticationTokenException",
    )
    assert bare.headers["x-amzn-RequestId"]


def test_a_deleted_key_is_refused(aws_endpoint: AwsEndpoint) -> None:
    from tests.support.cli import dockwatch

    key = aws_endpoint.new_key(user="temporary")
    assert aws_endpoint.client("ecr", key=key).describe_registry()["registryId"]
    gone = dockwatch("accounts", "delete-access-key", "--data", str(aws_endpoint.server.data),
                     "--account-id", key.account_id, "--access-key-id", key.access_key_id)  # fmt: skip
    assert gone.returncode == 0, gone.stderr
    refused = error_of(lambda: aws_endpoint.client("ecr", key=key).describe_registry())
    assert refused[:2] == ("UnrecognizedClientException", 403)


def test_unknown_operations_answer_as_aws_does(aws_endpoint: AwsEndpoint) -> None:
    ecr = aws_endpoint.client("ecr")
    # known to botocore, not served by dockwatch
    code, status, _ = error_of(lambda: ecr.describe_pull_through_cache_rules())
    assert (code, status) == ("UnknownOperationException", 400)
    made_up = aws_endpoint.send_signed(
        "POST", "/", service="ecr", body=b"{}",
        headers={**ECR_JSON, "X-Amz-Target": TARGET + "NoSuchOperation"},
    )  # fmt: skip
    assert (made_up.status_code, made_up.json()) == (400, {"__type": "UnknownOperationException"})

    inspector = aws_endpoint.client("inspector2")
    code, status, _ = error_of(lambda: inspector.list_cis_scan_configurations())
    assert (code, status) == ("UnknownOperationException", 404)
    nowhere = aws_endpoint.send_signed("POST", "/no/such/path", service="inspector2", body=b"{}")
    assert nowhere.status_code == 404
    assert nowhere.headers["x-amzn-ErrorType"] == "UnknownOperationException"


def test_malformed_and_invalid_input_is_refused_in_each_protocols_words(
    aws_endpoint: AwsEndpoint,
) -> None:
    broken = aws_endpoint.send_signed(
        "POST", "/", service="ecr", body=b'{"registryId": ',
        headers={**ECR_JSON, "X-Amz-Target": TARGET + "DescribeRegistry"},
    )  # fmt: skip
    assert (broken.status_code, broken.json()["__type"]) == (400, "SerializationException")
    listed = "/accountpermissions/list"
    broken = aws_endpoint.send_signed("POST", listed, service="inspector2", body=b"[1,")
    assert (broken.status_code, broken.headers["x-amzn-ErrorType"]) == (
        400,
        "SerializationException",
    )
    typed = aws_endpoint.send_signed(
        "POST", listed, service="inspector2", body=b'{"maxResults": "ten"}'
    )
    assert typed.status_code == 400 and typed.headers["x-amzn-ErrorType"] == "ValidationException"
    assert typed.json()["reason"] == "CANNOT_PARSE"

    inspector = aws_endpoint.client("inspector2")
    with pytest.raises(ClientError) as caught:
        inspector.list_account_permissions(maxResults=5000)  # botocore checks only the minimum
    err = caught.value.response
    assert err["Error"]["Code"] == "ValidationException"
    assert err["reason"] == "FIELD_VALIDATION_FAILED"  # type: ignore[typeddict-item]
    assert err["fields"] == [  # type: ignore[typeddict-item]
        {"name": "maxResults", "message": "Member must have value less than or equal to 1024"}
    ]
    code, status, message = error_of(lambda: inspector.list_account_permissions(service="S3"))
    assert (code, status) == ("ValidationException", 400) and "enum value set" in message


def test_registry_and_json_api_keep_their_own_authentication(aws_endpoint: AwsEndpoint) -> None:
    for path in ("/v2/", "/api/v1/findings"):
        signed = aws_endpoint.send_signed("GET", path, service="ecr")
        assert signed.status_code == 401  # a SigV4 signature is not a password
    assert aws_endpoint.server.client().get("/v2/").status_code == 200


def test_requests_outside_the_clock_skew_or_an_expired_presigned_url_are_refused(
    aws_server: AwsEndpoint,
) -> None:
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key = aws_server.key
    url = aws_server.url + "/accountpermissions/list"
    presign = AWSRequest(method="POST", url=url)
    SigV4QueryAuth(
        Credentials(key.access_key_id, key.secret_access_key), "inspector2", aws_server.region,
        expires=60,
    ).add_auth(presign)  # fmt: skip
    presigned = str(presign.url)
    assert httpx.post(presigned).status_code == 200

    with aws_server.server.client() as admin:
        admin.post("/-/test/clock", json={"advanceSeconds": 16 * 60}).raise_for_status()
    code, status, message = error_of(lambda: aws_server.client("ecr").describe_registry())
    assert (code, status) == ("InvalidSignatureException", 403)
    assert message.startswith("Signature expired:")
    late = httpx.post(presigned)
    assert (late.status_code, late.headers["x-amzn-ErrorType"]) == (403, "ExpiredTokenException")

    with aws_server.server.client() as admin:
        admin.post("/-/test/clock", json={"advanceSeconds": -32 * 60}).raise_for_status()
    code, status, message = error_of(lambda: aws_server.client("ecr").describe_registry())
    assert (code, status) == ("InvalidSignatureException", 403)
    assert message.startswith("Signature not yet current:")
