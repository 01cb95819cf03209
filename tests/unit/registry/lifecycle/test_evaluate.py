"""Lifecycle evaluation against a brute-force oracle written from ECR's documented rules in
another form: the first rule (by priority) whose tag selection an image meets decides that
image alone; it is expired when that rule's count or age condition holds for it. Random image
sets and random valid policies (hypothesis)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dockwatch.registry.lifecycle.evaluate import LifecycleImage, evaluate
from dockwatch.registry.lifecycle.policy import parse_policy

NOW = datetime(2026, 12, 1, tzinfo=UTC)
TAGS = ["prod", "prod-1", "prod-2", "dev", "dev-1", "v1", "v1.1", "latest"]
PATTERNS = ["prod*", "*1", "dev", "v*.*", "*", "p*d*"]
PREFIXES = ["prod", "dev", "v1", "l"]


def wildcard(pattern: str, text: str) -> bool:
    """Whether `text` matches `pattern` where `*` stands for any run of characters."""
    if not pattern:
        return not text
    if pattern[0] == "*":
        return any(wildcard(pattern[1:], text[i:]) for i in range(len(text) + 1))
    return bool(text) and text[0] == pattern[0] and wildcard(pattern[1:], text[1:])


def meets(selection: dict[str, Any], tags: tuple[str, ...]) -> bool:
    status = selection["tagStatus"]
    if status == "any":
        return True
    if status == "untagged":
        return len(tags) == 0
    if "tagPrefixList" in selection:
        return len(tags) > 0 and all(
            any(t[: len(p)] == p for t in tags) for p in selection["tagPrefixList"]
        )
    return len(tags) > 0 and all(
        any(wildcard(p, t) for t in tags) for p in selection["tagPatternList"]
    )


def oracle(policy: dict[str, Any], images: list[LifecycleImage]) -> dict[str, int]:
    """digest -> the priority of the rule that expires it, for every expired image."""
    rules = sorted(policy["rules"], key=lambda r: r["rulePriority"])
    out: dict[str, int] = {}
    for image in images:
        for rule in rules:
            sel = rule["selection"]
            if not meets(sel, image.tags):
                continue
            if sel["countType"] == "imageCountMoreThan":
                newer = sum(
                    1
                    for other in images
                    if meets(sel, other.tags)
                    and (other.pushed_at, other.digest) > (image.pushed_at, image.digest)
                )
                expired = newer >= sel["countNumber"]
            else:
                expired = NOW - image.pushed_at > timedelta(days=sel["countNumber"])
            if expired:
                out[image.digest] = rule["rulePriority"]
            break
    return out


@st.composite
def images(draw: st.DrawFn) -> list[LifecycleImage]:
    n = draw(st.integers(0, 12))
    out = []
    for i in range(n):
        tags = tuple(sorted(draw(st.sets(st.sampled_from(TAGS), max_size=3))))
        age = draw(st.integers(0, 40))
        out.append(LifecycleImage(f"sha256:{i:064x}", tags, NOW - timedelta(days=age, hours=1)))
    return out


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 4))
    priorities = draw(st.lists(st.integers(1, 100), min_size=count, max_size=count, unique=True))
    rules = []
    used_untagged = False
    for p in sorted(priorities):
        last = p == max(priorities)
        kinds = ["tagged"] + ([] if used_untagged else ["untagged"]) + (["any"] if last else [])
        status = draw(st.sampled_from(kinds))
        used_untagged |= status == "untagged"
        selection: dict[str, Any] = {"tagStatus": status}
        if status == "tagged":
            if draw(st.booleans()):
                selection["tagPrefixList"] = draw(
                    st.lists(st.sampled_from(PREFIXES), min_size=1, max_size=2)
                )
            else:
                selection["tagPatternList"] = draw(
                    st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=2)
                )
        if draw(st.booleans()):
            selection |= {"countType": "imageCountMoreThan", "countNumber": draw(st.integers(1, 4))}
        else:
            selection |= {
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": draw(st.integers(1, 30)),
            }
        rules.append({"rulePriority": p, "selection": selection, "action": {"type": "expire"}})
    shuffled = draw(st.permutations(rules))
    return {"rules": list(shuffled)}


@settings(max_examples=300, deadline=None)
@given(policies(), images())
def test_evaluation_matches_the_oracle(policy: dict[str, Any], imgs: list[LifecycleImage]) -> None:
    got = evaluate(parse_policy(json.dumps(policy)), imgs, NOW)
    assert {e.image.digest: e.rule_priority for e in got} == oracle(policy, imgs)
    pushed = [(e.image.pushed_at, e.image.digest) for e in got]
    assert pushed == sorted(pushed)  # older images expire first


def test_a_rule_protects_what_it_selects_from_lower_rules() -> None:
    keep_prod = {
        "rulePriority": 1,
        "action": {"type": "expire"},
        "selection": {
            "tagStatus": "tagged",
            "tagPrefixList": ["prod"],
            "countType": "imageCountMoreThan",
            "countNumber": 9999,
        },
    }
    old_anything = {"rulePriority": 2, "action": {"type": "expire"},
                    "selection": {"tagStatus": "any", "countType": "sinceImagePushed",
                                  "countUnit": "days", "countNumber": 1}}  # fmt: skip
    old = NOW - timedelta(days=10)
    imgs = [
        LifecycleImage("sha256:" + "a" * 64, ("prod-1",), old),
        LifecycleImage("sha256:" + "b" * 64, ("dev",), old),
        LifecycleImage("sha256:" + "c" * 64, (), old),
        LifecycleImage("sha256:" + "d" * 64, (), NOW),
    ]
    got = evaluate(parse_policy(json.dumps({"rules": [keep_prod, old_anything]})), imgs, NOW)
    assert [e.image.digest[7] for e in got] == ["b", "c"]
