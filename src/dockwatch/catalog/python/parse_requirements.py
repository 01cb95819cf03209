"""Pinned `requirements.txt` files, as pip reads them and pip-compile or `pip freeze` write them.

Format: https://pip.pypa.io/en/stable/reference/requirements-file-format/ - one requirement
(PEP 508) per logical line; a trailing backslash continues a line; ` #` starts a comment; options
(`--hash=...` after a requirement, `-i`/`--index-url`, `--extra-index-url`, `-f`) are not
requirements. Only pins are packages: exactly one `==` (or `===`) specifier without a wildcard;
a range (`>=3.1`) names no version that is installed, an editable or URL requirement no release.
Extras are dropped from the name (`requests[socks]` is `requests`); an environment marker is
kept in metadata, not evaluated (the image's interpreter is not known here). `-r FILE` includes
are returned so the cataloger can report the ones it could not read; `-c` constraint files
install nothing and are not followed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.requirements import Requirement

from dockwatch.catalog.python.package import new_package
from dockwatch.model.package import Package

FOUND_BY = "python-manifest"
#: `--hash=sha256:...` and other per-requirement options start at the first ` -`/` --`.
_OPTION = re.compile(r"\s+--?[a-zA-Z]")
_COMMENT = re.compile(r"(^|\s)#.*$")
_INCLUDE = re.compile(r"^(?:-r|--requirement)(?:\s*=\s*|\s+)(\S+)$")


@dataclass(slots=True)
class Requirements:
    """What one requirements file pins, and the files it includes with `-r`."""

    packages: list[Package] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)
    """Included paths as written (relative to the including file's directory)."""


def logical_lines(text: str) -> Iterator[str]:
    """Lines with comments removed and backslash continuations joined, blank ones dropped."""
    pending = ""
    for raw in text.splitlines():
        line = _COMMENT.sub("", raw).rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            yield line
    if pending.strip():
        yield pending.strip()


def pinned_version(req: Requirement) -> str | None:
    """The version a requirement pins, or None when it does not pin exactly one."""
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or req.url:
        return None
    version = specs[0].version
    return None if "*" in version else version


def parse_requirements(path: str, data: bytes) -> Requirements:
    """The pins of one requirements file and its `-r` includes."""
    from packaging.requirements import InvalidRequirement, Requirement  # ~7 ms to import

    out = Requirements()
    for line in logical_lines(data.decode("utf-8-sig")):
        if line.startswith("-"):
            m = _INCLUDE.match(line)
            if m is not None:
                out.includes.append(m.group(1))
            continue
        cut = _OPTION.search(line)
        spec = line[: cut.start()] if cut else line
        try:
            req = Requirement(spec)
        except InvalidRequirement:
            continue  # not a requirement pip would install by name (a path, `${VAR}`)
        version = pinned_version(req)
        if version is None:
            continue
        meta: list[tuple[str, str]] = [("evidence", "requirements.txt")]
        if req.marker is not None:
            meta.append(("marker", str(req.marker)))
        if req.extras:
            meta.append(("extras", ",".join(sorted(req.extras))))
        out.packages.append(
            new_package(
                req.name, version, path, (), tuple(meta), found_by=FOUND_BY, package_manager="PIP"
            )
        )
    return out
