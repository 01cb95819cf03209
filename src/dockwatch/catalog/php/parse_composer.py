"""Composer's `vendor/composer/installed.json` and `composer.lock`.

installed.json: Composer 1 wrote a JSON list of package objects; Composer 2 writes
`{"packages": [...], "dev": bool, "dev-package-names": [...]}`
(https://getcomposer.org/doc/07-runtime.md#installed-versions, composer/src/Composer/Repository/
FilesystemRepository.php). composer.lock: `{"packages": [...], "packages-dev": [...]}`
(https://getcomposer.org/doc/01-basic-usage.md#commit-your-composer-lock-file-to-version-control).
Each package object has `name`, `version` (as the user sees it, `v6.3.0`), `license` (a list).
Dev packages are reported with `("dev", "true")`: they are on disk when installed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from dockwatch.catalog.cataloger import FileFormatError, ParseEnv
from dockwatch.catalog.php.package import FOUND_BY, LOCK_FOUND_BY, new_package
from dockwatch.model.package import Package


class ComposerError(FileFormatError):
    """A Composer file that is not the JSON shape its format documents."""


def _load(path: str, data: bytes) -> object:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ComposerError(path, f"invalid JSON: {exc}") from exc


def _packages(
    path: str, entries: Iterable[object], dev: frozenset[str] | bool, found_by: str
) -> Iterator[Package]:
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        name, version = entry.get("name"), entry.get("version")
        if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
            continue
        if not name.rpartition("/")[2].strip() or not version.strip():
            continue  # `vendor/` or blank names no package (and has no purl)
        lic = entry.get("license")
        licenses = tuple(x for x in lic if isinstance(x, str)) if isinstance(lic, list) else ()
        is_dev = dev if isinstance(dev, bool) else name in dev
        meta = (("dev", "true"),) if is_dev else ()
        yield new_package(name, version, path, licenses, meta, found_by)


def parse_installed_json(path: str, data: bytes, env: ParseEnv) -> Iterator[Package]:
    """Packages installed in a vendor directory (Composer 1 list or Composer 2 object)."""
    doc = _load(path, data)
    if isinstance(doc, list):
        yield from _packages(path, doc, False, FOUND_BY)
        return
    if not isinstance(doc, dict) or not isinstance(doc.get("packages"), list):
        raise ComposerError(path, "neither a list nor an object with a `packages` list")
    names = doc.get("dev-package-names")
    dev = frozenset(n for n in names if isinstance(n, str)) if isinstance(names, list) else False
    yield from _packages(path, doc["packages"], dev, FOUND_BY)


def parse_composer_lock(path: str, data: bytes, env: ParseEnv) -> Iterator[Package]:
    """Packages pinned by a lockfile, runtime then dev."""
    doc = _load(path, data)
    if not isinstance(doc, dict):
        raise ComposerError(path, "not a JSON object")
    for key, dev in (("packages", False), ("packages-dev", True)):
        entries = doc.get(key)
        if isinstance(entries, list):
            yield from _packages(path, entries, dev, LOCK_FOUND_BY)
