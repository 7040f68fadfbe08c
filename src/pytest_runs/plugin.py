"""The pytest plugin: options, ini keys, the marker, the fixtures, and the hooks that turn misses into diagnoses.

Kept thin: each concern lives in its own module (``settings``, ``session``, ``activation``, ``fixtures``).
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from .errors import PytestRunsError
from .fixtures import (  # fixtures are registered by being attributes of the plugin module
    _runs_cassette_for_marker,  # noqa: F401
    async_openai_client,
    openai_client,
    run_snapshot,
    runs_cassette,
    runs_emulator,
)
from .redact import parse_rule_lines
from .session import RECORD_MODES
from .settings import MARKER_SIGNATURE, marker_problems
from .state import (
    CALL_PASSED_KEY,
    CASSETTE_KEY,
    INI_RULES_KEY,
    NOTE_PROPERTY,
    NOTES_KEY,
    REPORTED_ERRORS_KEY,
    SESSION_KEY,
    SessionState,
    record_note,
)

__all__ = [
    "async_openai_client",
    "openai_client",
    "pytest_addhooks",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_runtest_makereport",
    "pytest_terminal_summary",
    "run_snapshot",
    "runs_cassette",
    "runs_emulator",
]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Offer the ``pytest_runs_redact`` hook to conftest files and plugins."""
    from . import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``runs`` option group and ini keys."""
    group = parser.getgroup("runs", "pytest-runs: record and replay Assistants runs")
    group.addoption(
        "--runs-record-mode",
        dest="runs_record_mode",
        choices=RECORD_MODES,
        default=None,
        help="none (default): replay only, never touch the network; once: record cassettes that do not exist; "
        "new_episodes: replay what is recorded, record the rest; all: record every request again, keeping "
        "unmatched old ones; rewrite: record each test's cassette anew. Overrides ini runs_record_mode.",
    )
    group.addoption(
        "--runs-cassette-dir",
        dest="runs_cassette_dir",
        default=None,
        metavar="DIR",
        help="where cassettes live, relative to the rootdir (default: cassettes). Overrides ini runs_cassette_dir.",
    )
    parser.addini(
        "runs_record_mode", "pytest-runs record mode (see --runs-record-mode); default none", default=""
    )
    parser.addini("runs_cassette_dir", "pytest-runs cassette directory, relative to the rootdir", default="")
    parser.addini(
        "runs_secret_env",
        "names of further environment variables whose values must never be written to a cassette",
        type="args",
        default=[],
    )
    parser.addini(
        "runs_normalise",
        "replace API IDs and timestamps by stable placeholders in cassettes and snapshots (default true); the "
        "runs_cassette marker's normalise= overrides it per test",
        type="bool",
        default=True,
    )
    parser.addini(
        "runs_id_prefixes",
        "more API ID prefixes to normalise (space-separated, e.g. 'ws_ job-'), besides asst_ thread_ run_ msg_ ...",
        type="args",
        default=[],
    )
    parser.addini(
        "runs_redact",
        "more secrets to keep out of cassettes, one per line: a literal value, or re:PATTERN for a regular expression",
        type="linelist",
        default=[],
    )


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker, check the ini values, create the session state."""
    config.addinivalue_line(
        "markers",
        f"{MARKER_SIGNATURE}: record/replay the test's HTTP traffic through a pytest-runs cassette "
        "(name: the cassette file in the module's cassette folder; record_mode: overrides the command line and ini; "
        "normalise: False keeps real IDs and timestamps).",
    )
    ini_mode = config.getini("runs_record_mode")
    if ini_mode and ini_mode not in RECORD_MODES:
        raise pytest.UsageError(
            f"pytest-runs: ini option runs_record_mode = {ini_mode!r} is not a record mode; "
            f"valid: {', '.join(RECORD_MODES)}"
        )
    try:
        config.getini("runs_normalise")
    except ValueError as error:
        raise pytest.UsageError(
            f"pytest-runs: ini option runs_normalise: {error}; use true or false"
        ) from None
    try:
        config.stash[INI_RULES_KEY] = parse_rule_lines(config.getini("runs_redact"), "ini runs_redact")
    except ValueError as error:
        raise pytest.UsageError(f"pytest-runs: {error}") from None
    config.stash[SESSION_KEY] = SessionState()
    config.pluginmanager.register(_NoteCollector(config.stash[SESSION_KEY]), "pytest-runs-notes")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse misused ``runs_cassette`` markers before anything runs."""
    problems: dict[str, None] = {}
    for item in items:
        for marker in item.iter_markers("runs_cassette"):
            for problem in marker_problems(marker):
                problems[f"  {item.nodeid}: {problem}"] = None
    if problems:
        raise pytest.UsageError(
            f"pytest-runs: invalid runs_cassette marker; the signature is {MARKER_SIGNATURE}\n"
            + "\n".join(problems)
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Fail a test whose requests missed the cassette (or hit the network), with our diagnosis as the report,
    whatever the code under test did with the error (SDKs wrap transport errors as "Connection error.")."""
    report = yield
    cassette = item.stash.get(CASSETTE_KEY, None)
    fresh = []
    if cassette is not None:
        reported = item.stash.get(REPORTED_ERRORS_KEY, 0)
        fresh = cassette.errors[reported:]
        if fresh:
            item.stash[REPORTED_ERRORS_KEY] = len(cassette.errors)
            text = "\n\n".join(str(error) for error in fresh)
            seen = call.excinfo.value if call.excinfo is not None else None
            if seen is not None and all(seen is not error for error in fresh):
                text += f"\n\n(The test saw this as {type(seen).__name__}: {seen})"
            report.outcome = "failed"
            report.longrepr = text
    if not fresh and call.excinfo is not None and isinstance(call.excinfo.value, PytestRunsError):
        # Our errors are complete diagnoses: the traceback through pytest, the SDK and httpx is only noise.
        report.longrepr = str(call.excinfo.value)
    if call.when == "call":
        item.stash[CALL_PASSED_KEY] = report.passed
    if call.when == "teardown":
        for kind, text in item.stash.get(NOTES_KEY, []):
            report.user_properties.append((NOTE_PROPERTY, f"{kind}\t{text}"))
    return report


class _NoteCollector:
    """Collects the cassette notes of finished tests for the summary, from their reports: under xdist the reports
    reach the controller, which prints the summary, while the tests ran in the workers."""

    def __init__(self, session_state: SessionState) -> None:
        self._session_state = session_state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Take the notes off a teardown report."""
        if report.when != "teardown":
            return
        for name, value in report.user_properties:
            if name == NOTE_PROPERTY and isinstance(value, str) and "\t" in value:
                kind, text = value.split("\t", 1)
                if kind in ("written", "discarded", "refused"):
                    record_note(self._session_state, kind, text)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which cassettes were written, and which recordings were discarded because their test failed."""
    session_state = terminalreporter.config.stash.get(SESSION_KEY, None)
    if session_state is None or not (
        session_state.written or session_state.discarded or session_state.refused
    ):
        return
    terminalreporter.section("pytest-runs")
    for path in session_state.written:
        terminalreporter.write_line(f"cassette written: {path}")
    for line in session_state.discarded:
        terminalreporter.write_line(
            f"recording discarded because the test did not pass: {line} (any existing cassette was left as it was)"
        )
    for line in session_state.refused:
        terminalreporter.write_line(
            f"recording not written: {line} (any existing cassette was left as it was)"
        )
