"""The stored catalog cache: layers catalogued once, results identical when read back."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from dockwatch.catalog.service import ImageCataloguer, catalog_image
from dockwatch.catalog.stored_cache import StoredCatalogCache
from dockwatch.clock import SystemClock
from dockwatch.model.catalog import CatalogResult, LayerFacts
from dockwatch.model.digest import Digest
from dockwatch.model.package import Package
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.storage.unit_of_work import Store, UnitOfWork
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


LAYER = Digest("sha256:" + "1" * 64)
OTHER = Digest("sha256:" + "2" * 64)
FACTS = LayerFacts(Digest("sha256:" + "3" * 64), frozenset({"/gone"}), frozenset(), (), ())


def _result(name: str) -> CatalogResult:
    return CatalogResult((Package(name, "1.0", "python", f"pkg:pypi/{name}@1.0"),))


class _CountingStore:
    """The store, counting the transactions opened on it."""

    def __init__(self, store: Store) -> None:
        self.inner = store
        self.reads = self.writes = 0

    def read(self) -> AbstractContextManager[UnitOfWork]:
        self.reads += 1
        return self.inner.read()

    def write(self) -> AbstractContextManager[UnitOfWork]:
        self.writes += 1
        return self.inner.write()


def _counting(path: Path, remembered: int = 100_000) -> tuple[StoredCatalogCache, _CountingStore]:
    db = Database(f"sqlite:///{path}")
    migrate(db)
    store = _CountingStore(SqlStore(db))
    return StoredCatalogCache(store, SystemClock(), remembered), store  # type: ignore[arg-type]


def test_a_layer_is_looked_up_in_one_read_and_stored_in_one_write(tmp_path: Path) -> None:
    cache, store = _counting(tmp_path / "c.db")
    keys = [("a", 1), ("b", 1), ("c", 2)]
    assert cache.get_layer(LAYER, keys, 2) == ({}, None)
    assert (store.reads, store.writes) == (1, 0)
    cache.put_layer(LAYER, [("a", 1, _result("x")), ("b", 1, _result("y"))], 2, FACTS)
    assert (store.reads, store.writes) == (1, 1)
    # what this process stored is known without reading the store again ...
    want = {"a": _result("x"), "b": _result("y")}
    assert cache.get_layer(LAYER, keys[:2], 2) == (want, FACTS)
    assert store.reads == 1
    # ... and a key it does not know is read (one read), as a new process reads everything
    assert cache.get_layer(LAYER, keys, 2) == (want, FACTS)
    assert store.reads == 2
    fresh, _ = _counting(tmp_path / "c.db")
    assert fresh.get_layer(LAYER, keys, 2) == (want, FACTS)
    assert fresh.get_layer(LAYER, [("a", 2)], 1) == ({}, None)  # other versions are other keys


def test_what_another_process_stored_first_is_what_every_process_gets(tmp_path: Path) -> None:
    first, _ = _counting(tmp_path / "c.db")
    second, store = _counting(tmp_path / "c.db")
    first.put_layer(LAYER, [("a", 1, _result("first"))], 2, None)
    # the second process catalogued the layer too (its own result): the stored row stays
    second.put_layer(LAYER, [("a", 1, _result("second"))], 2, FACTS)
    assert second.get_layer(LAYER, [("a", 1)], 2) == ({"a": _result("first")}, FACTS)
    assert first.get_layer(LAYER, [("a", 1)], 2) == ({"a": _result("first")}, FACTS)


def test_the_layers_kept_in_memory_are_bounded_and_the_store_answers_for_the_others(
    tmp_path: Path,
) -> None:
    # a layer with one one-package result and its facts weighs 3
    cache, store = _counting(tmp_path / "c.db", remembered=3)
    cache.put_layer(LAYER, [("a", 1, _result("x"))], 2, FACTS)
    cache.put_layer(OTHER, [("a", 1, _result("y"))], 2, FACTS)  # LAYER is let go
    reads = store.reads
    assert cache.get_layer(OTHER, [("a", 1)], 2) == ({"a": _result("y")}, FACTS)
    assert store.reads == reads  # from memory
    assert cache.get_layer(LAYER, [("a", 1)], 2) == ({"a": _result("x")}, FACTS)
    assert store.reads == reads + 1  # from the store
