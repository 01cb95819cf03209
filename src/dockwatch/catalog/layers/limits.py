"""The bounds of one layer read, and the typed marker a read carries when one cut it short.

Content a cataloger does not keep is read past (it costs decompression, never memory), so a
layer's size or compression ratio alone is no reason to stop: only the bounds below are. A
read they cut short is never a clean result: `LayerRead.incomplete` says which bound and why,
and the scan that used it reports so (see `catalog.service.Inventory.incomplete`).
"""

from __future__ import annotations

import enum

from dockwatch.value_class import frozen

DEFAULT_UNCOMPRESSED_BYTES = 64 << 30
"""Default bound on the uncompressed bytes of one layer (`scan_max_uncompressed_bytes`)."""
DEFAULT_LAYER_SECONDS = 900.0
"""Default time budget of one layer read (`scan_layer_seconds`)."""


@frozen
class Budgets:
    """Limits that keep a hostile layer bounded in memory and time."""

    file_bytes: int = 128 << 20
    """Largest single candidate file kept in memory."""
    layer_bytes: int = 384 << 20
    """Total candidate bytes kept for one layer."""
    entries: int = 500_000
    """Tar entries walked before giving up on the layer."""
    uncompressed_bytes: int = DEFAULT_UNCOMPRESSED_BYTES
    """Uncompressed bytes decoded before giving up (the whole layer, kept or not)."""
    seconds: float | None = DEFAULT_LAYER_SECONDS
    """Wall-clock budget of the whole read; None for no limit."""


class IncompleteReason(enum.StrEnum):
    """Why a layer read ended before the end of the layer."""

    UNCOMPRESSED_SIZE_LIMIT = "UNCOMPRESSED_SIZE_LIMIT"
    TIME_LIMIT = "TIME_LIMIT"
    ENTRY_LIMIT = "ENTRY_LIMIT"
    TRUNCATED = "TRUNCATED"
    CORRUPT = "CORRUPT"
    UNREADABLE = "UNREADABLE"

    @property
    def bound(self) -> bool:
        """A configured bound (not the blob itself) ended the read: another read with other
        settings or more time may see more, so its partial result is not cached."""
        return self in (
            IncompleteReason.UNCOMPRESSED_SIZE_LIMIT,
            IncompleteReason.TIME_LIMIT,
            IncompleteReason.ENTRY_LIMIT,
        )


@frozen
class Incomplete:
    """A layer read cut short: the reason and a sentence for people."""

    reason: IncompleteReason
    detail: str


class CutShort(Exception):
    """Raised inside the read when a bound is reached or the stream is broken."""

    def __init__(self, reason: IncompleteReason, detail: str) -> None:
        super().__init__(detail)
        self.marker = Incomplete(reason, detail)


@frozen
class IncompleteLayer:
    """A layer of an image whose read was cut short (`Inventory.incomplete`)."""

    digest: str
    reason: IncompleteReason
    detail: str

    def describe(self) -> str:
        """`layer sha256:...: REASON: detail` for people and exports."""
        return f"layer {self.digest}: {self.reason.value}: {self.detail}"
