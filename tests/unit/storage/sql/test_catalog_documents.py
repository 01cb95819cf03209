"""The stored documents of layer results and facts are those of `dataclasses.asdict`: rows
written before orjson walked the dataclasses itself read back the same, and new rows are the
same bytes."""

from __future__ import annotations

import dataclasses

import orjson

from dockwatch.catalog.service import ImageCataloguer, MemoryCatalogCache, catalog_image
from dockwatch.model.catalog import CatalogResult, FileEntry, LayerFacts, Skipped
from dockwatch.model.digest import Digest
from dockwatch.model.package import OsPackageRef, Package
from dockwatch.model.package_doc import json_default
from dockwatch.storage.sql.catalog_repo import dump_facts, dump_result, load_facts, load_result
from tests.support.corpus import corpus_dir


def _asdict_doc(value: object) -> bytes:
    """The documents as they were written before: through `dataclasses.asdict`."""
    return orjson.dumps(dataclasses.asdict(value), default=json_default)  # type: ignore[call-overload]


def test_every_corpus_layer_result_and_facts_dump_as_before() -> None:
    cache = MemoryCatalogCache()
    for name in ("debian-python", "debian-java", "rpmdb-alien"):
        catalog_image(f"oci:{corpus_dir() / name}:latest", cataloguer=ImageCataloguer(cache=cache))
    assert cache.results and cache.facts
    for result in cache.results.values():
        assert dump_result(result) == _asdict_doc(result)
        assert load_result(dump_result(result)) == result
    for facts in cache.facts.values():
        assert dump_facts(facts) == _asdict_doc(facts)
        assert load_facts(dump_facts(facts)) == facts


def test_every_field_kind_dumps_as_before() -> None:
    owner = OsPackageRef("deb", "libssl3", "3.0.11-1", "openssl", "3.0.11-1~deb12u2")
    package = Package(
        "cryptography", "41.0.7", "python", "pkg:pypi/cryptography@41.0.7",
        layer_digest=Digest("sha256:" + "a" * 64), locations=("/usr/lib/x", "/usr/lib/y"),
        found_by="python-installed", epoch=1, release="2", arch="amd64", os_package=owner,
        licenses=("Apache-2.0",), metadata=(("k", "v"), ("k2", "v2")), package_manager="PIP",
    )  # fmt: skip
    result = CatalogResult((package,), (Skipped("/z", "bad"),), (("libssl3", ("/a", "/b")),))
    assert dump_result(result) == _asdict_doc(result)
    facts = LayerFacts(
        Digest("sha256:" + "b" * 64), frozenset({"/b", "/a"}), frozenset({"/o"}),
        (FileEntry("/etc/os-release", 3, 0o644, b"\x00\xffA"), FileEntry("/l", 0, 0o777, None, "/t")),
        ("w",), False,
    )  # fmt: skip
    assert dump_facts(facts) == _asdict_doc(facts)
    assert load_facts(dump_facts(facts)) == facts
