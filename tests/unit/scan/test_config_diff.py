"""Configuration changes that move repositories to another scan frequency, and the "ECR Scan
Resource Change" events they send (Amazon ECR User Guide, "Event for a repository scan frequency
change"; REFERENCE.md §2.5). Expected frequencies follow ECR's documented rules (CONTINUOUS_SCAN
wins where both rules match, unmatched repositories are MANUAL under ENHANCED, no rules scan
everything continuously), written out by hand for each case."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dockwatch.app import Services, build
from dockwatch.config import Settings
from dockwatch.scan.config import ScanFrequency, parse_configuration
from dockwatch.scan.config_diff import REPOSITORIES_PER_EVENT, FrequencyChange, frequency_changes
from tests.unit.events.capture import Capture

M, P, C = ScanFrequency.MANUAL, ScanFrequency.SCAN_ON_PUSH, ScanFrequency.CONTINUOUS_SCAN


def _rule(frequency: str, *filters: str) -> dict[str, Any]:
    return {
        "scanFrequency": frequency,
        "repositoryFilters": [{"filter": f, "filterType": "WILDCARD"} for f in filters],
    }


BASIC = {"scanType": "BASIC", "rules": []}
ENHANCED_ALL = {"scanType": "ENHANCED", "rules": []}
ENHANCED_PROD = {
    "scanType": "ENHANCED",
    "rules": [_rule("CONTINUOUS_SCAN", "prod"), _rule("SCAN_ON_PUSH", "*")],
}


def _changes(
    before: dict[str, Any], after: dict[str, Any], repos: list[tuple[str, bool, bool]]
) -> list[tuple[str, ScanFrequency, ScanFrequency]]:
    got = frequency_changes(parse_configuration(before), parse_configuration(after), repos)
    return [(c.repository, c.frequency, c.previous) for c in got]


def test_turning_enhanced_on_moves_every_repository() -> None:
    repos = [("b", False, False), ("a", True, True)]
    # BASIC: the scan-on-push flag decides; ENHANCED without rules: all continuous
    assert _changes(BASIC, ENHANCED_ALL, repos) == [("a", C, P), ("b", C, M)]
    assert _changes(ENHANCED_ALL, BASIC, repos) == [("a", P, C), ("b", M, C)]


def test_rules_move_only_the_repositories_whose_frequency_changes() -> None:
    repos = [(n, False, False) for n in ("team/prod-api", "team/dev", "prod")]
    assert _changes(ENHANCED_ALL, ENHANCED_PROD, repos) == [("team/dev", P, C)]
    only_dev = {"scanType": "ENHANCED", "rules": [_rule("SCAN_ON_PUSH", "dev")]}
    assert _changes(ENHANCED_PROD, only_dev, repos) == [("prod", M, C), ("team/prod-api", M, C)]
    assert _changes(ENHANCED_PROD, ENHANCED_PROD, repos) == []


def test_a_scan_on_push_flag_counts_under_basic_only() -> None:
    assert _changes(BASIC, BASIC, [("a", False, True)]) == [("a", P, M)]
    assert _changes(ENHANCED_ALL, ENHANCED_ALL, [("a", False, True)]) == []
    assert FrequencyChange("a", P, M).previous is M


# --- the events a subscriber receives ------------------------------------------------------------


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = build(Settings(data_dir=tmp_path / "d", test_mode=True))
    yield built
    built.close()


def _add_repositories(services: Services, names: list[str]) -> None:
    now = datetime(2031, 1, 1, tzinfo=UTC)
    with services.store.write() as uow:
        for name in names:
            uow.registry.ensure_repository(services.tenant, name, now)


def _entry(services: Services, name: str, frequency: str, previous: str) -> dict[str, str]:
    t = services.tenant
    return {
        "repository-name": name,
        "repository-arn": f"arn:aws:ecr:{t.region}:{t.account_id}:repository/{name}",
        "scan-frequency": frequency,
        "previous-scan-frequency": previous,
    }


def test_a_configuration_change_sends_the_repositories_it_moves(services: Services) -> None:
    _add_repositories(services, ["svc/prod-api", "svc/dev"])
    capture = Capture(services, ["ScanFrequencyChanged"])
    services.scanner.put_scanning_configuration(ENHANCED_PROD)
    [body] = capture.take()
    assert (body["source"], body["detail-type"]) == ("aws.ecr", "ECR Scan Resource Change")
    assert body["resources"] == []
    assert body["detail"] == {
        "action-type": "SCAN_FREQUENCY_CHANGE",
        "repositories": [
            _entry(services, "svc/dev", "SCAN_ON_PUSH", "MANUAL"),
            _entry(services, "svc/prod-api", "CONTINUOUS_SCAN", "MANUAL"),
        ],
        "resource-type": "REPOSITORY",
        "scan-type": "ENHANCED",
    }
    # the same configuration again moves nothing and sends nothing
    services.scanner.put_scanning_configuration(ENHANCED_PROD)
    assert capture.take() == []
    only_prod = {"scanType": "ENHANCED", "rules": [_rule("CONTINUOUS_SCAN", "prod")]}
    services.scanner.put_scanning_configuration(only_prod)
    [body] = capture.take()
    assert body["detail"]["repositories"] == [_entry(services, "svc/dev", "MANUAL", "SCAN_ON_PUSH")]


def test_the_scan_on_push_flag_sends_a_change_under_basic(services: Services) -> None:
    _add_repositories(services, ["flag/app"])
    capture = Capture(services, ["ScanFrequencyChanged"])
    services.scanner.set_scan_on_push("flag/app", True)
    services.scanner.set_scan_on_push("flag/app", True)  # no change the second time
    [body] = capture.take()
    assert body["detail"]["scan-type"] == "BASIC"
    assert body["detail"]["repositories"] == [
        _entry(services, "flag/app", "SCAN_ON_PUSH", "MANUAL")
    ]
    services.scanner.put_scanning_configuration(ENHANCED_ALL)
    capture.take()
    services.scanner.set_scan_on_push("flag/app", False)  # ENHANCED ignores the flag
    assert capture.take() == []


def test_a_change_over_many_repositories_is_split(services: Services) -> None:
    names = [f"many/r{i:03d}" for i in range(REPOSITORIES_PER_EVENT + 1)]
    _add_repositories(services, names)
    capture = Capture(services, ["ScanFrequencyChanged"])
    services.scanner.put_scanning_configuration(ENHANCED_ALL)
    bodies = capture.take()
    sizes = [len(b["detail"]["repositories"]) for b in bodies]
    assert sizes == [REPOSITORIES_PER_EVENT, 1]
    listed = [r["repository-name"] for b in bodies for r in b["detail"]["repositories"]]
    assert listed == names
