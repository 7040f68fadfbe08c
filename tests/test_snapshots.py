"""Snapshots of runs: readable, one field per line, and equal whether the test records or replays."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_runs import RunSnapshotExtension, transcript
from pytest_runs.emulator import Emulator
from pytest_runs.models import Run

SUITE = """
import os

import openai
import pytest
from syrupy.filters import paths, props
from syrupy.matchers import path_type

from pytest_runs import transcript

BASE_URL = os.environ["EMULATOR_URL"]
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


@pytest.fixture
def api():
    with openai.OpenAI(base_url=BASE_URL, api_key="test-key", max_retries=0) as client:
        yield client


def _thread(api, tools=()):
    assistant = api.beta.assistants.create(model="gpt-4o", tools=list(tools))
    thread = api.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    return assistant, thread


@pytest.mark.runs_cassette
def test_polled_run(api, run_snapshot):
    assistant, thread = _thread(api)
    run = api.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=1)
    assert run == run_snapshot
    assert run == run_snapshot(name="without_usage", exclude=props("usage"))
    assert run == run_snapshot(name="matched", matcher=path_type({"usage.total_tokens": (int,)}))
    assert run == run_snapshot(name="without_nested", exclude=paths("usage.prompt_tokens", "tools"))


@pytest.mark.runs_cassette
def test_stream_transcript(api, run_snapshot):
    assistant, thread = _thread(api, [TOOL])
    with api.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        events = list(stream)
        run = stream.get_final_run()
    assert transcript(events) == run_snapshot
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    with api.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}]
    ) as stream:
        more = list(stream)
    assert transcript(more) == run_snapshot(name="after_tool_outputs")
    assert [event.data for event in more if event.event == "thread.message.completed"] == run_snapshot(name="messages")


def test_cassette_views(runs_cassette, api, run_snapshot):
    assistant, thread = _thread(api)
    api.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=1)
    assert runs_cassette.runs == run_snapshot
"""


def test_snapshots_taken_while_recording_hold_while_replaying(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_downstream=SUITE)
    with Emulator(event_delay=0, poll_after_ms=5) as emulator:
        pytester._monkeypatch.setenv("EMULATOR_URL", emulator.base_url)
        recorded = pytester.runpytest_subprocess(
            "--runs-record-mode=once", "--snapshot-update", "-p", "no:randomly"
        )
    recorded.assert_outcomes(passed=3)
    snapshot_file = pytester.path / "__snapshots__" / "test_downstream.ambr"
    written = snapshot_file.read_text(encoding="utf-8")

    pytester._monkeypatch.setenv("EMULATOR_URL", "http://127.0.0.1:9/v1")
    replayed = pytester.runpytest_subprocess("-p", "no:randomly")
    replayed.assert_outcomes(
        passed=3
    )  # every ``== run_snapshot`` held against the snapshots written while recording
    assert "snapshot failed" not in replayed.stdout.str()
    assert snapshot_file.read_text(encoding="utf-8") == written

    # What a reader sees: a named object, one field per line, nested models expanded, placeholders for IDs and times.
    polled = written.split("# name: test_polled_run\n", 1)[1].split("# ---", 1)[0]
    assert "  Run(\n" in polled
    assert "    assistant_id='asst_1',\n" in polled
    assert "    created_at=1000002000,\n" in polled or "    created_at=10000" in polled
    assert "    usage=Usage(\n      completion_tokens=" in polled
    assert "      prompt_tokens=" in polled
    without_usage = written.split("# name: test_polled_run[without_usage]\n", 1)[1].split("# ---", 1)[0]
    assert "usage" not in without_usage
    assert "    status='completed',\n" in without_usage
    matched = written.split("# name: test_polled_run[matched]\n", 1)[1].split("# ---", 1)[0]
    assert "      total_tokens=int,\n" in matched
    without_nested = written.split("# name: test_polled_run[without_nested]\n", 1)[1].split("# ---", 1)[0]
    assert "      prompt_tokens=" not in without_nested
    assert "      completion_tokens=" in without_nested
    assert "tools=" not in without_nested
    transcript_text = written.split("# name: test_stream_transcript\n", 1)[1].split("# ---", 1)[0]
    assert "thread.run.requires_action: requires_action → get_weather({})" in transcript_text


def _payload() -> dict[str, object]:
    return {
        "id": "run_" + "Q" * 24,
        "object": "thread.run",
        "created_at": 1_700_000_000,
        "assistant_id": "asst_" + "R" * 24,
        "thread_id": "thread_" + "S" * 24,
        "status": "completed",
        "started_at": 1_700_000_001,
        "expires_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": 1_700_000_003,
        "required_action": None,
        "last_error": None,
        "model": "gpt-4o",
        "instructions": "Be brief.",
        "tools": [{"type": "code_interpreter"}],
        "metadata": {"team": "a"},
        "usage": {"prompt_tokens": 21, "completion_tokens": 4, "total_tokens": 25},
        "temperature": 1.0,
        "top_p": 1.0,
        "max_prompt_tokens": None,
        "max_completion_tokens": None,
        "truncation_strategy": {"type": "auto", "last_messages": None},
        "incomplete_details": None,
        "response_format": "auto",
        "tool_choice": "auto",
        "parallel_tool_calls": True,
    }


def test_the_sdks_run_and_ours_give_the_same_snapshot() -> None:
    from openai.types.beta.threads import Run as SdkRun

    extension = RunSnapshotExtension()
    ours = extension.serialize(Run.model_validate(_payload()))
    theirs = extension.serialize(SdkRun.model_validate(_payload()))
    assert ours == theirs
    assert ours.startswith("Run(\n")
    assert (
        "  usage=Usage(\n    completion_tokens=4,\n    prompt_tokens=21,\n    total_tokens=25,\n  ),\n"
        in ours
    )


def test_without_a_cassette_values_are_kept() -> None:
    text = RunSnapshotExtension().serialize({"id": "run_" + "Q" * 24, "items": [1, "two"]})
    assert (
        text
        == "dict({\n  'id': '" + "run_" + "Q" * 24 + "',\n  'items': list([\n    1,\n    'two',\n  ]),\n})"
    )


def test_transcript_collapses_deltas_and_keeps_what_matters() -> None:
    def message_delta(text: str) -> dict[str, object]:
        return {
            "event": "thread.message.delta",
            "data": {"delta": {"content": [{"index": 0, "type": "text", "text": {"value": text}}]}},
        }

    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    events = [
        {"event": "thread.run.created", "data": {"status": "queued"}},
        {
            "event": "thread.run.requires_action",
            "data": {
                "status": "requires_action",
                "required_action": {
                    "type": "submit_tool_outputs",
                    "submit_tool_outputs": {"tool_calls": [call]},
                },
            },
        },
        {"event": "thread.run.step.created", "data": {"type": "message_creation", "status": "in_progress"}},
        message_delta("Hel"),
        message_delta("lo"),
        {
            "event": "thread.message.completed",
            "data": {
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "text", "text": {"value": "Hello", "annotations": []}}],
            },
        },
        {
            "event": "thread.run.failed",
            "data": {"status": "failed", "last_error": {"code": "server_error", "message": "Boom."}},
        },
        {"event": "error", "data": {"error": {"code": "server_error", "message": "Stream broke."}}},
        {"event": "done", "data": "[DONE]"},
    ]
    assert transcript(events) == (
        "thread.run.created: queued\n"
        'thread.run.requires_action: requires_action → get_weather({"city":"Paris"})\n'
        "thread.run.step.created: message_creation in_progress\n"
        'thread.message.delta \N{MULTIPLICATION SIGN}2: "Hello"\n'
        'thread.message.completed: assistant completed "Hello"\n'
        "thread.run.failed: failed (server_error: Boom.)\n"
        "error: server_error: Stream broke.\n"
        "done\n"
    )
    assert transcript([]) == ""


def test_every_fixture_is_documented_including_run_snapshot(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest("--fixtures")
    result.stdout.fnmatch_lines(["run_snapshot*", "    syrupy's ``snapshot`` with pytest-runs' extension*"])


HAND_EDITED = """\
version: 1
interactions:
- request:
    method: POST
    url: http://127.0.0.1/v1/threads/thread_1/runs
    headers:
      content-type: application/json
    body:
      json:
        assistant_id: asst_1
        temperature: 3.5
  response:
    status: 200
    headers:
      content-type: application/json
    body:
      json:
        id: run_1
        object: thread.run
        status: queued
        assistant_id: asst_1
        thread_id: thread_1
        created_at: 1000002000
        model: gpt-4o
        instructions: null
        tools: []
"""


def test_a_recorded_request_that_breaks_a_constraint_warns_naming_test_interaction_and_field(
    pytester: pytest.Pytester,
) -> None:
    folder = pytester.path / "cassettes" / "test_hot"
    folder.mkdir(parents=True)
    (folder / "test_hot.yaml").write_text(HAND_EDITED, encoding="utf-8")
    pytester.makepyfile(
        test_hot="""
        import httpx

        def test_hot(runs_cassette):
            httpx.post("http://api.invalid/v1/threads/thread_1/runs", json={"assistant_id": "asst_1", "temperature": 3.5})
            [params] = runs_cassette.requests
            assert params.temperature == 3.5
            assert [run.status for run in runs_cassette.runs] == ["queued"]
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*RequestConstraintWarning: test_hot.py::test_hot: cassettes/test_hot/test_hot.yaml: interaction 0 "
            "(POST /v1/threads/thread_1/runs): temperature: must be between 0 and 2, got 3.5"
        ]
    )


def test_snapshots_never_hold_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import secrets as random_secrets

    from pytest_runs.session import Cassette

    value = random_secrets.token_hex(16)
    monkeypatch.setenv("OPENAI_API_KEY", value)
    data = {"note": f"key {value}", "echo": "Incorrect API key provided: sk-proj-" + "*" * 12 + "ab12."}
    expected = "dict({\n  'echo': 'Incorrect API key provided: sk-proj-<redacted>.',\n  'note': 'key <redacted:OPENAI_API_KEY>',\n})"
    assert RunSnapshotExtension().serialize(data) == expected
    from pytest_runs.activation import activate

    with activate(Cassette(tmp_path / "c.yaml", "once")):
        assert RunSnapshotExtension().serialize(data) == expected
