"""Java archives (jar, war, ear, par, sar, jpi, hpi) and the jars nested in them."""

from dockwatch.catalog.java.cataloger import CATALOGER, JavaArchiveCataloger

__all__ = ["CATALOGER", "JavaArchiveCataloger"]
