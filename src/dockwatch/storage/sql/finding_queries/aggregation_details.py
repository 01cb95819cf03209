"""Aggregation counts summed from `finding_detail_counts`, for criteria on what a finding is.

A filter on fix or exploit availability, scores, the vulnerability, its source, title or
packages reads only columns the detail rollup keeps per (status, detail): the rows are filtered
there (a few hundred thousand at most, one per detail) and their counts summed, instead of
reading every matching finding (1,000,000 findings share about 100,000 details). Each source has
the columns of the rollup table its grain reads otherwise, so `aggregation_sql` reads either
alike. Grains of an image (REPOSITORY, AWS_ECR_CONTAINER, IMAGE_LAYER) cannot come from here:
the detail rollup does not know which images hold a detail.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    String,
    Text,
    case,
    exists,
    func,
    literal,
    literal_column,
    select,
    text,
)

from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import tables as t

_SEVERITIES = t.ROLLUP_SEVERITIES


class FromDetails:
    """Sources for one tenant: the detail rollup rows of `statuses` meeting `where` (conditions
    on the columns of `rows`: `finding_detail_counts`, or on PostgreSQL that table with the
    count log's rows not folded yet, `pg_rollups.current`)."""

    def __init__(
        self,
        tenant: Tenant,
        statuses: Collection[str],
        where: Sequence[ColumnElement[bool]],
        rows: FromClause = t.finding_detail_counts,
    ) -> None:
        r = self.rows = rows
        self.tenant = tenant
        self.where = [
            r.c.account_id == tenant.account_id,
            r.c.region == tenant.region,
            r.c.status.in_(sorted(statuses)),
            *where,
        ]

    def _tenant(self) -> list[ColumnElement[Any]]:
        return [
            literal(self.tenant.account_id).label("account_id"),
            literal(self.tenant.region).label("region"),
        ]

    def account(self, severities: Collection[str] | None) -> Select[Any]:
        """Image-rollup columns summed per status; fix and exploit counts of the chosen
        `severities` only (None: all), which the image rollup cannot split."""
        r = self.rows
        chosen = [s for s in _SEVERITIES if severities is None or s.upper() in severities]
        total: ColumnElement[int] = sum((r.c[s] for s in chosen[1:]), r.c[chosen[0]])

        def when(condition: ColumnElement[bool]) -> ColumnElement[int]:
            return func.coalesce(func.sum(case((condition, total), else_=0)), 0)

        return (
            select(
                *self._tenant(),
                r.c.status,
                when(r.c.fix_available == "YES").label("fix_yes"),
                when(r.c.fix_available == "PARTIAL").label("fix_partial"),
                when(r.c.exploit_available == "YES").label("exploit_yes"),
                *[func.sum(r.c[s]).label(s) for s in _SEVERITIES],
            )
            .where(*self.where)
            .group_by(r.c.status)
        )

    def _sums(self) -> list[ColumnElement[int]]:
        r = self.rows
        return [func.sum(r.c[s]).label(s) for s in _SEVERITIES]

    def package(self) -> Select[Any]:
        """`finding_package_counts` columns: a finding counts once per package name (its
        detail's first package row of each name). Joined row by row by detail key through the
        covering `ix_detail_packages_detail_name` (detail, name, seq), which also answers the
        first-of-its-name check: no table row is read (1,000,000 findings, fixAvailable=YES:
        250 -> 100 ms of CPU). A join with the detail's distinct names as a subquery made
        SQLite scan one materialized set per row of the other (minutes at 100,000 details)."""
        # aliases: the criteria's own subqueries on `detail_packages` (package filters) must not
        # correlate with the joined rows
        r, dp = self.rows, t.detail_packages.alias("names")
        again = t.detail_packages.alias("again")
        first = ~exists(
            select(literal(1)).where(
                again.c.detail_ref == dp.c.detail_ref,
                again.c.seq < dp.c.seq,
                again.c.name == dp.c.name,
            )
        )
        return (
            select(*self._tenant(), r.c.status, dp.c.name.label("package_name"), *self._sums())
            .join_from(r, dp, dp.c.detail_ref == r.c.detail_ref)
            .where(*self.where, first)
            .group_by(r.c.status, dp.c.name)
        )

    def title(self, dialect: str) -> Select[Any]:
        """`finding_title_counts` columns (the detail's title, else the vulnerability id). On
        SQLite the title comes from the covering `ix_finding_details_title`, named (INDEXED
        BY) since without statistics the planner takes the primary key's index, which reads
        each detail's whole ~1.5 KB row (1,000,000 findings, fixAvailable=YES: 270 -> 95 ms)."""
        r = self.rows
        if dialect == "sqlite":
            titled = text("finding_details AS titled INDEXED BY ix_finding_details_title")
            ref: ColumnElement[str] = literal_column("titled.ref", String)
            stored: ColumnElement[str] = literal_column("titled.title", Text)
            joined = select().select_from(r).select_from(titled).where(ref == r.c.detail_ref)
        else:
            d = t.finding_details.alias("titled")
            stored = d.c.title
            joined = select().select_from(r.join(d, d.c.ref == r.c.detail_ref))
        title = func.coalesce(stored, r.c.vulnerability_id)
        return (
            joined.add_columns(
                *self._tenant(),
                r.c.status,
                r.c.vulnerability_id,
                title.label("title"),
                *self._sums(),
            )
            .where(*self.where)
            .group_by(r.c.status, r.c.vulnerability_id, title)
        )
