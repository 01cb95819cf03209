"""Aggregation counts grouped from `findings` itself, for criteria the rollups do not keep.

Each source has the columns of its rollup table (`rollups.py`), counted over the findings that
meet `where`, so `aggregation_sql` reads either alike. Two things keep them fast on SQLite:

- findings sharing a detail (every image of a base layer) collapse to one row per (status,
  detail) before the join with package names or titles: about a tenth of the rows;
- the grouping and the tenant and status terms are hidden from indexes (unary `+`): grouping
  along `ix_findings_status_rank` or `ix_findings_image` would read the table once per finding
  in index order (6.4 s for PACKAGE with fixAvailable=YES at 1,000,000 findings) where a plain
  scan reads it once in order; an index of a selective criterion (an image, a vulnerability, a
  package) still drives the query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, literal, select

from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import tables as t

from .criteria_sql import unindexed


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _severity_counts() -> list[ColumnElement[int]]:
    f = t.findings
    return [_count_if(f.c.severity == s.upper()).label(s) for s in t.ROLLUP_SEVERITIES]


class Grouped:
    """The grouped sources for one tenant on one dialect."""

    def __init__(self, dialect: str, tenant: Tenant, where: Sequence[ColumnElement[bool]]) -> None:
        self.sqlite = dialect == "sqlite"
        self.tenant = tenant
        self.where = list(where)

    def _key(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return unindexed(column) if self.sqlite else column

    def _tenant(self) -> list[ColumnElement[Any]]:
        return [
            literal(self.tenant.account_id).label("account_id"),
            literal(self.tenant.region).label("region"),
        ]

    def image(self) -> Select[Any]:
        """`finding_image_counts` columns."""
        f = t.findings
        keys = [self._key(c) for c in (f.c.status, f.c.repository_id, f.c.digest)]
        return (
            select(
                *self._tenant(),
                *[
                    k.label(n)
                    for k, n in zip(keys, ("status", "repository_id", "digest"), strict=True)
                ],
                func.max(f.c.repository_name).label("repository_name"),
                _count_if(f.c.fix_available == "YES").label("fix_yes"),
                _count_if(f.c.fix_available == "PARTIAL").label("fix_partial"),
                _count_if(f.c.exploit_available == "YES").label("exploit_yes"),
                *_severity_counts(),
            )
            .where(*self.where)
            .group_by(*keys)
        )

    def account(self) -> Select[Any]:
        """The image columns' counts summed per status (ACCOUNT and FINDING_TYPE group the
        tenant's findings as one: grouping them by image first cost half as much again)."""
        f = t.findings
        status = self._key(f.c.status)
        return (
            select(
                *self._tenant(),
                status.label("status"),
                _count_if(f.c.fix_available == "YES").label("fix_yes"),
                _count_if(f.c.fix_available == "PARTIAL").label("fix_partial"),
                _count_if(f.c.exploit_available == "YES").label("exploit_yes"),
                *_severity_counts(),
            )
            .where(*self.where)
            .group_by(status)
        )

    def _per_detail(self, image: bool = False) -> Any:
        """Counts per (status, vulnerability, detail[, image]) as a CTE."""
        f = t.findings
        columns = [f.c.status, f.c.vulnerability_id, f.c.detail_ref]
        if image:
            columns += [f.c.repository_id, f.c.digest]
        keys = [self._key(c) for c in columns]
        extra = [func.max(f.c.repository_name).label("repository_name")] if image else []
        return (
            select(
                *[k.label(c.name) for k, c in zip(keys, columns, strict=True)],
                *extra,
                *_severity_counts(),
            )
            .where(*self.where)
            .group_by(*keys)
            .cte("per_detail")
        )

    @staticmethod
    def _sums(per: Any) -> list[ColumnElement[int]]:
        return [func.sum(per.c[s]).label(s) for s in t.ROLLUP_SEVERITIES]

    def package(self) -> Select[Any]:
        """`finding_package_counts` columns: a finding counts once per package name."""
        dp = t.detail_packages
        per = self._per_detail()
        names = (
            select(dp.c.detail_ref, dp.c.name)
            .where(dp.c.detail_ref.in_(select(per.c.detail_ref)))
            .distinct()
            .subquery("names")
        )
        return (
            select(
                *self._tenant(), per.c.status, names.c.name.label("package_name"), *self._sums(per)
            )
            .join_from(per, names, names.c.detail_ref == per.c.detail_ref)
            .group_by(per.c.status, names.c.name)
        )

    def title(self) -> Select[Any]:
        """`finding_title_counts` columns (the detail's title, else the vulnerability id)."""
        d = t.finding_details
        per = self._per_detail()
        title = func.coalesce(d.c.title, per.c.vulnerability_id)
        return (
            select(
                *self._tenant(),
                per.c.status,
                per.c.vulnerability_id,
                title.label("title"),
                *self._sums(per),
            )
            .join_from(per, d, d.c.ref == per.c.detail_ref)
            .group_by(per.c.status, per.c.vulnerability_id, title)
        )

    def layer(self) -> Select[Any]:
        """`finding_layer_counts` columns: a finding counts once per layer of its packages."""
        dp = t.detail_packages
        per = self._per_detail(image=True)
        layers = (
            select(dp.c.detail_ref, dp.c.source_layer_hash.label("layer_hash"))
            .where(
                dp.c.source_layer_hash.is_not(None),
                dp.c.detail_ref.in_(select(per.c.detail_ref)),
            )
            .distinct()
            .subquery("layers")
        )
        return (
            select(
                *self._tenant(),
                per.c.status,
                per.c.repository_id,
                per.c.digest,
                layers.c.layer_hash,
                func.max(per.c.repository_name).label("repository_name"),
                *self._sums(per),
            )
            .join_from(per, layers, layers.c.detail_ref == per.c.detail_ref)
            .group_by(per.c.status, per.c.repository_id, per.c.digest, layers.c.layer_hash)
        )
