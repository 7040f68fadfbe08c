"""Shared fixtures of pytest-runs' own test suite."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _quiet_inner_pytest_runs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytest runs (pytester) have no ini file; give them pytest-asyncio's loop scope so it does not warn."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # it clears PYTEST_ADDOPTS when created: set ours after that
        monkeypatch.setenv("PYTEST_ADDOPTS", "-o asyncio_default_fixture_loop_scope=function")
