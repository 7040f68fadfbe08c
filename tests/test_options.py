"""The plugin's surface as a user meets it: --help, --markers, --fixtures, precedence, refused misuse."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SHOW_MODE = """
import pytest

def test_mode(runs_cassette):
    print("MODE", runs_cassette.record_mode)
"""


def test_help_lists_the_options_and_ini_keys(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "pytest-runs: record and replay Assistants runs:",
            "  --runs-record-mode={none,once,new_episodes,all,rewrite}",
            "  --runs-cassette-dir=DIR",
        ]
    )
    result.stdout.fnmatch_lines(["  runs_record_mode (string):*", "  runs_cassette_dir (string):*"])


def test_markers_shows_the_signature(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        ["@pytest.mark.runs_cassette(name=None, *, record_mode=None, normalise=None): record/replay*"]
    )


def test_every_fixture_is_documented(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest("--fixtures")
    for name in ("runs_cassette", "openai_client", "async_openai_client", "run_snapshot", "runs_emulator"):
        result.stdout.fnmatch_lines([f"{name}*", "    *"])
    assert "no docstring available" not in "\n".join(
        line for line in result.stdout.lines if "runs" in line or "openai" in line
    )


def _mode_printed(result: pytest.RunResult) -> str:
    lines = [line.split("MODE ", 1)[1] for line in result.stdout.lines if "MODE " in line]
    assert len(lines) == 1, result.stdout.str()
    return lines[0].split()[0]


def test_default_record_mode_is_none(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SHOW_MODE)
    assert _mode_printed(pytester.runpytest("-s")) == "none"


def test_ini_beats_default(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nruns_record_mode = new_episodes\n")
    pytester.makepyfile(SHOW_MODE)
    assert _mode_printed(pytester.runpytest("-s")) == "new_episodes"


def test_command_line_beats_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nruns_record_mode = new_episodes\n")
    pytester.makepyfile(SHOW_MODE)
    assert _mode_printed(pytester.runpytest("-s", "--runs-record-mode=all")) == "all"


def test_marker_beats_command_line(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nruns_record_mode = new_episodes\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.runs_cassette(record_mode="once")
        def test_mode(runs_cassette):
            print("MODE", runs_cassette.record_mode)
        """
    )
    assert _mode_printed(pytester.runpytest("-s", "--runs-record-mode=all")) == "once"


def test_function_marker_beats_class_and_module_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.runs_cassette(record_mode="all")

        @pytest.mark.runs_cassette(record_mode="new_episodes")
        class TestRuns:
            def test_class(self, runs_cassette):
                print("MODE", runs_cassette.record_mode)

            @pytest.mark.runs_cassette(record_mode="rewrite")
            def test_function(self, runs_cassette):
                print("MODE", runs_cassette.record_mode)

        def test_module(runs_cassette):
            print("MODE", runs_cassette.record_mode)
        """
    )
    result = pytester.runpytest("-s", "-v")
    result.assert_outcomes(passed=3)
    modes = [line.split("MODE ")[1].split()[0] for line in result.stdout.lines if "MODE " in line]
    assert modes == ["new_episodes", "rewrite", "all"]


def test_marker_alone_activates_the_cassette(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        import httpx

        @pytest.mark.runs_cassette
        def test_request():
            with pytest.raises(Exception) as info:
                httpx.get("http://127.0.0.1:9/v1/threads")
            print("RAISED", type(info.value).__name__)
        """
    )
    result = pytester.runpytest("-s")
    # The marker activated a replay-only cassette: the request was answered by the cassette layer (a miss), not sent.
    result.stdout.fnmatch_lines(["*RAISED CassetteNotFoundError"])
    result.assert_outcomes(failed=1)


def test_unknown_marker_argument_is_refused_at_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.runs_cassette(record="once")
        def test_one():
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: pytest-runs: invalid runs_cassette marker; the signature is "
            "runs_cassette(name=None, *, record_mode=None, normalise=None)",
            "  test_unknown_marker_argument_is_refused_at_once.py::test_one: unknown argument(s) record; "
            "valid: name, record_mode, normalise",
        ]
    )


def test_unknown_marker_record_mode_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.runs_cassette(record_mode="sometimes")
        def test_one():
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "  *::test_one: record_mode='sometimes' is not a record mode; "
            "valid: none, once, new_episodes, all, rewrite",
        ]
    )


def test_unknown_command_line_record_mode_is_refused(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--runs-record-mode=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*argument --runs-record-mode: invalid choice: 'sometimes' (choose from *none*once*new_episodes*all*rewrite*)"
        ]
    )


def test_unknown_ini_record_mode_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nruns_record_mode = always\n")
    pytester.makepyfile("def test_one(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: pytest-runs: ini option runs_record_mode = 'always' is not a record mode; "
            "valid: none, once, new_episodes, all, rewrite"
        ]
    )


def test_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_one(): pass")
    result = pytester.runpytest("-p", "no:runs", "--help")
    assert "--runs-record-mode" not in result.stdout.str()
