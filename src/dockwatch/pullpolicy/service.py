"""Changing pull policies and allowances (the API's operations).

A change commits before its answer, and the gate reads the store on every pull, so the next
pull after a change is judged by it. There is no bypass for any user: the only exemptions are
suppression rules (which change findings) and allowances (which name an image, a reason and an
expiry).
"""

from __future__ import annotations

import secrets
from typing import Any

from dockwatch.clock import Clock
from dockwatch.errors import InvalidInput, NotFound
from dockwatch.model import page_token
from dockwatch.model.identity import Tenant
from dockwatch.storage.pull_policy_repo import REGISTRY_SCOPE
from dockwatch.storage.unit_of_work import Store

from .policy import (
    Allowance,
    PullPolicy,
    allowance_from_record,
    check_repository_name,
    from_record,
    parse_allowance,
    parse_policy,
)

MAX_LIST = 100


class PullPolicies:
    """The pull policies and allowances of one tenant."""

    def __init__(self, store: Store, clock: Clock, tenant: Tenant) -> None:
        self.store = store
        self.clock = clock
        self.tenant = tenant

    @staticmethod
    def _scope(repository: str | None) -> str:
        return REGISTRY_SCOPE if repository is None else check_repository_name(repository)

    def get(self, repository: str | None) -> PullPolicy:
        """The policy stored for the registry (None) or a repository; NotFound when none."""
        scope = self._scope(repository)
        with self.store.read() as uow:
            record = uow.pull_policies.get_policy(self.tenant, scope)
        if record is None:
            where = "the registry" if repository is None else f"repository {repository!r}"
            raise NotFound(f"no pull policy is set for {where}")
        return from_record(record)

    def put(self, repository: str | None, body: Any) -> PullPolicy:
        """Create or replace a policy; it governs the next pull."""
        scope = self._scope(repository)
        now = self.clock.now()
        policy = parse_policy(scope, body, updated_at=now)
        with self.store.write() as uow:
            uow.pull_policies.put_policy(self.tenant, scope, policy.document(), now)
        return policy

    def delete(self, repository: str | None) -> None:
        """Remove a policy (a repository then falls back to the registry-wide one)."""
        scope = self._scope(repository)
        with self.store.write() as uow:
            if not uow.pull_policies.delete_policy(self.tenant, scope):
                where = "the registry" if repository is None else f"repository {repository!r}"
                raise NotFound(f"no pull policy is set for {where}")

    def allow(self, body: Any) -> Allowance:
        """Store a per-image allowance (every field required, an expiry within a year)."""
        allowance = parse_allowance(body, secrets.token_hex(16), self.clock.now())
        with self.store.write() as uow:
            uow.pull_policies.add_allowance(self.tenant, allowance.record())
        return allowance

    def allowances(
        self, repository: str | None, max_results: int, next_token: str | None
    ) -> tuple[list[Allowance], str | None]:
        """A page of allowances (expired ones included, marked so), by id."""
        if not 1 <= max_results <= MAX_LIST:
            raise InvalidInput(f"maxResults must be from 1 to {MAX_LIST}")
        if repository is not None:
            check_repository_name(repository)
        bound = f"allowances:{repository or ''}"
        after = None
        if next_token:
            position = page_token.decode(next_token, bound_to=bound)
            if not isinstance(position, str):
                raise InvalidInput("nextToken is not valid")
            after = position
        with self.store.read() as uow:
            rows = uow.pull_policies.list_allowances(
                self.tenant, repository, after, max_results + 1
            )
        page = [allowance_from_record(r) for r in rows[:max_results]]
        token = (
            page_token.encode(page[-1].id, bound_to=bound)
            if len(rows) > max_results and page
            else None
        )
        return page, token

    def get_allowance(self, allowance_id: str) -> Allowance:
        """One allowance by id."""
        with self.store.read() as uow:
            record = uow.pull_policies.get_allowance(self.tenant, allowance_id)
        if record is None:
            raise NotFound(f"no pull allowance {allowance_id!r}")
        return allowance_from_record(record)

    def revoke(self, allowance_id: str) -> None:
        """Delete an allowance; the next pull of its image is judged again."""
        with self.store.write() as uow:
            if not uow.pull_policies.delete_allowance(self.tenant, allowance_id):
                raise NotFound(f"no pull allowance {allowance_id!r}")
