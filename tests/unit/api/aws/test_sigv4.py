"""SigV4 verification against botocore's own signer (the oracle): requests signed by
`SigV4Auth` and `SigV4QueryAuth` verify; every change to what they cover, and every scope,
time or key outside the rules, is refused with AWS's error."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode, percent_encode_sequence

from dockwatch.accounts.keys import SigningCredential
from dockwatch.api.aws.errors import AwsError
from dockwatch.api.aws.sigv4 import SignedRequest, Verified, verify

KEY_ID, SECRET = "AKIAEXAMPLE000000001", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
KEYS = {
    KEY_ID: SigningCredential(KEY_ID, "111111111111", "ci", SECRET, True),
    "AKIAINACTIVE00000001": SigningCredential(
        "AKIAINACTIVE00000001", "111111111111", "old", SECRET, False
    ),
}
REGIONS = ("us-east-1", "eu-west-1")
ECR_BODY = json.dumps({"repositoryNames": ["team/app"]}).encode()


def received(req: AWSRequest) -> SignedRequest:
    """What a server receives for a botocore-signed request."""
    prepared = req.prepare()
    url = urlsplit(prepared.url)
    headers = [("host", url.netloc)]
    headers += [(k.lower(), str(v)) for k, v in prepared.headers.items()]
    body = prepared.body or b""
    assert isinstance(body, bytes | str)
    return SignedRequest(
        prepared.method,
        url.path or "/",
        url.query,
        headers,
        body if isinstance(body, bytes) else body.encode(),
    )


def ecr_request(url: str = "http://127.0.0.1:5000/") -> AWSRequest:
    return AWSRequest(
        method="POST",
        url=url,
        data=ECR_BODY,
        headers={
            "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )


def sign(
    req: AWSRequest,
    *,
    secret: str = SECRET,
    key: str = KEY_ID,
    service: str = "ecr",
    region: str = "us-east-1",
) -> AWSRequest:
    SigV4Auth(Credentials(key, secret), service, region).add_auth(req)
    return req


def check(req: SignedRequest | AWSRequest, *, now: datetime | None = None,
          service: str = "ecr") -> Verified:  # fmt: skip
    signed = req if isinstance(req, SignedRequest) else received(req)
    return verify(
        signed,
        lookup=KEYS.get,
        now=now or datetime.now(UTC),
        regions=REGIONS,
        service=service,
    )


def refused(call: Callable[[], Any]) -> AwsError:
    with pytest.raises(AwsError) as caught:
        call()
    return caught.value


def test_a_request_botocore_signed_verifies_as_its_key() -> None:
    verified = check(sign(ecr_request()))
    assert verified.credential.account_id == "111111111111"
    assert (verified.region, verified.service) == ("us-east-1", "ecr")
    assert check(sign(ecr_request(), region="eu-west-1")).region == "eu-west-1"


def test_paths_and_queries_are_canonicalised_as_the_signer_does() -> None:
    arn = "arn:aws:ecr:us-east-1:111111111111:repository/team/app"
    query = percent_encode_sequence({"b": "two words", "a": "x+y/z~ü", "empty": ""})
    req = AWSRequest(  # the URL as botocore's serializer builds it
        method="GET",
        url=f"http://127.0.0.1:5000/tags/{percent_encode(arn)}?{query}",
    )
    assert check(sign(req, service="inspector2"), service="inspector2").region == "us-east-1"


def test_the_date_header_form_verifies() -> None:
    req = ecr_request()
    req.headers["Date"] = "Sat, 01 Jan 2000 00:00:00 GMT"  # botocore replaces it with now
    assert check(sign(req)).credential.user_name == "ci"


def test_presigned_urls_verify_until_they_expire() -> None:
    req = AWSRequest(method="GET", url="http://127.0.0.1:5000/findings/list", params={"x": "1"})
    SigV4QueryAuth(Credentials(KEY_ID, SECRET), "inspector2", "us-east-1", expires=60).add_auth(req)
    assert "X-Amz-Signature=" in str(req.url) and "Authorization" not in req.headers
    assert check(req, service="inspector2").credential.access_key_id == KEY_ID
    late = datetime.now(UTC) + timedelta(seconds=120)
    error = refused(lambda: check(req, now=late, service="inspector2"))
    assert (error.code, error.status) == ("ExpiredTokenException", 403)


def test_unsigned_payload_is_accepted_and_a_false_payload_hash_is_not() -> None:
    req = ecr_request("https://127.0.0.1:5000/")
    req.context["payload_signing_enabled"] = False
    sign(req)
    assert req.headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    assert check(req).credential.access_key_id == KEY_ID

    lying = ecr_request()
    lying.headers["X-Amz-Content-SHA256"] = "0" * 64
    error = refused(lambda: check(sign(lying)))
    assert error.code == "InvalidSignatureException"


def test_anything_changed_after_signing_is_refused() -> None:
    base = received(sign(ecr_request()))
    changes = [
        SignedRequest(base.method, base.raw_path, base.raw_query, base.headers, base.body + b" "),
        SignedRequest("PUT", base.raw_path, base.raw_query, base.headers, base.body),
        SignedRequest(base.method, "/other", base.raw_query, base.headers, base.body),
        SignedRequest(base.method, base.raw_path, "a=1", base.headers, base.body),
        SignedRequest(
            base.method,
            base.raw_path,
            base.raw_query,
            [
                (
                    k,
                    "AmazonEC2ContainerRegistry_V20150921.DeleteRepository"
                    if k == "x-amz-target"
                    else v,
                )
                for k, v in base.headers
            ],  # fmt: skip
            base.body,
        ),
    ]
    for changed in changes:
        error = refused(lambda changed=changed: check(changed))  # type: ignore[misc]
        assert (error.code, error.status) == ("InvalidSignatureException", 403)
    wrong_secret = refused(lambda: check(sign(ecr_request(), secret=SECRET[::-1])))
    assert wrong_secret.message.startswith("The request signature we calculated does not match")


def test_unknown_and_inactive_keys_are_unrecognized() -> None:
    for key in ("AKIANOSUCHKEY0000001", "AKIAINACTIVE00000001"):
        error = refused(lambda key=key: check(sign(ecr_request(), key=key)))  # type: ignore[misc]
        assert (error.code, error.status, error.message) == (
            "UnrecognizedClientException",
            403,
            "The security token included in the request is invalid.",
        )


def test_no_signature_is_a_missing_token_and_a_broken_header_is_incomplete() -> None:
    bare = received(ecr_request())
    error = refused(lambda: check(bare))
    assert (error.code, error.status) == ("MissingAuthenticationTokenException", 403)
    broken = SignedRequest(
        bare.method,
        bare.raw_path,
        bare.raw_query,
        [*bare.headers, ("authorization", "AWS4-HMAC-SHA256 Credential=AKIA/x")],
        bare.body,
    )
    error = refused(lambda: check(broken))
    assert (error.code, error.status) == ("IncompleteSignatureException", 400)
    assert "'SignedHeaders'" in error.message and "'Signature'" in error.message


def test_the_clock_skew_is_fifteen_minutes_either_way() -> None:
    req = sign(ecr_request())
    now = datetime.now(UTC)
    check(req, now=now + timedelta(minutes=14))
    check(req, now=now - timedelta(minutes=14))
    old = refused(lambda: check(req, now=now + timedelta(minutes=16)))
    assert old.code == "InvalidSignatureException" and old.message.startswith("Signature expired:")
    future = refused(lambda: check(req, now=now - timedelta(minutes=16)))
    assert future.code == "InvalidSignatureException"
    assert future.message.startswith("Signature not yet current:")


def test_the_scope_must_name_a_served_region_and_this_service() -> None:
    region = refused(lambda: check(sign(ecr_request(), region="ap-south-1")))
    assert region.code == "InvalidSignatureException" and "valid region" in region.message
    service = refused(lambda: check(sign(ecr_request(), service="inspector2")))
    assert service.code == "InvalidSignatureException"
    assert "scoped to correct service: 'ecr'" in service.message
