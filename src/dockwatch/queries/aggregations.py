"""Inspector's ListFindingAggregations over the findings store.

The types that apply to container images: REPOSITORY, AWS_ECR_CONTAINER (one image resource),
IMAGE_LAYER (one layer of one image resource), PACKAGE (package name), TITLE (a finding title
and its vulnerability id), FINDING_TYPE and ACCOUNT. The others (AMI, EC2, Lambda, code
repositories, the multi-cloud types) are accepted and answer no responses, as Inspector does for
resources an account does not have.

Counting rules:
- a finding counts once per group: once for each distinct layer hash and each distinct package
  name among its vulnerable packages (packages without a layer hash count in no layer);
- by default only ACTIVE findings count. Inspector's API reference does not say which statuses
  its aggregations count; its console, built on them, shows "only your active findings" by
  default (User Guide, "Viewing Amazon Inspector findings"). dockwatch's extension
  `filterCriteria` (ListFindings' FilterCriteria, `findingStatus` included) chooses otherwise,
  and narrows the counted findings by any other criterion;
- `severityCounts` carries every field of the current model (`all`, `critical`, `high`,
  `medium`, `low`, `informational`, `untriaged`); `all` counts every severity;
- `affectedImages` (REPOSITORY, and TITLE as a dockwatch addition) counts distinct image
  resources; `fixAvailableCount` counts findings whose fixAvailable is YES or PARTIAL (a fix
  exists for at least one of its packages); `exploitAvailableCount` exploitAvailable YES;
- a group with no counted finding does not appear.

String filters follow `model.finding_criteria` (EQUALS/PREFIX ORed, NOT_EQUALS ANDed, exact and
case-sensitive); `imageTags` holds when some tag matches (NOT_EQUALS: no tag equals).

Results are sorted by `sortBy` (CRITICAL by default) in `sortOrder` (DESC by default), ties by
the group key ascending, and paged by keyset: `nextToken` carries the last (count, key), bound
to the request (`model.page_token`), so a token is refused for any other request and a page
never repeats or skips a group that did not change meanwhile.

The store counts (`FindingQueryRepo.aggregate`: rollup tables when the request filters only on
what they keep, grouped queries over the findings otherwise); this module checks the token and
shapes Inspector's response members.
"""

from __future__ import annotations

import logging
from typing import Any

from dockwatch.errors import InvalidInput
from dockwatch.model import page_token
from dockwatch.model.finding_aggregation import AGGREGATION_KEYS, MAX_RESULTS, AggregationQuery
from dockwatch.model.finding_criteria import date_wire, string_wire
from dockwatch.model.identity import Tenant, image_arn
from dockwatch.model.times import iso
from dockwatch.storage.finding_query_repo import AggregationGroup, FindingQueryRepo

from .aggregation_request import MEMBERS, OTHER_MEMBERS, SORT_BY, parse_request, query_from_params

logger = logging.getLogger(__name__)


def _bound_to(query: AggregationQuery) -> str:
    """What a token is bound to: every part of the request but its page size and token."""
    return page_token.request_digest(
        {
            "op": "ListFindingAggregations",
            "type": query.type,
            "strings": {k: [string_wire(f) for f in v] for k, v in query.strings.items()},
            "lastInUse": [date_wire(d) for d in query.last_in_use],
            "findingType": query.finding_type,
            "resourceType": query.resource_type,
            "accounts": [string_wire(f) for f in query.accounts],
            "criteria": query.criteria.to_wire(),
            "sort": [query.sort_by, query.sort_order],
        }
    )


def _after(query: AggregationQuery, bound_to: str) -> list[Any] | None:
    """The (count, *key) position `query.next_token` resumes after."""
    if query.next_token is None:
        return None
    last = page_token.decode(query.next_token, bound_to=bound_to)
    width = 1 + len(AGGREGATION_KEYS.get(query.type, ()))
    if (
        not isinstance(last, list)
        or len(last) != width
        or isinstance(last[0], bool)
        or not isinstance(last[0], int)
        or not all(isinstance(v, str) for v in last[1:])
    ):
        raise InvalidInput("nextToken: is not a token this API issued")
    return last


def aggregate(repo: FindingQueryRepo, tenant: Tenant, query: AggregationQuery) -> dict[str, Any]:
    """The ListFindingAggregations response for `query` (raises InvalidInput on a bad token)."""
    bound_to = _bound_to(query)
    page = repo.aggregate(tenant, query, _after(query, bound_to))
    out: dict[str, Any] = {
        "aggregationType": query.type,
        "responses": [_member(tenant, query.type, g) for g in page.groups],
    }
    if page.more:
        out["nextToken"] = page_token.encode(list(page.groups[-1].position), bound_to=bound_to)
    return out


def _member(tenant: Tenant, kind: str, g: AggregationGroup) -> dict[str, Any]:
    """One response member: `{<type>Aggregation: {...}}`."""
    account = tenant.account_id
    counts = dict(g.counts)
    key = g.key
    item: dict[str, Any]
    if kind == "REPOSITORY":
        item = {
            "repository": key["repository_name"], "accountId": account,
            "severityCounts": counts, "affectedImages": g.affected_images,
        }  # fmt: skip
    elif kind == "AWS_ECR_CONTAINER":
        item = {
            "resourceId": image_arn(tenant, key["repository_name"], key["digest"]),
            "imageSha": key["digest"],
            "repository": key["repository_name"],
            "imageTags": list(g.tags),
            "accountId": account,
            "severityCounts": counts,
        }
        if g.last_in_use is not None:
            item["lastInUseAt"] = iso(g.last_in_use)
    elif kind == "IMAGE_LAYER":
        item = {
            "repository": key["repository_name"],
            "resourceId": image_arn(tenant, key["repository_name"], key["digest"]),
            "layerHash": key["layer_hash"], "accountId": account, "severityCounts": counts,
        }  # fmt: skip
    elif kind == "PACKAGE":
        item = {"packageName": key["package_name"], "accountId": account, "severityCounts": counts}
    elif kind == "TITLE":
        item = {
            "title": key["title"], "vulnerabilityId": key["vulnerability_id"],
            "accountId": account, "severityCounts": counts,
            "affectedImages": g.affected_images,
        }  # fmt: skip
    else:
        item = {
            "accountId": account, "severityCounts": counts,
            "exploitAvailableCount": g.exploit_available, "fixAvailableCount": g.fix_available,
        }  # fmt: skip
    return {MEMBERS[kind]: item}


__all__ = [
    "MAX_RESULTS",
    "MEMBERS",
    "OTHER_MEMBERS",
    "SORT_BY",
    "AggregationQuery",
    "aggregate",
    "parse_request",
    "query_from_params",
]
