"""The in-memory matcher: whether an Inspector-shaped finding (`shape.inspector_finding`) meets a
`Criteria`. Suppression rules run it on findings that are not stored yet; the SQL store's
`sql_filter` says the same thing (a property test holds them to it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from dockwatch.model.finding_criteria import Criteria, strings_hold
from dockwatch.model.times import as_utc


def _as_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    return as_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _image(finding: Mapping[str, Any]) -> Mapping[str, Any]:
    resources = finding.get("resources") or [{}]
    return resources[0].get("details", {}).get("awsEcrContainerImage") or {}


def _resource(finding: Mapping[str, Any]) -> Mapping[str, Any]:
    resources = finding.get("resources") or [{}]
    found: Mapping[str, Any] = resources[0]
    return found


def _pvd(finding: Mapping[str, Any]) -> Mapping[str, Any]:
    found: Mapping[str, Any] = finding.get("packageVulnerabilityDetails") or {}
    return found


_STRING_FIELDS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "findingArn": lambda f: f.get("findingArn"),
    "awsAccountId": lambda f: f.get("awsAccountId"),
    "findingType": lambda f: f.get("type"),
    "severity": lambda f: f.get("severity"),
    "findingStatus": lambda f: f.get("status"),
    "title": lambda f: f.get("title"),
    "resourceType": lambda f: _resource(f).get("type"),
    "resourceId": lambda f: _resource(f).get("id"),
    "ecrImageRegistry": lambda f: _image(f).get("registry"),
    "ecrImageRepositoryName": lambda f: _image(f).get("repositoryName"),
    "ecrImageTags": lambda f: list(_image(f).get("imageTags") or []),
    "ecrImageHash": lambda f: _image(f).get("imageHash"),
    "vulnerabilityId": lambda f: _pvd(f).get("vulnerabilityId"),
    "vulnerabilitySource": lambda f: _pvd(f).get("source") or None,
    "vendorSeverity": lambda f: _pvd(f).get("vendorSeverity"),
    "relatedVulnerabilities": lambda f: list(_pvd(f).get("relatedVulnerabilities") or []),
    "fixAvailable": lambda f: f.get("fixAvailable"),
    "exploitAvailable": lambda f: f.get("exploitAvailable"),
}
_DATE_FIELDS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "firstObservedAt": lambda f: f.get("firstObservedAt"),
    "lastObservedAt": lambda f: f.get("lastObservedAt"),
    "updatedAt": lambda f: f.get("updatedAt"),
    "ecrImagePushedAt": lambda f: _image(f).get("pushedAt"),
}
_NUMBER_FIELDS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "inspectorScore": lambda f: f.get("inspectorScore"),
    "epssScore": lambda f: (f.get("epss") or {}).get("score"),
}


def matches(criteria: Criteria, finding: Mapping[str, Any]) -> bool:
    """Whether an Inspector-shaped finding (`shape.inspector_finding`) meets the criteria."""
    for key, strings in criteria.strings.items():
        if not strings_hold(strings, _STRING_FIELDS[key](finding)):
            return False
    for key, dates in criteria.dates.items():
        moment = _as_time(_DATE_FIELDS[key](finding))
        if not any(f.test(moment) for f in dates):
            return False
    for key, numbers in criteria.numbers.items():
        raw = _NUMBER_FIELDS[key](finding)
        number = None if raw is None else float(raw)
        if not any(f.test(number) for f in numbers):
            return False
    if criteria.packages:
        packages = _pvd(finding).get("vulnerablePackages") or []
        if not any(p.test(pkg) for p in criteria.packages for pkg in packages):
            return False
    return True
