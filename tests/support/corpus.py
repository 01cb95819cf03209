"""The shared image corpus (../shared/images/build-corpus.sh), built once by `make test`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared"
CORPUS = Path(os.environ.get("DOCKWATCH_CORPUS", "/var/tmp/dockwatch-corpus"))
IMAGES = (
    "debian-minbase",
    "debian-python",
    "debian-node",
    "debian-java",
    "debian-go",
    "distroless-debian",
    "rpmdb-alien",
)


def corpus_available() -> Path | None:
    """The corpus folder when it is built, else None (for tests where it is optional)."""
    if (SHARED / "images" / "build-corpus.sh").exists() and (CORPUS / "corpus.json").exists():
        return CORPUS
    return None


def corpus_dir() -> Path:
    """The corpus folder, or skip with the reason it is absent."""
    if not (SHARED / "images" / "build-corpus.sh").exists():
        pytest.skip(f"{SHARED / 'images'} is absent (a fresh clone): corpus tests need it")
    if not (CORPUS / "corpus.json").exists():
        pytest.skip(f"corpus not built at {CORPUS}: run `make corpus` (needs root)")
    return CORPUS


def summary(name: str) -> dict[str, object]:
    """NAME.summary.json written by the corpus build."""
    data: dict[str, object] = json.loads((corpus_dir() / f"{name}.summary.json").read_text())
    return data
