"""Installed gem specifications, `<gem home>/specifications/NAME-VERSION.gemspec`.

RubyGems writes these with `Gem::Specification#to_ruby` (rubygems/specification.rb): a first line
`# stub: NAME VERSION PLATFORM REQUIRE_PATHS`, then Ruby code with one assignment per line:
`s.name = "rake".freeze`, `s.version = "13.0.6"`, `s.licenses = ["MIT".freeze]`. We never evaluate
Ruby; the assignments are regular enough to read as text, and the stub line backs them up.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from dockwatch.catalog.cataloger import CatalogError, ParseEnv
from dockwatch.catalog.ruby.package import new_package
from dockwatch.model.package import Package

_ASSIGN = re.compile(r'^\s*s\.(name|version|platform)\s*=\s*"([^"]*)"', re.M)
_LICENSES = re.compile(r"^\s*s\.licenses?\s*=\s*\[?([^\n\]]*)", re.M)
_STRING = re.compile(r'"([^"]*)"')
_VERSION_NEW = re.compile(r'^\s*s\.version\s*=\s*Gem::Version\.new\("([^"]*)"\)', re.M)


class GemspecError(CatalogError):
    """A gemspec in which neither the assignments nor the stub line give a name and version."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path}: no name and version in the gem specification")
        self.path = path


def parse_gemspec(path: str, data: bytes, env: ParseEnv) -> Iterator[Package]:
    """One gem per installed specification."""
    text = data.decode("utf-8", errors="replace")
    fields = dict(_ASSIGN.findall(text))
    if "version" not in fields and (m := _VERSION_NEW.search(text)):
        fields["version"] = m.group(1)
    for line in text.splitlines()[:3]:
        if line.startswith("# stub: "):
            stub = line[len("# stub: ") :].split(" ")
            if len(stub) >= 2:
                fields.setdefault("name", stub[0])
                fields.setdefault("version", stub[1])
            if len(stub) >= 3:
                fields.setdefault("platform", stub[2])
            break
    name, version = fields.get("name"), fields.get("version")
    if not name or not version:
        raise GemspecError(path)
    licenses: tuple[str, ...] = ()
    if m := _LICENSES.search(text):
        licenses = tuple(_STRING.findall(m.group(1)))
    yield new_package(name, version, path, licenses, fields.get("platform"))
