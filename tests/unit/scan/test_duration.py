"""Re-scan duration: when an image stops being monitored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dockwatch.scan.config import ScanConfigInvalid
from dockwatch.scan.duration import EcrConfiguration, PullDateMode, parse_ecr_configuration

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def ago(d: float) -> datetime:
    return NOW - timedelta(days=d)


def test_lifetime_never_expires() -> None:
    assert not EcrConfiguration().expired(ago(5000), None, NOW)


@pytest.mark.parametrize(
    ("duration", "pushed", "expired"),
    [
        ("DAYS_30", 29.9, False),
        ("DAYS_30", 30.1, True),
        ("DAYS_3", 3.5, True),
        ("DAYS_180", 179, False),
    ],
)
def test_push_date(duration: str, pushed: float, expired: bool) -> None:
    assert EcrConfiguration(duration).expired(ago(pushed), None, NOW) is expired


def test_pull_date_keeps_a_pulled_image_monitored() -> None:
    cfg = EcrConfiguration("DAYS_14", "DAYS_30", PullDateMode.LAST_PULL_DATE)
    assert not cfg.expired(ago(100), ago(10), NOW)  # pulled recently: still monitored
    assert cfg.expired(ago(100), ago(40), NOW)  # both past
    assert cfg.expired(ago(100), None, NOW)  # never pulled: counted from the push
    assert not cfg.expired(ago(10), ago(400), NOW)  # pushed recently


def test_parse_and_wire() -> None:
    cfg = parse_ecr_configuration(
        {
            "rescanDuration": "DAYS_90",
            "pullDateRescanDuration": "DAYS_7",
            "pullDateRescanMode": "LAST_IN_USE_AT",
        }
    )
    assert cfg.to_wire() == {
        "rescanDuration": "DAYS_90",
        "pullDateRescanDuration": "DAYS_7",
        "pullDateRescanMode": "LAST_IN_USE_AT",
    }
    assert (
        parse_ecr_configuration({"rescanDuration": "DAYS_30"}, cfg).pull_date_rescan_duration
        == "DAYS_7"
    )
    for bad in (
        {"rescanDuration": "DAYS_31"},
        {"pullDateRescanDuration": "LIFETIME"},
        {"pullDateRescanMode": "X"},
    ):
        with pytest.raises(ScanConfigInvalid):
            parse_ecr_configuration(bad)
