"""Reading findings: ListFindings pages (keyset, sorted), one finding, an image's findings by layer.

Pages are keyset-paginated on (sort key, finding id), so page 1,000 costs what page 1 costs: the
query seeks into an index on `(account_id, region, <sort key>, id)` (see `tables.findings`) and
reads one page plus one row. The `nextToken` carries the last row's key, the sort and a digest
of the criteria, with a checksum: a token altered, truncated, or reused with another query or
sort is refused with a clear error instead of silently returning the wrong page.

Each finding is shaped by `shape.inspector_finding`; a page loads its details in one query and
the tags and push times of its images in one more.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    false,
    func,
    literal,
    literal_column,
    select,
    tuple_,
)

from dockwatch.errors import InvalidInput, NotFound
from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc, as_utc_or_none
from dockwatch.storage.sql import finding_repo
from dockwatch.storage.sql import tables as t

from .criteria import Comparison, Criteria, sql_filter
from .shape import ImageContext, inspector_finding

MAX_RESULTS = 1000
DEFAULT_RESULTS = 100

SEVERITY_RANK = {
    "CRITICAL": 5,
    "HIGH": 4,
    "MEDIUM": 3,
    "LOW": 2,
    "INFORMATIONAL": 1,
    "UNTRIAGED": 0,
}
"""Severity order for SEVERITY sorting (DESC puts CRITICAL first)."""

NO_SCORE = -1.0
"""Sort value of a missing score (`score_key`, `epss_key`: scores sort below every real one)."""


class SortField(StrEnum):
    """Inspector's `SortField` values that apply to ECR image findings."""

    SEVERITY = "SEVERITY"
    FIRST_OBSERVED_AT = "FIRST_OBSERVED_AT"
    LAST_OBSERVED_AT = "LAST_OBSERVED_AT"
    FINDING_STATUS = "FINDING_STATUS"
    ECR_IMAGE_PUSHED_AT = "ECR_IMAGE_PUSHED_AT"
    ECR_IMAGE_REPOSITORY_NAME = "ECR_IMAGE_REPOSITORY_NAME"
    VULNERABILITY_ID = "VULNERABILITY_ID"
    VULNERABILITY_SOURCE = "VULNERABILITY_SOURCE"
    INSPECTOR_SCORE = "INSPECTOR_SCORE"
    EPSS_SCORE = "EPSS_SCORE"


class SortOrder(StrEnum):
    """`SortCriteria.sortOrder`."""

    ASC = "ASC"
    DESC = "DESC"


@dataclass(frozen=True, slots=True)
class Sort:
    """A listing order; the finding id breaks ties in the same direction."""

    field: SortField = SortField.SEVERITY
    order: SortOrder = SortOrder.DESC


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


# --- sort keys ---------------------------------------------------------------------------------

f = t.findings
m = t.manifests
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def sort_key(field: SortField) -> ColumnElement[Any]:
    """The SQL value a listing sorts on (written as the matching index spells it)."""
    if field is SortField.SEVERITY:
        return f.c.severity_rank
    if field is SortField.FIRST_OBSERVED_AT:
        return f.c.first_observed_at
    if field is SortField.LAST_OBSERVED_AT:
        return f.c.last_observed_at
    if field is SortField.FINDING_STATUS:
        return f.c.status
    if field is SortField.ECR_IMAGE_REPOSITORY_NAME:
        return f.c.repository_name
    if field is SortField.VULNERABILITY_ID:
        return f.c.vulnerability_id
    if field is SortField.VULNERABILITY_SOURCE:
        return f.c.source
    if field is SortField.INSPECTOR_SCORE:
        return f.c.score_key
    if field is SortField.EPSS_SCORE:
        return f.c.epss_key
    return func.coalesce(m.c.image_pushed_at, _EPOCH)


def _key_value(field: SortField, row: Any) -> Any:
    """The sort value of a fetched row, as JSON (times as ISO 8601)."""
    if field is SortField.SEVERITY:
        return SEVERITY_RANK.get(row.severity, 0)
    if field is SortField.FIRST_OBSERVED_AT:
        return as_utc(row.first_observed_at).isoformat()
    if field is SortField.LAST_OBSERVED_AT:
        return as_utc(row.last_observed_at).isoformat()
    if field is SortField.FINDING_STATUS:
        return row.status
    if field is SortField.ECR_IMAGE_REPOSITORY_NAME:
        return row.repository_name
    if field is SortField.VULNERABILITY_ID:
        return row.vulnerability_id
    if field is SortField.VULNERABILITY_SOURCE:
        return row.source
    if field is SortField.INSPECTOR_SCORE:
        return NO_SCORE if row.inspector_score is None else float(row.inspector_score)
    if field is SortField.EPSS_SCORE:
        return NO_SCORE if row.epss_score is None else float(row.epss_score)
    pushed = as_utc_or_none(row.image_pushed_at)
    return (pushed or _EPOCH).isoformat()


_TIME_FIELDS = (
    SortField.FIRST_OBSERVED_AT,
    SortField.LAST_OBSERVED_AT,
    SortField.ECR_IMAGE_PUSHED_AT,
)
_NUMBER_FIELDS = (SortField.SEVERITY, SortField.INSPECTOR_SCORE, SortField.EPSS_SCORE)


def _bind_value(field: SortField, value: Any) -> Any:
    """A token's sort value back into a query parameter (raises ValueError when malformed)."""
    if field in _TIME_FIELDS:
        if not isinstance(value, str):
            raise ValueError("time expected")
        return datetime.fromisoformat(value).astimezone(UTC)
    if field in _NUMBER_FIELDS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("number expected")
        return int(value) if field is SortField.SEVERITY else float(value)
    if not isinstance(value, str):
        raise ValueError("string expected")
    return value


# --- tokens ------------------------------------------------------------------------------------

_TOKEN_KEY = b"dockwatch/findings/nextToken/v1"
"""Keys the token checksum. Not a secret: a token only says where a page starts within the
caller's own query, so the checksum guards against corruption and edits, not disclosure."""


def criteria_digest(criteria: Criteria) -> str:
    """A short digest of a criteria, binding a token to the query that issued it."""
    doc = json.dumps(criteria.to_wire(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def encode_token(sort: Sort, criteria: Criteria, key: Any, finding_id: str) -> str:
    """An opaque, checksummed `nextToken`."""
    body = json.dumps(
        {"v": 1, "s": sort.field.value, "o": sort.order.value, "q": criteria_digest(criteria),
         "k": key, "i": finding_id},
        separators=(",", ":"),
    ).encode()  # fmt: skip
    mac = hmac.new(_TOKEN_KEY, body, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(mac + body).decode().rstrip("=")


def decode_token(token: str, sort: Sort, criteria: Criteria) -> tuple[Any, str]:
    """(sort value, finding id) a token resumes after; InvalidInput for anything else."""
    bad = InvalidInput("nextToken is not a token this listing issued (or it was altered)")
    if not isinstance(token, str) or len(token) > 4096:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise bad from None
    mac, body = raw[:12], raw[12:]
    if not hmac.compare_digest(mac, hmac.new(_TOKEN_KEY, body, hashlib.sha256).digest()[:12]):
        raise bad
    try:
        doc = json.loads(body)
        if doc.get("v") != 1 or not isinstance(doc.get("i"), str):
            raise bad
    except ValueError:
        raise bad from None
    if doc.get("s") != sort.field.value or doc.get("o") != sort.order.value:
        raise InvalidInput(
            "nextToken belongs to another sort order: repeat sortBy and sortOrder unchanged"
        )
    if doc.get("q") != criteria_digest(criteria):
        raise InvalidInput("nextToken belongs to other filter criteria: repeat them unchanged")
    try:
        value = _bind_value(sort.field, doc.get("k"))
    except (ValueError, TypeError):
        raise bad from None
    return value, doc["i"]


# --- shaping -----------------------------------------------------------------------------------


_ROW = (
    f.c.id, f.c.account_id, f.c.region, f.c.repository_id, f.c.repository_name, f.c.digest,
    f.c.vulnerability_id, f.c.status, f.c.severity, f.c.fix_available, f.c.inspector_score,
    f.c.epss_score, f.c.source, f.c.first_observed_at, f.c.last_observed_at, f.c.updated_at,
    f.c.detail_ref, f.c.suppressed_by,
)  # fmt: skip


def image_contexts(
    conn: Connection, resources: Iterable[tuple[int, str, str]]
) -> dict[tuple[int, str], ImageContext]:
    """Tags and push time of image resources ((repository id, name, digest)), in one query."""
    wanted = sorted(set(resources))
    tags: dict[tuple[int, str], list[str]] = {}
    pushed: dict[tuple[int, str], datetime | None] = {}
    tg = t.tags
    for start in range(0, len(wanted), 400):
        part = [(r, d) for r, _, d in wanted[start : start + 400]]
        rows = conn.execute(
            select(m.c.repository_id, m.c.digest, m.c.image_pushed_at, tg.c.name)
            .select_from(
                m.outerjoin(
                    tg,
                    and_(
                        tg.c.repository_id == m.c.repository_id, tg.c.manifest_digest == m.c.digest
                    ),
                )
            )
            .where(tuple_(m.c.repository_id, m.c.digest).in_(part))
        )
        for row in rows:
            key = (row.repository_id, row.digest)
            pushed[key] = as_utc_or_none(row.image_pushed_at)
            if row.name is not None:
                tags.setdefault(key, []).append(row.name)
    return {
        (r, d): ImageContext(n, d, tuple(sorted(tags.get((r, d), ()))), pushed.get((r, d)))
        for r, n, d in wanted
    }


def shape_rows(
    conn: Connection, tenant: Tenant, rows: Sequence[Any], *, include_evidence: bool = False
) -> list[dict[str, Any]]:
    """Inspector `Finding`s for `findings` rows (details and image contexts read in bulk)."""
    details = finding_repo.load_details(conn, [r.detail_ref for r in rows])
    images = image_contexts(conn, [(r.repository_id, r.repository_name, r.digest) for r in rows])
    out = []
    for r in rows:
        finding = inspector_finding(
            tenant,
            images[(r.repository_id, r.digest)],
            finding_id=r.id,
            status=r.status,
            severity=r.severity,
            fix_available=r.fix_available,
            first_observed_at=as_utc(r.first_observed_at),
            last_observed_at=as_utc(r.last_observed_at),
            updated_at=as_utc(r.updated_at),
            detail=details.get(r.detail_ref, {}),
            include_evidence=include_evidence,
        )
        if r.suppressed_by:
            finding["suppressedBy"] = r.suppressed_by
        out.append(finding)
    return out


# --- listing -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing."""

    findings: list[dict[str, Any]]
    next_token: str | None


_PINNED_BY = {
    SortField.SEVERITY: "severity",
    SortField.FINDING_STATUS: "findingStatus",
    SortField.ECR_IMAGE_REPOSITORY_NAME: "ecrImageRepositoryName",
    SortField.VULNERABILITY_ID: "vulnerabilityId",
    SortField.VULNERABILITY_SOURCE: "vulnerabilitySource",
}


def _pinned(criteria: Criteria, sort: Sort) -> tuple[Any, Any] | None:
    """(lowest, highest) sort value the criteria allow, when EQUALS filters pin the sort key:
    `severity = CRITICAL` sorted by severity seeks to rank 5 instead of walking to it."""
    key = _PINNED_BY.get(sort.field)
    filters = criteria.strings.get(key or "", ())
    if not filters or any(s.comparison is not Comparison.EQUALS for s in filters):
        return None
    if sort.field is SortField.SEVERITY:
        ranks = [SEVERITY_RANK.get(s.value, 0) for s in filters]
        return min(ranks), max(ranks)
    values = [s.value for s in filters]
    return min(values), max(values)


_ANCHORS = ("vulnerabilityId", "ecrImageHash", "findingArn", "resourceId", "ecrImageTags")


def _anchored(criteria: Criteria, sort: Sort) -> str | None:
    """Which EQUALS filter names so few findings that reading them through its own index and
    sorting beats walking the sort index: "column" (an index on the tenant and the column),
    "subquery" (tags, packages: `IN (subquery)` through another table), or None. SQLite's
    planner, without statistics, takes every index on the tenant as equally selective and
    would otherwise walk the sort index."""
    names = list(_ANCHORS)
    if sort.field not in (SortField.SEVERITY, SortField.ECR_IMAGE_REPOSITORY_NAME):
        names.append("ecrImageRepositoryName")  # (repository, severity) has its own index
    if sort.field is SortField.VULNERABILITY_ID:
        names.remove("vulnerabilityId")  # pinned: the sort index seeks to it

    def equals(name: str) -> bool:
        filters = criteria.strings.get(name, ())
        return bool(filters) and all(s.comparison is Comparison.EQUALS for s in filters)

    if any(equals(n) for n in names if n != "ecrImageTags"):
        return "column"
    if equals("ecrImageTags") or (
        bool(criteria.packages)
        and all(
            p.name is not None and p.name.comparison is Comparison.EQUALS for p in criteria.packages
        )
    ):
        return "subquery"
    return None


def _unindexed(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The column behind SQLite's unary `+`: same value, but no index may serve it."""
    name = getattr(column, "name", None)
    table = getattr(getattr(column, "table", None), "name", None)
    if not isinstance(name, str) or not isinstance(table, str):
        return column
    return literal_column(f"+{table}.{name}", column.type)


def list_findings(
    conn: Connection,
    tenant: Tenant,
    criteria: Criteria,
    sort: Sort = Sort(),
    limit: int = DEFAULT_RESULTS,
    token: str | None = None,
) -> Page:
    """One page of the tenant's findings meeting `criteria`, in `sort` order."""
    key: ColumnElement[Any] = sort_key(sort.field)
    fid: ColumnElement[Any] = f.c.id
    account: ColumnElement[Any] = f.c.account_id
    region: ColumnElement[Any] = f.c.region
    anchor = _anchored(criteria, sort) if conn.dialect.name == "sqlite" else None
    if anchor is not None:
        key, fid = _unindexed(key), _unindexed(fid)
    if anchor == "subquery":  # no index on the tenant either: the subquery drives the query
        account, region = _unindexed(account), _unindexed(region)
    query = select(*_ROW)
    if sort.field is SortField.ECR_IMAGE_PUSHED_AT:
        query = query.add_columns(m.c.image_pushed_at).select_from(
            f.outerjoin(m, and_(m.c.repository_id == f.c.repository_id, m.c.digest == f.c.digest))
        )
    query = query.where(account == tenant.account_id, region == tenant.region, sql_filter(criteria))
    asc = sort.order is SortOrder.ASC
    low: tuple[Any, str] | None = None  # exclusive bounds on (key, id)
    high: tuple[Any, str] | None = None
    pinned = _pinned(criteria, sort)
    if pinned is not None:  # ids are non-empty: (k, "") < every (k, id) < (k, "\uffff...")
        low, high = (pinned[0], ""), (pinned[1], _TOP)
    if token:
        value, after = decode_token(token, sort, criteria)
        if asc:
            low = (value, after) if low is None else max(low, (value, after))
        else:
            high = (value, after) if high is None else min(high, (value, after))
    if pinned is not None and pinned[0] == pinned[1]:
        # one key value: equality plus a range on the id, which (tenant, key, id) serves
        query = query.where(key == literal(pinned[0], key.type))
        if low is not None and low[1]:
            query = query.where(fid > low[1]) if low[0] == pinned[0] else query.where(false())
        if high is not None and high[1] != _TOP:
            query = query.where(fid < high[1]) if high[0] == pinned[0] else query.where(false())
    else:
        if low is not None:
            query = query.where(
                tuple_(key, fid) > tuple_(literal(low[0], key.type), literal(low[1]))
            )
        if high is not None:
            query = query.where(
                tuple_(key, fid) < tuple_(literal(high[0], key.type), literal(high[1]))
            )
    query = query.order_by(*((key.asc(), fid.asc()) if asc else (key.desc(), fid.desc())))
    rows = conn.execute(query.limit(limit + 1)).all()
    page = rows[:limit]
    next_token = None
    if len(rows) > limit:
        last = page[-1]
        next_token = encode_token(sort, criteria, _key_value(sort.field, last), last.id)
    return Page(shape_rows(conn, tenant, page), next_token)


_TOP = "\U0010ffff"
"""Above every finding id (ids are hex)."""


def parse_finding_ref(tenant: Tenant, ref: str) -> str:
    """A finding id from an id or a finding ARN of this tenant (NotFound otherwise)."""
    prefix = f"arn:aws:inspector2:{tenant.region}:{tenant.account_id}:finding/"
    if ref.startswith("arn:"):
        if not ref.startswith(prefix):
            raise NotFound(f"no finding {ref}")
        ref = ref[len(prefix) :]
    if not ref or len(ref) > 64:
        raise NotFound(f"no finding {ref}")
    return ref


def get_finding(conn: Connection, tenant: Tenant, ref: str) -> dict[str, Any]:
    """One finding, with its match evidence, by id or ARN."""
    finding_id = parse_finding_ref(tenant, ref)
    row = conn.execute(
        select(*_ROW).where(
            f.c.id == finding_id, f.c.account_id == tenant.account_id, f.c.region == tenant.region
        )
    ).first()
    if row is None:
        raise NotFound(f"no finding {ref}")
    return shape_rows(conn, tenant, [row], include_evidence=True)[0]


def _order_of(layers: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for digest in layers:
        out.setdefault(digest, len(out))
    return out


def findings_by_layer(
    conn: Connection,
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
    rows = conn.execute(
        select(*_ROW)
        .where(
            f.c.repository_id == repository_id,
            f.c.digest == digest,
            f.c.account_id == tenant.account_id,
            f.c.region == tenant.region,
            sql_filter(criteria),
        )
        .order_by(f.c.vulnerability_id, f.c.id)
    ).all()
    shaped = shape_rows(conn, tenant, rows)
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
