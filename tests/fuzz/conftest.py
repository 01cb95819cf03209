"""Fuzzing runs a few seconds per target in the normal suite; longer on request:
`pytest tests/fuzz --fuzz-seconds=300` or `DOCKWATCH_FUZZ_SECONDS=300 make unit`."""

from __future__ import annotations

import os

import pytest

DEFAULT_SECONDS = 0.8


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-seconds",
        type=float,
        default=None,
        help=f"seconds each fuzz target runs (default {DEFAULT_SECONDS}, or DOCKWATCH_FUZZ_SECONDS)",
    )


@pytest.fixture
def fuzz_seconds(request: pytest.FixtureRequest) -> float:
    """How long each fuzz target runs."""
    option = request.config.getoption("--fuzz-seconds", default=None)
    if option is not None:
        return float(option)
    return float(os.environ.get("DOCKWATCH_FUZZ_SECONDS", DEFAULT_SECONDS))
