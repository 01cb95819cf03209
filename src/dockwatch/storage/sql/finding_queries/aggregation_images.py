"""Image-grain aggregation counts from `ix_findings_detail_image`, for criteria on a finding's detail.

REPOSITORY, AWS_ECR_CONTAINER and IMAGE_LAYER filtered by a field of the detail document (vendor
severity, related vulnerabilities, title, packages) cannot be summed from a rollup: the detail
rollup does not know which images hold a detail, and an image-by-detail rollup would be as long
as `findings`. Grouping `findings` reads the table once per matching finding (at 1,000,000
findings, REPOSITORY with vendorSeverity HIGH: 166,000 findings of shared base layers, 765 ms of
CPU on SQLite). Here the criteria choose details (`detail_ref IN (...)`), and the covering index
(detail ref, status code, repository id, image key, severity rank) yields their findings,
grouped per image and severity without reading the table; each image's digest is joined back
from the image rollup (its row of the same status), its repository's name and tenant from
`repositories`.

Criteria that read a finding's own columns (fix and exploit availability, scores, the
vulnerability id and source) take this path too where they hold for every finding of a detail
alike: the detail rollup keys its rows by those columns, so its rows meeting the criteria name
the details chosen, and the path is taken only when none of those details has another row (of
the statuses counted) that does not meet them (`details_meeting`; one read of the rollup rows
grouped per detail: at 1,000,000 findings, 90,000 rows, about 30 ms of CPU); otherwise the
grouped scan answers. The image key is 12 hex digits of the digest (`schema/findings.py`), so
the path is also taken only where no two images of a repository share one: `detail_index_source` checks that for the tenant first (one grouped read of the image
rollup) and answers None otherwise; the grouped scan of `aggregation_scan.py` answers then.

Each group's digest is joined back from the image rollup's row of the same repository and key.
On SQLite, where every such digest starts with `sha256:` (checked with the keys), that row is
found by a range of the rollup's primary key (`sha256:<key>` up to the key's next value) rather
than by reading each row of the repository: at 1,000,000 findings, 18,000 groups of IMAGE_LAYER
with vendorSeverity HIGH read 18,000 rows instead of 360,000 (about 25 ms of CPU less).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    FromClause,
    Table,
    and_,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.sql import visitors

from dockwatch.model.finding_criteria import Criteria
from dockwatch.model.finding_sort import SEVERITY_RANK
from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.schema.findings import IMAGE_KEY_LENGTH, IMAGE_KEY_START

from .aggregation_filters import TENANT_KEYS, Counted
from .aggregation_image_lists import per_image
from .criteria_sql import on_source, sql_filter

Rollup = Callable[[Table], FromClause]
"""A rollup table as of the statement (PostgreSQL adds the count log's rows: `pg_rollups`)."""


def _image_key(digest: ColumnElement[str]) -> ColumnElement[str]:
    return func.substr(digest, IMAGE_KEY_START, IMAGE_KEY_LENGTH)


def image_keys_unique(
    conn: Connection, tenant: Tenant, statuses: Sequence[str], images: FromClause
) -> bool:
    """Whether no two of the tenant's images with findings of one of `statuses` share a
    repository and an image key (`images`: the image rollup, one row per status and image;
    images apart in status are told apart by the join on it)."""
    clash = (
        select(literal(1))
        .select_from(images)
        .where(*_of_tenant(images, tenant, statuses))
        .group_by(images.c.status, images.c.repository_id, _image_key(images.c.digest))
        .having(func.count() > 1)
        .limit(1)
    )
    return conn.execute(clash).first() is None


SHA256 = "sha256:"
_AFTER_KEY = "~"
"""Above every character a digest may hold after its algorithm (`model/digest.py`: letters,
digits, `=`, `_`, `-`), so `sha256:<key>` to `sha256:<key>~` spans the digests of that key."""


def digests_sha256(
    conn: Connection, tenant: Tenant, statuses: Sequence[str], images: FromClause
) -> bool:
    """Whether every digest of the tenant's images with findings of `statuses` starts with
    `sha256:` (then an image key's digest is found by a range of the rollup's key)."""
    other = (
        select(literal(1))
        .select_from(images)
        .where(
            *_of_tenant(images, tenant, statuses),
            func.substr(images.c.digest, 1, len(SHA256)) != SHA256,
        )
        .limit(1)
    )
    return conn.execute(other).first() is None


def _of_tenant(
    rows: FromClause, tenant: Tenant, statuses: Sequence[str]
) -> list[ColumnElement[bool]]:
    return [
        rows.c.account_id == tenant.account_id,
        rows.c.region == tenant.region,
        rows.c.status.in_(statuses),
    ]


def details_meeting(
    conn: Connection, tenant: Tenant, statuses: Sequence[str], criteria: Criteria, rollup: Rollup
) -> ColumnElement[bool] | None:
    """`detail_ref IN (...)` (on `tables.findings`): the details whose findings of `statuses`
    meet `criteria` (on a detail's columns and a finding's own: fix, exploit, scores, the
    vulnerability), or None when some of those details also have findings that do not meet
    them (the detail rollup's rows, keyed by each of those columns, tell them apart)."""
    rows = rollup(t.finding_detail_counts)
    condition = on_source(sql_filter(criteria), rows)
    tenant_rows = _of_tenant(rows, tenant, statuses)
    # a row counts when the condition holds (not when it is false or NULL); a detail with rows
    # of both kinds is mixed. Grouped, not `IN (the chosen) AND NOT condition`: at 1,000,000
    # findings (fixAvailable=YES) 395 against 871 million instructions on SQLite, and
    # PostgreSQL, misjudging the CASE's selectivity, nested a loop over that (91 ms at 100,000)
    meets = case((condition, 1), else_=0)
    mixed = (
        select(literal(1))
        .select_from(rows)
        .where(*tenant_rows)
        .group_by(rows.c.detail_ref)
        .having(and_(func.max(meets) == 1, func.min(meets) == 0))
        .limit(1)
    )
    if conn.execute(mixed).first() is not None:
        return None
    chosen = select(rows.c.detail_ref).where(*tenant_rows, condition)
    return t.findings.c.detail_ref.in_(chosen)


def reads_detail_ref_only(condition: ColumnElement[bool]) -> bool:
    """Whether `condition` (on `tables.findings`) reads no column of a finding but its detail
    ref: then it holds for every finding of a detail alike, and the index answers it."""
    read = {
        element.name
        for element in visitors.iterate(condition)
        if isinstance(element, Column) and element.table is t.findings
    }
    return read <= {"detail_ref"}


def detail_index_source(
    conn: Connection, grain: str, count: Counted, tenant: Tenant, rollup: Rollup
) -> FromClause | None:
    """The image or layer rollup's columns for the findings of `count` (its detail criteria;
    the caller applies its image criteria to the result), or None when the detail criteria
    read a finding's own columns (fix, exploit, scores, the vulnerability, its source) that
    the findings of one chosen detail differ in, or two image keys clash."""
    detail = count.detail_criteria()
    # the tenant's keys are image criteria too, applied to the result with the others
    strings = {k: v for k, v in detail.strings.items() if k not in TENANT_KEYS}
    criteria = dataclasses.replace(detail, strings=strings)
    statuses = sorted(count.statuses)
    image_rows = rollup(t.finding_image_counts)
    if not image_keys_unique(conn, tenant, statuses, image_rows):
        return None
    chosen = sql_filter(criteria)
    if not reads_detail_ref_only(chosen):
        if conn.dialect.name == "postgresql" and grain != "layer":
            # PostgreSQL's grouped scan of the findings (hashed, in parallel) was the faster
            # there: REPOSITORY inspectorScore >= 7 at 100,000 findings 145-155 ms against
            # 214 (load average 8); IMAGE_LAYER's joins every finding with its layers
            # (fixAvailable=YES: 920-995 ms against 360-380)
            return None
        meeting = details_meeting(conn, tenant, statuses, criteria, rollup)
        if meeting is None:
            return None
        chosen = meeting
    grouped = per_image(conn.dialect.name, grain, chosen, statuses)
    g = grouped.c
    severities = [
        case((g.severity_rank == SEVERITY_RANK[name.upper()], g.n), else_=0).label(name)
        for name in t.ROLLUP_SEVERITIES
    ]
    r = t.repositories
    layer = [g.layer_hash] if grain == "layer" else []
    return (
        select(
            literal(tenant.account_id).label("account_id"),
            literal(tenant.region).label("region"),
            g.status,
            g.repository_id,
            image_rows.c.digest,
            *layer,
            r.c.name.label("repository_name"),
            *severities,
        )
        .join_from(
            grouped,
            image_rows,
            and_(
                # the image rollup's row of the same status: its key's prefix, then the digest
                image_rows.c.account_id == tenant.account_id,
                image_rows.c.region == tenant.region,
                image_rows.c.status == g.status,
                image_rows.c.repository_id == g.repository_id,
                *_digest_of(conn, tenant, statuses, image_rows, g.image_key),
            ),
        )
        .join(
            r,
            and_(
                r.c.id == g.repository_id,
                r.c.account_id == tenant.account_id,
                r.c.region == tenant.region,
            ),
        )
        .subquery("src")
    )


def _digest_of(
    conn: Connection,
    tenant: Tenant,
    statuses: Sequence[str],
    images: FromClause,
    key: ColumnElement[str],
) -> list[ColumnElement[bool]]:
    """The join of an image key to its digest in the image rollup: on SQLite, where every
    digest is a sha256 one, by a range of the rollup's key (a seek, not a read of every image
    of the repository), and the key compared; elsewhere the key compared (PostgreSQL hashes)."""
    same = _image_key(images.c.digest) == key
    if conn.dialect.name != "sqlite" or not digests_sha256(conn, tenant, statuses, images):
        return [same]
    low = literal(SHA256) + key
    return [images.c.digest >= low, images.c.digest < low + _AFTER_KEY, same]
