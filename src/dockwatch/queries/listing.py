"""ListFindings: request values (sort, page size, page token), pages shaped as Inspector's
`Finding`s, one finding, and an image's findings by layer.

Pages are keyset-paginated by the store (see `storage.finding_query_repo`). The `nextToken`
carries the last row's (sort value, stored order), the sort and a digest of the criteria that
issued it (`model.page_token`): a token altered, truncated, or reused with another query or sort
is refused with a clear error instead of silently returning the wrong page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dockwatch.errors import InvalidInput, NotFound
from dockwatch.findings.shape import ImageContext, inspector_finding
from dockwatch.model import page_token
from dockwatch.model.finding_criteria import Criteria
from dockwatch.model.finding_sort import (
    SEVERITY_RANK,
    Position,
    Sort,
    SortField,
    SortOrder,
    bound_value,
)
from dockwatch.model.identity import Tenant, finding_arn
from dockwatch.storage.finding_query_repo import FindingQueryRepo, ListedFinding
from dockwatch.value_class import frozen

MAX_RESULTS = 1000
DEFAULT_RESULTS = 100
DEFAULT_SORT = Sort()
"""SEVERITY, DESC: Inspector's default order."""


def parse_sort(field: str | None, order: str | None) -> Sort:
    """Validate `sortBy`/`sortOrder` (defaults: SEVERITY, DESC)."""
    try:
        f = SortField(field) if field else SortField.SEVERITY
    except ValueError:
        raise InvalidInput(
            f"sortBy: {field!r} is not one of {', '.join(s.value for s in SortField)}"
        ) from None
    try:
        o = SortOrder(order) if order else SortOrder.DESC
    except ValueError:
        raise InvalidInput(f"sortOrder: {order!r} is not ASC or DESC") from None
    return Sort(f, o)


def parse_limit(raw: Any) -> int:
    """Validate `maxResults` (1..1000, default 100)."""
    if raw is None or raw == "":
        return DEFAULT_RESULTS
    if isinstance(raw, bool):
        raise InvalidInput(f"maxResults must be a whole number from 1 to {MAX_RESULTS}")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidInput(f"maxResults must be a whole number from 1 to {MAX_RESULTS}") from None
    if not 1 <= value <= MAX_RESULTS or (isinstance(raw, float) and raw != value):
        raise InvalidInput(f"maxResults must be a whole number from 1 to {MAX_RESULTS}")
    return value


# --- tokens ------------------------------------------------------------------------------------


_BOUND_TO = page_token.request_digest({"op": "ListFindings"})
"""Tokens of this listing are refused by every other; the sort and a digest of the criteria
travel inside the token, so a token replayed with either changed says which one did."""


def _criteria_digest(criteria: Criteria) -> str:
    return page_token.request_digest(criteria.to_wire())


def encode_token(sort: Sort, criteria: Criteria, position: Position) -> str:
    """An opaque, checksummed `nextToken` for the page after `position`."""
    return page_token.encode(
        {"s": sort.field.value, "o": sort.order.value, "q": _criteria_digest(criteria),
         "k": position.value, "n": position.seq},
        bound_to=_BOUND_TO,
    )  # fmt: skip


def decode_token(token: str, sort: Sort, criteria: Criteria) -> Position:
    """The position a token resumes after; InvalidInput for anything else."""
    doc = page_token.decode(token, bound_to=_BOUND_TO)
    bad = InvalidInput("nextToken is not a token this listing issued (or it was altered)")
    if not isinstance(doc, dict):
        raise bad
    if "i" in doc and "n" not in doc:  # issued when pages resumed after a finding id
        raise InvalidInput(
            "nextToken was issued by an earlier version of this listing: start again without it"
        )
    seq = doc.get("n")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**63:
        raise bad
    if doc.get("s") != sort.field.value or doc.get("o") != sort.order.value:
        raise InvalidInput(
            "nextToken belongs to another sort order: repeat sortBy and sortOrder unchanged"
        )
    if doc.get("q") != _criteria_digest(criteria):
        raise InvalidInput("nextToken belongs to other filter criteria: repeat them unchanged")
    try:
        bound_value(sort.field, doc.get("k"))
    except (ValueError, TypeError):
        raise bad from None
    return Position(doc.get("k"), seq)


# --- shaping -----------------------------------------------------------------------------------


def shape(
    tenant: Tenant, found: Sequence[ListedFinding], *, include_evidence: bool = False
) -> list[dict[str, Any]]:
    """Inspector `Finding`s for stored findings."""
    out = []
    for r in found:
        image = ImageContext(r.repository_name, r.digest, r.image.tags, r.image.pushed_at)
        finding = inspector_finding(
            r.tenant or tenant,
            image,
            finding_id=r.id,
            status=r.status,
            severity=r.severity,
            fix_available=r.fix_available,
            first_observed_at=r.first_observed_at,
            last_observed_at=r.last_observed_at,
            updated_at=r.updated_at,
            detail=r.detail,
            include_evidence=include_evidence,
        )
        if r.suppressed_by:
            finding["suppressedBy"] = r.suppressed_by
        out.append(finding)
    return out


# --- listing -----------------------------------------------------------------------------------


@frozen
class Page:
    """One page of a listing."""

    findings: list[dict[str, Any]]
    next_token: str | None


def list_findings(
    repo: FindingQueryRepo,
    tenant: Tenant,
    criteria: Criteria,
    sort: Sort = DEFAULT_SORT,
    limit: int = DEFAULT_RESULTS,
    token: str | None = None,
) -> Page:
    """One page of the tenant's findings meeting `criteria`, in `sort` order."""
    after = decode_token(token, sort, criteria) if token else None
    page = repo.list_findings(tenant, criteria, sort, limit, after)
    next_token = None if page.next is None else encode_token(sort, criteria, page.next)
    return Page(shape(tenant, page.findings), next_token)


def list_findings_in(
    repo: FindingQueryRepo,
    tenants: Sequence[Tenant],
    criteria: Criteria,
    sort: Sort = DEFAULT_SORT,
    limit: int = DEFAULT_RESULTS,
    token: str | None = None,
) -> Page:
    """One page of the findings of several tenants of one region (a delegated administrator
    and its members) meeting `criteria`, in `sort` order; tokens as `list_findings`."""
    after = decode_token(token, sort, criteria) if token else None
    page = repo.list_findings_in(tenants, criteria, sort, limit, after)
    next_token = None if page.next is None else encode_token(sort, criteria, page.next)
    return Page(shape(tenants[0], page.findings), next_token)


def parse_finding_ref(tenant: Tenant, ref: str) -> str:
    """A finding id from an id or a finding ARN of this tenant (NotFound otherwise)."""
    prefix = finding_arn(tenant, "")
    if ref.startswith("arn:"):
        if not ref.startswith(prefix):
            raise NotFound(f"no finding {ref}")
        ref = ref[len(prefix) :]
    if not ref or len(ref) > 64:
        raise NotFound(f"no finding {ref}")
    return ref


def get_finding(repo: FindingQueryRepo, tenant: Tenant, ref: str) -> dict[str, Any]:
    """One finding, with its match evidence, by id or ARN."""
    found = repo.get_finding(tenant, parse_finding_ref(tenant, ref))
    if found is None:
        raise NotFound(f"no finding {ref}")
    return shape(tenant, [found], include_evidence=True)[0]


def _order_of(layers: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for digest in layers:
        out.setdefault(digest, len(out))
    return out


def findings_by_layer(
    repo: FindingQueryRepo,
    tenant: Tenant,
    repository_id: int,
    repository: str,
    digest: str,
    layers: Sequence[str],
    criteria: Criteria,
) -> dict[str, Any]:
    """An image's findings grouped by the layer that brought each vulnerable package, in
    manifest layer order, with counts by severity per layer (ACTIVE findings only, as
    `findingSeverityCounts` counts them). A finding with packages in several layers is listed
    under each; packages of unknown origin gather under `layerDigest: null` at the end."""
    shaped = shape(tenant, repo.image_findings(tenant, repository_id, digest, criteria))
    order = _order_of(layers)
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for finding in shaped:
        packages = (finding.get("packageVulnerabilityDetails") or {}).get("vulnerablePackages")
        hashes = {p.get("sourceLayerHash") for p in packages or []} or {None}
        for h in hashes:
            groups.setdefault(h if h in order else None, []).append(finding)
    ranked = {s: -SEVERITY_RANK.get(s, 0) for s in SEVERITY_RANK}

    def entry(layer: str | None, index: int | None) -> dict[str, Any]:
        found = sorted(
            groups.get(layer, []),
            key=lambda x: (ranked.get(x["severity"], 0), x["findingArn"]),
        )
        counts: dict[str, int] = {}
        for x in found:
            if x["status"] == "ACTIVE":
                counts[x["severity"]] = counts.get(x["severity"], 0) + 1
        return {
            "layerDigest": layer,
            "layerIndex": index,
            "findingSeverityCounts": counts,
            "findingCount": len(found),
            "findings": found,
        }

    out = [entry(layer, i) for layer, i in order.items()]
    if None in groups:
        out.append(entry(None, None))
    return {"repositoryName": repository, "imageDigest": digest, "layers": out}
