"""Errors are diagnoses: what was asked, what was available, why it did not match, and the command that fixes it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_runs.emulator import Emulator

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SUITE = """
import os
import httpx
import pytest

URL = os.environ.get("EMULATOR_URL", "http://127.0.0.1:9/v1")
MODEL = os.environ.get("MODEL", "gpt-4o")
HEADERS = {"authorization": "Bearer test-key"}


@pytest.mark.runs_cassette
def test_assistant():
    with httpx.Client(headers=HEADERS) as client:
        created = client.post(URL + "/assistants", json={"model": MODEL, "name": "helper"})
        assert created.status_code == 200
"""


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(event_delay=0.001, poll_after_ms=5) as running:
        yield running


@pytest.fixture
def recorded(
    pytester: pytest.Pytester, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    pytester.makepyfile(test_suite=SUITE)
    monkeypatch.setenv("EMULATOR_URL", emulator.base_url)
    pytester.runpytest("--runs-record-mode=once").assert_outcomes(passed=1)
    monkeypatch.delenv("EMULATOR_URL")
    return pytester


def test_miss_names_request_cassette_closest_recorded_and_fix(
    recorded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODEL", "gpt-4o-mini")
    result = recorded.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "pytest-runs: no recorded response matches this request.",
            "  request:  POST /v1/assistants",
            "  cassette: cassettes/test_suite/test_assistant.yaml (record mode none, 1 interaction(s), 0 already played)",
            "Closest recorded requests:",
            "  #1 POST /v1/assistants (not played yet)",
            "    body.model: recorded 'gpt-4o', sent 'gpt-4o-mini'",
            "To record what the test does now, run:",
            "  pytest test_suite.py::test_assistant --runs-record-mode=rewrite",
        ]
    )


def test_a_second_identical_call_says_all_responses_were_played(
    pytester: pytest.Pytester, recorded: pytest.Pytester
) -> None:
    pytester.makepyfile(
        test_suite=SUITE.replace(
            "assert created.status_code == 200",
            "assert created.status_code == 200\n        client.post(URL + '/assistants', json={'model': MODEL, 'name': 'helper'})",
        )
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "  cassette: cassettes/test_suite/test_assistant.yaml (record mode none, 1 interaction(s), 1 already played)",
            "The cassette has 1 response(s) for this very request and all were already played: the test now makes "
            "this call more often than when it was recorded.",
        ]
    )


def test_replay_without_cassette_names_the_file_and_the_record_command(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "pytest-runs: cassette cassettes/test_suite/test_assistant.yaml does not exist, and record mode 'none' "
            "only replays.",
            "  request: POST /v1/assistants",
            "To record it, run:",
            "  pytest test_suite.py::test_assistant --runs-record-mode=once",
        ]
    )


def test_a_miss_the_code_swallows_or_wraps_still_fails_with_the_diagnosis(pytester: pytest.Pytester) -> None:
    # openai 1.x/2.x turn any transport exception into APIConnectionError("Connection error."): simulate that.
    pytester.makepyfile(
        """
        import httpx
        import pytest

        @pytest.mark.runs_cassette
        def test_wrapped():
            try:
                httpx.get("http://127.0.0.1:9/v1/threads/thread_1/runs")
            except Exception as error:
                raise RuntimeError("Connection error.") from error
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "pytest-runs: cassette cassettes/test_a_miss_the_code_swallows_or_wraps_still_fails_with_the_diagnosis/"
            "test_wrapped.yaml does not exist, and record mode 'none' only replays.",
            "  request: GET /v1/threads/thread_1/runs",
            "*",
            "(The test saw this as RuntimeError: Connection error.)",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_swallowed_miss_still_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import contextlib
        import httpx
        import pytest

        @pytest.mark.runs_cassette
        def test_swallowed():
            with contextlib.suppress(Exception):
                httpx.get("http://127.0.0.1:9/v1/threads")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["pytest-runs: cassette *test_swallowed.yaml does not exist*"])


def test_corrupt_cassette_names_file_line_and_problem(recorded: pytest.Pytester) -> None:
    path = recorded.path / "cassettes" / "test_suite" / "test_assistant.yaml"
    text = path.read_text()
    path.write_text(text.replace("status: 200", "status: two hundred", 1))
    line = next(
        number for number, content in enumerate(path.read_text().splitlines(), 1) if "two hundred" in content
    )
    result = recorded.runpytest()
    result.assert_outcomes(errors=1)
    lines = result.stdout.lines
    start = lines.index("pytest-runs: cannot load cassette cassettes/test_suite/test_assistant.yaml")
    assert lines[start + 1 : start + 4] == [
        f"  line {line} (interactions[0].response.status): Input should be a valid integer, unable to parse "
        "string as an integer",
        "The file is damaged or was edited by hand into something pytest-runs cannot read. Fix the place named "
        "above, or record the cassette again:",
        "  pytest test_suite.py::test_assistant --runs-record-mode=rewrite",
    ]


def test_broken_yaml_names_line_and_column(recorded: pytest.Pytester) -> None:
    path = recorded.path / "cassettes" / "test_suite" / "test_assistant.yaml"
    path.write_text(path.read_text().replace("method: POST", "method: [POST", 1))
    result = recorded.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*  line *, column *: not valid YAML (*)"])


def test_unknown_version_is_refused_with_the_import_hint(recorded: pytest.Pytester) -> None:
    path = recorded.path / "cassettes" / "test_suite" / "test_assistant.yaml"
    path.write_text(path.read_text().replace("version: 1", "version: 7", 1))
    result = recorded.runpytest()
    result.stdout.fnmatch_lines(
        [
            "*  line 2: unsupported cassette format: version 7; this pytest-runs reads version 1. "
            "A vcrpy cassette can be converted with `pytest-runs import`."
        ]
    )


def test_network_access_during_replay_fails_naming_the_host(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import socket
        import pytest

        @pytest.mark.runs_cassette
        def test_other_client():
            socket.create_connection(("api.example.com", 443), timeout=1)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "pytest-runs: blocked a connection to api.example.com while replaying "
            "cassettes/test_network_access_during_replay_fails_naming_the_host/test_other_client.yaml "
            "(record mode none): a replaying test must not reach the network.",
        ]
    )


def test_loopback_stays_reachable_during_replay(pytester: pytest.Pytester, emulator: Emulator) -> None:
    pytester.makepyfile(
        f"""
        import socket
        import pytest

        @pytest.mark.runs_cassette
        def test_local_server():
            socket.create_connection(("127.0.0.1", {emulator.port}), timeout=1).close()
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
