"""Which images a proposed re-scan duration would expire: by push age, by pull age where a
pull-date duration is set, only under ENHANCED and only for continuously scanned repositories;
nothing is saved."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from dockwatch.clock import ControlledClock
from dockwatch.scan.config import ScanConfigInvalid
from dockwatch.scan.expiry_preview import preview_expiry
from tests.builders.layers import make_image
from tests.builders.push import OCI_MANIFEST, push_image
from tests.unit.api.conftest import make_services
from tests.unit.api.console.conftest import python_layer


def test_push_and_pull_ages_decide_and_nothing_is_saved(tmp_path: Path) -> None:
    services = make_services(tmp_path)
    try:
        clock = services.clock
        assert isinstance(clock, ControlledClock)
        assert preview_expiry(services.scanner, {"rescanDuration": "DAYS_3"}).images == ()
        services.scanner.put_scanning_configuration(
            {"scanType": "ENHANCED", "rules": [{"scanFrequency": "CONTINUOUS_SCAN",
             "repositoryFilters": [{"filter": "prod-*", "filterType": "WILDCARD"}]},
             {"scanFrequency": "SCAN_ON_PUSH",
             "repositoryFilters": [{"filter": "dev-*", "filterType": "WILDCARD"}]}]}
        )  # fmt: skip
        for name in ("prod-pulled", "prod-idle", "dev-idle"):
            push_image(services, name, make_image([python_layer("p", "1.0", name)]), tag="v1")
        services.worker.drain()
        clock.advance(timedelta(days=20))
        services.registry.manifests.get("prod-pulled", "v1", [OCI_MANIFEST], record_pull=True)
        # push date only: both prod images are 20 days past their push (dev-* is scan on push)
        push_only = preview_expiry(services.scanner, {"rescanDuration": "DAYS_14"})
        assert [i.repository for i in push_only.images] == ["prod-idle", "prod-pulled"]
        # with a pull date: the image pulled just now stays monitored
        with_pull = preview_expiry(
            services.scanner,
            {"rescanDuration": "DAYS_14", "pullDateRescanDuration": "DAYS_7"},
        )
        assert [i.repository for i in with_pull.images] == ["prod-idle"]
        assert preview_expiry(services.scanner, {"rescanDuration": "DAYS_30"}).images == ()
        assert services.scanner.settings()[1].rescan_duration == "LIFETIME"
        with pytest.raises(ScanConfigInvalid):
            preview_expiry(services.scanner, {"rescanDuration": "DAYS_4"})
    finally:
        services.close()
