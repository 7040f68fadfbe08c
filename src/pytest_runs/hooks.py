"""The hook pytest-runs offers to conftest files and plugins."""

from __future__ import annotations

import re
from collections.abc import Iterable

import pytest


def pytest_runs_redact(config: pytest.Config) -> Iterable[str | re.Pattern[str]] | None:
    """Return more secrets for pytest-runs to keep out of cassettes.

    A ``str`` is a literal value (at least 8 characters), replaced wherever it occurs and searched for, in every
    encoding, before each write; a compiled ``re.Pattern`` replaces and forbids its matches. Called for every test
    that uses a cassette (so values may come from the environment or from files), with the results of all
    implementations combined. Rules only add to the defaults, which cannot be switched off.

    .. code-block:: python

        # conftest.py
        import os, re

        def pytest_runs_redact(config):
            return [os.environ["MY_SERVICE_TOKEN"], re.compile(r"tok_[0-9a-f]{32}")]
    """
