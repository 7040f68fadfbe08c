"""The project's own cassettes (in ``cassettes/``), recorded from the emulator and replayed offline by the suite.

Re-record them with ``python -m pytest tests/test_own_cassettes.py --runs-record-mode=rewrite``: when
``OPENAI_BASE_URL`` is not set, the fixture below points the clients at an embedded emulator.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from pytest_runs import Cassette
from pytest_runs.emulator import Emulator

pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")  # replay must survive -W error

FUNCTION_TOOL: Any = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object"}},
}


@pytest.fixture(autouse=True)
def _record_against_the_emulator(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    mode = request.config.getoption("runs_record_mode")
    if mode in (None, "none") or "OPENAI_BASE_URL" in __import__("os").environ:
        yield
        return
    with Emulator(event_delay=0.005) as emulator:
        monkeypatch.setenv("OPENAI_BASE_URL", emulator.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "emulator-key")
        yield


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every duration the code under test asks ``time.sleep`` for (and sleeps it)."""
    asked: list[float] = []
    real_sleep = time.sleep

    def recording_sleep(seconds: float) -> None:
        asked.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", recording_sleep)
    return asked


def test_create_and_poll_does_not_sleep_on_replay(
    openai_client: openai.OpenAI, runs_cassette: Cassette, sleeps: list[float]
) -> None:
    assistant = openai_client.beta.assistants.create(model="gpt-4o", name="poller")
    thread = openai_client.beta.threads.create(messages=[{"role": "user", "content": "Take your time."}])
    run = openai_client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        metadata={"emulator_polls": "4", "emulator_poll_after_ms": "1000"},
    )
    assert run.status == "completed"
    polls = [i for i in runs_cassette.interactions if i.request.method == "GET" and "/runs/" in i.request.url]
    assert len(polls) == 5
    assert {poll.response.headers["openai-poll-after-ms"] for poll in polls} == {"1000"}
    if not runs_cassette.is_recording:
        # The recording asked the client to wait 1000 ms between polls; the replay asks for no wait at all.
        assert sleeps == [0.0] * 4


def test_stream_then_tool_outputs(openai_client: openai.OpenAI, runs_cassette: Cassette) -> None:
    assistant = openai_client.beta.assistants.create(model="gpt-4o", tools=[FUNCTION_TOOL])
    thread = openai_client.beta.threads.create(messages=[{"role": "user", "content": "Weather in Paris?"}])
    events = list(
        openai_client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id, stream=True)
    )
    assert [event.event for event in events][-1] == "thread.run.requires_action"
    run: Any = events[-1].data
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    with openai_client.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}]
    ) as stream:
        stream.until_done()
        final = stream.get_final_run()
        text = stream.get_final_messages()[0].content[0]
    assert final.status == "completed"
    assert text.type == "text"
    assert text.text.value == "Tool output received: sunny"
    assert [run.status for run in runs_cassette.runs] == ["completed"]
    names = [event.event for event in runs_cassette.events]
    assert names[0] == "thread.run.created"
    assert names.count("done") == 2


async def test_async_stream(async_openai_client: openai.AsyncOpenAI, runs_cassette: Cassette) -> None:
    assistant = await async_openai_client.beta.assistants.create(model="gpt-4o")
    thread = await async_openai_client.beta.threads.create(messages=[{"role": "user", "content": "Hello"}])
    async with async_openai_client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id
    ) as stream:
        deltas = [
            event.data.delta.content[0].text.value
            async for event in stream
            if event.event == "thread.message.delta"
        ]  # type: ignore[union-attr]
        final = await stream.get_final_run()
    assert "".join(deltas) == "Hello from the emulator."
    assert final.status == "completed"
