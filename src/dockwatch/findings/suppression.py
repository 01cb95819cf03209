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

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from dockwatch.clock import Clock
from dockwatch.errors import Conflict, InvalidInput, NotFound
from dockwatch.model import page_token
from dockwatch.model.events import FindingUpdated
from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc
from dockwatch.storage.unit_of_work import Store, UnitOfWork
from dockwatch.value_class import frozen

from .service import Suppressor
from .suppression_rule import (
    MAX_LIST,
    RuleSuppressor,
    SuppressionRule,
    check_fields,
    check_suppressible,
    from_record,
    rule_arn,
    text_field,
    to_record,
    valid_action,
    valid_criteria,
    valid_expiry,
    valid_name,
    valid_tags,
)

logger = logging.getLogger(__name__)


def rules_in_force(uow: UnitOfWork, tenant: Tenant, now: datetime) -> list[SuppressionRule]:
    """SUPPRESS rules not past their expiry, oldest first."""
    return [from_record(r) for r in uow.findings.rules_in_force(tenant, now)]


def load_suppressor(uow: UnitOfWork, tenant: Tenant, now: datetime) -> Suppressor | None:
    """The suppressor for `FindingWriter`, or None when no rule is in force (the fast path)."""
    rules = rules_in_force(uow, tenant, now)
    return RuleSuppressor(rules) if rules else None


def suppressor_loader(tenant: Tenant, clock: Clock) -> Callable[[UnitOfWork], Suppressor | None]:
    """`FindingWriter`'s `suppressor` argument: the rules in force at the time of each batch."""
    return lambda uow: load_suppressor(uow, tenant, clock.now())


def find_rule(uow: UnitOfWork, tenant: Tenant, ref: str) -> SuppressionRule:
    """A rule by id or ARN (NotFound otherwise)."""
    rule_id = ref
    prefix = rule_arn(tenant, "")
    if ref.startswith("arn:"):
        if not ref.startswith(prefix):
            raise NotFound(f"no suppression rule {ref}")
        rule_id = ref[len(prefix) :]
    found = uow.findings.find_rule(tenant, rule_id)
    if found is None:
        raise NotFound(f"no suppression rule {ref}")
    return from_record(found)


# --- re-evaluating findings --------------------------------------------------------------------


def reevaluate(
    uow: UnitOfWork,
    tenant: Tenant,
    now: datetime,
    *,
    suppressed_by: str | None = None,
    matched_by: SuppressionRule | None = None,
) -> int:
    """Bring in line with the rules in force the open findings the rule `suppressed_by`
    suppresses and the ACTIVE ones the SUPPRESS rule `matched_by` matches; returns how many
    changed status (each with a `FindingUpdated` event)."""
    repo = uow.findings
    criteria = None
    if matched_by is not None and matched_by.action == "SUPPRESS":
        criteria = matched_by.criteria
    found = repo.suppression_candidates(
        tenant, suppressed_by=suppressed_by, active_matching=criteria
    )
    if not found:
        return 0
    assigned: dict[str, str] = {}
    remaining = sorted(found)
    for rule in rules_in_force(uow, tenant, now):
        if not remaining:
            break
        hit = repo.ids_matching(remaining, rule.criteria)
        for finding_id in hit:
            assigned[finding_id] = rule.id
        remaining = [i for i in remaining if i not in hit]
    changed: dict[str, tuple[str, str | None]] = {}
    moved: dict[str, tuple[str, str | None]] = {}  # still SUPPRESSED, by another rule: no event
    for finding_id, row in found.items():
        rule_id = assigned.get(finding_id)
        status = "SUPPRESSED" if rule_id else "ACTIVE"
        if status != row.status:
            changed[finding_id] = (status, rule_id)
        elif rule_id != row.suppressed_by:
            moved[finding_id] = (status, rule_id)
    repo.set_suppression(moved, None)
    if not changed:
        return 0
    repo.set_suppression(changed, now)
    facts = repo.image_facts(sorted({(found[i].repository_id, found[i].digest) for i in changed}))
    events = []
    for finding_id, (status, _) in changed.items():
        row = found[finding_id]
        image = facts.get((row.repository_id, row.digest))
        pushed = None if image is None else image.pushed_at
        events.append(
            FindingUpdated(
                tenant,
                now,
                finding_id=row.id,
                detail_ref=row.detail_ref,
                vulnerability_id=row.vulnerability_id,
                status=status,
                severity=row.severity,
                fix_available=row.fix_available,
                first_observed_at=as_utc(row.first_observed_at),
                last_observed_at=as_utc(row.last_observed_at),
                updated_at=now,
                repository_name=row.repository_name,
                image_digest=row.digest,
                image_tags=() if image is None else tuple(image.tags),
                pushed_at=pushed,
                changes=("status",),
            )
        )
    uow.outbox.append_many(events)
    logger.info("suppression rules changed the status of %d findings", len(changed))
    return len(changed)


def expire_rules(uow: UnitOfWork, tenant: Tenant, now: datetime) -> int:
    """Apply the expiry of every SUPPRESS rule past `expiresAt` not applied yet; returns how
    many rules expired."""
    due = uow.findings.due_rules(tenant, now)
    for rule_id in due:
        uow.findings.mark_rule_expired(tenant, rule_id, now)
        reevaluate(uow, tenant, now, suppressed_by=rule_id)
    return len(due)


def expire_due_rules(store: Store, tenant: Tenant, now: datetime) -> int:
    """`expire_rules` in its own transaction, taken only when a rule is due (a read first, so
    the worker's pass does not hold the writer lock for nothing)."""
    with store.read() as uow:
        pending = uow.findings.due_rules(tenant, now, limit=1)
    if not pending:
        return 0
    with store.write() as uow:
        return expire_rules(uow, tenant, now)


def _name_taken(uow: UnitOfWork, tenant: Tenant, name: str, other_than: str | None) -> None:
    owner = uow.findings.rule_named(tenant, name)
    if owner is not None and owner != other_than:
        raise Conflict(f"a suppression rule named {name!r} exists already")


# --- the service -------------------------------------------------------------------------------


@frozen
class RuleChange:
    """A rule as stored after a change, and how many findings changed status."""

    rule: SuppressionRule
    findings_changed: int


class SuppressionRules:
    """Create, read, change and delete rules; every change re-evaluates findings at once."""

    def __init__(self, store: Store, clock: Clock, tenant: Tenant) -> None:
        self.store = store
        self.clock = clock
        self.tenant = tenant

    def create(self, body: Any) -> RuleChange:
        """CreateFilter (plus `expiresAt`)."""
        body = check_fields(body)
        now = self.clock.now()
        action = valid_action(body.get("action"))
        rule_id = secrets.token_hex(8)
        rule = SuppressionRule(
            id=rule_id,
            arn=rule_arn(self.tenant, rule_id),
            name=valid_name(body.get("name")),
            action=action,
            criteria=valid_criteria(body.get("filterCriteria"), action),
            description=text_field(body, "description"),
            reason=text_field(body, "reason"),
            tags=valid_tags(body.get("tags")),
            expires_at=valid_expiry(body.get("expiresAt"), now),
            created_at=now,
            updated_at=now,
        )
        with self.store.write() as uow:
            _name_taken(uow, self.tenant, rule.name, None)
            uow.findings.insert_rule(self.tenant, to_record(rule))
            rule = find_rule(uow, self.tenant, rule_id)
            changed = reevaluate(uow, self.tenant, now, matched_by=rule)
        return RuleChange(rule, changed)

    def update(self, ref: str, body: Any) -> RuleChange:
        """UpdateFilter: the fields given replace the stored ones (`expiresAt: null` clears)."""
        body = check_fields(body)
        now = self.clock.now()
        with self.store.write() as uow:
            old = find_rule(uow, self.tenant, ref)
            action = valid_action(body["action"]) if "action" in body else old.action
            new = replace(old, action=action, updated_at=now)
            if "name" in body:
                new = replace(new, name=valid_name(body["name"]))
                _name_taken(uow, self.tenant, new.name, old.id)
            criteria = (
                valid_criteria(body.get("filterCriteria"), action)
                if "filterCriteria" in body
                else old.criteria
            )
            check_suppressible(criteria, action)
            new = replace(new, criteria=criteria)
            if "description" in body:
                new = replace(new, description=text_field(body, "description"))
            if "reason" in body:
                new = replace(new, reason=text_field(body, "reason"))
            if "tags" in body:
                new = replace(new, tags=valid_tags(body["tags"]))
            if "expiresAt" in body:
                new = replace(new, expires_at=valid_expiry(body["expiresAt"], now), expired_at=None)
            uow.findings.replace_rule(self.tenant, to_record(new))
            rule = find_rule(uow, self.tenant, old.id)
            if rule.expires_at is not None and rule.expires_at <= now:
                uow.findings.mark_rule_expired(self.tenant, old.id, now)
            changed = reevaluate(uow, self.tenant, now, suppressed_by=old.id, matched_by=rule)
        return RuleChange(rule, changed)

    def delete(self, ref: str) -> RuleChange:
        """DeleteFilter: the findings it suppressed are re-evaluated (ACTIVE unless another
        rule suppresses them)."""
        now = self.clock.now()
        with self.store.write() as uow:
            rule = find_rule(uow, self.tenant, ref)
            uow.findings.delete_rule(self.tenant, rule.id)
            changed = reevaluate(uow, self.tenant, now, suppressed_by=rule.id)
        return RuleChange(rule, changed)

    def get(self, ref: str) -> SuppressionRule:
        """One rule by id or ARN."""
        with self.store.read() as uow:
            return find_rule(uow, self.tenant, ref)

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
            valid_action(action)
        if not 1 <= max_results <= MAX_LIST:
            raise InvalidInput(f"maxResults must be between 1 and {MAX_LIST}")
        bound = page_token.request_digest({"action": action, "arns": sorted(arns)})
        after = _position(page_token.decode(next_token, bound_to=bound)) if next_token else None
        with self.store.read() as uow:
            records = uow.findings.list_rules(
                self.tenant, action=action, arns=arns, after=after, limit=max_results + 1
            )
        rules = [from_record(r) for r in records[:max_results]]
        token = None
        last = records[max_results - 1] if len(records) > max_results else None
        if last is not None:
            token = page_token.encode([last.created_at.isoformat(), last.id], bound_to=bound)
        return rules, token


def _position(value: Any) -> tuple[datetime, str]:
    """The (created, id) a rules token resumes after."""
    bad = InvalidInput("nextToken is not a token this API issued")
    if not isinstance(value, list) or len(value) != 2:
        raise bad
    created, rule_id = value
    if not isinstance(created, str) or not isinstance(rule_id, str):
        raise bad
    try:
        return as_utc(datetime.fromisoformat(created)), rule_id
    except ValueError:
        raise bad from None
