"""The docs cover what the code offers: every setting has a heading in the reference."""

from __future__ import annotations

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
