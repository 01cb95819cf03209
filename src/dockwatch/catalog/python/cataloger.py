"""The Python cataloger: every installed distribution's core metadata.

Locations are the metadata file's own path (`.../NAME.dist-info/METADATA`), which is what an OS
package's file list holds, so coalescing can find the owner of packages under `dist-packages`.
"""

from __future__ import annotations

from dockwatch.catalog.cataloger import GlobCataloger
from dockwatch.catalog.python.package import FOUND_BY
from dockwatch.catalog.python.parse_metadata import parse_dist_info, parse_egg_info, parse_egg_zip

CATALOGER = (
    GlobCataloger(FOUND_BY, version=2)
    .parse("/**/*.dist-info/METADATA", parse_dist_info)
    .parse("/**/*.egg-info/PKG-INFO", parse_egg_info)
    .parse("/**/*.egg-info", parse_egg_info)
    .parse("/**/*.egg/EGG-INFO/PKG-INFO", parse_egg_info)
    .parse("/**/*.egg", parse_egg_zip)
)
