"""Bitnami components, from the SPDX documents Bitnami ships in each component's folder."""

from dockwatch.catalog.bitnami.cataloger import CATALOGER

__all__ = ["CATALOGER"]
