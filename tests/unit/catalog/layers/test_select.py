"""The layer reader's file selection: its guarded index answers exactly what matching every glob
one by one (`match_glob`, the reference) answers, for every built-in glob."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dockwatch.catalog import distro
from dockwatch.catalog.cataloger import match_glob
from dockwatch.catalog.layers import Selector
from dockwatch.catalog.registry import default_registry

CATALOGERS = list(default_registry(plugins=False))
SELECTOR = Selector(CATALOGERS, distro.GLOBS)
GLOBS = sorted({*distro.GLOBS, *(g for c in CATALOGERS for g in c.globs)})

#: path pieces that hit, nearly hit and miss the globs' literal parts
PIECES = ["usr", "lib", "app", "opt", "bitnami", "var", "dpkg", "info", "status.d", "src",
          "requirements", "requirements.txt", "requirements-dev.txt", "base.txt", "x.txt",
          "go.mod", "go.sum", "pom.xml", "app.csproj", "packages.config", "packages.lock.json",
          "a.jar", "a.war", "tar", "b.hpi", "x.deps.json", "deps.json", "METADATA",
          "y.dist-info", "z.egg-info", "k.egg", "PKG-INFO", "EGG-INFO", "Pipfile.lock",
          "poetry.lock", "uv.lock", "yarn.lock", "package.json", "specifications", "r.gemspec",
          "libc6.list", ".spdx-redis.spdx", "os-release", "composer", "installed.json"]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=6))
def test_selection_matches_the_globs(parts: list[str]) -> None:
    path = "/" + "/".join(parts)
    assert SELECTOR.by_glob(path) == any(match_glob(g, path) for g in GLOBS)


def test_new_manifests_are_selected_by_name_only() -> None:
    for path in ("/srv/requirements.txt", "/srv/requirements/prod.txt", "/src/go.mod",
                 "/src/pom.xml", "/src/Api.csproj", "/src/packages.config"):  # fmt: skip
        assert SELECTOR.by_glob(path), path
    for path in ("/srv/notes.txt", "/src/go.work", "/src/pom.xml.bak", "/usr/bin/tar"):
        assert not SELECTOR.by_glob(path), path
