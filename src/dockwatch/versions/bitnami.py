"""Bitnami component versions: SemVer as the Bitnami OSV feed writes it, with its leniency.

The feed's ranges are typed SEMVER, but its versions are upstream components' own strings:
two-part versions (`1.2`), leading zeros (`1.8.0-333`), and revision-like tails that SemVer
reads as pre-releases (`2.4.46-10.el8`). We read them as SemVer (the range type the record
declares), padding missing parts with zero and accepting leading zeros; anything else
(`nightly.2026-03-10.0`) is invalid, so it yields an explicit Indeterminate verdict.
"""

from __future__ import annotations

import logging
import re

from dockwatch.versions.semver import ShortSemverScheme

logger = logging.getLogger(__name__)

_LENIENT = re.compile(
    r"v?(?P<major>[0-9]+)(?:\.(?P<minor>[0-9]+))?(?:\.(?P<patch>[0-9]+))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


class BitnamiScheme(ShortSemverScheme):
    """Bitnami (`pkg:bitnami/...`) components."""

    ecosystem = "Bitnami"
    grammar = _LENIENT
    form = "SemVer-like version"
