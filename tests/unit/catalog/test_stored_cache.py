"""The stored catalog cache: layers catalogued once, results identical when read back."""

from __future__ import annotations

from pathlib import Path

from dockwatch.catalog.service import ImageCataloguer, catalog_image
from dockwatch.catalog.stored_cache import StoredCatalogCache
from dockwatch.clock import SystemClock
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from tests.support.corpus import corpus_dir


def _cache(path: Path) -> StoredCatalogCache:
    db = Database(f"sqlite:///{path}")
    migrate(db)
    return StoredCatalogCache(SqlStore(db), SystemClock())


def test_cached_layers_are_not_read_again(tmp_path: Path) -> None:
    corpus = corpus_dir()
    source = f"oci:{corpus / 'debian-python'}:latest"
    first = catalog_image(source, cataloguer=ImageCataloguer(cache=_cache(tmp_path / "c.db")))
    assert any(layer.read for layer in first.layers)
    # a new process (new engine) over the same database: nothing is read, the same packages come back
    second = catalog_image(source, cataloguer=ImageCataloguer(cache=_cache(tmp_path / "c.db")))
    assert [layer.read for layer in second.layers] == [False] * len(second.layers)
    assert second.packages == first.packages
    assert second.distro == first.distro
    # an image sharing the base layer reads only its own layers
    base = catalog_image(
        f"oci:{corpus / 'debian-minbase'}:latest",
        cataloguer=ImageCataloguer(cache=_cache(tmp_path / "c.db")),
    )
    assert [layer.read for layer in base.layers] == [False]
