"""The operating system of an image, as its os-release (or a fallback file) describes it."""

from __future__ import annotations

from dockwatch.value_class import frozen


@frozen
class Distro:
    """Identity of an image's distribution; None fields are unknown."""

    id: str
    """os-release `ID` (`debian`, `alpine`, `almalinux`, ...), lowercase."""
    version_id: str | None = None
    """os-release `VERSION_ID` (`12`, `3.19.1`, `9.3`)."""
    codename: str | None = None
    """os-release `VERSION_CODENAME` (`bookworm`), where present."""
    pretty_name: str | None = None
    """os-release `PRETTY_NAME`, for display."""
    id_like: tuple[str, ...] = ()
    """os-release `ID_LIKE`, for derivatives."""
