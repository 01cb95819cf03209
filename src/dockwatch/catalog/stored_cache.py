"""The server's `CatalogCache`: per-layer results kept in the store, shared by every process.

Each lookup is its own read and each result its own short write, so a long cataloguing run
never holds the writer; two workers storing the same layer key is harmless (the second write is
dropped).
"""

from __future__ import annotations

from dockwatch.clock import Clock
from dockwatch.model.catalog import CatalogResult, LayerFacts
from dockwatch.model.digest import Digest
from dockwatch.storage.unit_of_work import Store


class StoredCatalogCache:
    """`catalog.service.CatalogCache` over a `Store`."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def get(self, layer: Digest, cataloger: str, version: int) -> CatalogResult | None:
        """The stored result of `cataloger`@`version` for `layer`."""
        with self.store.read() as uow:
            return uow.catalog.layer_result(layer, cataloger, version)

    def put(self, layer: Digest, cataloger: str, version: int, result: CatalogResult) -> None:
        """Store a result (a concurrent identical write wins or loses harmlessly)."""
        with self.store.write() as uow:
            uow.catalog.put_layer_result(layer, cataloger, version, result, self.clock.now())

    def get_facts(self, layer: Digest, version: int) -> LayerFacts | None:
        """The stored facts of `layer`."""
        with self.store.read() as uow:
            return uow.catalog.layer_facts(layer, version)

    def put_facts(self, layer: Digest, version: int, facts: LayerFacts) -> None:
        """Store the facts of `layer`."""
        with self.store.write() as uow:
            uow.catalog.put_layer_facts(layer, version, facts, self.clock.now())
