"""Python packages installed in an image: dist-info, egg-info and eggs."""

from dockwatch.catalog.python.cataloger import CATALOGER

__all__ = ["CATALOGER"]
