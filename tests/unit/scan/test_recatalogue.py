"""A cataloger version bump re-catalogues the layers it covers and re-matches their images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from dockwatch.catalog.cataloger import Cataloger
from dockwatch.catalog.registry import CatalogerRegistry
from dockwatch.storage.sql import outbox, tables
from tests.builders.layers import make_image, make_layer
from tests.builders.push import push_image
from tests.unit.scan.test_status_flow import _DIST_INFO, _enhanced


class _Bumped:
    """A cataloger exactly like another, one version later."""

    def __init__(self, inner: Cataloger) -> None:
        self._inner = inner
        self.name = inner.name
        self.version = inner.version + 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _cache_rows(services: Any) -> set[tuple[str, str, int]]:
    t = tables.catalog_results
    with services.db.read() as conn:
        return {
            (r.layer_digest, r.cataloger, r.version)
            for r in conn.execute(select(t.c.layer_digest, t.c.cataloger, t.c.version))
        }


def _scans(services: Any) -> list[dict[str, Any]]:
    with services.db.read() as conn:
        return [e.event.payload() for e in outbox.SqlOutbox(conn).read_after(0, ["ScanCompleted"])]


def test_a_bumped_cataloger_recatalogues_and_rematches(tmp_path: Path) -> None:
    services = _enhanced(tmp_path)
    try:
        base = make_layer({"etc/os-release": 'ID=debian\nVERSION_ID="12"\n', "base": "x"})
        app = make_layer(_DIST_INFO)
        image = make_image([base, app])
        digest = push_image(services, "app", image, tag=image.digest)
        services.worker.drain()
        assert [s["layersRead"] for s in _scans(services)] == [2]
        from dockwatch.scan.eligibility import recatalogue_pass

        assert recatalogue_pass(services.scanner) == 0  # nothing changed
        before = _cache_rows(services)
        python = next(c for c in services.scanner.catalogers if "python" in c.name)
        registry = CatalogerRegistry()
        for c in services.scanner.catalogers:
            registry.register(_Bumped(c) if c is python else c)
        services.scanner.catalogers = registry
        assert recatalogue_pass(services.scanner) == 1
        services.worker.drain()
        scans = _scans(services)
        assert [s["imageDigest"] for s in scans] == [digest, digest]
        # both layers are opened again for the bumped cataloger (each may hold Python
        # packages); the other catalogers' results come from the cache
        assert scans[-1]["layersRead"] == 2
        # only the bumped cataloger ran again: one new cached result per layer, for it alone
        new = _cache_rows(services) - before
        assert new == {(layer.digest, python.name, python.version + 1) for layer in (base, app)}
        assert recatalogue_pass(services.scanner) == 0  # the inventory now carries the new versions
        assert json.dumps(scans[-1]["findingSeverityCounts"]) == json.dumps(
            scans[0]["findingSeverityCounts"]
        )
    finally:
        services.close()
