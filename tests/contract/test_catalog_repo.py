"""`CatalogRepo` contract: layer results and facts, inventories and their package groups."""

from __future__ import annotations

from datetime import UTC, datetime

from dockwatch.app import Services
from dockwatch.model.catalog import CatalogResult, FileEntry, LayerFacts, Skipped
from dockwatch.model.digest import Digest
from dockwatch.model.distro import Distro
from dockwatch.model.package import Package
from dockwatch.model.package_doc import dump_package, package_ref
from dockwatch.storage.catalog_repo import PackageKeyRow, StoredInventory
from tests.builders.push import push_image
from tests.contract.conftest import image

T0 = datetime(2026, 11, 1, tzinfo=UTC)
LAYER = "sha256:" + "a" * 64
BASE = "sha256:" + "b" * 64


def _pkg(name: str, version: str, layer: str) -> Package:
    purl = f"pkg:pypi/{name}@{version}"
    return Package(name, version, "python", purl, layer_digest=Digest(layer))


def test_layer_results_round_trip_and_are_written_once(services: Services) -> None:
    result = CatalogResult(
        packages=(_pkg("zeta", "1.0", LAYER),),
        skipped=(Skipped("/usr/lib/x", "unreadable"),),
        owned_files=(("libc6", ("/lib/libc.so.6",)),),
    )
    with services.store.write() as uow:
        assert uow.catalog.layer_result(LAYER, "python-installed", 1) is None
        assert uow.catalog.put_layer_result(LAYER, "python-installed", 1, result, T0) is True
        other = CatalogResult()
        assert uow.catalog.put_layer_result(LAYER, "python-installed", 1, other, T0) is False
    with services.store.read() as uow:
        assert uow.catalog.layer_result(LAYER, "python-installed", 1) == result
        assert uow.catalog.layer_result(LAYER, "python-installed", 2) is None  # a bumped version
        assert uow.catalog.layer_result(LAYER, "dpkg-db", 1) is None


def test_a_layers_results_are_read_and_written_together(services: Services) -> None:
    one = CatalogResult(packages=(_pkg("zeta", "1.0", LAYER),))
    two = CatalogResult(skipped=(Skipped("/x", "unreadable"),))
    with services.store.write() as uow:
        assert uow.catalog.put_layer_result(LAYER, "dpkg-db", 3, two, T0) is True
        rows = [("python-installed", 1, one), ("dpkg-db", 3, CatalogResult())]
        # the dpkg-db row was stored first: this call stores the other one only
        assert uow.catalog.put_layer_results(LAYER, rows, T0) == {("python-installed", 1)}
        assert uow.catalog.put_layer_results(BASE, [], T0) == set()
    with services.store.read() as uow:
        wanted = [("python-installed", 1), ("dpkg-db", 3), ("dpkg-db", 2), ("npm", 1)]
        got = uow.catalog.layer_results(LAYER, wanted)
        # the batch read is the single reads put together: absent keys are absent
        singles = {
            (name, version): r
            for name, version in wanted
            if (r := uow.catalog.layer_result(LAYER, name, version)) is not None
        }
        assert got == singles == {("python-installed", 1): one, ("dpkg-db", 3): two}
        assert uow.catalog.layer_results(BASE, wanted) == {}
        assert uow.catalog.layer_results(LAYER, []) == {}


def test_layer_facts_round_trip(services: Services) -> None:
    facts = LayerFacts(
        diff_id=Digest("sha256:" + "c" * 64),
        whiteouts=frozenset({"/etc/gone"}),
        opaque_dirs=frozenset({"/var/cache"}),
        release_files=(FileEntry("/etc/os-release", 9, 0o644, b"ID=debian\n\xff"),),
        warnings=("a budget was hit",),
        complete=False,
    )
    with services.store.write() as uow:
        assert uow.catalog.layer_facts(LAYER, 1) is None
        assert uow.catalog.put_layer_facts(LAYER, 1, facts, T0) is True
        assert uow.catalog.put_layer_facts(LAYER, 1, facts, T0) is False
    with services.store.read() as uow:
        assert uow.catalog.layer_facts(LAYER, 1) == facts
        assert uow.catalog.layer_facts(LAYER, 2) is None


def _rows(packages: list[Package]) -> tuple[set[PackageKeyRow], dict[str, bytes]]:
    rows: set[PackageKeyRow] = set()
    docs: dict[str, bytes] = {}
    for p in packages:
        doc = dump_package(p)
        docs[package_ref(doc)] = doc
        rows.add((p.layer_digest or "", "PyPI", p.name, package_ref(doc)))
    return rows, docs


def test_inventories_and_the_reverse_index(services: Services) -> None:
    first = push_image(services, "app", image("one"))
    second = push_image(services, "app", image("two"), tag="two")
    shared = _pkg("zeta", "1.0", BASE)
    own = _pkg("alpha", "2.0", LAYER)
    debian = Distro("debian", "12", "bookworm", "Debian 12", ("linux",))
    inventories = {
        first: StoredInventory(debian, (shared, own), "python-installed@1"),
        second: StoredInventory(None, (shared,), "python-installed@2"),
    }
    with services.store.write() as uow:
        for digest, inv in inventories.items():
            rows, docs = _rows(list(inv.packages))
            uow.catalog.store_inventory(digest, inv, rows, docs, T0)
    ref = {p.name: package_ref(dump_package(p)) for p in (shared, own)}
    with services.store.read() as uow:
        for digest, inv in inventories.items():
            assert uow.catalog.inventory(digest) == inv
        assert uow.catalog.inventory("sha256:" + "0" * 64) is None
        assert sorted(uow.catalog.package_pairs([("PyPI", "zeta")])) == sorted(
            [(first, ref["zeta"]), (second, ref["zeta"])]
        )
        assert uow.catalog.package_pairs([("PyPI", "alpha")]) == [(first, ref["alpha"])]
        assert uow.catalog.package_pairs([("npm", "zeta")]) == []
        assert uow.catalog.packages([ref["alpha"], "missing"]) == {ref["alpha"]: own}
    # storing again replaces the inventory and its part of the index
    replaced = StoredInventory(debian, (shared,), "python-installed@2")
    with services.store.write() as uow:
        rows, docs = _rows([shared])
        uow.catalog.store_inventory(first, replaced, rows, docs, T0)
    with services.store.read() as uow:
        assert uow.catalog.inventory(first) == replaced
        assert uow.catalog.package_pairs([("PyPI", "alpha")]) == []


def test_package_pairs_answer_many_keys_of_several_ecosystems(services: Services) -> None:
    """More names than one query takes, the same names under two ecosystems: the pairs are
    those of the index rows stored under the keys asked, found by brute force."""
    first = push_image(services, "app", image("one"))
    second = push_image(services, "app", image("two"), tag="two")
    stored: dict[str, set[PackageKeyRow]] = {}
    with services.store.write() as uow:
        for digest, names in ((first, range(0, 450)), (second, range(300, 520))):
            packages = [_pkg(f"n{i}", f"1.{i % 3}", LAYER if i % 2 else BASE) for i in names]
            rows, docs = _rows(packages)
            # every other package is also indexed under npm (a name both ecosystems hold)
            rows |= {(layer, "npm", name, ref) for layer, _, name, ref in rows if int(name[1:]) % 2}
            stored[digest] = rows
            inv = StoredInventory(None, tuple(packages), "python-installed@1")
            uow.catalog.store_inventory(digest, inv, rows, docs, T0)
    keys = [("PyPI", f"n{i}") for i in range(0, 520)] + [("npm", f"n{i}") for i in range(100, 200)]
    keys += [("PyPI", "missing"), ("cargo", "n1"), ("npm", "n101")]  # absent, and a repeat
    asked = set(keys)
    wanted = [
        (digest, ref)
        for digest, rows in stored.items()
        for _, ecosystem, name, ref in rows
        if (ecosystem, name) in asked
    ]  # one pair per index row: a package under two keys asked is paired twice
    assert len(wanted) > 600
    with services.store.read() as uow:
        assert sorted(uow.catalog.package_pairs(keys)) == sorted(wanted)


def test_an_inventory_is_forgotten_once_no_repository_holds_the_image(services: Services) -> None:
    held = push_image(services, "app", image("held"))
    gone = "sha256:" + "d" * 64  # no repository holds it
    pkg = _pkg("zeta", "1.0", LAYER)
    with services.store.write() as uow:
        for digest in (held, gone):
            rows, docs = _rows([pkg])
            uow.catalog.store_inventory(
                digest, StoredInventory(None, (pkg,), "c@1"), rows, docs, T0
            )
    with services.store.write() as uow:
        assert uow.catalog.forget_inventory_if_unused(held) is False
        assert uow.catalog.forget_inventory_if_unused(gone) is True
    with services.store.read() as uow:
        assert uow.catalog.inventory(gone) is None
        assert uow.catalog.inventory(held) is not None
        assert [d for d, _ in uow.catalog.package_pairs([("PyPI", "zeta")])] == [held]
