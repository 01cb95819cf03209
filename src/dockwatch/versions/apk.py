"""Alpine (apk) package versions, ordered as apk-tools' `src/version.c` orders them.

Grammar (apk-tools): `digit{.digit}...{letter}{_suffix{digits}}...{~hash}{-r#}` with suffixes
`_alpha _beta _pre _rc` (before the release) and `_cvs _svn _git _hg _p` (after it).

apk-tools compares token by token while both sides have the same token type; equal types
compare by value (numbers numerically, except that a dotted component with a leading zero
compares as a string, Gentoo style; letters and commit hashes as strings; suffixes by their
table position). When the types differ, a pre-release suffix sorts lowest and otherwise the
side whose token type comes later in the grammar (the shorter version) sorts lower. The key
encodes each token as (rank, value) with rank = -type (pre-release suffixes lowest), closed by
the end token, so tuple comparison reproduces apk. Written here because no Python library
implements apk ordering; tests check it against the examples apk-tools ships.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from dockwatch.versions.scheme import BaseScheme

logger = logging.getLogger(__name__)

(
    _INITIAL_DIGIT,
    _DIGIT,
    _LETTER,
    _SUFFIX,
    _SUFFIX_NO,
    _COMMIT_HASH,
    _REVISION_NO,
    _END,
) = range(8)
_PRE_RANK = -100

_SUFFIXES = {
    "alpha": 1,
    "beta": 2,
    "pre": 3,
    "rc": 4,
    # 5 is "no suffix", the pivot
    "cvs": 6,
    "svn": 7,
    "git": 8,
    "hg": 9,
    "p": 10,
}
_SUFFIX_NONE = 5
_DIGITS = frozenset("0123456789")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_HEX = frozenset("0123456789abcdefABCDEF")

Token = tuple[int, object]


class ApkScheme(BaseScheme):
    """Alpine, Wolfi, Chainguard and other apk-based distributions."""

    ecosystem = "Alpine"

    def tokens(self, version: str) -> list[Token]:
        """(type, value) tokens as apk-tools' `token_first`/`token_next`; raises InvalidVersion."""
        s = version
        n = len(s)
        i = 0
        while i < n and s[i] in _DIGITS:
            i += 1
        if i == 0:
            raise self.invalid(version, "must start with a digit")
        out: list[Token] = [(_INITIAL_DIGIT, int(s[:i]))]
        kind = _INITIAL_DIGIT
        while i < n:
            c = s[i]
            if c in _LOWER:
                if kind > _DIGIT:
                    raise self.invalid(version, f"letter {c!r} not allowed here")
                kind = _LETTER
                out.append((kind, c))
                i += 1
            elif c == "." or c in _DIGITS:
                if c == ".":
                    if kind > _DIGIT:
                        raise self.invalid(version, "'.' not allowed here")
                    i += 1
                if kind in (_INITIAL_DIGIT, _DIGIT):
                    kind = _DIGIT
                elif kind == _SUFFIX:
                    kind = _SUFFIX_NO
                else:
                    raise self.invalid(version, "digits not allowed here")
                j = i
                while j < n and s[j] in _DIGITS:
                    j += 1
                if j == i:
                    raise self.invalid(version, "expected digits")
                digits = s[i:j]
                if kind == _DIGIT:
                    # apk: a component with a leading zero compares as a string
                    value: object = (0, digits) if digits[0] == "0" else (1, int(digits))
                else:
                    value = int(digits)
                out.append((kind, value))
                i = j
            elif c == "_":
                if kind > _SUFFIX_NO:
                    raise self.invalid(version, "suffix not allowed here")
                j = i + 1
                while j < n and s[j] in _LOWER:
                    j += 1
                name = s[i + 1 : j]
                if name not in _SUFFIXES:
                    raise self.invalid(version, f"unknown suffix {name!r}")
                kind = _SUFFIX
                out.append((kind, _SUFFIXES[name]))
                i = j
            elif c == "~":
                if kind >= _COMMIT_HASH:
                    raise self.invalid(version, "'~' not allowed here")
                j = i + 1
                while j < n and s[j] in _HEX:
                    j += 1
                if j == i + 1:
                    raise self.invalid(version, "empty commit hash after '~'")
                kind = _COMMIT_HASH
                out.append((kind, s[i + 1 : j]))
                i = j
            elif c == "-":
                if kind >= _REVISION_NO or not s.startswith("-r", i):
                    raise self.invalid(version, "'-' must start the final '-rN'")
                j = i + 2
                while j < n and s[j] in _DIGITS:
                    j += 1
                if j == i + 2:
                    raise self.invalid(version, "expected digits after '-r'")
                kind = _REVISION_NO
                out.append((kind, int(s[i + 2 : j])))
                i = j
            else:
                raise self.invalid(version, f"unexpected character {c!r}")
        return out

    def _parse(self, version: str) -> tuple[object, ...]:
        key: list[object] = []
        for kind, value in self.tokens(version):
            if kind == _SUFFIX:
                assert isinstance(value, int)
                key.append(_PRE_RANK if value < _SUFFIX_NONE else -kind)
            else:
                key.append(-kind)
            key.append(value)
        key.append(-_END)
        return tuple(key)

    def _coarse_parts(self, version: str) -> tuple[int, Sequence[int], bool]:
        toks = self.tokens(version)
        first = toks[0][1]
        assert isinstance(first, int)
        parts: list[int] = [first]
        for kind, value in toks[1:]:
            if kind != _DIGIT:
                break  # any other token type sorts below a further dotted number
            assert isinstance(value, tuple)
            flag, num = value
            if flag == 0:
                # leading zero: string order, below every number without one; stop here
                parts.append(0)
                break
            assert isinstance(num, int)
            parts.append(num)
        return 0, parts, False
