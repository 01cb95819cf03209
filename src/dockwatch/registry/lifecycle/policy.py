"""ECR's lifecycle policy language, parsed and validated.

A policy is `{"rules": [...]}`; each rule has a unique `rulePriority`, a `selection`
(`tagStatus` tagged/untagged/any, `tagPrefixList` or `tagPatternList` for tagged rules,
`countType` imageCountMoreThan or sinceImagePushed with `countUnit` days, `countNumber`) and
the action `{"type": "expire"}`. The checks are the rules ECR's documentation states.
"""

from __future__ import annotations

import json
import re
from enum import Enum
from typing import Any

from dockwatch.errors import InvalidInput
from dockwatch.value_class import frozen

MAX_RULES = 50
MAX_TEXT = 30720
MAX_WILDCARDS = 4


class LifecyclePolicyInvalid(InvalidInput):
    """A lifecycle policy ECR would refuse, with the reason."""


class TagStatus(Enum):
    """Which images a rule selects by their tags."""

    TAGGED = "tagged"
    UNTAGGED = "untagged"
    ANY = "any"


class CountType(Enum):
    """How a rule picks the images it expires among the ones it selects."""

    IMAGE_COUNT_MORE_THAN = "imageCountMoreThan"
    SINCE_IMAGE_PUSHED = "sinceImagePushed"


@frozen
class Rule:
    """One rule of a policy."""

    priority: int
    tag_status: TagStatus
    tag_prefixes: tuple[str, ...]
    tag_patterns: tuple[str, ...]
    count_type: CountType
    count_number: int
    description: str = ""

    def selects(self, tags: tuple[str, ...]) -> bool:
        """Whether an image with `tags` meets the rule's tagging requirements: every prefix
        (or pattern) listed is matched by at least one of its tags."""
        if self.tag_status is TagStatus.ANY:
            return True
        if self.tag_status is TagStatus.UNTAGGED:
            return not tags
        if not tags:
            return False
        if self.tag_prefixes:
            return all(any(t.startswith(p) for t in tags) for p in self.tag_prefixes)
        return all(any(pattern_regex(p).fullmatch(t) for t in tags) for p in self.tag_patterns)


@frozen
class LifecyclePolicy:
    """A parsed policy: its rules by priority, and the text as given (ECR echoes it)."""

    rules: tuple[Rule, ...]
    text: str


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A tag pattern (`*` matches any run of characters, itself included empty) as a regex."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def _fail(reason: str) -> LifecyclePolicyInvalid:
    return LifecyclePolicyInvalid(
        f"Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
        f"'Lifecycle policy validation failure: {reason}'"
    )


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(f"{name} must be a non-empty list of strings")
    if not all(isinstance(v, str) and v for v in value):
        raise _fail(f"{name} must hold non-empty strings")
    return tuple(value)


def _rule(raw: Any, index: int) -> Rule:
    where = f"rules[{index}]"
    if not isinstance(raw, dict):
        raise _fail(f"{where} must be an object")
    unknown = set(raw) - {"rulePriority", "description", "selection", "action"}
    if unknown:
        raise _fail(f"{where} has unknown fields {sorted(unknown)}")
    priority = raw.get("rulePriority")
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 1:
        raise _fail(f"{where}.rulePriority must be a positive integer")
    action = raw.get("action")
    if action != {"type": "expire"}:
        raise _fail(f'{where}.action must be {{"type": "expire"}}')
    selection = raw.get("selection")
    if not isinstance(selection, dict):
        raise _fail(f"{where}.selection must be an object")
    known = {"tagStatus", "tagPrefixList", "tagPatternList", "countType", "countUnit",
             "countNumber"}  # fmt: skip
    if set(selection) - known:
        raise _fail(f"{where}.selection has unknown fields {sorted(set(selection) - known)}")
    try:
        status = TagStatus(selection.get("tagStatus"))
        count_type = CountType(selection.get("countType"))
    except ValueError as exc:
        raise _fail(f"{where}.selection: {exc}") from exc
    prefixes: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    if status is TagStatus.TAGGED:
        has_prefix, has_pattern = "tagPrefixList" in selection, "tagPatternList" in selection
        if has_prefix == has_pattern:
            raise _fail(f"{where}: a tagged rule takes exactly one of tagPrefixList and "
                        "tagPatternList")  # fmt: skip
        if has_prefix:
            prefixes = _strings(selection["tagPrefixList"], "tagPrefixList")
        else:
            patterns = _strings(selection["tagPatternList"], "tagPatternList")
            if any(p.count("*") > MAX_WILDCARDS for p in patterns):
                raise _fail(f"{where}: at most {MAX_WILDCARDS} wildcards per tag pattern")
    elif "tagPrefixList" in selection or "tagPatternList" in selection:
        raise _fail(f"{where}: only a tagged rule takes tagPrefixList or tagPatternList")
    number = selection.get("countNumber")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise _fail(f"{where}.selection.countNumber must be a positive integer")
    unit = selection.get("countUnit")
    if count_type is CountType.SINCE_IMAGE_PUSHED and unit != "days":
        raise _fail(f"{where}: sinceImagePushed takes countUnit days")
    if count_type is CountType.IMAGE_COUNT_MORE_THAN and unit is not None:
        raise _fail(f"{where}: imageCountMoreThan takes no countUnit")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise _fail(f"{where}.description must be a string")
    return Rule(priority, status, prefixes, patterns, count_type, number, description)


def parse_policy(text: str) -> LifecyclePolicy:
    """Parse and validate a lifecycle policy text."""
    if len(text) > MAX_TEXT:
        raise _fail(f"the policy is longer than {MAX_TEXT} characters")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise _fail(f"the policy is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise _fail('the policy must be {"rules": [...]}')
    if set(doc) - {"rules"}:
        raise _fail(f"unknown fields {sorted(set(doc) - {'rules'})}")
    if not 1 <= len(doc["rules"]) <= MAX_RULES:
        raise _fail(f"a policy holds 1 to {MAX_RULES} rules")
    rules = sorted((_rule(r, i) for i, r in enumerate(doc["rules"])), key=lambda r: r.priority)
    priorities = [r.priority for r in rules]
    if len(set(priorities)) != len(priorities):
        raise _fail("rulePriority values must be unique")
    if sum(r.tag_status is TagStatus.UNTAGGED for r in rules) > 1:
        raise _fail("only one rule may select untagged images")
    anys = [r for r in rules if r.tag_status is TagStatus.ANY]
    if len(anys) > 1 or (anys and rules[-1] is not anys[0]):
        raise _fail("a rule with tagStatus any must have the highest rulePriority")
    return LifecyclePolicy(tuple(rules), text)
