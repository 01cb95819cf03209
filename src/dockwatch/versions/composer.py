"""Composer (Packagist) versions: `VersionParser::normalize`, then PHP `version_compare` order.

Composer normalises `v1.2` to `1.2.0.0`, `1.0-RC1` to `1.0.0.0-RC1`, `1.0.0-b2` to
`1.0.0.0-beta2`, `1.0-pl1` to `1.0.0.0-patch1` and `1.0-dev` to `1.0.0.0-dev`, accepts date
versions (`20100102`, `2010.01.02`) and drops `+build` metadata. Comparison is PHP's
`version_compare` on the normalised string: numeric parts numerically, and the special forms
`dev < alpha < beta < RC < (a number) < patch`; when one side runs out, a following number wins
and a following special form compares with "a number". Branch names (`dev-main`, `1.x-dev`)
have no order and are rejected. Written here because no Python library implements it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from dockwatch.versions.scheme import BaseScheme

logger = logging.getLogger(__name__)

_MODIFIER = r"[._-]?(?:(?P<stab>stable|beta|b|RC|alpha|a|patch|pl|p)(?P<stabnum>(?:[.-]?\d++)*+)?)?(?P<dev>[.-]?dev)?"
_CLASSICAL = re.compile(r"v?(\d{1,5})(\.\d++)?(\.\d++)?(\.\d++)?" + _MODIFIER, re.IGNORECASE)
_DATE = re.compile(
    r"v?(?P<date>\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3}){0,2})" + _MODIFIER, re.IGNORECASE
)
_STABILITY = {
    "a": "alpha",
    "alpha": "alpha",
    "b": "beta",
    "beta": "beta",
    "rc": "RC",
    "p": "patch",
    "pl": "patch",
    "patch": "patch",
}
#: php_version_compare special forms; a number is 4.
_SPECIAL = {"dev": 0, "alpha": 1, "beta": 2, "RC": 3, "patch": 5}
_NUMBER = 4

Part = tuple[int, int]


class ComposerScheme(BaseScheme):
    """Packagist packages."""

    ecosystem = "Packagist"

    def normalize(self, version: str) -> tuple[list[int], list[str | int]]:
        """(numeric parts, trailing parts) of Composer's normalised form; raises InvalidVersion."""
        s = version.strip()
        s = re.sub(r"@(?:stable|RC|beta|alpha|dev)$", "", s, flags=re.IGNORECASE)
        if " as " in s:
            s = s.split(" as ", 1)[0].strip()
        m_build = re.fullmatch(r"([^,\s+]+)\+[^\s]+", s)
        if m_build:
            s = m_build[1]
        if (
            s.lower().startswith("dev-")
            or s.lower().endswith(".x-dev")
            or re.search(r"\.x\b", s, re.I)
        ):
            raise self.invalid(version, "branch versions have no order")
        m = _CLASSICAL.fullmatch(s)
        if m:
            nums = [int(m[1]), *(int(g[1:]) if g else 0 for g in (m[2], m[3], m[4]))]
        else:
            m = _DATE.fullmatch(s)
            if m is None:
                raise self.invalid(version, "not a Composer version")
            nums = [int(x) for x in re.split(r"\D", m["date"]) if x != ""]
        tail: list[str | int] = []
        stab = (m["stab"] or "").lower()
        if stab == "stable":
            return nums, []  # Composer returns the bare version for an explicit "stable"
        if stab:
            tail.append(_STABILITY[stab])
            tail.extend(int(x) for x in re.findall(r"\d+", m["stabnum"] or ""))
        if m["dev"]:
            tail.append("dev")
        return nums, tail

    def _parse(self, version: str) -> tuple[Part, ...]:
        nums, tail = self.normalize(version)
        key: list[Part] = [(_NUMBER, n) for n in nums]
        key.extend((_NUMBER, t) if isinstance(t, int) else (_SPECIAL[t], 0) for t in tail)
        key.append((_NUMBER, -1))  # the end: below any number, compared with specials as a number
        return tuple(key)

    def _coarse_parts(self, version: str) -> tuple[int, Sequence[int], bool]:
        nums, tail = self.normalize(version)
        if len(nums) >= 4 or not tail:
            return 0, nums, False
        return 0, nums, _SPECIAL[str(tail[0])] > _NUMBER
