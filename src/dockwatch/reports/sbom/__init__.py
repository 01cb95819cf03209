"""SBOM documents of an image inventory: dockwatch's own JSON, CycloneDX 1.6 and SPDX 2.3.

Each format lives in its own module and is imported only when asked for, because the CycloneDX
and SPDX libraries cost 60-130 ms to import and `dockwatch sbom --format json` needs neither.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockwatch.catalog.service import Inventory

#: `--format` values, in the order `dockwatch sbom --help` lists them.
FORMATS = ("json", "cyclonedx-json", "spdx-json")


def render(inventory: Inventory, fmt: str, created: datetime | None = None) -> str:
    """The SBOM of `inventory` in `fmt` (one of `FORMATS`), as text ending in a newline.

    `created` stamps the CycloneDX and SPDX documents; it defaults to `SOURCE_DATE_EPOCH` when set
    (reproducible builds), else now. The same inventory and time give the same bytes.
    """
    if fmt == "json":
        from dockwatch.reports.sbom import json_format

        return json_format.dumps(inventory)
    if fmt == "cyclonedx-json":
        from dockwatch.reports.sbom import cyclonedx

        return cyclonedx.dumps(inventory, created)
    if fmt == "spdx-json":
        from dockwatch.reports.sbom import spdx

        return spdx.dumps(inventory, created)
    raise ValueError(f"unknown SBOM format {fmt!r}; expected one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "render"]
