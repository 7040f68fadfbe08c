"""Per-test and per-session state, kept in pytest's stashes (never in module globals)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from .errors import SecretLeakError
from .session import Cassette

__all__ = ["CASSETTE_KEY", "INI_RULES_KEY", "SESSION_KEY", "SessionState", "attach", "finish"]


@dataclass
class SessionState:
    """What pytest-runs tells at the end of the session."""

    written: list[str] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


SESSION_KEY = pytest.StashKey[SessionState]()
CASSETTE_KEY = pytest.StashKey[Cassette]()
CALL_PASSED_KEY = pytest.StashKey[bool]()
REPORTED_ERRORS_KEY = pytest.StashKey[int]()
INI_RULES_KEY = pytest.StashKey[list[tuple[str, "str | re.Pattern[str]"]]]()
"""The redaction rules of ini ``runs_redact``, parsed once at configure time."""


def attach(item: pytest.Item, cassette: Cassette) -> None:
    """Remember ``cassette`` as ``item``'s, for the report hooks."""
    item.stash[CASSETTE_KEY] = cassette


NOTES_KEY = pytest.StashKey[list[tuple[str, str]]]()
"""What happened to a test's cassette, for the end-of-run summary: (kind, text) pairs."""

#: The user property that carries a note on the test's report (reports reach the xdist controller, stashes do not).
NOTE_PROPERTY = "pytest-runs"


def _note(item: pytest.Item, kind: str, text: str) -> None:
    item.stash.setdefault(NOTES_KEY, []).append((kind, text))


def record_note(session_state: SessionState, kind: str, text: str) -> None:
    """Add a note from a test's report to the session's summary."""
    getattr(session_state, kind).append(text)


def finish(item: pytest.Item, cassette: Cassette) -> None:
    """Save the cassette if the test passed; otherwise leave the file as it was and say so at the end."""
    passed = item.stash.get(CALL_PASSED_KEY, False) and not cassette.errors
    if passed:
        try:
            written = cassette.save()
        except SecretLeakError:
            _note(item, "refused", f"{item.nodeid}: it would have contained secrets (see the error above)")
            raise
        if written:
            _note(item, "written", str(cassette.path))
    elif cassette.recorded_count:
        cassette.finish_streams()
        _note(
            item, "discarded", f"{item.nodeid}: {cassette.recorded_count} recorded interaction(s) not saved"
        )
