"""Repository policies: IAM's grammar as ECR accepts it for pulls, evaluated for another
account (an Allow needed, a Deny wins), and refused with a reason when this server would read
it differently from IAM. Expected verdicts follow IAM's evaluation logic by hand."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dockwatch.registry.repository_policy import PolicyInvalid, parse_policy

B = "222222222222"
B_ARN = f"arn:aws:iam::{B}:user/bob"
PULL = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(principal: Any, action: Any = "ecr:*", effect: str = "Allow") -> dict[str, Any]:
    return {"Sid": "s", "Effect": effect, "Principal": principal, "Action": action}


@pytest.mark.parametrize(
    "principal",
    [{"AWS": B}, {"AWS": [f"arn:aws:iam::{B}:root"]}, {"AWS": B_ARN}, "*", {"AWS": "*"}],
)
def test_an_allow_naming_the_account_or_user_grants_pulls(principal: Any) -> None:
    policy = parse_policy(_policy(_allow(principal, list(PULL))))
    assert all(policy.allows(B, B_ARN, a) for a in PULL)
    assert not policy.allows(B, B_ARN, "ecr:PutImage")


def test_nothing_is_granted_without_a_matching_allow() -> None:
    policy = parse_policy(_policy(_allow({"AWS": "333333333333"})))
    assert not policy.allows(B, B_ARN, "ecr:BatchGetImage")
    other_user = parse_policy(_policy(_allow({"AWS": f"arn:aws:iam::{B}:user/carol"})))
    assert not other_user.allows(B, B_ARN, "ecr:BatchGetImage")
    assert other_user.allows(B, f"arn:aws:iam::{B}:user/carol", "ecr:BatchGetImage")


def test_a_deny_wins_over_an_allow() -> None:
    policy = parse_policy(
        _policy(_allow("*", "ecr:*"), _allow({"AWS": B}, "ecr:GetDownload*", "Deny"))
    )
    assert policy.allows(B, B_ARN, "ecr:BatchGetImage")
    assert not policy.allows(B, B_ARN, "ecr:GetDownloadUrlForLayer")
    assert policy.allows(
        "333333333333", "arn:aws:iam::333333333333:root", "ecr:GetDownloadUrlForLayer"
    )


def test_wildcards_and_case_in_actions() -> None:
    policy = parse_policy(_policy(_allow({"AWS": B}, ["ECR:batch*"])))
    assert policy.allows(B, B_ARN, "ecr:BatchGetImage")
    assert policy.allows(B, B_ARN, "ecr:BatchCheckLayerAvailability")
    assert not policy.allows(B, B_ARN, "ecr:GetDownloadUrlForLayer")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("not json", "not JSON"),
        (json.dumps({"Statement": [_allow("*")]}), "Version"),
        (json.dumps({"Version": "2012-10-17", "Statement": []}), "Statement"),
        (_policy({**_allow("*"), "Condition": {}}), "Condition"),
        (_policy(_allow({"AWS": "12345"})), "principal"),
        (_policy(_allow({"Service": "ecr.amazonaws.com"})), "Principal"),
        (_policy(_allow("*", "s3:GetObject")), "s3:GetObject"),
        (_policy(_allow("*", [])), "Action"),
        (_policy({**_allow("*"), "Effect": "Maybe"}), "Effect"),
        ("x" * 10_241, "10240"),
    ],
)
def test_unreadable_policies_are_refused_with_the_reason(text: str, names: str) -> None:
    with pytest.raises(PolicyInvalid, match=names):
        parse_policy(text)
