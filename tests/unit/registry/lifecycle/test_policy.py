"""The lifecycle policy language: ECR's documented constraints refuse bad policies with a
reason, and tag selection follows the prefix and wildcard rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dockwatch.registry.lifecycle.policy import (
    CountType,
    LifecyclePolicyInvalid,
    TagStatus,
    parse_policy,
)


def _rule(priority: int, **selection: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"countType": "imageCountMoreThan", "countNumber": 1}
    return {"rulePriority": priority, "selection": {**base, **selection},
            "action": {"type": "expire"}}  # fmt: skip


def _text(*rules: dict[str, Any]) -> str:
    return json.dumps({"rules": list(rules)})


def test_a_valid_policy_parses_in_priority_order() -> None:
    policy = parse_policy(
        _text(
            _rule(10, tagStatus="any"),
            _rule(
                1,
                tagStatus="untagged",
                countType="sinceImagePushed",
                countUnit="days",
                countNumber=14,
            ),
            _rule(5, tagStatus="tagged", tagPatternList=["prod-*"]),
        )  # fmt: skip
    )
    assert [r.priority for r in policy.rules] == [1, 5, 10]
    assert policy.rules[0].count_type is CountType.SINCE_IMAGE_PUSHED
    assert policy.rules[1].tag_status is TagStatus.TAGGED


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "not JSON"),
        (json.dumps({"rules": []}), "1 to 50 rules"),
        (_text(_rule(1, tagStatus="untagged"), _rule(1, tagStatus="any")), "unique"),
        (_text(_rule(1, tagStatus="tagged")), "exactly one of"),
        (
            _text(_rule(1, tagStatus="tagged", tagPrefixList=["a"], tagPatternList=["a"])),
            "exactly one of",
        ),
        (_text(_rule(1, tagStatus="untagged", tagPrefixList=["a"])), "only a tagged rule"),
        (
            _text(_rule(1, tagStatus="untagged"), _rule(2, tagStatus="untagged")),
            "only one rule may select untagged",
        ),
        (_text(_rule(1, tagStatus="any"), _rule(2, tagStatus="untagged")), "highest rulePriority"),
        (_text(_rule(1, tagStatus="tagged", tagPatternList=["*a*b*c*d*e"])), "wildcards"),
        (_text(_rule(1, tagStatus="untagged", countType="sinceImagePushed")), "countUnit days"),
        (_text(_rule(1, tagStatus="untagged", countUnit="days")), "takes no countUnit"),
        (_text(_rule(1, tagStatus="untagged", countNumber=0)), "positive integer"),
        (_text(_rule(1, tagStatus="sometimes")), "selection"),
        (_text({**_rule(1, tagStatus="any"), "action": {"type": "delete"}}), "expire"),
    ],  # fmt: skip
)
def test_bad_policies_are_refused_with_their_reason(text: str, reason: str) -> None:
    with pytest.raises(LifecyclePolicyInvalid) as refused:
        parse_policy(text)
    assert reason in str(refused.value)


def test_tag_selection_needs_every_prefix_or_pattern() -> None:
    [rule] = parse_policy(_text(_rule(1, tagStatus="tagged", tagPrefixList=["prod", "v1"]))).rules
    assert rule.selects(("prod-a", "v1.2")) and not rule.selects(("prod-a",))
    [rule] = parse_policy(_text(_rule(1, tagStatus="tagged", tagPatternList=["prod*repo"]))).rules
    assert rule.selects(("prodrepo",)) and rule.selects(("prod-x-repo",))
    assert not rule.selects(("prod-repo-x",)) and not rule.selects(())
    [rule] = parse_policy(_text(_rule(1, tagStatus="tagged", tagPatternList=["a.b"]))).rules
    assert rule.selects(("a.b",)) and not rule.selects(("axb",))
