"""Go modules: compiled into binaries (read from the build info the Go linker embeds), and
required by go.mod files."""

from dockwatch.catalog.golang.cataloger import CATALOGER, GoBinaryCataloger
from dockwatch.catalog.golang.mod_cataloger import CATALOGER as MOD_CATALOGER

__all__ = ["CATALOGER", "MOD_CATALOGER", "GoBinaryCataloger"]
