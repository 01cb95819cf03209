"""The `VersionScheme` protocol, its errors, and the registry from OSV ecosystem name to scheme.

Ordering is pure: a scheme turns a version string into a sort key (or raises `InvalidVersion`),
and nothing here touches the network. `scheme_for` separates the two questions that osv.dev's
`_ecosystems.py` keeps apart: "is this an ecosystem name at all?" (no: `UnknownEcosystem`) and
"can we order its versions?" (no: `None`, so the matcher reports it instead of guessing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol, runtime_checkable

from dockwatch.errors import DockwatchError

logger = logging.getLogger(__name__)

#: Longest version string any scheme accepts; longer input is hostile or broken, never ordered.
MAX_VERSION_LENGTH = 512

#: Width of each numeric field in a coarse key, and the value a larger number is clamped to.
COARSE_WIDTH = 8
COARSE_MAX = 10**COARSE_WIDTH - 1
#: Number of numeric components (after the epoch) a coarse key keeps.
COARSE_PARTS = 3


class VersionError(DockwatchError):
    """Base of the errors of the versions package."""


class InvalidVersion(VersionError, ValueError):
    """A version string the ecosystem's own tools would reject; it is never silently ordered."""

    def __init__(self, version: str, reason: str, ecosystem: str = "") -> None:
        self.version = version
        """The offending string (truncated to 200 characters in the message only)."""
        self.reason = reason
        """Why it was rejected, in words."""
        self.ecosystem = ecosystem
        """The scheme that rejected it."""
        shown = version if len(version) <= 200 else version[:200] + "..."
        where = f"{ecosystem} " if ecosystem else ""
        super().__init__(f"invalid {where}version {shown!r}: {reason}")


class UnknownEcosystem(VersionError, LookupError):
    """An ecosystem name that neither OSV nor dockwatch knows (a typo, or hostile input)."""

    def __init__(self, ecosystem: str) -> None:
        self.ecosystem = ecosystem
        """The name as given."""
        super().__init__(f"unknown ecosystem {ecosystem[:100]!r}")


class SortKey(Protocol):
    """Anything totally ordered; keys of one scheme compare only with keys of the same scheme."""

    def __lt__(self, other: Any, /) -> bool: ...

    def __le__(self, other: Any, /) -> bool: ...

    def __gt__(self, other: Any, /) -> bool: ...

    def __ge__(self, other: Any, /) -> bool: ...


@runtime_checkable
class VersionScheme(Protocol):
    """How one ecosystem orders its versions."""

    @property
    def ecosystem(self) -> str:
        """The OSV ecosystem name (without any `:release` part)."""
        ...

    def key(self, version: str) -> SortKey:
        """Exact sort key; raises `InvalidVersion` for strings the ecosystem rejects."""
        ...

    def compare(self, a: str, b: str) -> int:
        """-1, 0 or 1 as `a` sorts before, equal to or after `b`; raises `InvalidVersion`."""
        ...

    def coarse(self, version: str) -> str:
        """A fixed-width string that is monotonically non-decreasing in the version order.

        `a <= b` implies `coarse(a) <= coarse(b)`, so SQL can prefilter candidate ranges with
        plain string comparison before the exact `key` check. Raises `InvalidVersion`.
        """
        ...


#: The token of a version the scheme rejects (equal to nothing but itself, so to no key).
INVALID_TOKEN: Hashable = object()


class BaseScheme:
    """Shared plumbing: `compare` from `key`, input bounds, and the caches of parsed keys and
    of tokens.

    Subclasses implement `_parse` (and `_coarse_parts`); `key` memoises `_parse` per instance
    because matching compares the same few thousand versions over and over.
    """

    ecosystem: str = ""
    cache_size: int = 1 << 16
    token_cache_size: int = 1 << 17
    list_cache_size: int = 1 << 12

    def __init__(self, ecosystem: str | None = None) -> None:
        from functools import lru_cache

        if ecosystem is not None:
            self.ecosystem = ecosystem
        self._cached: Callable[[str], Any] = lru_cache(maxsize=self.cache_size)(self._checked)
        self._tokens: dict[str, Hashable] = {}
        self._lists: dict[tuple[str, ...], frozenset[Hashable]] = {}

    def _checked(self, version: str) -> Any:
        if len(version) > MAX_VERSION_LENGTH:
            raise InvalidVersion(
                version, f"longer than {MAX_VERSION_LENGTH} characters", self.ecosystem
            )
        return self._parse(version)

    def _parse(self, version: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def invalid(self, version: str, reason: str) -> InvalidVersion:
        """Build this scheme's `InvalidVersion` (a helper so parsers read as one line)."""
        return InvalidVersion(version, reason, self.ecosystem)

    def key(self, version: str) -> SortKey:
        """Exact sort key (cached); raises `InvalidVersion`."""
        if type(version) is not str:  # also keeps unhashable input away from the cache
            raise InvalidVersion(repr(version)[:200], "not a string", self.ecosystem)
        key: SortKey = self._cached(version)
        return key

    def token(self, key: Any) -> Hashable:
        """A value equal to another key's token exactly when the keys are equal, and cheap to
        hash: the key itself (tuples of numbers and strings hash in C), unless a scheme's keys
        hash in Python (then a canonical string, see `Pep440Scheme.token`)."""
        token: Hashable = key
        return token

    def fresh_token(self, version: str) -> Hashable:
        """`token(key(version))`, or `INVALID_TOKEN`, not cached (a scheme may take a shortcut
        for strings it can tokenise without parsing them)."""
        try:
            return self.token(self.key(version))
        except InvalidVersion:
            return INVALID_TOKEN

    def token_of(self, version: str) -> Hashable:
        """`token(key(version))`, or `INVALID_TOKEN` if the scheme rejects it (cached)."""
        memo = self._tokens
        got = memo.get(version)
        if got is None:
            got = memo[version] = self.fresh_token(version)
        return got

    def listed_tokens(self, versions: tuple[str, ...]) -> frozenset[Hashable]:
        """The tokens of `versions` (`INVALID_TOKEN` for those the scheme rejects).

        An update re-reads the same lists in many entries (4,500 lists, 2,100 distinct, in a
        1,000-advisory PyPI update) and the same versions in many lists (432,000 listed, 18,000
        distinct): the tokens of a list are kept by list, and those of a version by string, so
        a list costs a dict lookup, or C-level passes over a dict plus one `fresh_token` per
        string never seen before. Raises TypeError when a version or a token is unhashable."""
        lists = self._lists
        got = lists.get(versions)
        if got is not None:
            return got
        memo = self._tokens
        got = frozenset(map(memo.get, versions))
        if None in got:
            if len(memo) >= self.token_cache_size:
                memo = self._tokens = {}  # a new dict: a caller holding the old one is unaffected
            for v in set(versions).difference(memo):
                memo[v] = self.fresh_token(v)
            got = frozenset(map(memo.__getitem__, versions))
        if len(lists) >= self.list_cache_size:
            lists = self._lists = {}
        lists[versions] = got
        return got

    def compare(self, a: str, b: str) -> int:
        """-1, 0 or 1."""
        ka, kb = self.key(a), self.key(b)
        return -1 if ka < kb else (1 if kb < ka else 0)

    def coarse(self, version: str) -> str:
        """Monotonic coarse key; see `VersionScheme.coarse`."""
        self.key(version)  # validates (and caches) first
        epoch, parts, fill_high = self._coarse_parts(version)
        return coarse_string(epoch, parts, fill_high)

    def _coarse_parts(self, version: str) -> tuple[int, Sequence[int], bool]:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.ecosystem!r})"


def coarse_string(epoch: int, parts: Sequence[int], fill_high: bool = False) -> str:
    """Format `EEEEEEEE:XXXXXXXX.YYYYYYYY.ZZZZZZZZ` from an epoch and leading numeric parts.

    `parts` are the leading components a scheme compares numerically, already truncated where
    the scheme's order stops being "numbers separated by dots"; `fill_high` says whether what
    follows sorts above every numeric continuation (fill with the maximum) or not (fill with
    zero). A number too wide for its field is clamped, and everything after it is filled with
    the maximum, which keeps the mapping monotonic.
    """
    fields = [epoch, *parts[:COARSE_PARTS]]
    out: list[int] = []
    high = fill_high if len(parts) <= COARSE_PARTS else False
    for value in fields:
        if value > COARSE_MAX:
            out.append(COARSE_MAX)
            high = True
            break
        out.append(max(value, 0))
    while len(out) < COARSE_PARTS + 1:
        out.append(COARSE_MAX if high else 0)
    head, *rest = out
    return f"{head:0{COARSE_WIDTH}d}:" + ".".join(f"{v:0{COARSE_WIDTH}d}" for v in rest)


# --- registry -------------------------------------------------------------------------------

#: OSV ecosystem name -> module path of its scheme, or None for "known, ordering unsupported".
#: Names as the OSV schema spells them (https://ossf.github.io/osv-schema/#affectedpackage-field).
_REGISTRY: dict[str, tuple[str, str] | None] = {
    "AlmaLinux": ("dockwatch.versions.rpm", "RpmScheme"),
    "Alpaquita": ("dockwatch.versions.apk", "ApkScheme"),
    "Alpine": ("dockwatch.versions.apk", "ApkScheme"),
    "Amazon Linux": ("dockwatch.versions.rpm", "RpmScheme"),  # ALAS updateinfo, not OSV
    "Android": None,
    "Azure Linux": ("dockwatch.versions.rpm", "RpmScheme"),
    "BellSoft Hardened Containers": ("dockwatch.versions.apk", "ApkScheme"),
    "Bioconductor": None,
    "Bitnami": ("dockwatch.versions.bitnami", "BitnamiScheme"),
    "Bottlerocket": ("dockwatch.versions.rpm", "RpmScheme"),  # BRSA updateinfo, not OSV
    "Chainguard": ("dockwatch.versions.apk", "ApkScheme"),
    "CleanStart": None,
    "ConanCenter": None,
    "CRAN": None,
    "crates.io": ("dockwatch.versions.semver", "CratesScheme"),
    "Debian": ("dockwatch.versions.dpkg", "DpkgScheme"),
    "Docker Hardened Images": None,
    "DWF": None,
    "Echo": ("dockwatch.versions.dpkg", "DpkgScheme"),
    "Fedora": ("dockwatch.versions.rpm", "RpmScheme"),  # Bodhi's updates (feeds/fedora.py)
    "FreeBSD": None,
    "GHC": None,
    "GIT": None,
    "GitHub Actions": None,
    "Go": ("dockwatch.versions.golang", "GoScheme"),
    "GSD": None,
    "Hackage": None,
    "Hex": ("dockwatch.versions.semver", "HexScheme"),
    "Julia": None,
    "Kubernetes": ("dockwatch.versions.golang", "GoScheme"),
    "Linux": None,
    "Mageia": ("dockwatch.versions.rpm", "RpmScheme"),
    "Maven": ("dockwatch.versions.maven", "MavenScheme"),
    "MinimOS": ("dockwatch.versions.apk", "ApkScheme"),
    "npm": ("dockwatch.versions.semver", "NpmScheme"),
    "NuGet": ("dockwatch.versions.semver", "NuGetScheme"),
    "opam": None,
    "openEuler": ("dockwatch.versions.rpm", "RpmScheme"),
    "openSUSE": ("dockwatch.versions.rpm", "RpmScheme"),
    "Oracle Linux": ("dockwatch.versions.rpm", "RpmScheme"),
    "OSS-Fuzz": None,
    "Packagist": ("dockwatch.versions.composer", "ComposerScheme"),
    "Photon OS": ("dockwatch.versions.rpm", "RpmScheme"),
    "Pub": None,
    "PyPI": ("dockwatch.versions.pep440", "Pep440Scheme"),
    "Red Hat": ("dockwatch.versions.rpm", "RpmScheme"),
    "Rocky Linux": ("dockwatch.versions.rpm", "RpmScheme"),
    "Root": None,  # `Root:<Ecosystem>[:...]` is resolved through the inner ecosystem
    "RubyGems": ("dockwatch.versions.gem", "GemScheme"),
    "SUSE": ("dockwatch.versions.rpm", "RpmScheme"),
    "SwiftURL": ("dockwatch.versions.semver", "NpmScheme"),  # SemVer 2.0 git tags, `v` allowed
    "Ubuntu": ("dockwatch.versions.dpkg", "DpkgScheme"),
    "UVI": None,
    "VSCode": None,
    "Wolfi": ("dockwatch.versions.apk", "ApkScheme"),
}

_INSTANCES: dict[str, VersionScheme] = {}


def base_ecosystem(ecosystem: str) -> str:
    """`Debian:12` -> `Debian`, `Alpine:v3.19` -> `Alpine`; the part before `:` picks the scheme.

    Root's variants name the ecosystem they patch (`Root:Alpine:3.18`, `Root:PyPI`), so for
    `Root:` the next part decides.
    """
    head, _, rest = ecosystem.partition(":")
    head = head.strip()
    if head == "Root" and rest:
        return base_ecosystem(rest)
    return head


def is_known(ecosystem: str) -> bool:
    """True for every ecosystem name OSV defines, whether or not we can order its versions."""
    return base_ecosystem(ecosystem) in _REGISTRY


def known_ecosystems() -> tuple[str, ...]:
    """All base ecosystem names, supported or not."""
    return tuple(sorted(_REGISTRY))


def supported_ecosystems() -> tuple[str, ...]:
    """The base ecosystem names that have a scheme."""
    return tuple(sorted(name for name, entry in _REGISTRY.items() if entry is not None))


def scheme_for(ecosystem: str) -> VersionScheme | None:
    """The scheme for an OSV ecosystem (`PyPI`, `Debian:12`, ...), or None if known but unsupported.

    Raises `UnknownEcosystem` for names OSV does not define, so a typo never reads as "no
    advisories apply". One scheme instance (and one key cache) is shared per implementation.
    """
    base = base_ecosystem(ecosystem)
    if base not in _REGISTRY:
        raise UnknownEcosystem(ecosystem)
    entry = _REGISTRY[base]
    if entry is None:
        return None
    scheme = _INSTANCES.get(base)
    if scheme is None:
        import importlib

        module_name, class_name = entry
        cls = getattr(importlib.import_module(module_name), class_name)
        scheme = cls(base)
        assert isinstance(scheme, VersionScheme)
        _INSTANCES[base] = scheme
    return scheme
