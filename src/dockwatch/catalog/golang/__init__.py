"""Go modules compiled into binaries, read from the build info the Go linker embeds."""

from dockwatch.catalog.golang.cataloger import CATALOGER, GoBinaryCataloger

__all__ = ["CATALOGER", "GoBinaryCataloger"]
