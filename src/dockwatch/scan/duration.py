"""The re-scan duration (`ecrConfiguration`): how long an image stays monitored.

An image of a continuously scanned repository stops being monitored (INACTIVE with reason
SCAN_ELIGIBILITY_EXPIRED) when the days since its last push exceed `rescanDuration` and, where a
pull-date duration is set, the days since its last pull exceed that too (Inspector's
EcrRescanDurationState doc). LAST_IN_USE_AT is accepted and, until in-use reports exist, counted
from the last pull. An image never pulled counts from its last push.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from dockwatch.value_class import frozen

from .config import ScanConfigInvalid

#: push-date durations of the current botocore model (EcrRescanDuration)
RESCAN_DURATIONS = (
    "LIFETIME",
    "DAYS_3",
    "DAYS_7",
    "DAYS_14",
    "DAYS_30",
    "DAYS_60",
    "DAYS_90",
    "DAYS_180",
)
#: pull-date durations (EcrPullDateRescanDuration)
PULL_DATE_DURATIONS = ("DAYS_3", "DAYS_7", "DAYS_14", "DAYS_30", "DAYS_60", "DAYS_90", "DAYS_180")


class PullDateMode(StrEnum):
    """What a pull-date duration counts from."""

    LAST_PULL_DATE = "LAST_PULL_DATE"
    LAST_IN_USE_AT = "LAST_IN_USE_AT"


def days(value: str) -> int | None:
    """`DAYS_30` -> 30; `LIFETIME` -> None."""
    return None if value == "LIFETIME" else int(value.removeprefix("DAYS_"))


@frozen
class EcrConfiguration:
    """Inspector's `ecrConfiguration`."""

    rescan_duration: str = "LIFETIME"
    pull_date_rescan_duration: str | None = None
    pull_date_rescan_mode: PullDateMode = PullDateMode.LAST_PULL_DATE

    def expired(
        self, last_pushed_at: datetime, last_pulled_at: datetime | None, now: datetime
    ) -> bool:
        """Whether an image with these times is past its re-scan duration at `now`."""
        push_days = days(self.rescan_duration)
        if push_days is None:
            return False
        if now - last_pushed_at <= timedelta(days=push_days):
            return False
        if self.pull_date_rescan_duration is None:
            return True
        pull_days = days(self.pull_date_rescan_duration)
        assert pull_days is not None
        pulled = last_pulled_at or last_pushed_at
        return now - pulled > timedelta(days=pull_days)

    def to_wire(self) -> dict[str, Any]:
        """The `ecrConfiguration` object."""
        out: dict[str, Any] = {"rescanDuration": self.rescan_duration}
        if self.pull_date_rescan_duration is not None:
            out["pullDateRescanDuration"] = self.pull_date_rescan_duration
            out["pullDateRescanMode"] = self.pull_date_rescan_mode.value
        return out


def parse_ecr_configuration(
    body: Mapping[str, Any], current: EcrConfiguration | None = None
) -> EcrConfiguration:
    """Validate an `ecrConfiguration` update; fields left out keep their current value."""
    if not isinstance(body, Mapping):
        raise ScanConfigInvalid("ecrConfiguration", "must be an object")
    base = current or EcrConfiguration()
    rescan = body.get("rescanDuration", base.rescan_duration)
    if rescan not in RESCAN_DURATIONS:
        raise ScanConfigInvalid(
            "ecrConfiguration.rescanDuration",
            f"must be one of {'|'.join(RESCAN_DURATIONS)}, got {rescan!r}",
        )
    pull = body.get("pullDateRescanDuration", base.pull_date_rescan_duration)
    if pull is not None and pull not in PULL_DATE_DURATIONS:
        raise ScanConfigInvalid(
            "ecrConfiguration.pullDateRescanDuration",
            f"must be one of {'|'.join(PULL_DATE_DURATIONS)}, got {pull!r}",
        )
    mode = body.get("pullDateRescanMode", base.pull_date_rescan_mode.value)
    if mode not in PullDateMode.__members__:
        raise ScanConfigInvalid(
            "ecrConfiguration.pullDateRescanMode",
            f"must be LAST_PULL_DATE or LAST_IN_USE_AT, got {mode!r}",
        )
    return EcrConfiguration(rescan, pull, PullDateMode(mode))
