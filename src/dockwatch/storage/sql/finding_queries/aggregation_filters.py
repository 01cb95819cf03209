"""Which findings an aggregation counts, and its request filters as SQL on a grouped source.

By default only ACTIVE findings count; a request's `filterCriteria` chooses statuses and
severities (which the rollup tables keep) and may narrow by anything else (then the counts are
grouped from `findings` with the criteria applied). String filters follow the criteria rules
(`model.finding_criteria`); `imageTags` holds when some tag matches (NOT_EQUALS: no tag equals).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, FromClause, and_, exists, literal, or_, select

from dockwatch.model.finding_aggregation import AggregationQuery
from dockwatch.model.finding_criteria import (
    FINDING_TYPE,
    RESOURCE_TYPE,
    SEVERITIES,
    STATUSES,
    Comparison,
    Criteria,
    DateFilter,
    StringFilter,
    strings_hold,
)
from dockwatch.model.identity import Tenant, repository_arn
from dockwatch.storage.sql import tables as t
from dockwatch.value_class import frozen

from .criteria_sql import combine, compare, prefix

ROLLUP_KEYS = frozenset({"findingStatus", "severity", "findingType", "resourceType"})
"""Criteria keys the rollups answer (status and severity are rollup columns, the others are
constants for container-image findings)."""


IMAGE_KEYS = frozenset(
    {
        "awsAccountId",
        "ecrImageRegistry",
        "ecrImageRepositoryName",
        "ecrImageHash",
        "ecrImageTags",
        "resourceId",
    }
)
"""Criteria keys that name images, not findings: every finding of an image (and every row
of the image and layer rollups, which carry the image's columns) answers them alike."""


DETAIL_KEYS = frozenset(
    {
        "awsAccountId",
        "ecrImageRegistry",
        "vulnerabilityId",
        "vulnerabilitySource",
        "fixAvailable",
        "exploitAvailable",
        "title",
        "vendorSeverity",
        "relatedVulnerabilities",
    }
)
"""String criteria keys `finding_detail_counts` answers: columns it keeps (the tenant, the
vulnerability, fix and exploit, source) or content of the detail it names. With the scores
(`inspectorScore`, `epssScore`) and package filters (details naming such a package), any
criterion on what a finding is, not on which image has it or when."""


TENANT_KEYS = frozenset({"awsAccountId", "ecrImageRegistry"})
"""Criteria keys on the tenant's own columns (both image and detail keys)."""


FIX_KEYS = frozenset({"fixAvailable", "exploitAvailable"})
"""String criteria keys `finding_image_fix_counts` and `finding_layer_counts` key on beside the
images' columns."""


@frozen
class Counted:
    """Which findings count: statuses and severities (None: all) and the rest of the criteria
    (None when the rollups can answer)."""

    statuses: frozenset[str]
    severities: frozenset[str] | None
    rest: Criteria | None
    excluded: bool

    def _images_and(
        self,
        strings: frozenset[str] = frozenset(),
        dates: frozenset[str] = frozenset(),
        numbers: frozenset[str] = frozenset(),
    ) -> bool:
        """Whether the rest of the criteria only choose images (string keys of `IMAGE_KEYS`,
        `ecrImagePushedAt`), and beside them keys of `strings` and `dates` and exactly the
        number filters `numbers`: what an image rollup keyed by those columns answers."""
        rest = self.rest
        return (
            rest is not None
            and set(rest.strings) <= IMAGE_KEYS | ROLLUP_KEYS | strings
            and set(rest.dates) <= {"ecrImagePushedAt"} | dates
            and set(rest.numbers) == numbers
            and not rest.packages
        )

    @property
    def images_only(self) -> bool:
        """Whether the rest of the criteria only choose images (the image and layer rollups
        answer them, filtered by the same condition on their own columns)."""
        return self._images_and()

    @property
    def images_and_fixes_only(self) -> bool:
        """Whether the rest of the criteria only choose images and fix or exploit availability
        (the image fix and layer rollups answer them, filtered on their own columns)."""
        return self._images_and(strings=FIX_KEYS)

    @property
    def images_and_scores_only(self) -> bool:
        """Whether the rest of the criteria only choose images and `inspectorScore` ranges (the
        image score rollup answers them, filtered on its own columns)."""
        return self._images_and(numbers=frozenset({"inspectorScore"}))

    def image_score_criteria(self) -> Criteria:
        """The criteria that choose images and Inspector scores."""
        chosen = self.image_criteria()
        rest = self.rest if self.rest is not None else Criteria()
        scores = {k: v for k, v in rest.numbers.items() if k == "inspectorScore"}
        return Criteria(strings=chosen.strings, dates=chosen.dates, numbers=scores)

    @property
    def images_and_first_seen_only(self) -> bool:
        """Whether the rest of the criteria only choose images and one `firstObservedAt` range
        (the image first-seen rollup answers them with the findings of the range's cut
        seconds, `aggregation_first_seen.py`)."""
        first = self.rest.dates.get("firstObservedAt", ()) if self.rest is not None else ()
        return len(first) == 1 and self._images_and(dates=frozenset({"firstObservedAt"}))

    @property
    def details_and_images_only(self) -> bool:
        """Whether the rest of the criteria only choose images and read detail-level columns
        (`aggregation_images.py` answers the image grains: the detail criteria choose details,
        the image criteria filter its rows)."""
        rest = self.rest
        return (
            rest is not None
            and set(rest.strings) <= DETAIL_KEYS | IMAGE_KEYS | ROLLUP_KEYS
            and set(rest.dates) <= {"ecrImagePushedAt"}
        )

    def image_fix_criteria(self) -> Criteria:
        """The criteria that choose images, fix and exploit availability."""
        chosen = self.image_criteria()
        rest = self.rest if self.rest is not None else Criteria()
        fixes = {k: v for k, v in rest.strings.items() if k in FIX_KEYS}
        return Criteria(strings={**chosen.strings, **fixes}, dates=chosen.dates)

    @property
    def details_only(self) -> bool:
        """Whether the rest of the criteria only read detail-level columns (the detail rollup
        answers them, filtered by the same condition on its own columns)."""
        rest = self.rest
        return (
            rest is not None and set(rest.strings) <= DETAIL_KEYS | ROLLUP_KEYS and not rest.dates
        )

    def detail_criteria(self) -> Criteria:
        """The criteria on detail-level columns (status and severity are the counts' own;
        finding and resource types are constants, already applied as `excluded`)."""
        rest = self.rest if self.rest is not None else Criteria()
        strings = {k: v for k, v in rest.strings.items() if k in DETAIL_KEYS}
        return Criteria(strings=strings, numbers=dict(rest.numbers), packages=rest.packages)

    def image_criteria(self) -> Criteria:
        """The criteria that choose images (status and severity are the counts' own)."""
        rest = self.rest if self.rest is not None else Criteria()
        strings = {k: v for k, v in rest.strings.items() if k in IMAGE_KEYS}
        dates = {k: v for k, v in rest.dates.items() if k == "ecrImagePushedAt"}
        return Criteria(strings=strings, dates=dates)


def counted(criteria: Criteria) -> Counted:
    """What `criteria` (an aggregation's filterCriteria) lets count."""
    status_filters = criteria.strings.get("findingStatus")
    statuses = (
        frozenset(s for s in STATUSES if strings_hold(status_filters, s))
        if status_filters is not None
        else frozenset({"ACTIVE"})
    )
    severity_filters = criteria.strings.get("severity")
    severities = (
        None
        if severity_filters is None
        else frozenset(s for s in SEVERITIES if strings_hold(severity_filters, s))
    )
    excluded = not strings_hold(
        criteria.strings.get("findingType", ()), FINDING_TYPE
    ) or not strings_hold(criteria.strings.get("resourceType", ()), RESOURCE_TYPE)
    simple = (
        set(criteria.strings) <= ROLLUP_KEYS
        and not criteria.dates
        and not criteria.numbers
        and not criteria.packages
    )
    return Counted(statuses, severities, None if simple else criteria, excluded)


def _sql(filters: Sequence[StringFilter], column: ColumnElement[Any]) -> ColumnElement[bool]:
    return combine(filters, lambda s: compare(column, s))


def _tagged(filters: Sequence[StringFilter], source: FromClause) -> ColumnElement[bool]:
    tg = t.tags

    def has(f: StringFilter) -> ColumnElement[bool]:
        test = (
            prefix(tg.c.name, f.value)
            if f.comparison is Comparison.PREFIX
            else tg.c.name == f.value
        )
        found = exists(
            select(literal(1)).where(
                tg.c.repository_id == source.c.repository_id,
                tg.c.manifest_digest == source.c.digest,
                test,
            )
        )
        return ~found if f.comparison is Comparison.NOT_EQUALS else found

    return combine(filters, has)


def _in_use(filters: Sequence[DateFilter], source: FromClause) -> ColumnElement[bool]:
    """lastInUseAt: dockwatch has no runtime reports, so (as for the LAST_IN_USE_AT re-scan
    mode) the last pull stands for it; an image never pulled matches no range."""
    m = t.manifests
    ranges = []
    for d in filters:
        parts: list[ColumnElement[bool]] = [m.c.last_pulled_at.is_not(None)]
        if d.start is not None:
            parts.append(m.c.last_pulled_at >= d.start)
        if d.end is not None:
            parts.append(m.c.last_pulled_at <= d.end)
        ranges.append(and_(*parts))
    return exists(
        select(literal(1)).where(
            m.c.repository_id == source.c.repository_id,
            m.c.digest == source.c.digest,
            or_(*ranges),
        )
    )


def request_filters(
    query: AggregationQuery, source: FromClause, tenant: Tenant
) -> list[ColumnElement[bool]]:
    """The aggregation request's own filters on the grouped `source`."""
    c = source.c
    out: list[ColumnElement[bool]] = []
    columns = {
        "repositories": "repository_name",
        "imageShas": "digest",
        "layerHashes": "layer_hash",
        "packageNames": "package_name",
        "titles": "title",
        "vulnerabilityIds": "vulnerability_id",
    }
    for name, filters in query.strings.items():
        if name in columns:
            out.append(_sql(filters, c[columns[name]]))
        elif name == "imageTags":
            out.append(_tagged(filters, source))
        elif name == "resourceIds":
            arn = literal(repository_arn(tenant, "")) + c.repository_name + "/" + c.digest
            out.append(_sql(filters, arn))
    if query.last_in_use:
        out.append(_in_use(query.last_in_use, source))
    return out
