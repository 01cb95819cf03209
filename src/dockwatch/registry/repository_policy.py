"""Repository policies: ECR's resource policy of one repository, and the cross-account check.

A policy is IAM's JSON: `Version`, `Statement[]` with `Sid`, `Effect` (Allow | Deny),
`Principal` (`"*"` or `{"AWS": id | ARN | "*" | [...]}`, an id being a 12-digit account, an ARN
`arn:aws:iam::<id>:root` (the whole account) or `arn:aws:iam::<id>:user/<name>`) and `Action`
(`ecr:BatchGetImage`, `ecr:GetDownloadUrlForLayer`, ... with `*` wildcards, case-insensitive).
Another account's request is allowed when a statement allows it and none denies it (a Deny
wins); the owning account's own requests never consult the policy. `Condition`,
`NotPrincipal`, `NotAction` and `Resource` are refused: a policy this check would read
differently from IAM is not stored.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

from dockwatch.errors import InvalidInput
from dockwatch.model.identity import Tenant
from dockwatch.storage.unit_of_work import Store
from dockwatch.value_class import frozen

from .context import RegistryContext
from .errors import Denied

MAX_POLICY_BYTES = 10_240
"""ECR's limit on a repository policy's text."""
_ACCOUNT = re.compile(r"^\d{12}$")
_ARN = re.compile(r"^arn:aws:iam::(\d{12}):(root|user/[\w+=,.@/-]+)$")
_KNOWN_KEYS = {"Sid", "Effect", "Principal", "Action"}


class PolicyInvalid(InvalidInput):
    """A policy text this server does not accept (ECR: InvalidParameterException)."""


class PolicyNotFound(InvalidInput):
    """The repository has no policy (ECR: RepositoryPolicyNotFoundException)."""


@frozen
class Statement:
    """One statement: its effect, principals (`*` or account ids / ARNs) and action patterns."""

    sid: str
    allow: bool
    principals: tuple[str, ...]
    actions: tuple[str, ...]

    def names(self, account_id: str, user_arn: str) -> bool:
        """Whether the caller is one of the statement's principals."""
        for p in self.principals:
            if p in ("*", account_id, user_arn) or p == f"arn:aws:iam::{account_id}:root":
                return True
        return False

    def covers(self, action: str) -> bool:
        """Whether `action` matches one of the statement's action patterns."""
        return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in self.actions)


@frozen
class RepositoryPolicy:
    """A parsed policy."""

    statements: tuple[Statement, ...]

    def allows(self, account_id: str, user_arn: str, action: str) -> bool:
        """Whether another account's caller may do `action`: an Allow and no Deny."""
        hits = [s for s in self.statements if s.names(account_id, user_arn) and s.covers(action)]
        return any(s.allow for s in hits) and not any(not s.allow for s in hits)


def _strings(value: Any, what: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) and i for i in items):
        raise PolicyInvalid(f"{what} must be a non-empty string or list of strings")
    return tuple(items)


def _principals(value: Any) -> tuple[str, ...]:
    if value == "*":
        return ("*",)
    if not isinstance(value, dict) or set(value) != {"AWS"}:
        raise PolicyInvalid('Principal must be "*" or {"AWS": ...}')
    out = _strings(value["AWS"], "Principal.AWS")
    for p in out:
        if p != "*" and not _ACCOUNT.match(p) and not _ARN.match(p):
            raise PolicyInvalid(f"invalid principal: {p!r} (an account id or an IAM ARN)")
    return out


def _statement(doc: Any, index: int) -> Statement:
    if not isinstance(doc, dict):
        raise PolicyInvalid(f"Statement[{index}] must be an object")
    unknown = sorted(set(doc) - _KNOWN_KEYS)
    if unknown:
        raise PolicyInvalid(f"Statement[{index}] has unsupported elements: {', '.join(unknown)}")
    effect = doc.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyInvalid(f"Statement[{index}].Effect must be Allow or Deny")
    if "Principal" not in doc or "Action" not in doc:
        raise PolicyInvalid(f"Statement[{index}] needs Principal and Action")
    actions = _strings(doc["Action"], f"Statement[{index}].Action")
    for a in actions:
        if a != "*" and not a.lower().startswith("ecr:"):
            raise PolicyInvalid(f"invalid action {a!r}: repository policies name ecr: actions")
    sid = doc.get("Sid", "")
    if not isinstance(sid, str):
        raise PolicyInvalid(f"Statement[{index}].Sid must be a string")
    return Statement(sid, effect == "Allow", _principals(doc["Principal"]), actions)


def parse_policy(text: str) -> RepositoryPolicy:
    """Parse and check a policy text; raises `PolicyInvalid` naming what is wrong."""
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise PolicyInvalid(f"a repository policy is at most {MAX_POLICY_BYTES} bytes")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise PolicyInvalid(f"policy text is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise PolicyInvalid("a policy is a JSON object")
    if doc.get("Version") not in ("2012-10-17", "2008-10-17"):
        raise PolicyInvalid('Version must be "2012-10-17" or "2008-10-17"')
    raw = doc.get("Statement")
    raw = [raw] if isinstance(raw, dict) else raw
    if not isinstance(raw, list) or not raw:
        raise PolicyInvalid("Statement must be a non-empty list")
    if set(doc) - {"Version", "Id", "Statement"}:
        raise PolicyInvalid("a policy holds only Version, Id and Statement")
    return RepositoryPolicy(tuple(_statement(s, i) for i, s in enumerate(raw)))


def set_policy(ctx: RegistryContext, repository: str, text: str) -> str:
    """Store a repository's policy (after checking it); returns the text stored."""
    repo = ctx.repository(repository)
    parse_policy(text)
    with ctx.store.write() as uow:
        uow.tenancy.set_repository_policy(repo.id, text, ctx.clock.now())
    return text


def get_policy(ctx: RegistryContext, repository: str) -> str:
    """A repository's policy text; raises NameUnknown or PolicyNotFound."""
    repo = ctx.repository(repository)
    with ctx.store.read() as uow:
        text = uow.tenancy.repository_policy(repo.id)
    if text is None:
        raise PolicyNotFound(f"repository {repository} has no repository policy")
    return text


def delete_policy(ctx: RegistryContext, repository: str) -> str:
    """Drop a repository's policy; returns the text it had (PolicyNotFound when none)."""
    text = get_policy(ctx, repository)
    repo = ctx.repository(repository)
    with ctx.store.write() as uow:
        uow.tenancy.delete_repository_policy(repo.id)
    return text


def check_cross_account(
    store: Store, owner: Tenant, repository: str, account_id: str, user_arn: str, action: str
) -> None:
    """Raise `Denied` unless `owner`'s repository has a policy allowing the caller `action`. A
    missing repository is refused the same way, so another account learns no names."""
    with store.read() as uow:
        repo = uow.registry.get_repository(owner, repository)
        text = None if repo is None else uow.tenancy.repository_policy(repo.id)
    if text is not None:
        try:
            if parse_policy(text).allows(account_id, user_arn, action):
                return
        except PolicyInvalid:  # stored by an older version with other rules: grants nothing
            pass
    raise Denied(f"account {account_id} is not allowed {action} on this repository")
