"""`Gemfile.lock`, written by Bundler (bundler/lockfile_parser.rb, bundler/lockfile_generator.rb).

Sections start at column 0 (`GEM`, `GIT`, `PATH`, `PLATFORMS`, `DEPENDENCIES`, `BUNDLED WITH`); in
the source sections, `  specs:` is followed by resolved gems at 4 spaces (`    rake (13.0.6)`) and
their requirements at 6. A platform-specific gem reads `nokogiri (1.15.4-x86_64-linux)`: gem
versions never contain `-`, so what follows the first `-` is the platform.
"""

from __future__ import annotations

from collections.abc import Iterator

from dockwatch.catalog.cataloger import ParseEnv
from dockwatch.catalog.ruby.package import LOCK_FOUND_BY, new_package
from dockwatch.model.package import Package

SOURCE_SECTIONS = ("GEM", "GIT", "PATH", "PLUGIN SOURCE")


def parse_gemfile_lock(path: str, data: bytes, env: ParseEnv) -> Iterator[Package]:
    """Every resolved gem of every source section."""
    section = ""
    in_specs = False
    seen: set[tuple[str, str, str]] = set()
    for line in data.decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            section, in_specs = line.strip(), False
            continue
        if section not in SOURCE_SECTIONS:
            continue
        if line.strip() == "specs:":
            in_specs = True
            continue
        if not in_specs or not line.startswith("    ") or line[4] == " ":
            continue
        name, _, rest = line.strip().partition(" ")
        if not rest.startswith("(") or not rest.endswith(")"):
            continue
        version, _, platform = rest[1:-1].partition("-")
        if not name or not version or (name, version, platform) in seen:
            continue
        seen.add((name, version, platform))
        yield new_package(
            name,
            version,
            path,
            platform=platform or None,
            metadata=(("source", section),),
            found_by=LOCK_FOUND_BY,
            package_manager="BUNDLER",
        )
