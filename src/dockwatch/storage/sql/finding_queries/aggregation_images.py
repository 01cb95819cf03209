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

Only criteria that read nothing of a finding but its detail ref take this path: fix and exploit
availability, scores, the vulnerability id and source are the finding's own columns (the detail
and image fix rollups answer most of those). The image key is 12 hex digits of the digest
(`schema/findings.py`), so the path is also taken only where no two images of a repository share
one: `detail_index_source` checks that for the tenant first (one grouped read of the image
rollup) and answers None otherwise; the grouped scan of `aggregation_scan.py` answers then.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

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

from dockwatch.model.finding_sort import SEVERITY_RANK
from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.schema.findings import IMAGE_KEY_LENGTH, IMAGE_KEY_START, STATUS_CODES

from .aggregation_filters import TENANT_KEYS, Counted
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
        .where(
            images.c.account_id == tenant.account_id,
            images.c.region == tenant.region,
            images.c.status.in_(statuses),
        )
        .group_by(images.c.status, images.c.repository_id, _image_key(images.c.digest))
        .having(func.count() > 1)
        .limit(1)
    )
    return conn.execute(clash).first() is None


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
    read a finding's own columns (fix, exploit, scores, the vulnerability, its source) or two
    image keys clash."""
    detail = count.detail_criteria()
    # the tenant's keys are image criteria too, applied to the result with the others
    strings = {k: v for k, v in detail.strings.items() if k not in TENANT_KEYS}
    chosen = sql_filter(dataclasses.replace(detail, strings=strings))
    if not reads_detail_ref_only(chosen):
        return None
    statuses = sorted(count.statuses)
    image_rows = rollup(t.finding_image_counts)
    if not image_keys_unique(conn, tenant, statuses, image_rows):
        return None
    f = t.findings
    # the index holds the status as a code; one status (ACTIVE, by default) is a constant,
    # not a sort key (grouping on it cost 40 ms more at 147,000 findings); each group counts
    # one severity rank (a column per severity summed by CASE cost 20 ms more), the source's
    # severity columns spread it
    codes = [STATUS_CODES[s] for s in statuses]
    status: ColumnElement[str] = (
        literal(statuses[0])
        if len(statuses) == 1
        else case({n: s for s, n in STATUS_CODES.items()}, value=f.c.status_code)
    )
    keys: list[ColumnElement[Any]] = [f.c.repository_id, f.c.image_key]
    counted = [f.c.severity_rank, func.count().label("n")]
    if grain == "layer":
        dp = t.detail_packages
        layers = (
            select(dp.c.detail_ref, dp.c.source_layer_hash.label("layer_hash"))
            .where(dp.c.source_layer_hash.is_not(None), on_source(chosen, dp))
            .distinct()
            .subquery("layers")
        )
        keys.append(layers.c.layer_hash)
        # the join keeps the chosen details' findings alone
        per = select(status.label("status"), *keys, *counted)
        per = per.join_from(f, layers, layers.c.detail_ref == f.c.detail_ref)
    else:
        per = select(status.label("status"), *keys, *counted).where(chosen)
    if len(statuses) > 1:
        keys.insert(0, f.c.status_code)
    grouped = (
        per.where(f.c.status_code.in_(codes)).group_by(*keys, f.c.severity_rank).subquery("per")
    )
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
                _image_key(image_rows.c.digest) == g.image_key,
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
