"""apk specifics beyond the ground-truth file: the tokenizer and the coarse key."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockwatch.versions.apk import ApkScheme
from dockwatch.versions.scheme import InvalidVersion


def test_tokens_follow_the_grammar() -> None:
    kinds = [kind for kind, _ in ApkScheme().tokens("1.2.3a_rc2_p1~cafe-r7")]
    # initial digit, digit, digit, letter, suffix, suffix no, suffix, suffix no, hash, revision
    assert kinds == [0, 1, 1, 2, 3, 4, 3, 4, 5, 6]


def test_coarse_stops_at_a_leading_zero_component() -> None:
    s = ApkScheme()
    assert s.coarse("1.05.9") == s.coarse("1.0")
    assert s.compare("1.05.9", "1.4") == -1
    assert s.coarse("1.05.9") <= s.coarse("1.4")
    assert s.coarse("2.3.4_rc1-r2") == "00000000:00000002.00000003.00000004"


@pytest.mark.parametrize("version", ["1.0-r1a", "1.0_rc1a", "1.0~g12", "1.0a1"])
def test_rejected(version: str) -> None:
    with pytest.raises(InvalidVersion):
        ApkScheme().key(version)


# --- a literal transcription of apk-tools' comparison loop, as an independent oracle for the
# tuple-key encoding (apk-tools src/version.c: token_next, token_cmp, apk_version_compare)

_SUFFIX_VALUE = {
    "alpha": 1,
    "beta": 2,
    "pre": 3,
    "rc": 4,
    "cvs": 6,
    "svn": 7,
    "git": 8,
    "hg": 9,
    "p": 10,
}
INITIAL, DIGIT, LETTER, SUFFIX, SUFFIX_NO, HASH, REVISION, END, INVALID = range(9)


class _Tok:
    def __init__(self) -> None:
        self.token = INITIAL
        self.value = ""
        self.number = 0
        self.suffix = 0


def _digits(t: _Tok, s: str, i: int) -> int:
    j = i
    while j < len(s) and s[j].isdigit():
        j += 1
    t.value, t.number = s[i:j], int(s[i:j] or "0")
    if j == i:
        t.token = INVALID
    return j


def _next(t: _Tok, s: str, i: int) -> int:
    if i >= len(s):
        t.token = END
        return i
    c = s[i]
    if "a" <= c <= "z":
        if t.token > DIGIT:
            t.token = INVALID
            return i
        t.value, t.token = c, LETTER
        return i + 1
    if c == "." or c.isdigit():
        if c == ".":
            if t.token > DIGIT:
                t.token = INVALID
                return i
            i += 1
        if t.token in (INITIAL, DIGIT):
            t.token = DIGIT
        elif t.token == SUFFIX:
            t.token = SUFFIX_NO
        else:
            t.token = INVALID
            return i
        return _digits(t, s, i)
    if c == "_":
        if t.token > SUFFIX_NO:
            t.token = INVALID
            return i
        j = i + 1
        while j < len(s) and "a" <= s[j] <= "z":
            j += 1
        t.value = s[i + 1 : j]
        t.suffix = _SUFFIX_VALUE.get(t.value, 0)
        t.token = SUFFIX if t.suffix else INVALID
        return j
    if c == "~":
        if t.token >= HASH:
            t.token = INVALID
            return i
        j = i + 1
        while j < len(s) and s[j] in "0123456789abcdefABCDEF":
            j += 1
        t.value = s[i + 1 : j]
        t.token = HASH if t.value else INVALID
        return j
    if c == "-":
        if t.token >= REVISION or not s.startswith("-r", i):
            t.token = INVALID
            return i
        t.token = REVISION
        return _digits(t, s, i + 2)
    t.token = INVALID
    return i


def _token_cmp(a: _Tok, b: _Tok) -> int:
    if a.token == DIGIT and (a.value[0] == "0" or b.value[0] == "0"):
        return (a.value > b.value) - (a.value < b.value)
    if a.token in (INITIAL, DIGIT, SUFFIX_NO, REVISION):
        return (a.number > b.number) - (a.number < b.number)
    if a.token == LETTER:
        return (a.value > b.value) - (a.value < b.value)
    if a.token == SUFFIX:
        return (a.suffix > b.suffix) - (a.suffix < b.suffix)
    return (a.value > b.value) - (a.value < b.value)


def apk_compare(a: str, b: str) -> int:
    ta, tb = _Tok(), _Tok()
    ia, ib = _digits(ta, a, 0), _digits(tb, b, 0)
    while ta.token == tb.token and ta.token < END:
        r = _token_cmp(ta, tb)
        if r:
            return r
        ia, ib = _next(ta, a, ia), _next(tb, b, ib)
    if ta.token == tb.token:
        return 0
    if ta.token == SUFFIX and ta.suffix < 5:
        return -1
    if tb.token == SUFFIX and tb.suffix < 5:
        return 1
    return -1 if ta.token > tb.token else (1 if tb.token > ta.token else 0)


_APK = r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}[a-c]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]{0,2}){0,2}(~[0-9a-f]{1,2})?(-r[0-9]{1,2})?"


@settings(max_examples=1000, deadline=None)
@given(st.from_regex(_APK, fullmatch=True), st.from_regex(_APK, fullmatch=True))
def test_key_order_equals_the_transcribed_loop(a: str, b: str) -> None:
    assert ApkScheme().compare(a, b) == apk_compare(a, b)


def test_transcription_agrees_with_the_ground_truth_file() -> None:
    from tests.unit.versions.datafiles import DATA, read

    for rel in read(DATA / "apk.txt").relations:
        assert apk_compare(rel.a, rel.b) == rel.expected, rel
