"""An example downstream suite: the tests a team keeping an Assistants-based bot alive would write.

Record it once against a server (the embedded emulator, or any Assistants-compatible one):

    OPENAI_BASE_URL=http://127.0.0.1:8089/v1 OPENAI_API_KEY=any-key pytest --runs-record-mode=once --snapshot-update

then every later ``pytest`` replays it offline, with no key, and checks the snapshots.
"""

from __future__ import annotations

import json

import openai
import pytest

from pytest_runs import transcript

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def _assistant(client: openai.OpenAI, **options: object) -> str:
    assistant = client.beta.assistants.create(model="gpt-4o", name="weather-bot", **options)  # type: ignore[arg-type]
    return assistant.id


def _thread(client: openai.OpenAI, question: str) -> str:
    return client.beta.threads.create(messages=[{"role": "user", "content": question}]).id


@pytest.mark.runs_cassette
def test_a_plain_question_gets_an_answer(openai_client: openai.OpenAI, run_snapshot: object) -> None:
    assistant_id = _assistant(openai_client, instructions="Answer briefly.")
    thread_id = _thread(openai_client, "Hello?")
    run = openai_client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    assert run.status == "completed"
    assert run == run_snapshot
    reply = openai_client.beta.threads.messages.list(thread_id=thread_id, order="desc", limit=1).data[0]
    assert reply.role == "assistant"


@pytest.mark.runs_cassette
def test_the_bot_calls_the_weather_tool(openai_client: openai.OpenAI, run_snapshot: object) -> None:
    assistant_id = _assistant(openai_client, tools=[WEATHER_TOOL])
    thread_id = _thread(openai_client, "What is the weather in Paris?")
    run = openai_client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    assert run.status == "requires_action"
    assert run.required_action is not None
    [call] = run.required_action.submit_tool_outputs.tool_calls
    assert call.function.name == "get_weather"
    done = openai_client.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=thread_id,
        run_id=run.id,
        tool_outputs=[{"tool_call_id": call.id, "output": json.dumps({"city": "Paris", "sky": "sunny"})}],
    )
    assert done.status == "completed"
    assert done == run_snapshot


@pytest.mark.runs_cassette
def test_the_reply_streams_event_by_event(openai_client: openai.OpenAI, run_snapshot: object) -> None:
    assistant_id = _assistant(openai_client)
    thread_id = _thread(openai_client, "Stream me a greeting.")
    with openai_client.beta.threads.runs.stream(thread_id=thread_id, assistant_id=assistant_id) as stream:
        events = list(stream)
        final = stream.get_final_run()
    assert final.status == "completed"
    assert transcript(events) == run_snapshot
