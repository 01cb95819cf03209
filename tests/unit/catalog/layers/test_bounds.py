"""Bounds of a layer read: padding is read past, a bound that cuts a read short says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockwatch.catalog.layers import Budgets, IncompleteReason
from dockwatch.catalog.service import ImageCataloguer, MemoryCatalogCache, catalog_image
from tests.builders.layers import dpkg_stanza, dpkg_status
from tests.builders.padding import padded_layer
from tests.unit.catalog.test_service import layout_of

#: Over the former reader's ratio limit (it gave up past 1 GiB at a ratio above 200:1; these
#: zeros compress about 1000:1).
PAD = 1280 << 20
STATUS = dpkg_status(dpkg_stanza("openssl", "3.0.11-1~deb12u1"))
METADATA = "Metadata-Version: 2.1\nName: pyyaml\nVersion: 5.3\n"
FILES = {
    "var/lib/dpkg/status": STATUS,
    "usr/lib/python3/dist-packages/PyYAML-5.3.dist-info/METADATA": METADATA,
}


@pytest.fixture(scope="module")
def padded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    blob = padded_layer(PAD, FILES)
    assert len(blob) < 2 << 20 < PAD  # small compressed, large uncompressed
    return layout_of(tmp_path_factory.mktemp("padded"), blob)


def test_metadata_after_padding_is_found(padded: Path) -> None:
    inventory = catalog_image(f"oci:{padded}:latest")
    assert sorted((p.name, p.version) for p in inventory.packages) == [
        ("openssl", "3.0.11-1~deb12u1"),
        ("pyyaml", "5.3"),
    ]
    assert inventory.incomplete == ()
    assert inventory.layers[0].uncompressed_size > PAD


def test_a_size_bound_cuts_the_read_short_and_says_so(padded: Path) -> None:
    cache = MemoryCatalogCache()
    cataloguer = ImageCataloguer(cache=cache, budgets=Budgets(uncompressed_bytes=256 << 20))
    inventory = catalog_image(f"oci:{padded}:latest", cataloguer=cataloguer)
    assert inventory.packages == ()
    [cut] = inventory.incomplete
    assert cut.reason is IncompleteReason.UNCOMPRESSED_SIZE_LIMIT
    assert cut.digest == inventory.layers[0].digest and str(256 << 20) in cut.detail
    # a partial read is not cached: a later read with a larger bound sees everything
    assert not cache.results and not cache.facts
    again = catalog_image(f"oci:{padded}:latest", cataloguer=ImageCataloguer(cache=cache))
    assert {p.name for p in again.packages} == {"openssl", "pyyaml"} and not again.incomplete


def test_a_time_bound_cuts_the_read_short_and_says_so(padded: Path) -> None:
    cataloguer = ImageCataloguer(budgets=Budgets(seconds=0))
    inventory = catalog_image(f"oci:{padded}:latest", cataloguer=cataloguer)
    assert inventory.packages == ()
    assert [i.reason for i in inventory.incomplete] == [IncompleteReason.TIME_LIMIT]


def test_an_incomplete_result_cached_before_is_read_again(tmp_path: Path) -> None:
    from dockwatch.catalog.service import LAYER_FACTS_VERSION
    from dockwatch.model.catalog import LayerFacts

    layout = layout_of(tmp_path, padded_layer(64 << 20, FILES))
    cache = MemoryCatalogCache()
    first = catalog_image(f"oci:{layout}:latest", cataloguer=ImageCataloguer(cache=cache))
    digest = first.layers[0].digest
    # what an older reader stored after stopping early: incomplete facts and empty results
    cache.facts[(digest, LAYER_FACTS_VERSION)] = LayerFacts(
        None, frozenset(), frozenset(), (), ("stopped",), False
    )
    for key in list(cache.results):
        cache.results[key] = type(cache.results[key])()
    again = catalog_image(f"oci:{layout}:latest", cataloguer=ImageCataloguer(cache=cache))
    assert again.layers[0].read
    assert {p.name for p in again.packages} == {"openssl", "pyyaml"} and not again.incomplete


def test_truncated_and_unreadable_layers_are_incomplete(tmp_path: Path) -> None:
    blob = padded_layer(64 << 20, FILES)
    truncated = catalog_image(f"oci:{layout_of(tmp_path / 't', blob[: len(blob) // 2])}:latest")
    assert [i.reason for i in truncated.incomplete] == [IncompleteReason.TRUNCATED]
    garbage = catalog_image(f"oci:{layout_of(tmp_path / 'g', b'not a layer' * 100)}:latest")
    assert [i.reason for i in garbage.incomplete] == [IncompleteReason.UNREADABLE]
