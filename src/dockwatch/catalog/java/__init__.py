"""Java archives (jar, war, ear, par, sar, jpi, hpi) and the jars nested in them, and the
dependencies pom.xml files declare."""

from dockwatch.catalog.java.cataloger import CATALOGER, JavaArchiveCataloger
from dockwatch.catalog.java.pom_cataloger import CATALOGER as POM_CATALOGER

__all__ = ["CATALOGER", "POM_CATALOGER", "JavaArchiveCataloger"]
