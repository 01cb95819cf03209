"""Python packages: installed dist-info, egg-info and eggs, and the manifests images carry
(pinned requirements files, Pipfile.lock, poetry.lock, uv.lock)."""

from dockwatch.catalog.python.cataloger import CATALOGER
from dockwatch.catalog.python.manifest_cataloger import CATALOGER as MANIFEST_CATALOGER

__all__ = ["CATALOGER", "MANIFEST_CATALOGER"]
