"""Suppression rules as values: what a rule is, how a client's rule is checked, how rules in
force pick the rule suppressing a finding (pure; storage and re-evaluation live in
`findings/suppression.py`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import field
from datetime import datetime
from typing import Any

from dockwatch.errors import InvalidInput
from dockwatch.model.finding_criteria import Criteria
from dockwatch.model.identity import Tenant
from dockwatch.storage.finding_repo import RuleRecord
from dockwatch.value_class import frozen

from .criteria import InvalidCriteria, parse_criteria, parse_time
from .criteria_match import matches

ACTIONS = ("NONE", "SUPPRESS")
NAME = re.compile(r"^[A-Za-z0-9._-]{3,64}$")
"""CreateFilter's documented name rule: 3 to 64 letters, digits, dots, underscores, dashes."""
SELF_REFERENCING = ("findingStatus", "updatedAt")
"""Criteria a SUPPRESS rule may not use: applying the rule changes them."""
MAX_TEXT = 512
MAX_TAGS = 50
MAX_LIST = 100

FIELDS = frozenset({"action", "name", "description", "reason", "filterCriteria", "tags",
                     "expiresAt"})  # fmt: skip


@frozen
class SuppressionRule:
    """A stored rule."""

    id: str
    arn: str
    name: str
    action: str
    criteria: Criteria
    description: str | None = None
    reason: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    expires_at: datetime | None = None
    expired_at: datetime | None = None
    """When the expiry was applied to the findings (None while the rule has not expired)."""
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def in_force(self, now: datetime) -> bool:
        """Whether the rule suppresses findings at `now`."""
        return self.action == "SUPPRESS" and (self.expires_at is None or self.expires_at > now)

    def to_wire(self, tenant: Tenant, now: datetime) -> dict[str, Any]:
        """ListFilters' `Filter` plus dockwatch's `id`, `expiresAt` and `state`."""
        out: dict[str, Any] = {
            "arn": self.arn,
            "id": self.id,
            "ownerId": tenant.account_id,
            "name": self.name,
            "criteria": self.criteria.to_wire(),
            "action": self.action,
            "createdAt": None if self.created_at is None else self.created_at.isoformat(),
            "updatedAt": None if self.updated_at is None else self.updated_at.isoformat(),
            "tags": dict(self.tags),
            "expiresAt": None if self.expires_at is None else self.expires_at.isoformat(),
            "state": "IN_FORCE"
            if self.in_force(now)
            else ("EXPIRED" if self.action == "SUPPRESS" else "SAVED_FILTER"),
        }
        if self.description is not None:
            out["description"] = self.description
        if self.reason is not None:
            out["reason"] = self.reason
        return out


def rule_arn(tenant: Tenant, rule_id: str) -> str:
    """Inspector's filter ARN."""
    return (
        f"arn:aws:inspector2:{tenant.region}:{tenant.account_id}:owner/{tenant.account_id}"
        f"/filter/{rule_id}"
    )


class RuleSuppressor:
    """The rules in force, compiled for `FindingWriter` (first match in creation order)."""

    def __init__(self, rules: Sequence[SuppressionRule]) -> None:
        self.rules = list(rules)

    def rule_for(self, finding: Mapping[str, Any]) -> str | None:
        """The id of the oldest rule in force matching the Inspector-shaped finding."""
        for rule in self.rules:
            if matches(rule.criteria, finding):
                return rule.id
        return None


def from_record(r: RuleRecord) -> SuppressionRule:
    """The rule a stored record holds."""
    return SuppressionRule(
        id=r.id,
        arn=r.arn,
        name=r.name,
        action=r.action,
        criteria=parse_criteria(r.criteria),
        description=r.description,
        reason=r.reason,
        tags=r.tags,
        expires_at=r.expires_at,
        expired_at=r.expired_at,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def to_record(rule: SuppressionRule) -> RuleRecord:
    """The record storing a rule."""
    assert rule.created_at is not None and rule.updated_at is not None
    return RuleRecord(
        id=rule.id,
        arn=rule.arn,
        name=rule.name,
        action=rule.action,
        criteria=rule.criteria.to_wire(),
        description=rule.description,
        reason=rule.reason,
        tags=dict(rule.tags),
        expires_at=rule.expires_at,
        expired_at=rule.expired_at,
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


# --- checking a client's rule --------------------------------------------------------------------


def text_field(body: Mapping[str, Any], name: str, limit: int = MAX_TEXT) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise InvalidInput(f"{name} must be a string of 1 to {limit} characters")
    return value


def valid_name(value: Any) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise InvalidInput(
            "name must be 3 to 64 characters: letters, digits, dots, underscores and dashes"
        )
    return value


def valid_action(value: Any) -> str:
    if value not in ACTIONS:
        raise InvalidInput(f"action must be SUPPRESS or NONE, not {value!r}")
    return str(value)


def valid_tags(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or len(value) > MAX_TAGS:
        raise InvalidInput(f"tags must be an object of at most {MAX_TAGS} string values")
    for k, v in value.items():
        if not isinstance(k, str) or not 1 <= len(k) <= 128:
            raise InvalidInput("tag keys must be strings of 1 to 128 characters")
        if not isinstance(v, str) or len(v) > 256:
            raise InvalidInput(f"tag {k!r}: values must be strings of at most 256 characters")
    return dict(value)


def valid_criteria(value: Any, action: str) -> Criteria:
    if value is None:
        raise InvalidCriteria("filterCriteria", "is required")
    criteria = parse_criteria(value)
    check_suppressible(criteria, action)
    return criteria


def check_suppressible(criteria: Criteria, action: str) -> None:
    if action != "SUPPRESS":
        return
    if criteria.is_empty():
        raise InvalidCriteria("filterCriteria", "a SUPPRESS rule must name at least one criterion")
    for key in SELF_REFERENCING:  # suppressing changes them: the rule would undo itself
        if key in criteria.strings or key in criteria.dates:
            raise InvalidCriteria(
                f"filterCriteria.{key}", "a SUPPRESS rule cannot depend on what it changes"
            )


def valid_expiry(value: Any, now: datetime) -> datetime | None:
    if value is None:
        return None
    moment = parse_time("expiresAt", value)
    if moment <= now:
        raise InvalidInput("expiresAt must be in the future")
    return moment


def check_fields(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise InvalidInput("the body must be a JSON object")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r} (expected: {', '.join(sorted(FIELDS))})")
    return body
