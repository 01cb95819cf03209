"""Reading layer blobs: decompression (`decode`), the choice of files to keep (`select`), the
tar walk (`walk`) and the bounds of a read (`limits`)."""

from dockwatch.catalog.layers.limits import (
    Budgets,
    Incomplete,
    IncompleteLayer,
    IncompleteReason,
)
from dockwatch.catalog.layers.select import ReducingCataloger, Selector
from dockwatch.catalog.layers.walk import (
    BlobDigestMismatch,
    LayerRead,
    LayerUnreadable,
    normalize,
    read_layer,
)

__all__ = [
    "BlobDigestMismatch",
    "Budgets",
    "Incomplete",
    "IncompleteLayer",
    "IncompleteReason",
    "LayerRead",
    "LayerUnreadable",
    "ReducingCataloger",
    "Selector",
    "normalize",
    "read_layer",
]
