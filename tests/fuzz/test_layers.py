"""The layer reader: any gzip/zstd/tar stream gives a LayerRead or a CatalogError."""

from __future__ import annotations

import io

from dockwatch.catalog.cataloger import CatalogError
from dockwatch.catalog.layers import Budgets, Selector, read_layer
from dockwatch.catalog.registry import default_registry
from tests.fuzz.harness import corpus, fuzz

BUDGETS = Budgets(
    file_bytes=1 << 20, layer_bytes=4 << 20, entries=10_000, uncompressed_bytes=64 << 20
)


def test_layer_reader(fuzz_seconds: float) -> None:
    selector = Selector(default_registry())

    def read(data: bytes) -> None:
        result = read_layer(io.BytesIO(data), selector, BUDGETS, threaded=False)
        assert result.complete == (result.incomplete is None)
        assert result.uncompressed_size <= BUDGETS.uncompressed_bytes + (1 << 20)

    fuzz(read, corpus("layer"), (CatalogError,), fuzz_seconds)
