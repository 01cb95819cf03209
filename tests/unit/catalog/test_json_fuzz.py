"""Arbitrary JSON shapes never crash the JSON-reading catalogers: packages or skipped entries."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockwatch.catalog import bitnami, dotnet, npm, php
from dockwatch.catalog.cataloger import Cataloger, FileEntry, LayerFiles, ParseEnv

CASES: dict[str, tuple[tuple[Cataloger, ...], tuple[str, ...]]] = {
    "bitnami": ((bitnami.CATALOGER,), ("/opt/bitnami/x/.spdx-x.spdx",)),
    "dotnet": ((dotnet.CATALOGER,), ("/app/x.deps.json",)),
    "npm": (
        (npm.INSTALLED_CATALOGER, npm.LOCK_CATALOGER),
        ("/a/node_modules/x/package.json", "/a/package-lock.json"),
    ),
    "php": ((php.CATALOGER,), ("/v/composer/installed.json", "/v/composer.lock")),
}

KEYS = st.sampled_from(
    [
        "name", "version", "packages", "packages-dev", "dependencies", "libraries", "type",
        "license", "licenses", "dev", "link", "lockfileVersion", "versionInfo", "externalRefs",
        "referenceType", "referenceLocator", "dev-package-names", "", "node_modules/x",
        "A/1.0", "purl",
    ]
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6) | st.just("purl"),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=4), inner, max_size=5)
    ),
    max_leaves=40,
)


@pytest.mark.parametrize("case", sorted(CASES))
@settings(max_examples=300, deadline=None)
@given(doc=JSON)
def test_any_json_shape(case: str, doc: object) -> None:
    catalogers, paths = CASES[case]
    data = json.dumps(doc).encode()
    files = LayerFiles({p: FileEntry(p, len(data), 0o644, data) for p in paths})
    for cataloger in catalogers:
        result = cataloger.catalog(files, ParseEnv(None, files))
        for pkg in result.packages:
            assert isinstance(pkg.name, str) and pkg.name
            assert isinstance(pkg.version, str) and pkg.version
            assert pkg.purl.startswith("pkg:")
