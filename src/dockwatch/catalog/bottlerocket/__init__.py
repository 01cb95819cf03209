"""Bottlerocket's installed packages, from its application inventory."""

from dockwatch.catalog.bottlerocket.cataloger import CATALOGER

__all__ = ["CATALOGER"]
