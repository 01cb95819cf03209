"""Ruby gems: installed specifications and `Gemfile.lock`."""

from dockwatch.catalog.ruby.cataloger import CATALOGER

__all__ = ["CATALOGER"]
