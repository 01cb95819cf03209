"""`go.mod` and `go.sum`, as the go command writes them.

Format: https://go.dev/ref/mod#go-mod-file - line-oriented; `//` comments; directives `module`,
`go`, `toolchain`, `require`, `exclude`, `replace`, `retract`, `godebug`, `tool`, each either
on one line or as a parenthesized block. A requirement is `path version`, with `// indirect`
when no package of the main module imports it. `replace old [v] => new [v]` substitutes a
module (every version of it, or only `v`); a replacement by a local directory (`=> ../fork`)
names no release. Paths may be quoted.

go.sum (https://go.dev/ref/mod#go-sum-files): `path version h1:hash` for a module's content and
`path version/go.mod h1:hash` for its go.mod only. It confirms versions, it adds none: a module
whose content hash go.sum lists gets `h1_digest` (as the binary cataloger records it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from dockwatch.catalog.cataloger import FileFormatError
from dockwatch.value_class import frozen

#: Directives whose block or line this parser keeps; the rest are read past.
_KEPT = ("module", "require", "replace")


class GoModError(FileFormatError):
    """A go.mod the go command would refuse (an unterminated block, a bad quote)."""


@frozen
class Requirement:
    """One `require` line."""

    path: str
    version: str
    indirect: bool


@frozen
class Replacement:
    """One `replace` line: `old` (at `old_version`, or every version) -> `new` [`new_version`]."""

    old: str
    old_version: str | None
    new: str
    new_version: str | None


@dataclass(slots=True)
class GoMod:
    """What a go.mod declares."""

    module: str | None = None
    requires: list[Requirement] = field(default_factory=list)
    replaces: list[Replacement] = field(default_factory=list)

    def resolve(self, req: Requirement) -> tuple[str, str | None, Replacement | None]:
        """(path, version, replacement used) the build gets for `req`; version None for a
        local directory replacement. A version-specific replacement wins over a general one."""
        chosen: Replacement | None = None
        for r in self.replaces:
            if r.old != req.path:
                continue
            if r.old_version == req.version:
                chosen = r
                break
            if r.old_version is None and chosen is None:
                chosen = r
        if chosen is None:
            return req.path, req.version, None
        return chosen.new, chosen.new_version, chosen


def _tokens(line: str, path: str) -> list[str]:
    """Whitespace-separated tokens, with Go's double-quoted and back-quoted strings."""
    out: list[str] = []
    i = 0
    while i < len(line):
        c = line[i]
        if c.isspace():
            i += 1
        elif c in '"`':
            end = line.find(c, i + 1)
            while c == '"' and end > 0 and line[end - 1] == "\\":
                end = line.find(c, end + 1)
            if end < 0:
                raise GoModError(path, f"unterminated quoted string in {line!r}")
            out.append(line[i + 1 : end].replace('\\"', '"'))
            i = end + 1
        else:
            j = i
            while j < len(line) and not line[j].isspace():
                j += 1
            out.append(line[i:j])
            i = j
    return out


def _statements(path: str, text: str) -> Iterator[tuple[str, list[str], str]]:
    """(directive, arguments, comment) per statement, blocks flattened."""
    block: str | None = None
    for raw in text.splitlines():
        code, _, comment = raw.partition("//")
        tokens = _tokens(code, path)
        if block is not None:
            if tokens == [")"]:
                block = None
            elif tokens:
                yield block, tokens, comment.strip()
            continue
        if not tokens:
            continue
        if len(tokens) == 2 and tokens[1] == "(":
            block = tokens[0]
            continue
        yield tokens[0], tokens[1:], comment.strip()
    if block is not None:
        raise GoModError(path, f"`{block} (` block is never closed")


def parse_gomod(path: str, data: bytes) -> GoMod:
    """The module path, requirements and replacements of a go.mod file."""
    mod = GoMod()
    for directive, args, comment in _statements(path, data.decode("utf-8")):
        if directive not in _KEPT:
            continue
        if directive == "module" and args:
            mod.module = args[0]
        elif directive == "require" and len(args) >= 2:
            mod.requires.append(Requirement(args[0], args[1], comment == "indirect"))
        elif directive == "replace" and "=>" in args:
            arrow = args.index("=>")
            left, right = args[:arrow], args[arrow + 1 :]
            if len(left) not in (1, 2) or len(right) not in (1, 2):
                continue
            mod.replaces.append(
                Replacement(
                    left[0],
                    left[1] if len(left) == 2 else None,
                    right[0],
                    right[1] if len(right) == 2 else None,
                )
            )
    return mod


def parse_gosum(data: bytes) -> dict[tuple[str, str], str]:
    """(module path, version) -> content hash (`h1:...`), from go.sum's non-`/go.mod` lines."""
    out: dict[tuple[str, str], str] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and not parts[1].endswith("/go.mod"):
            out[(parts[0], parts[1])] = parts[2]
    return out
