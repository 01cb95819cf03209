"""The ignore-list format: `{"ignore": [{"id", "package"?, "reason"?, "expires"?}]}`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .rules import IgnoreFile, IgnoreFileError, IgnoreRule, PackageSelector

_ONE_DAY = timedelta(days=1)


def _expiry(value: object, source: str, where: str) -> datetime | None:
    """The first instant an entry no longer applies: a date means through that day (UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC) + _ONE_DAY
    if isinstance(value, str):
        try:
            return _expiry(date.fromisoformat(value.strip()), source, where)
        except ValueError:
            pass
        try:
            return _expiry(
                datetime.fromisoformat(value.strip().replace("Z", "+00:00")), source, where
            )
        except ValueError:
            pass
    raise IgnoreFileError(source, f"{where}: expires {value!r} is not a date (YYYY-MM-DD)")


def parse_ignore_list(doc: Mapping[str, Any], source: str, now: datetime) -> IgnoreFile:
    entries = doc.get("ignore")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise IgnoreFileError(source, "`ignore` must be a list of entries")
    rules: list[IgnoreRule] = []
    warnings: list[str] = []
    for number, entry in enumerate(entries, 1):
        where = f"entry {number}"
        if not isinstance(entry, Mapping):
            raise IgnoreFileError(source, f"{where} is not a mapping")
        vuln = entry.get("id")
        if not isinstance(vuln, str) or not vuln.strip():
            raise IgnoreFileError(source, f"{where} has no `id` (a vulnerability id)")
        unknown = set(entry) - {"id", "package", "reason", "expires"}
        if unknown:
            raise IgnoreFileError(source, f"{where} has unknown keys: {', '.join(sorted(unknown))}")
        selectors: tuple[PackageSelector, ...] = ()
        package = entry.get("package")
        if package is not None:
            if not isinstance(package, str) or not package.strip():
                raise IgnoreFileError(source, f"{where}: `package` must be a name or a purl")
            try:
                selectors = (PackageSelector.parse(package),)
            except ValueError as exc:
                raise IgnoreFileError(source, f"{where}: bad purl {package!r}: {exc}") from exc
        reason = entry.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise IgnoreFileError(source, f"{where}: `reason` must be text")
        expires = _expiry(entry.get("expires"), source, where)
        if expires is not None and now >= expires:
            warnings.append(
                f"ignore file {source}: {where} ({vuln.strip()}) expired on "
                f"{entry.get('expires')} and no longer applies"
            )
            continue
        rules.append(
            IgnoreRule(
                frozenset({vuln.strip().upper()}),
                selectors,
                (reason or "").strip() or "listed in the ignore file",
                f"ignore list entry {number}",
                expires=expires,
            )
        )
    return IgnoreFile("ignore list", tuple(rules), tuple(warnings))
