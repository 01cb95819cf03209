"""Open findings per day by severity over the last days, for the console's dashboard chart.

Each day is counted at its end (UTC midnight that closes it; today at `now`), from the findings'
lifecycle times (`first_observed_at`, `closed_at`), so the last point equals the findings open
now. One pass over the findings answers every day (`FindingQueryRepo.open_counts_at`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from dockwatch.findings.build import SEVERITY_ORDER
from dockwatch.model.identity import Tenant
from dockwatch.storage.finding_query_repo import FindingQueryRepo
from dockwatch.value_class import frozen

MAX_DAYS = 366


@frozen
class OpenTrend:
    """`days[i]` and, per severity (most severe first), the findings open at its end."""

    days: tuple[date, ...]
    counts: dict[str, tuple[int, ...]]

    def total(self, i: int) -> int:
        """All severities on day `i`."""
        return sum(series[i] for series in self.counts.values())


def open_findings_by_day(
    repo: FindingQueryRepo, tenant: Tenant, now: datetime, days: int = 30
) -> OpenTrend:
    """The last `days` days ending today (UTC)."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be 1..{MAX_DAYS}")
    now = now.astimezone(UTC)
    today = now.date()
    series = tuple(today - timedelta(days=days - 1 - i) for i in range(days))
    instants = [min(now, datetime.combine(d + timedelta(days=1), time(), UTC)) for d in series]
    raw = repo.open_counts_at(tenant, instants)
    order = [*SEVERITY_ORDER, *sorted(set(raw) - set(SEVERITY_ORDER))]
    counts = {s: tuple(raw.get(s, [0] * days)) for s in order}
    return OpenTrend(series, counts)
