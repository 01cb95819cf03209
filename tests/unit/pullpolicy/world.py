"""A registry with scanned images and known findings, in process over a real data folder.

Advisories are OSV records imported as `db import` does; images are built in code, pushed
through the registry service and scanned by the worker. Which finding each image has follows
from the records alone: alpha 1.0 is affected by PYSEC-HIGH (HIGH, fixed in 2.0), beta 1.0 by
PYSEC-LOW (LOW, alias CVE-2090-0002, in the KEV catalogue: exploit known; its finding is named
by the CVE, as Inspector names findings), zeta has no advisory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockwatch.app import Services
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.builders.layers import Image, make_image, make_layer
from tests.builders.push import push_image
from tests.support.advisories import kev_catalogue


def osv(vid: str, package: str, fixed: str, severity: str, **extra: Any) -> dict[str, Any]:
    """An OSV record for a PyPI package with a vendor severity rating."""
    return {
        "id": vid,
        "modified": "2026-11-01T00:00:00Z",
        "database_specific": {"severity": severity},
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
        **extra,
    }


KEV = kev_catalogue({"cveID": "CVE-2090-0002", "product": "beta", "vulnerabilityName": "beta bug"})


def python_image(packages: dict[str, str], platform: str = "linux/amd64") -> Image:
    """An image holding the given Python distributions (dist-info metadata)."""
    files = {
        f"usr/lib/python3/site-packages/{n}-{v}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {n}\nVersion: {v}\n"
        )
        for n, v in packages.items()
    }
    return make_image([make_layer(files)], platform=platform)


def import_advisories(services: Services, tmp: Path) -> None:
    """PYSEC-HIGH (alpha), PYSEC-LOW (beta, exploited) as `db import` reads them."""
    folder = tmp / "osv"
    folder.mkdir()
    for rec in (
        osv("PYSEC-HIGH", "alpha", "2.0", "HIGH"),
        osv("PYSEC-LOW", "beta", "2.0", "LOW", aliases=["CVE-2090-0002"]),
    ):
        (folder / f"{rec['id']}.json").write_text(json.dumps(rec))
    kev = tmp / "kev"
    kev.mkdir()
    (kev / "known_exploited_vulnerabilities.json").write_text(json.dumps(KEV))
    import_paths(VulnDb(services.store, services.clock), [folder, kev])


@dataclass(frozen=True, slots=True)
class World:
    """The images pushed (repository `app`)."""

    high: Image
    """alpha 1.0: PYSEC-HIGH (HIGH)."""
    low: Image
    """beta 1.0: CVE-2090-0002 (PYSEC-LOW, LOW, exploit known)."""
    clean: Image
    """zeta 1.0: no finding."""


def build_world(services: Services, tmp: Path, repo: str = "app") -> World:
    """Import the advisories, turn enhanced scanning on, push and scan the three images
    (tagged high, low, clean)."""
    import_advisories(services, tmp)
    services.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
    world = World(
        high=python_image({"alpha": "1.0"}),
        low=python_image({"beta": "1.0"}, platform="linux/arm64"),
        clean=python_image({"zeta": "1.0"}),
    )
    for tag, image in (("high", world.high), ("low", world.low), ("clean", world.clean)):
        push_image(services, repo, image, tag=tag)
    services.worker.drain()
    return world
