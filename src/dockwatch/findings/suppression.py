"""Suppression rules: Inspector filters with action SUPPRESS, optionally expiring.

A rule in force (action SUPPRESS, not past `expiresAt`) makes every open finding its criteria
match SUPPRESSED, naming the rule in `suppressed_by`; when several match, the oldest rule
(creation order) is the one named. Rules act twice:

- on the findings already stored, when a rule is created, changed, deleted or expires: the
  findings it can touch are re-evaluated against every rule in force, in the same transaction,
  and each status change writes a `FindingUpdated` event (the compact payload of
  `FindingWriter`, `changes: ["status"]`);
- on findings being written by a scan or a feed update: `load_suppressor` gives
  `FindingWriter` the rules in force (None when there are none, the common case, so a scan
  pays one indexed query).

Action NONE stores a saved filter that suppresses nothing. Expiry is applied by
`expire_due_rules`, which the scan worker calls every pass.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select

from dockwatch.clock import Clock
from dockwatch.errors import Conflict, InvalidInput, NotFound
from dockwatch.model.finding_criteria import Criteria
from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc, as_utc_or_none
from dockwatch.queries.criteria import InvalidCriteria, parse_criteria, parse_time
from dockwatch.queries.matcher import matches
from dockwatch.storage.sql import finding_repo, outbox
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.finding_queries.criteria_sql import sql_filter
from dockwatch.storage.sql.finding_queries.images import image_contexts

from .service import FINDING_UPDATED, Suppressor

logger = logging.getLogger(__name__)

ACTIONS = ("NONE", "SUPPRESS")
NAME = re.compile(r"^[A-Za-z0-9._-]{3,64}$")
"""CreateFilter's documented name rule: 3 to 64 letters, digits, dots, underscores, dashes."""
SELF_REFERENCING = ("findingStatus", "updatedAt")
"""Criteria a SUPPRESS rule may not use: applying the rule changes them."""
MAX_TEXT = 512
MAX_TAGS = 50
MAX_LIST = 100
CHUNK = 500

_FIELDS = frozenset({"action", "name", "description", "reason", "filterCriteria", "tags",
                     "expiresAt"})  # fmt: skip


@dataclass(frozen=True, slots=True)
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


# --- storage -----------------------------------------------------------------------------------

r_ = t.suppression_rules


def _rule(row: Any) -> SuppressionRule:
    return SuppressionRule(
        id=row.id,
        arn=row.arn,
        name=row.name,
        action=row.action,
        criteria=parse_criteria(json.loads(row.criteria)),
        description=row.description,
        reason=row.reason,
        tags=json.loads(row.tags or "{}"),
        expires_at=as_utc_or_none(row.expires_at),
        expired_at=as_utc_or_none(row.expired_at),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def _tenant_rows(tenant: Tenant) -> ColumnElement[bool]:
    return and_(r_.c.account_id == tenant.account_id, r_.c.region == tenant.region)


def rules_in_force(conn: Connection, tenant: Tenant, now: datetime) -> list[SuppressionRule]:
    """SUPPRESS rules not past their expiry, oldest first."""
    rows = conn.execute(
        select(r_)
        .where(
            _tenant_rows(tenant),
            r_.c.action == "SUPPRESS",
            or_(r_.c.expires_at.is_(None), r_.c.expires_at > now),
        )
        .order_by(r_.c.created_at, r_.c.id)
    )
    return [_rule(r) for r in rows]


def load_suppressor(conn: Connection, tenant: Tenant, now: datetime) -> Suppressor | None:
    """The suppressor for `FindingWriter`, or None when no rule is in force (the fast path)."""
    rules = rules_in_force(conn, tenant, now)
    return RuleSuppressor(rules) if rules else None


def suppressor_loader(tenant: Tenant, clock: Clock) -> Callable[[Connection], Suppressor | None]:
    """`FindingWriter`'s `suppressor` argument: the rules in force at the time of each batch."""
    return lambda conn: load_suppressor(conn, tenant, clock.now())


def find_rule(conn: Connection, tenant: Tenant, ref: str) -> SuppressionRule:
    """A rule by id or ARN (NotFound otherwise)."""
    rule_id = ref
    prefix = rule_arn(tenant, "")
    if ref.startswith("arn:"):
        if not ref.startswith(prefix):
            raise NotFound(f"no suppression rule {ref}")
        rule_id = ref[len(prefix) :]
    row = conn.execute(select(r_).where(_tenant_rows(tenant), r_.c.id == rule_id)).first()
    if row is None:
        raise NotFound(f"no suppression rule {ref}")
    return _rule(row)


# --- re-evaluating findings --------------------------------------------------------------------

f_ = t.findings
_EVENT_ROW = (
    f_.c.id, f_.c.repository_id, f_.c.repository_name, f_.c.digest, f_.c.vulnerability_id,
    f_.c.status, f_.c.severity, f_.c.fix_available, f_.c.first_observed_at,
    f_.c.last_observed_at, f_.c.detail_ref, f_.c.suppressed_by,
)  # fmt: skip


def _candidates(
    conn: Connection, tenant: Tenant, conditions: Iterable[ColumnElement[bool]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for condition in conditions:
        for row in conn.execute(
            select(*_EVENT_ROW).where(
                f_.c.account_id == tenant.account_id,
                f_.c.region == tenant.region,
                f_.c.status != "CLOSED",
                condition,
            )
        ):
            out[row.id] = row
    return out


def reevaluate(
    conn: Connection, tenant: Tenant, now: datetime, conditions: Iterable[ColumnElement[bool]]
) -> int:
    """Bring the open findings meeting any of `conditions` in line with the rules in force;
    returns how many changed status (each with a `FindingUpdated` event)."""
    found = _candidates(conn, tenant, conditions)
    if not found:
        return 0
    assigned: dict[str, str] = {}
    remaining = sorted(found)
    for rule in rules_in_force(conn, tenant, now):
        if not remaining:
            break
        hit: set[str] = set()
        condition = sql_filter(rule.criteria)
        for start in range(0, len(remaining), CHUNK):
            part = remaining[start : start + CHUNK]
            hit |= set(conn.execute(select(f_.c.id).where(f_.c.id.in_(part), condition)).scalars())
        for finding_id in hit:
            assigned[finding_id] = rule.id
        remaining = [i for i in remaining if i not in hit]
    changed = []
    moved = []  # still SUPPRESSED, now by another rule: no status change, no event
    for finding_id, row in found.items():
        rule_id = assigned.get(finding_id)
        status = "SUPPRESSED" if rule_id else "ACTIVE"
        if status != row.status:
            changed.append((row, status, rule_id))
        elif rule_id != row.suppressed_by:
            moved.append({"b_id": row.id, "b_suppressed_by": rule_id})
    finding_repo.update_findings(conn, ["suppressed_by"], moved)
    if not changed:
        return 0
    finding_repo.update_findings(
        conn,
        ["status", "suppressed_by", "updated_at"],
        [{"b_id": row.id, "b_status": s, "b_suppressed_by": rid, "b_updated_at": now}
         for row, s, rid in changed],
    )  # fmt: skip
    contexts = image_contexts(
        conn, {(row.repository_id, row.repository_name, row.digest) for row, _, _ in changed}
    )
    events = []
    for row, status, _ in changed:
        image = contexts[(row.repository_id, row.digest)]
        events.append(
            (
                FINDING_UPDATED,
                row.repository_name,
                {
                    "findingId": row.id,
                    "detailRef": row.detail_ref,
                    "vulnerabilityId": row.vulnerability_id,
                    "status": status,
                    "severity": row.severity,
                    "fixAvailable": row.fix_available,
                    "firstObservedAt": as_utc(row.first_observed_at).isoformat(),
                    "lastObservedAt": as_utc(row.last_observed_at).isoformat(),
                    "updatedAt": now.isoformat(),
                    "repositoryName": row.repository_name,
                    "imageDigest": row.digest,
                    "imageTags": list(image.tags),
                    "pushedAt": None if image.pushed_at is None else image.pushed_at.isoformat(),
                    "changes": ["status"],
                },
            )
        )
    outbox.append_many(
        conn, account_id=tenant.account_id, region=tenant.region, events=events, at=now
    )
    logger.info("suppression rules changed the status of %d findings", len(changed))
    return len(changed)


def _touched_by(rule: SuppressionRule | None, rule_id: str) -> list[ColumnElement[bool]]:
    """The findings a rule change can touch: those it suppressed, and (for a rule that now
    suppresses) the ACTIVE ones its criteria match."""
    out: list[ColumnElement[bool]] = [f_.c.suppressed_by == rule_id]
    if rule is not None and rule.action == "SUPPRESS":
        out.append(and_(f_.c.status == "ACTIVE", sql_filter(rule.criteria)))
    return out


def expire_rules(conn: Connection, tenant: Tenant, now: datetime) -> int:
    """Apply the expiry of every SUPPRESS rule past `expiresAt` not applied yet; returns how
    many rules expired."""
    due = (
        conn.execute(
            select(r_.c.id).where(
                _tenant_rows(tenant),
                r_.c.action == "SUPPRESS",
                r_.c.expires_at <= now,
                r_.c.expired_at.is_(None),
            )
        )
        .scalars()
        .all()
    )
    for rule_id in due:
        conn.execute(r_.update().where(r_.c.id == rule_id).values(expired_at=now))
        reevaluate(conn, tenant, now, [f_.c.suppressed_by == rule_id])
    return len(due)


def expire_due_rules(db: Database, tenant: Tenant, now: datetime) -> int:
    """`expire_rules` in its own transaction, taken only when a rule is due (a read first, so
    the worker's pass does not hold the writer lock for nothing)."""
    with db.read() as conn:
        pending = conn.execute(
            select(r_.c.id)
            .where(
                _tenant_rows(tenant),
                r_.c.action == "SUPPRESS",
                r_.c.expires_at <= now,
                r_.c.expired_at.is_(None),
            )
            .limit(1)
        ).first()
    if pending is None:
        return 0
    with db.write() as conn:
        return expire_rules(conn, tenant, now)


# --- validation --------------------------------------------------------------------------------


def _text(body: Mapping[str, Any], name: str, limit: int = MAX_TEXT) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise InvalidInput(f"{name} must be a string of 1 to {limit} characters")
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise InvalidInput(
            "name must be 3 to 64 characters: letters, digits, dots, underscores and dashes"
        )
    return value


def _action(value: Any) -> str:
    if value not in ACTIONS:
        raise InvalidInput(f"action must be SUPPRESS or NONE, not {value!r}")
    return str(value)


def _tags(value: Any) -> dict[str, str]:
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


def _criteria(value: Any, action: str) -> Criteria:
    if value is None:
        raise InvalidCriteria("filterCriteria", "is required")
    criteria = parse_criteria(value)
    _suppressible(criteria, action)
    return criteria


def _suppressible(criteria: Criteria, action: str) -> None:
    if action != "SUPPRESS":
        return
    if criteria.is_empty():
        raise InvalidCriteria("filterCriteria", "a SUPPRESS rule must name at least one criterion")
    for key in SELF_REFERENCING:  # suppressing changes them: the rule would undo itself
        if key in criteria.strings or key in criteria.dates:
            raise InvalidCriteria(
                f"filterCriteria.{key}", "a SUPPRESS rule cannot depend on what it changes"
            )


def _expiry(value: Any, now: datetime) -> datetime | None:
    if value is None:
        return None
    moment = parse_time("expiresAt", value)
    if moment <= now:
        raise InvalidInput("expiresAt must be in the future")
    return moment


def _check_fields(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise InvalidInput("the body must be a JSON object")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r} (expected: {', '.join(sorted(_FIELDS))})")
    return body


def _name_taken(conn: Connection, tenant: Tenant, name: str, other_than: str | None) -> None:
    row = conn.execute(select(r_.c.id).where(_tenant_rows(tenant), r_.c.name == name)).first()
    if row is not None and row.id != other_than:
        raise Conflict(f"a suppression rule named {name!r} exists already")


# --- the service -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleChange:
    """A rule as stored after a change, and how many findings changed status."""

    rule: SuppressionRule
    findings_changed: int


class SuppressionRules:
    """Create, read, change and delete rules; every change re-evaluates findings at once."""

    def __init__(self, db: Database, clock: Clock, tenant: Tenant) -> None:
        self.db = db
        self.clock = clock
        self.tenant = tenant

    def create(self, body: Any) -> RuleChange:
        """CreateFilter (plus `expiresAt`)."""
        body = _check_fields(body)
        now = self.clock.now()
        action = _action(body.get("action"))
        name = _name(body.get("name"))
        criteria = _criteria(body.get("filterCriteria"), action)
        description = _text(body, "description")
        reason = _text(body, "reason")
        tags = _tags(body.get("tags"))
        expires = _expiry(body.get("expiresAt"), now)
        rule_id = secrets.token_hex(8)
        with self.db.write() as conn:
            _name_taken(conn, self.tenant, name, None)
            conn.execute(
                r_.insert().values(
                    id=rule_id,
                    account_id=self.tenant.account_id,
                    region=self.tenant.region,
                    arn=rule_arn(self.tenant, rule_id),
                    name=name,
                    description=description,
                    reason=reason,
                    action=action,
                    criteria=json.dumps(criteria.to_wire(), sort_keys=True),
                    tags=json.dumps(tags, sort_keys=True),
                    expires_at=expires,
                    expired_at=None,
                    created_at=now,
                    updated_at=now,
                )
            )
            rule = find_rule(conn, self.tenant, rule_id)
            changed = reevaluate(conn, self.tenant, now, _touched_by(rule, rule_id)[1:])
        return RuleChange(rule, changed)

    def update(self, ref: str, body: Any) -> RuleChange:
        """UpdateFilter: the fields given replace the stored ones (`expiresAt: null` clears)."""
        body = _check_fields(body)
        now = self.clock.now()
        with self.db.write() as conn:
            old = find_rule(conn, self.tenant, ref)
            action = _action(body["action"]) if "action" in body else old.action
            values: dict[str, Any] = {"action": action, "updated_at": now}
            if "name" in body:
                values["name"] = _name(body["name"])
                _name_taken(conn, self.tenant, values["name"], old.id)
            criteria = (
                _criteria(body.get("filterCriteria"), action)
                if "filterCriteria" in body
                else old.criteria
            )
            _suppressible(criteria, action)
            values["criteria"] = json.dumps(criteria.to_wire(), sort_keys=True)
            for name in ("description", "reason"):
                if name in body:
                    values[name] = _text(body, name)
            if "tags" in body:
                values["tags"] = json.dumps(_tags(body["tags"]), sort_keys=True)
            if "expiresAt" in body:
                values["expires_at"] = _expiry(body["expiresAt"], now)
                values["expired_at"] = None
            conn.execute(r_.update().where(r_.c.id == old.id).values(**values))
            rule = find_rule(conn, self.tenant, old.id)
            if rule.expires_at is not None and rule.expires_at <= now:
                conn.execute(r_.update().where(r_.c.id == old.id).values(expired_at=now))
            changed = reevaluate(conn, self.tenant, now, _touched_by(rule, old.id))
        return RuleChange(rule, changed)

    def delete(self, ref: str) -> RuleChange:
        """DeleteFilter: the findings it suppressed are re-evaluated (ACTIVE unless another
        rule suppresses them)."""
        now = self.clock.now()
        with self.db.write() as conn:
            rule = find_rule(conn, self.tenant, ref)
            conn.execute(r_.delete().where(r_.c.id == rule.id))
            changed = reevaluate(conn, self.tenant, now, _touched_by(None, rule.id))
        return RuleChange(rule, changed)

    def get(self, ref: str) -> SuppressionRule:
        """One rule by id or ARN."""
        with self.db.read() as conn:
            return find_rule(conn, self.tenant, ref)

    def list(
        self,
        *,
        action: str | None = None,
        arns: Sequence[str] = (),
        max_results: int = MAX_LIST,
        next_token: str | None = None,
    ) -> tuple[list[SuppressionRule], str | None]:
        """ListFilters: oldest first, keyset-paginated."""
        if action is not None:
            _action(action)
        if not 1 <= max_results <= MAX_LIST:
            raise InvalidInput(f"maxResults must be between 1 and {MAX_LIST}")
        query = select(r_).where(_tenant_rows(self.tenant))
        if action is not None:
            query = query.where(r_.c.action == action)
        if arns:
            query = query.where(r_.c.arn.in_(list(arns)))
        if next_token:
            created, rule_id = _untoken(next_token)
            query = query.where(
                or_(
                    r_.c.created_at > created,
                    and_(r_.c.created_at == created, r_.c.id > rule_id),
                )
            )
        query = query.order_by(r_.c.created_at, r_.c.id).limit(max_results + 1)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        rules = [_rule(r) for r in rows[:max_results]]
        token = None
        if len(rows) > max_results and rules[-1].created_at is not None:
            token = _token(rules[-1].created_at, rules[-1].id)
        return rules, token


def _token(created: datetime, rule_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created.isoformat(), rule_id]).encode()).decode()


def _untoken(value: str) -> tuple[datetime, str]:
    try:
        created, rule_id = json.loads(base64.urlsafe_b64decode(value.encode()))
        if not isinstance(rule_id, str) or not isinstance(created, str):
            raise ValueError("bad token")
        return as_utc(datetime.fromisoformat(created)), rule_id
    except (ValueError, TypeError, binascii.Error):
        raise InvalidInput("nextToken is not a token this API issued") from None
