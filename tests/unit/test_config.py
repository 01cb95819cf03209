"""Settings from the environment and their checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockwatch.config import Settings, from_env
from dockwatch.errors import InvalidInput


def test_env_then_overrides() -> None:
    s = from_env(
        {"DOCKWATCH_DATA": "/srv/dw", "DOCKWATCH_PORT": "6000", "DOCKWATCH_AUTH": "false"},
        port=7000,
    )
    assert s.data_dir == Path("/srv/dw")
    assert s.port == 7000
    assert s.auth is False
    assert "authentication is OFF" in " ".join(s.lint())


def test_bad_values() -> None:
    with pytest.raises(InvalidInput):
        from_env({"DOCKWATCH_AUTH": "maybe"})
    assert Settings(account_id="12").validate()
    assert Settings(tls_cert=Path("c.pem")).validate()
    assert Settings().validate() == []
