"""Ruby gems: installed specifications and `Gemfile.lock`."""

from dockwatch.catalog.ruby.cataloger import CATALOGER, LOCK_CATALOGER

__all__ = ["CATALOGER", "LOCK_CATALOGER"]
