"""The storage interface for the catalog: per-layer results and facts, image inventories and
the package groups of the reverse index.

Per-layer results are keyed by (layer digest, cataloger name, cataloger version), so a layer
shared by many images and repositories is catalogued once, and bumping a cataloger's version
makes its old rows simply not match. An image's inventory is kept with one package group per
layer ((ecosystem, name, package ref) rows named by their content), so images on the same base
share the base's rows; the groups are the reverse index a feed delta is mapped through.

Services depend on this protocol only; `storage/sql/catalog_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from dockwatch.model.catalog import CatalogResult, LayerFacts
from dockwatch.model.distro import Distro
from dockwatch.model.package import Package
from dockwatch.value_class import frozen

PackageKeyRow = tuple[str, str, str, str]
"""(layer digest, ecosystem, name, package ref): one package of an inventory under the key a
delta names it by."""


@frozen
class StoredInventory:
    """An image's package inventory as stored with its last scan."""

    distro: Distro | None
    packages: tuple[Package, ...]
    catalogers: str
    """Names and versions of the catalogers that made it (`name@version,...`)."""


class CatalogRepo(Protocol):
    """Layer results and facts, image inventories, package groups."""

    def layer_result(self, layer: str, cataloger: str, version: int) -> CatalogResult | None:
        """The stored result of `cataloger`@`version` for `layer`."""
        ...

    def put_layer_result(
        self, layer: str, cataloger: str, version: int, result: CatalogResult, at: datetime
    ) -> bool:
        """Store a result; False when one was stored already (a concurrent identical write)."""
        ...

    def layer_results(
        self, layer: str, keys: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], CatalogResult]:
        """The stored results of `layer` for each (cataloger, version) of `keys` that has one,
        in one query."""
        ...

    def put_layer_results(
        self, layer: str, results: Iterable[tuple[str, int, CatalogResult]], at: datetime
    ) -> set[tuple[str, int]]:
        """Store (cataloger, version, result) rows of `layer`; returns the (cataloger, version)
        keys stored by this call (the others were stored already, by a concurrent write)."""
        ...

    def layer_facts(self, layer: str, version: int) -> LayerFacts | None:
        """The stored facts of `layer` at facts version `version`."""
        ...

    def put_layer_facts(self, layer: str, version: int, facts: LayerFacts, at: datetime) -> bool:
        """Store the facts of `layer`; False when they were stored already."""
        ...

    def inventory(self, digest: str) -> StoredInventory | None:
        """The stored inventory of an image."""
        ...

    def store_inventory(
        self,
        digest: str,
        inventory: StoredInventory,
        keyed: Iterable[PackageKeyRow],
        package_docs: Mapping[str, bytes],
        at: datetime,
    ) -> None:
        """Keep an image's inventory, its package documents by ref and its package groups."""
        ...

    def forget_inventory_if_unused(self, digest: str) -> bool:
        """Drop an image's inventory and reverse index rows once no repository holds the
        digest (and package groups no image uses any more); True when dropped."""
        ...

    def package_pairs(self, keys: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """(image digest, package ref) of every inventory package under one of `keys`."""
        ...

    def packages(self, refs: Iterable[str]) -> dict[str, Package]:
        """Package documents by ref."""
        ...
