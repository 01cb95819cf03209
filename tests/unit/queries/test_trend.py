"""Open findings per day: findings opened by a scan and closed by expiry, counted per day
from their lifecycle times and checked against the days worked out by hand."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from dockwatch.clock import ControlledClock
from dockwatch.queries.trend import open_findings_by_day
from tests.builders.layers import make_image
from tests.builders.push import push_image
from tests.unit.api.conftest import make_services
from tests.unit.api.console.conftest import import_advisories, osv, python_layer


def test_findings_count_from_first_seen_until_closed(tmp_path: Path) -> None:
    services = make_services(tmp_path)
    try:
        clock = services.clock
        assert isinstance(clock, ControlledClock)
        import_advisories(
            services,
            tmp_path / "osv",
            [osv("PYSEC-8-1", "alpha", "2.0", "CRITICAL"), osv("PYSEC-8-2", "beta", "2.0", "LOW")],
        )
        services.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
        image = make_image([python_layer("alpha", "1.0", "1"), python_layer("beta", "1.0", "2")])
        push_image(services, "app", image, tag="v1")
        services.worker.drain()
        opened = clock.now()
        clock.advance(timedelta(days=5))
        services.scanner.put_ecr_configuration({"rescanDuration": "DAYS_3"})
        services.worker.periodic()  # the expiry pass closes the image's findings now
        closed = clock.now()
        with services.store.read() as uow:
            trend = open_findings_by_day(uow.finding_queries, services.tenant, closed, days=10)
    finally:
        services.close()
    assert len(trend.days) == 10 and trend.days[-1] == closed.date()
    # open from the day of the scan up to the day before the expiry (at its end, closed)
    expected = [1 if opened.date() <= d < closed.date() else 0 for d in trend.days]
    assert list(trend.counts["CRITICAL"]) == expected
    assert list(trend.counts["LOW"]) == expected
    assert list(trend.counts["HIGH"]) == [0] * 10
    assert [trend.total(i) for i in range(10)] == [2 * n for n in expected]
    assert sum(expected) == 5
