"""Inspector2 ListUsageTotals: per account, the container image scans Inspector bills on over
the last 30 days, counted from the scan events each account's outbox holds.

ECR_INITIAL_SCAN counts the first scan of an image in its monitoring period (`ScanCompleted`
that is not a rescan); ECR_RESCAN counts later scans of images already scanned (a re-push, a
re-match after a rule change or a cataloger upgrade) plus every image an advisory update
re-evaluated (`RescanCompleted.images_reevaluated`). No cost is estimated.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.model import page_token
from dockwatch.model.events import RescanCompleted, ScanCompleted
from dockwatch.model.identity import Tenant

from .common import access_denied, blocking, operation, validation, visible_tenants

WINDOW = timedelta(days=30)
""""Lists the Amazon Inspector usage totals over the last 30 days" (Inspector's model)."""
MAX_ACCOUNTS = 500
_BOUND = page_token.request_digest({"op": "aws:ListUsageTotals"})


def usage_of(ctx: AwsContext, tenant: Tenant) -> dict[str, int]:
    """(ECR_INITIAL_SCAN, ECR_RESCAN) counts of one account over the window."""
    since = ctx.services.clock.now() - WINDOW
    initial = rescans = 0
    after = 0
    with ctx.services.store.read() as uow:
        while True:
            events = uow.outbox.read_of_tenant(
                tenant, (ScanCompleted.NAME, RescanCompleted.NAME), since, after, 500
            )
            for stored in events:
                event = stored.event
                if isinstance(event, RescanCompleted):
                    rescans += event.images_reevaluated
                elif isinstance(event, ScanCompleted):
                    if event.rescan or event.trigger != "scan":
                        rescans += 1
                    else:
                        initial += 1
            if len(events) < 500:
                return {"ECR_INITIAL_SCAN": initial, "ECR_RESCAN": rescans}
            after = events[-1].id


@operation
async def list_usage_totals(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """ListUsageTotals: `accountIds` (default: every account the caller sees), `maxResults`
    (1-500) accounts a page, `nextToken`."""
    limit = body.get("maxResults", MAX_ACCOUNTS)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_ACCOUNTS:
        raise validation(f"maxResults must be a whole number from 1 to {MAX_ACCOUNTS}")
    after = None
    if body.get("nextToken"):
        after = page_token.decode(body["nextToken"], bound_to=_BOUND)
        if not isinstance(after, str):
            raise validation("nextToken is not a token this listing issued")

    def run() -> dict[str, Any]:
        visible = [t.account_id for t in visible_tenants(ctx)]
        named = body.get("accountIds")
        if named is not None:
            outside = sorted(set(named) - set(visible))
            if outside:
                raise access_denied(f"Account {outside[0]} is not one this account administers")
            visible = sorted(set(named))
        accounts = [a for a in visible if after is None or a > after]
        totals = []
        for account in accounts[:limit]:
            counts = usage_of(ctx, Tenant(account, ctx.tenant.region))
            usage = [{"type": kind, "total": float(n)} for kind, n in counts.items()]
            totals.append({"accountId": account, "usage": usage})
        out: dict[str, Any] = {"totals": totals}
        if len(accounts) > limit:
            out["nextToken"] = page_token.encode(accounts[limit - 1], bound_to=_BOUND)
        return out

    return await blocking(run)


OPERATIONS: dict[str, Handler] = {"ListUsageTotals": list_usage_totals}
