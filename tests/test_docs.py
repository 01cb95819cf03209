"""The docs cover what the code offers: every setting has a heading in the reference."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from dockwatch.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "reference" / "config.md").read_text()
    headings = {line[3:].strip() for line in text.splitlines() if line.startswith("## ")}
    missing = [f.name for f in fields(Settings) if f.name not in headings]
    assert missing == [], "document these settings in docs/reference/config.md"
    for f in fields(Settings):
        assert f"DOCKWATCH_{f.name.upper()}" in text


def test_readme_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make serve" in readme and "make test" in readme


_FILE_TEST = re.compile(r"\btests/[\w/]+\.py(?:::(test_\w+))?")
"""`tests/x/test_y.py` or `tests/x/test_y.py::test_z`."""
_MODULE = re.compile(
    r"(?<![\w/.])((?:unit|e2e|contract|conformance|fuzz)/[\w/]*test_\w+)\b(?!\.py)"
)
"""A test module named from the tests folder without `.py` (`unit/scan/test_status_flow`)."""
_BARE = re.compile(r"`(test_\w+)`")
"""A test function or module named alone, in backticks."""
_DEFINED = re.compile(r"^\s*(?:async\s+)?def\s+(test_\w+)", re.MULTILINE)


def _doc_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def cited_tests(text: str) -> list[tuple[str, str | None]]:
    """(test file relative to the repository, test name or None) for every test `text` cites;
    a bare name is (`""`, name)."""
    out: list[tuple[str, str | None]] = [
        (m.group(0).split("::")[0], m.group(1)) for m in _FILE_TEST.finditer(text)
    ]
    out += [(f"tests/{m.group(1)}.py", None) for m in _MODULE.finditer(text)]
    out += [("", m.group(1)) for m in _BARE.finditer(text)]
    return out


def test_cited_tests_are_read_in_every_form() -> None:
    text = (
        "see `tests/unit/a/test_b.py::test_c`, tests/e2e/test_d.py, unit/scan/test_e and "
        "`test_f`; not `test_mode` headings (## test_g) nor `pytest tests/`"
    )
    assert cited_tests(text) == [
        ("tests/unit/a/test_b.py", "test_c"),
        ("tests/e2e/test_d.py", None),
        ("tests/unit/scan/test_e.py", None),
        ("", "test_f"),
        ("", "test_mode"),
    ]


def test_every_test_the_docs_cite_exists() -> None:
    defined: dict[str, set[str]] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        defined[path.relative_to(ROOT).as_posix()] = set(_DEFINED.findall(path.read_text()))
    every_name = set().union(*defined.values()) | {Path(p).stem for p in defined}
    settings = {f.name for f in fields(Settings)}
    missing: list[str] = []
    for page in _doc_pages():
        for file, name in cited_tests(page.read_text()):
            where = (
                f"{page.relative_to(ROOT)}: {file}{'::' + name if name and file else name or ''}"
            )
            if not file:
                if name not in every_name and name not in settings:
                    missing.append(where)
            elif not Path(file).name.startswith("test_"):  # a helper such as tests/support/x.py
                if not (ROOT / file).is_file():
                    missing.append(where)
            elif file not in defined or (name is not None and name not in defined[file]):
                missing.append(where)
    assert missing == [], "the docs cite tests that do not exist"
