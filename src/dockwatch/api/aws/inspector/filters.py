"""Inspector2 Create/Update/Delete/ListFilters over the suppression rules: a SUPPRESS filter
suppresses the findings it matches (at once, and new ones are born suppressed); a NONE filter is
a saved search that changes nothing. Filters belong to the caller's own account."""

from __future__ import annotations

from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.api.aws.errors import AwsError
from dockwatch.errors import Conflict
from dockwatch.findings.suppression import SuppressionRules
from dockwatch.findings.suppression_rule import SuppressionRule

from .across import to_datetime
from .common import blocking, operation, validation

MAX_FILTERS = 100
"""ListFilters' `maxResults` bound."""
_FILTER_FIELDS = ("action", "description", "filterCriteria", "name", "tags", "reason")


def _rules(ctx: AwsContext) -> SuppressionRules:
    return SuppressionRules(ctx.services.store, ctx.services.clock, ctx.tenant)


def _name_conflict(exc: Conflict) -> AwsError:
    """A second filter of one name: a 400 among CreateFilter's declared errors."""
    return AwsError("BadRequestException", str(exc), 400)


def inspector_filter(ctx: AwsContext, rule: SuppressionRule) -> dict[str, Any]:
    """ListFilters' `Filter` of a rule (without dockwatch's `id`, `expiresAt`, `state`)."""
    wire = rule.to_wire(ctx.tenant, ctx.services.clock.now())
    out: dict[str, Any] = {
        "arn": wire["arn"],
        "ownerId": wire["ownerId"],
        "name": wire["name"],
        "criteria": wire["criteria"],
        "action": wire["action"],
        "createdAt": to_datetime(wire["createdAt"]),
        "updatedAt": to_datetime(wire["updatedAt"]),
        "tags": wire["tags"],
    }
    for key in ("description", "reason"):
        if wire.get(key) is not None:
            out[key] = wire[key]
    return out


@operation
async def create_filter(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """CreateFilter: `{action, name, filterCriteria, description?, reason?, tags?}` -> `{arn}`."""
    fields = {k: v for k, v in body.items() if k in _FILTER_FIELDS}
    try:
        change = await blocking(_rules(ctx).create, fields)
    except Conflict as exc:
        raise _name_conflict(exc) from exc
    return {"arn": change.rule.arn}


@operation
async def update_filter(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """UpdateFilter: `filterArn` and the fields that change -> `{arn}`."""
    arn = body.get("filterArn")
    if not isinstance(arn, str) or not arn:
        raise validation("filterArn is required")
    fields = {k: v for k, v in body.items() if k in _FILTER_FIELDS}
    try:
        change = await blocking(_rules(ctx).update, arn, fields)
    except Conflict as exc:
        raise _name_conflict(exc) from exc
    return {"arn": change.rule.arn}


@operation
async def delete_filter(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """DeleteFilter: `{arn}` -> `{arn}`; the findings it suppressed become ACTIVE unless another
    filter suppresses them."""
    arn = body.get("arn")
    if not isinstance(arn, str) or not arn:
        raise validation("arn is required")
    change = await blocking(_rules(ctx).delete, arn)
    return {"arn": change.rule.arn}


@operation
async def list_filters(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """ListFilters: `action`, `arns`, `maxResults` (1-100, default 100), `nextToken`."""
    limit = body.get("maxResults", MAX_FILTERS)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_FILTERS:
        raise validation(f"maxResults must be a whole number from 1 to {MAX_FILTERS}")
    arns = body.get("arns") or []

    def run() -> dict[str, Any]:
        rules, token = _rules(ctx).list(
            action=body.get("action"), arns=arns, max_results=limit,
            next_token=body.get("nextToken") or None,
        )  # fmt: skip
        out: dict[str, Any] = {"filters": [inspector_filter(ctx, r) for r in rules]}
        if token:
            out["nextToken"] = token
        return out

    return await blocking(run)


OPERATIONS: dict[str, Handler] = {
    "CreateFilter": create_filter,
    "UpdateFilter": update_filter,
    "DeleteFilter": delete_filter,
    "ListFilters": list_filters,
}
