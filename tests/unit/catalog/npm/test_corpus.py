"""The npm catalogers on the corpus image debian-node (npm ci of a v3 lock, Debian's node modules)."""

from __future__ import annotations

import pytest

from dockwatch.catalog.cataloger import ParseEnv
from dockwatch.catalog.npm import INSTALLED_CATALOGER, LOCK_CATALOGER
from tests.unit.catalog.python.corpus_layers import contents_section, corpus_image, squashed_files

IMAGE = "debian-node"

pytestmark = pytest.mark.skipif(
    corpus_image(IMAGE) is None, reason=f"corpus image {IMAGE} absent (build-corpus.sh)"
)


def test_installed_and_locked_match_ground_truth() -> None:
    layout = corpus_image(IMAGE)
    assert layout is not None
    files = squashed_files(layout, [INSTALLED_CATALOGER, LOCK_CATALOGER])
    env = ParseEnv(None, files)
    installed = INSTALLED_CATALOGER.catalog(files, env)
    locked = LOCK_CATALOGER.catalog(files, env)
    assert installed.skipped == () and locked.skipped == ()
    truth = {tuple(line.split(" ")) for line in contents_section(IMAGE, "npm")}
    assert len(truth) == 80
    got = {(p.name, p.version, p.locations[0]) for p in installed.packages}
    # The app's own manifest names itself with a version, so it is a package too (as in syft).
    assert got == truth | {("corpus-node-app", "1.0.0", "/app/package.json")}
    # Debian's modules are reported at the package.json path dpkg's file list holds.
    assert ("undici", "5.15.0", "/usr/share/nodejs/undici/package.json") in got
    # `npm ci` installs exactly the lock's non-dev entries.
    app_modules = {(n, v) for n, v, loc in truth if loc.startswith("/app/node_modules/")}
    assert {(p.name, p.version) for p in locked.packages} == app_modules
