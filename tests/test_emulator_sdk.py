"""The emulator through the real ``openai`` SDK over loopback sockets: every helper, every scenario recorded and
replayed through pytest-runs, and the emulator's streams against real recorded streams.

* Helpers: each Assistants helper of the SDK, sync and async, against a live emulator.
* Scenarios: each scenario (text, function calls, code interpreter, failure, incomplete, cancellation, expiry,
  in-stream error, cut connection, 429, 500) and each error answer (401, 404, 400) is recorded into a cassette and
  replayed with the emulator unreachable; the replay must observe what the recording observed.
* Real streams: for the same call, the SDK's event handler sees the same sequence of events from the emulator as
  from a stream recorded from the real API (``shared/realworld``), consecutive deltas collapsed.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
import yaml

from pytest_runs.activation import activate
from pytest_runs.emulator import Emulator
from pytest_runs.session import Cassette
from sdk_handlers import AsyncEventRecorder, EventRecorder

# Every Assistants call of the SDK warns that the API is deprecated (cassettes filter it themselves).
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

#: The key the emulator accepts. Not key-shaped on purpose: nothing here may look like a real secret.
KEY = "emulator-test-key"
REPLAY_URL = "http://replay.invalid/v1"
REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld"
WEATHER: Any = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
TIME: Any = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
CODE: Any = {"type": "code_interpreter"}
DELTA_EVENTS = frozenset({"thread.message.delta", "thread.run.step.delta"})
TEXT_RUN = [
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
    "thread.message.delta",
    "thread.message.completed",
    "thread.run.step.completed",
    "thread.run.completed",
]


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fast emulator that accepts :data:`KEY` only; the test fails if a request raised inside it."""
    with Emulator(event_delay=0, poll_after_ms=0, api_key=KEY) as running:
        yield running
        assert running.errors == []


@pytest.fixture
def client(emulator: Emulator) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=emulator.base_url, api_key=KEY, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def aclient(emulator: Emulator) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=emulator.base_url, api_key=KEY, max_retries=0) as sdk:
        yield sdk


def collapse(names: list[str]) -> list[str]:
    """Event names with each run of consecutive identical delta events reduced to one."""
    collapsed: list[str] = []
    for name in names:
        if not (collapsed and name in DELTA_EVENTS and collapsed[-1] == name):
            collapsed.append(name)
    return collapsed


def texts(page: Any) -> list[str]:
    return [message.content[0].text.value if message.content else "" for message in page.data]


def outputs_for(run: Any, prefix: str = "out") -> list[Any]:
    calls = run.required_action.submit_tool_outputs.tool_calls
    return [{"tool_call_id": call.id, "output": f"{prefix}{index}"} for index, call in enumerate(calls)]


# --------------------------------------------------------------------------- every SDK helper, sync


def test_create_and_poll_steps_and_messages(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="Be brief.")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, metadata={"emulator_polls": "2"}
    )
    assert run.status == "completed"
    assert (run.expires_at, run.failed_at, run.cancelled_at) == (None, None, None)
    assert run.started_at is not None
    assert run.completed_at is not None
    assert run.usage is not None
    assert run.usage.total_tokens == run.usage.prompt_tokens + run.usage.completion_tokens
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    assert [(step.type, step.status) for step in steps.data] == [("message_creation", "completed")]
    step = client.beta.threads.runs.steps.retrieve(
        steps.data[0].id,
        thread_id=thread.id,
        run_id=run.id,
        include=["step_details.tool_calls[*].file_search.results[*].content"],
    )
    assert step.id == steps.data[0].id
    assert texts(client.beta.threads.messages.list(thread_id=thread.id)) == ["Hello from the emulator.", "Hi"]
    only_run = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id)
    assert texts(only_run) == ["Hello from the emulator."]


def test_messages_list_pagination(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    ids = [
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content=f"m{index}").id
        for index in range(5)
    ]
    page = client.beta.threads.messages.list(thread_id=thread.id, limit=2, order="asc")
    assert ([m.id for m in page.data], page.first_id, page.last_id, page.has_more) == (
        ids[:2],
        ids[0],
        ids[1],
        True,
    )
    page = client.beta.threads.messages.list(thread_id=thread.id, limit=2, order="asc", after=ids[1])
    assert [m.id for m in page.data] == ids[2:4]
    page = client.beta.threads.messages.list(thread_id=thread.id, limit=2, order="asc", after=ids[3])
    assert ([m.id for m in page.data], page.has_more) == (ids[4:], False)
    page = client.beta.threads.messages.list(thread_id=thread.id, limit=2, before=ids[2])
    assert [m.id for m in page.data] == [ids[4], ids[3]]
    # The SDK's auto-pagination follows the cursors, in both orders.
    assert [m.id for m in client.beta.threads.messages.list(thread_id=thread.id, limit=2)] == ids[::-1]
    assert [m.id for m in client.beta.threads.messages.list(thread_id=thread.id, limit=3, order="asc")] == ids


def test_stream_with_event_handler(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    handler = EventRecorder()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as stream:
        stream.until_done()
        final = stream.get_final_run()
    assert collapse(handler.events) == TEXT_RUN
    assert handler.text == "Hello from the emulator."
    assert final.status == "completed"


def test_create_and_stream(client: openai.OpenAI) -> None:
    runs: Any = client.beta.threads.runs
    if not hasattr(runs, "create_and_stream"):
        pytest.skip("this openai SDK no longer has runs.create_and_stream")
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    handler = EventRecorder()
    with runs.create_and_stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as stream:
        stream.until_done()
    assert collapse(handler.events) == TEXT_RUN


def test_function_calls_poll_then_stream(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[WEATHER, TIME])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Weather and time?"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        metadata={"emulator_tool_calls": "2", "emulator_tool_arguments": '{"city": "Paris"}'},
    )
    assert run.status == "requires_action"
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [(call.function.name, call.function.arguments) for call in calls] == [
        ("get_weather", '{"city": "Paris"}'),
        ("get_time", '{"city": "Paris"}'),
    ]
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, tool_outputs=outputs_for(run)
    )
    assert done.status == "completed"
    assert (
        texts(client.beta.threads.messages.list(thread_id=thread.id))[0] == "Tool output received: out0, out1"
    )
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data
    assert [(step.type, step.status) for step in steps] == [
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]
    assert [call.function.output for call in steps[0].step_details.tool_calls] == ["out0", "out1"]

    # The stream helpers on a second run: requires_action ends the first stream, outputs open the second.
    handler = EventRecorder()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as stream:
        stream.until_done()
        run = stream.get_final_run()
    assert handler.events[-1] == "thread.run.requires_action"
    assert handler.tool_calls == ["function"]
    after = EventRecorder()
    with client.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id, run_id=run.id, tool_outputs=outputs_for(run, "x"), event_handler=after
    ) as stream:
        stream.until_done()
        final = stream.get_final_run()
    assert after.events[0] == "thread.run.step.completed"
    assert after.text == "Tool output received: x0"
    assert final.status == "completed"


def test_sequential_calls_without_parallel_tool_calls(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[WEATHER, TIME])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Both, please"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        parallel_tool_calls=False,
        metadata={"emulator_tool_calls": "2"},
    )
    asked = []
    while run.status == "requires_action":
        calls = run.required_action.submit_tool_outputs.tool_calls
        asked.append([call.function.name for call in calls])
        run = client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=thread.id, tool_outputs=outputs_for(run, str(len(asked)))
        )
    assert asked == [["get_weather"], ["get_time"]]
    assert run.status == "completed"
    assert texts(client.beta.threads.messages.list(thread_id=thread.id))[0] == "Tool output received: 10, 20"


def test_create_thread_and_run_helpers(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o")
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "Hi"}]}
    )
    assert run.status == "completed"
    handler = EventRecorder()
    with client.beta.threads.create_and_run_stream(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "Hi"}]},
        event_handler=handler,
    ) as stream:
        stream.until_done()
    assert collapse(handler.events) == ["thread.created", *TEXT_RUN]


def test_cancel_and_list(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[WEATHER])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    cancelling = client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert cancelling.status == "cancelling"
    cancelled = client.beta.threads.runs.poll(run.id, thread_id=thread.id)
    assert (cancelled.status, cancelled.expires_at, cancelled.required_action) == ("cancelled", None, None)
    assert cancelled.cancelled_at is not None
    assert cancelled.usage is not None
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data
    assert [(step.status, step.cancelled_at is not None) for step in steps] == [("cancelled", True)]
    listed = client.beta.threads.runs.list(thread_id=thread.id)
    assert [(r.id, r.status) for r in listed.data] == [(run.id, "cancelled")]


def test_update_run_delete_and_list_assistants(client: openai.OpenAI) -> None:
    first = client.beta.assistants.create(model="gpt-4o", name="one")
    second = client.beta.assistants.create(model="gpt-4o", name="two")
    assert [a.name for a in client.beta.assistants.list(order="asc")] == ["one", "two"]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=first.id)
    with pytest.raises(openai.BadRequestError) as refused:
        client.beta.threads.runs.update(run.id, thread_id=thread.id, metadata={"tag": "x"})
    assert refused.value.message.endswith("Cannot update run with status 'queued'.")
    client.beta.threads.runs.poll(run.id, thread_id=thread.id)
    updated = client.beta.threads.runs.update(run.id, thread_id=thread.id, metadata={"tag": "x"})
    assert (updated.status, updated.metadata) == ("completed", {"tag": "x"})
    assert client.beta.threads.update(thread.id, metadata={"t": "1"}).metadata == {"t": "1"}

    deleted = client.beta.assistants.delete(second.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (second.id, True, "assistant.deleted")
    assert [a.id for a in client.beta.assistants.list()] == [first.id]
    with pytest.raises(openai.NotFoundError):
        client.beta.assistants.retrieve(second.id)
    gone = client.beta.threads.delete(thread.id)
    assert (gone.deleted, gone.object) == (True, "thread.deleted")
    with pytest.raises(openai.NotFoundError) as missing:
        client.beta.threads.messages.list(thread_id=thread.id)
    assert missing.value.body == {
        "message": f"No thread found with id '{thread.id}'.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_gzip_and_real_headers(client: openai.OpenAI) -> None:
    raw = client.beta.threads.with_raw_response.create()
    headers = raw.headers
    assert headers["content-encoding"] == "gzip"  # the SDK's client asks for gzip
    for name in (
        "date",
        "content-type",
        "connection",
        "server",
        "cf-ray",
        "cf-cache-status",
        "alt-svc",
        "strict-transport-security",
        "openai-version",
        "openai-organization",
        "openai-processing-ms",
        "x-request-id",
        "openai-project",
        "x-envoy-upstream-service-time",
    ):
        assert name in headers, name
    assert headers["openai-organization"] == "user-emulator"
    assert re.fullmatch(r"[0-9a-f]{16}-EMU", headers["cf-ray"])
    assert raw.parse().object == "thread"


# --------------------------------------------------------------------------- every SDK helper, async


async def test_async_helpers(aclient: openai.AsyncOpenAI) -> None:
    assistant = await aclient.beta.assistants.create(model="gpt-4o", tools=[WEATHER])
    thread = await aclient.beta.threads.create(messages=[{"role": "user", "content": "Weather?"}])
    run = await aclient.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "requires_action"
    done = await aclient.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, tool_outputs=outputs_for(run)
    )
    assert done.status == "completed"
    steps = await aclient.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc")
    assert [step.type for step in steps.data] == ["tool_calls", "message_creation"]

    handler = AsyncEventRecorder()
    async with aclient.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as stream:
        await stream.until_done()
        run = await stream.get_final_run()
    assert handler.events[-1] == "thread.run.requires_action"
    after = AsyncEventRecorder()
    async with aclient.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id, run_id=run.id, tool_outputs=outputs_for(run, "a"), event_handler=after
    ) as stream:
        await stream.until_done()
    assert after.events[0] == "thread.run.step.completed"
    assert after.text == "Tool output received: a0"

    runs: Any = aclient.beta.threads.runs
    if hasattr(runs, "create_and_stream"):
        handler = AsyncEventRecorder()
        async with runs.create_and_stream(
            thread_id=thread.id, assistant_id=assistant.id, tool_choice="none", event_handler=handler
        ) as stream:
            await stream.until_done()
        assert collapse(handler.events) == TEXT_RUN

    polled = await aclient.beta.threads.create_and_run_poll(assistant_id=assistant.id, thread={}, tools=[])
    assert polled.status == "completed"
    handler = AsyncEventRecorder()
    async with aclient.beta.threads.create_and_run_stream(
        assistant_id=assistant.id, thread={}, tools=[], event_handler=handler
    ) as stream:
        await stream.until_done()
    assert collapse(handler.events) == ["thread.created", *TEXT_RUN]

    blocked = await aclient.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    assert (await aclient.beta.threads.runs.cancel(blocked.id, thread_id=thread.id)).status == "cancelling"
    assert (await aclient.beta.threads.runs.poll(blocked.id, thread_id=thread.id)).status == "cancelled"

    ids = [m.id async for m in aclient.beta.threads.messages.list(thread_id=thread.id, limit=1, order="asc")]
    page = await aclient.beta.threads.messages.list(thread_id=thread.id, limit=2, order="asc")
    assert ([m.id for m in page.data], page.has_more) == (ids[:2], True)
    assert len(ids) == 4  # the question, and the replies of the three runs of this thread that completed


async def test_async_create_and_stream(aclient: openai.AsyncOpenAI) -> None:
    runs: Any = aclient.beta.threads.runs
    if not hasattr(runs, "create_and_stream"):
        pytest.skip("this openai SDK no longer has runs.create_and_stream")
    assistant = await aclient.beta.assistants.create(model="gpt-4o")
    thread = await aclient.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    handler = AsyncEventRecorder()
    async with runs.create_and_stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as s:
        await s.until_done()
        final = await s.get_final_run()
    assert final.status == "completed"
    assert handler.text == "Hello from the emulator."


# --------------------------------------------------------------------------- every scenario, recorded and replayed

Observed = dict[str, Any]
Scenario = Callable[[openai.OpenAI], Observed]
AsyncScenario = Callable[[openai.AsyncOpenAI], Awaitable[Observed]]

# Real IDs (24 base62, 32 hex for requests) and the numbered placeholders a normalised cassette replays instead.
_ID = re.compile(r"\b(asst|thread|run|msg|step|call|req)_(?:[A-Za-z0-9]{20,}|\d+)\b")


def masked(value: Any) -> Any:
    """``value`` with object and request IDs masked, so that normalised replays compare equal."""
    if isinstance(value, str):
        return _ID.sub(r"\1_<id>", value)
    if isinstance(value, list):
        return [masked(item) for item in value]
    if isinstance(value, dict):
        return {key: masked(item) for key, item in value.items()}
    return value


def failure(exc: Exception) -> Observed:
    """What a test can observe of an SDK exception: its class, status and message."""
    return {
        "error": type(exc).__name__,
        "status": getattr(exc, "status_code", None),
        "message": getattr(exc, "message", str(exc)),
    }


def record_and_replay(
    tmp_path: Path, emulator: Emulator, scenario: Scenario, *, api_key: str = KEY, **options: Any
) -> Observed:
    """Run ``scenario`` live through a recording cassette, then through its replay with the emulator out of reach.

    Asserts the two observed the same (IDs masked) and the replay never missed; returns the observation.
    """
    path = tmp_path / "scenario.yaml"
    cassette = Cassette(path, "once")
    with (
        activate(cassette),
        openai.OpenAI(base_url=emulator.base_url, api_key=api_key, max_retries=0, **options) as live_client,
    ):
        live = masked(scenario(live_client))
    assert cassette.save()
    assert cassette.errors == []
    replay = Cassette(path, "none")
    with (
        activate(replay),
        openai.OpenAI(base_url=REPLAY_URL, api_key=api_key, max_retries=0, **options) as replay_client,
    ):
        replayed = masked(scenario(replay_client))
    assert replay.errors == []
    assert replayed == live
    return live


async def record_and_replay_async(tmp_path: Path, emulator: Emulator, scenario: AsyncScenario) -> Observed:
    """:func:`record_and_replay` with the async client."""
    path = tmp_path / "scenario.yaml"
    cassette = Cassette(path, "once")
    with activate(cassette):
        async with openai.AsyncOpenAI(base_url=emulator.base_url, api_key=KEY, max_retries=0) as live_client:
            live = masked(await scenario(live_client))
    assert cassette.save()
    replay = Cassette(path, "none")
    with activate(replay):
        async with openai.AsyncOpenAI(base_url=REPLAY_URL, api_key=KEY, max_retries=0) as replay_client:
            replayed = masked(await scenario(replay_client))
    assert replay.errors == []
    assert replayed == live
    return live


def setup(api: openai.OpenAI, tools: list[Any] | None = None) -> tuple[Any, Any]:
    assistant = api.beta.assistants.create(model="gpt-4o", tools=tools or [])
    thread = api.beta.threads.create(messages=[{"role": "user", "content": "Hello there"}])
    return assistant, thread


def streamed(
    api: openai.OpenAI, thread_id: str, assistant_id: str, **params: Any
) -> tuple[EventRecorder, Any]:
    """Stream a run through an event handler; return the handler and the final run."""
    handler = EventRecorder()
    with api.beta.threads.runs.stream(
        thread_id=thread_id, assistant_id=assistant_id, event_handler=handler, **params
    ) as stream:
        stream.until_done()
        return handler, stream.get_final_run()


def test_scenario_text_reply(tmp_path: Path, emulator: Emulator) -> None:
    def scenario(api: openai.OpenAI) -> Observed:
        assistant, thread = setup(api)
        handler, final = streamed(api, thread.id, assistant.id)
        polled = api.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, metadata={"emulator_reply": "Polled reply"}
        )
        return {
            "events": handler.events,
            "text": handler.text,
            "status": final.status,
            "polled": polled.status,
            "messages": texts(api.beta.threads.messages.list(thread_id=thread.id)),
        }

    observed = record_and_replay(tmp_path, emulator, scenario)
    assert collapse(observed["events"]) == TEXT_RUN
    assert observed["text"] == "Hello from the emulator."
    assert observed["messages"] == ["Polled reply", "Hello from the emulator.", "Hello there"]


def test_scenario_function_calls(tmp_path: Path, emulator: Emulator) -> None:
    def scenario(api: openai.OpenAI) -> Observed:
        assistant, thread = setup(api, [WEATHER, TIME])
        first, run = streamed(api, thread.id, assistant.id, metadata={"emulator_tool_calls": "2"})
        calls = run.required_action.submit_tool_outputs.tool_calls
        after = EventRecorder()
        with api.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=thread.id, run_id=run.id, tool_outputs=outputs_for(run), event_handler=after
        ) as stream:
            stream.until_done()
            final = stream.get_final_run()
        polled = api.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        polled = api.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=polled.id, thread_id=thread.id, tool_outputs=outputs_for(polled, "p")
        )
        return {
            "first": first.events,
            "calls": [call.function.name for call in calls],
            "status": run.status,
            "after": after.events,
            "text": after.text,
            "final": final.status,
            "polled": polled.status,
        }

    observed = record_and_replay(tmp_path, emulator, scenario)
    assert observed["first"][-1] == "thread.run.requires_action"
    assert observed["first"].count("thread.run.step.delta") == 4  # two calls: id and name, then arguments
    assert observed["calls"] == ["get_weather", "get_time"]
    assert observed["after"][0] == "thread.run.step.completed"
    assert observed["text"] == "Tool output received: out0, out1"
    assert (observed["final"], observed["polled"]) == ("completed", "completed")


def test_scenario_code_interpreter(tmp_path: Path, emulator: Emulator) -> None:
    def scenario(api: openai.OpenAI) -> Observed:
        assistant, thread = setup(api, [CODE])
        handler, final = streamed(
            api, thread.id, assistant.id, metadata={"emulator_code": "x = 2\nprint(x * 21)"}
        )
        steps = api.beta.threads.runs.steps.list(final.id, thread_id=thread.id, order="asc").data
        details = steps[0].step_details.tool_calls[0].code_interpreter
        return {
            "events": handler.events,
            "tool_calls": handler.tool_calls,
            "code": handler.code,
            "logs": handler.logs,
            "steps": [step.type for step in steps],
            "input": details.input,
            "outputs": [output.logs for output in details.outputs],
            "status": final.status,
        }

    observed = record_and_replay(tmp_path, emulator, scenario)
    assert collapse(observed["events"])[:8] == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.step.delta",
        "thread.run.step.completed",
        "thread.run.step.created",
    ]
    assert observed["tool_calls"] == ["code_interpreter"]
    assert observed["code"] == observed["input"] == "x = 2\nprint(x * 21)"
    assert observed["logs"] == "42\n"
    assert observed["outputs"] == ["42\n"]
    assert observed["steps"] == ["tool_calls", "message_creation"]
    assert observed["status"] == "completed"


def test_scenario_failure_with_last_error(tmp_path: Path, emulator: Emulator) -> None:
    def scenario(api: openai.OpenAI) -> Observed:
        assistant, thread = setup(api)
        polled = api.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, metadata={"emulator_fail": "rate_limit_exceeded"}
        )
        handler, streamed_run = streamed(
            api, thread.id, assistant.id, metadata={"emulator_fail": "server_error"}
        )
        return {
            "status": polled.status,
            "last_error": polled.last_error.model_dump() if polled.last_error else None,
            "stamps": [polled.failed_at is not None, polled.expires_at, polled.completed_at],
            "usage": polled.usage is not None,
            "events": handler.events,
            "streamed": [
                streamed_run.status,
                streamed_run.last_error.code if streamed_run.last_error else None,
            ],
        }

    observed = record_and_replay(tmp_path, emulator, scenario)
    assert observed["status"] == "failed"
    assert observed["last_error"]["code"] == "rate_limit_exceeded"
    assert observed["last_error"]["message"].startswith("You exceeded your current quota")
    assert observed["stamps"] == [True, None, None]
    assert observed["usage"] is True
    assert observed["events"] == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.failed",
    ]
    assert observed["streamed"] == ["failed", "server_error"]


def test_scenario_incomplete_by_max_completion_tokens(tmp_path: Path, emulator: Emulator) -> None:
    def scenario(api: openai.OpenAI) -> Observed:
        assistant, thread = setup(api)
        handler, final = streamed(api, thread.id, assistant.id, max_completion_tokens=2)
        message = api.beta.threads.messages.list(thread_id=thread.id).data[0]
        polled = api.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=3
        )
        return {
            "events": handler.events,
            "status": final.status,
            "reason": final.incomplete_details.reason if final.incomplete_details else None,
            "usage": final.usage.completion_tokens if final.usage else None,
            "message": [
                message.status,
                message.incomplete_details.reason if message.incomplete_details else None,
            ],
            "text": handler.text,
            "polled": [
                polled.status,
                polled.incomplete_details.reason if polled.incomplete_details else None,
            ],
        }

    observed = record_and_replay(tmp_path, emulator, scenario)
    assert collapse(observed["events"])[-3:] == [
        "thread.message.incomplete",
        "thread.run.step.completed",
        "thread.run.incomplete",
    ]
    assert (observed["status"], observed["reason"], observed["usage"]) == (
        "incomplete",
        "max_completion_tokens",
        2,
    )
    assert observed["message"] == ["incomplete", "max_tokens"]
    assert observed["text"] == "Hello from"
    assert observed["polled"] == ["incomplete", "max_completion_tokens"]


def test_scenario_cancellation(tmp_path: Path, emulator: Emulator) -> None:
    def scenario(api: openai.OpenAI) -> Observed:
        assistant, thread = setup(api, [WEATHER])
        run = api.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        cancelling = api.beta.threads.runs.cancel(run.id, thread_id=thread.id)
        cancelled = api.beta.threads.runs.poll(run.id, thread_id=thread.id)
        handler, final = streamed(
            api, thread.id, assistant.id, tool_choice="none", metadata={"emulator_cancel_after": "8"}
        )
        message = api.beta.threads.messages.list(thread_id=thread.id).data[0]
        return {
            "statuses": [run.status, cancelling.status, cancelled.status],
            "started": cancelled.started_at is not None,
            "events": handler.events,
            "final": [final.status, final.cancelled_at is not None],
            "message": [
                message.status,
                message.incomplete_details.reason if message.incomplete_details else None,
            ],
        }

    observed = record_and_replay(tmp_path, emulator, scenario)
    assert observed["statuses"] == ["queued", "cancelling", "cancelled"]
    assert observed["started"] is False  # cancelled before it ever ran
    assert observed["events"][-3:] == [
        "thread.message.delta",
        "thread.run.cancelling",
        "thread.run.cancelled",
    ]
    assert observed["final"] == ["cancelled", True]
    assert observed["message"] == ["incomplete", "run_cancelled"]


def test_scenario_expired(tmp_path: Path, emulator: Emulator) -> None:
    def scenario(api: openai.OpenAI) -> Observed:
        assistant, thread = setup(api, [WEATHER])
        run = api.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, metadata={"emulator_expire": "true"}
        )
        try:
            api.beta.threads.runs.submit_tool_outputs(
                run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": "call_x", "output": "late"}]
            )
        except openai.APIStatusError as exc:
            late = failure(exc)
        return {"status": run.status, "expires_at": run.expires_at, "late": late}

    observed = record_and_replay(tmp_path, emulator, scenario)
    assert (observed["status"], observed["expires_at"]) == ("expired", None)
    assert observed["late"]["message"].endswith('Runs in status "expired" do not accept tool outputs.')


def test_scenario_in_stream_error(tmp_path: Path, emulator: Emulator) -> None:
    def scenario(api: openai.OpenAI) -> Observed:
        assistant, thread = setup(api)
        handler = EventRecorder()
        with pytest.raises(openai.APIError) as raised:  # noqa: SIM117 - the stream must be open when it raises
            with api.beta.threads.runs.stream(
                thread_id=thread.id,
                assistant_id=assistant.id,
                event_handler=handler,
                metadata={"emulator_error_after": "9"},
            ) as stream:
                stream.until_done()
        run = api.beta.threads.runs.list(thread_id=thread.id).data[0]
        return {
            "events": handler.events,
            "failure": failure(raised.value),
            "run": [run.status, run.last_error.code if run.last_error else None],
        }

    observed = record_and_replay(tmp_path, emulator, scenario)
    assert observed["events"] == [*TEXT_RUN[:7], "thread.message.delta", "thread.message.delta"]
    assert observed["failure"]["error"] == "APIError"
    assert observed["failure"]["message"].startswith("The server had an error processing your request.")
    assert "req_<id>" in observed["failure"]["message"]
    assert observed["run"] == ["failed", "server_error"]


def test_scenario_connection_cut(tmp_path: Path, emulator: Emulator) -> None:
    def scenario(api: openai.OpenAI) -> Observed:
        assistant, thread = setup(api)
        stream = api.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=assistant.id, stream=True, metadata={"emulator_cut_after": "5"}
        )
        seen = []
        with pytest.raises(openai.APIConnectionError) as raised:
            for event in stream:
                seen.append(event.event)
        run = api.beta.threads.runs.list(thread_id=thread.id).data[0]
        finished = api.beta.threads.runs.poll(run.id, thread_id=thread.id)
        return {"events": seen, "failure": failure(raised.value), "after": finished.status}

    observed = record_and_replay(tmp_path, emulator, scenario)
    assert observed["events"] == TEXT_RUN[:5]
    assert observed["failure"]["error"] == "APIConnectionError"
    assert observed["after"] == "completed"


def test_scenario_http_429_then_success(tmp_path: Path, emulator: Emulator) -> None:
    knobs = {"emulator_http_status": "429", "emulator_http_failures": "1", "emulator_retry_after_ms": "20"}

    def scenario(api: openai.OpenAI) -> Observed:
        assistant, thread = setup(api)
        try:
            api.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id, metadata=knobs)
        except openai.RateLimitError as exc:
            refused = failure(exc) | {"code": exc.code, "type": exc.type}
        # The same request again: the emulator let only one attempt fail.
        run = api.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id, metadata=knobs)
        return {"refused": refused, "then": run.status}

    observed = record_and_replay(tmp_path, emulator, scenario)
    assert observed["refused"]["error"] == "RateLimitError"
    assert observed["refused"]["status"] == 429
    assert (observed["refused"]["code"], observed["refused"]["type"]) == ("rate_limit_exceeded", "requests")
    assert "Please try again in 20ms." in observed["refused"]["message"]
    assert observed["then"] == "queued"


def test_scenario_http_500(tmp_path: Path, emulator: Emulator) -> None:
    def scenario(api: openai.OpenAI) -> Observed:
        assistant, _ = setup(api)
        try:
            api.beta.threads.create_and_run(
                assistant_id=assistant.id, thread={}, metadata={"emulator_http_status": "500"}
            )
        except openai.InternalServerError as exc:
            return failure(exc) | {"type": exc.type}
        raise AssertionError("no error")

    observed = record_and_replay(tmp_path, emulator, scenario)
    assert (observed["error"], observed["status"], observed["type"]) == (
        "InternalServerError",
        500,
        "server_error",
    )
    assert observed["message"].endswith(
        "The server had an error while processing your request. Sorry about that!"
    )


@pytest.mark.parametrize("key", ["wrong-key-for-the-emulator", None], ids=["wrong", "missing"])
def test_scenario_401(tmp_path: Path, emulator: Emulator, key: str | None) -> None:
    # Told to omit it, the SDK sends no Authorization header at all.
    extra: Any = {"Authorization": openai.Omit()} if key is None else None

    def scenario(api: openai.OpenAI) -> Observed:
        with pytest.raises(openai.AuthenticationError) as raised:
            api.beta.threads.create(extra_headers=extra)
        return failure(raised.value) | {"code": raised.value.code}

    observed = record_and_replay(tmp_path, emulator, scenario, api_key=key or KEY)
    assert observed["status"] == 401
    if key is None:
        assert "You didn't provide an API key." in observed["message"]
        assert observed["code"] is None
    else:
        assert "Incorrect API key provided: wrong-" in observed["message"]
        assert key not in observed["message"]  # masked, as the real API does
        assert observed["code"] == "invalid_api_key"


def test_scenario_404_and_400_errors(tmp_path: Path, emulator: Emulator) -> None:
    def scenario(api: openai.OpenAI) -> Observed:
        assistant, thread = setup(api, [WEATHER])
        errors: dict[str, Observed] = {}

        def attempt(name: str, call: Callable[[], Any]) -> None:
            try:
                call()
            except openai.APIStatusError as exc:
                errors[name] = failure(exc) | {"body": exc.body}

        attempt("thread", lambda: api.beta.threads.retrieve("thread_doesnotexist"))
        attempt("run", lambda: api.beta.threads.runs.retrieve("run_doesnotexist", thread_id=thread.id))
        run = api.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        attempt(
            "step", lambda: api.beta.threads.runs.steps.retrieve("step_x", thread_id=thread.id, run_id=run.id)
        )
        attempt(
            "active", lambda: api.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        )
        api.beta.threads.runs.retrieve(run.id, thread_id=thread.id)  # queued -> in_progress
        outputs = [{"tool_call_id": "call_x", "output": "early"}]
        attempt(
            "outputs",
            lambda: api.beta.threads.runs.submit_tool_outputs(
                run.id, thread_id=thread.id, tool_outputs=outputs
            ),
        )
        attempt("metadata", lambda: api.beta.threads.update(thread.id, metadata={"n": 1}))  # type: ignore[dict-item]
        return errors

    observed = record_and_replay(tmp_path, emulator, scenario)
    assert observed["thread"]["status"] == 404
    assert observed["thread"]["body"] == {
        "message": "No thread found with id 'thread_doesnotexist'.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert observed["run"]["body"]["message"] == "No run found with id 'run_doesnotexist'."
    assert observed["step"]["body"]["message"] == "No run step found with id 'step_x'."
    assert observed["active"]["status"] == 400
    assert observed["active"]["body"]["message"] == "Thread thread_<id> already has an active run run_<id>."
    assert (
        observed["outputs"]["body"]["message"] == 'Runs in status "in_progress" do not accept tool outputs.'
    )
    assert observed["metadata"]["body"] == {
        "message": "Invalid type for 'metadata.n': expected a string, but got an integer instead.",
        "type": "invalid_request_error",
        "param": "metadata.n",
        "code": "invalid_type",
    }


async def test_scenario_async_stream_and_tool_outputs(tmp_path: Path, emulator: Emulator) -> None:
    async def scenario(api: openai.AsyncOpenAI) -> Observed:
        assistant = await api.beta.assistants.create(model="gpt-4o", tools=[WEATHER])
        thread = await api.beta.threads.create(messages=[{"role": "user", "content": "Weather?"}])
        handler = AsyncEventRecorder()
        async with api.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
        ) as stream:
            await stream.until_done()
            run = await stream.get_final_run()
        after = AsyncEventRecorder()
        async with api.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=thread.id, run_id=run.id, tool_outputs=outputs_for(run), event_handler=after
        ) as stream:
            await stream.until_done()
            final = await stream.get_final_run()
        return {"first": handler.events, "after": after.events, "text": after.text, "status": final.status}

    observed = await record_and_replay_async(tmp_path, emulator, scenario)
    assert observed["first"][-1] == "thread.run.requires_action"
    assert observed["text"] == "Tool output received: out0"
    assert observed["status"] == "completed"


# --------------------------------------------------------------------------- the emulator's streams against real ones


def _realworld(name: str) -> Path:
    if not REALWORLD.is_dir():
        pytest.skip(
            f"real recordings not available: {REALWORLD} is absent (it lives beside the project, in shared/)"
        )
    return REALWORLD / name


def _raw_sse(name: str) -> bytes:
    """A raw SSE body (``simple-openai__*.txt``), its last event terminated.

    The ``event: error`` spliced onto ``…_stream_error_1.txt`` lacks the blank line that ends every event on the
    real wire; without it an SSE decoder drops the event as incomplete, so it is restored here.
    """
    body = _realworld(name).read_bytes()
    return body if body.endswith(b"\n\n") else body + b"\n"


def _dotnet_sse(name: str, uri_part: str) -> bytes:
    """The SSE body of the first entry of a .NET test-proxy recording whose URI contains ``uri_part``."""
    entries = json.loads(_realworld(name).read_text(encoding="utf-8"))["Entries"]
    for entry in entries:
        if uri_part in entry["RequestUri"] and isinstance(entry.get("ResponseBody"), list):
            return "".join(entry["ResponseBody"]).encode()
    raise AssertionError(f"no stream for {uri_part!r} in {name}")


def _vcr_sse(name: str, uri_suffix: str) -> bytes:
    """The SSE body of the first vcrpy interaction whose URI ends with ``uri_suffix``."""
    cassette = yaml.safe_load(_realworld(name).read_text(encoding="utf-8"))
    for interaction in cassette["interactions"]:
        body = interaction["response"]["body"]["string"]
        if interaction["request"]["uri"].endswith(uri_suffix) and isinstance(body, str) and "event: " in body:
            return body.encode()
    raise AssertionError(f"no stream for {uri_suffix!r} in {name}")


def _stream_call(
    api: openai.OpenAI, handler: EventRecorder, kind: str, ids: dict[str, str], **params: Any
) -> None:
    """The SDK helper of a stream ``kind``: run create, create thread and run, or submit tool outputs."""
    if kind == "run":
        manager: Any = api.beta.threads.runs.stream(
            thread_id=ids["thread"], assistant_id=ids["assistant"], event_handler=handler, **params
        )
    elif kind == "thread_and_run":
        manager = api.beta.threads.create_and_run_stream(
            assistant_id=ids["assistant"],
            thread={"messages": [{"role": "user", "content": "Hello"}]},
            event_handler=handler,
            **params,
        )
    else:
        manager = api.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=ids["thread"],
            run_id=ids["run"],
            tool_outputs=[{"tool_call_id": ids["call"], "output": "sunny"}],
            event_handler=handler,
        )
    with manager as stream:
        stream.until_done()


def _observe(call: Callable[[EventRecorder], None]) -> tuple[list[str], str | None]:
    """The events a handler saw (deltas collapsed) and the class of the error that ended the stream, if any."""
    handler = EventRecorder()
    try:
        call(handler)
    except openai.APIError as exc:
        return collapse(handler.events), type(exc).__name__
    return collapse(handler.events), None


def _real_stream(body: bytes, kind: str) -> tuple[list[str], str | None]:
    """Feed a recorded body to the SDK helper of ``kind`` as if the API had answered it."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream; charset=utf-8"}, content=body
        )

    ids = {"assistant": "asst_real", "thread": "thread_real", "run": "run_real", "call": "call_real"}
    http_client = httpx2.Client(transport=httpx2.MockTransport(answer))
    with openai.OpenAI(
        base_url="http://real.invalid/v1", api_key=KEY, max_retries=0, http_client=http_client
    ) as api:
        return _observe(lambda handler: _stream_call(api, handler, kind, ids))


def _emulated_stream(api: openai.OpenAI, kind: str, tools: list[Any], metadata: dict[str, str]) -> Any:
    assistant, thread = setup(api, tools)
    ids = {"assistant": assistant.id, "thread": thread.id}
    params: dict[str, Any] = {"metadata": metadata} if metadata else {}
    if kind == "submit":
        # Bring a run to requires_action first: the stream compared is the one the tool outputs open.
        run = api.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        ids |= {"run": run.id, "call": run.required_action.submit_tool_outputs.tool_calls[0].id}
    return _observe(lambda handler: _stream_call(api, handler, kind, ids, **params))


REAL_STREAMS = [
    # (id, how to read the real body, helper kind, emulator tools, emulator knobs)
    ("text-run", lambda: _raw_sse("simple-openai__threads_runs_create_stream_1.txt"), "run", [], {}),
    ("text-run-2025", lambda: _dotnet_sse("openai-dotnet__StreamingRunWorks.json", "/runs"), "run", [], {}),
    (
        "requires-action",
        lambda: _dotnet_sse("openai-dotnet__StreamingToolCall.json", "/threads/runs"),
        "thread_and_run",
        [WEATHER],
        {},
    ),
    (
        "requires-action-2024",
        lambda: _raw_sse("simple-openai__threads_runs_create_both_function_stream__deleted2024.txt"),
        "thread_and_run",
        [WEATHER],
        {},
    ),
    (
        "submit-tool-outputs",
        lambda: _dotnet_sse("openai-dotnet__StreamingToolCall.json", "/submit_tool_outputs"),
        "submit",
        [WEATHER],
        {},
    ),
    (
        "submit-tool-outputs-2024",
        lambda: _raw_sse("simple-openai__threads_runs_submittool_stream_2.txt"),
        "submit",
        [WEATHER],
        {},
    ),
    (
        "create-thread-and-run",
        lambda: _raw_sse("simple-openai__threads_runs_createthreadandrun_stream_1.txt"),
        "thread_and_run",
        [],
        {},
    ),
    (
        "code-interpreter",
        lambda: _vcr_sse("openllmetry__test_streaming_existing_assistant.yaml", "/runs"),
        "run",
        [CODE],
        {},
    ),
    (
        "in-stream-error",
        lambda: _raw_sse("simple-openai__threads_runs_create_stream_error_1.txt"),
        "run",
        [],
        {"emulator_error_after": "9"},
    ),
]


@pytest.mark.parametrize(
    ("read_real", "kind", "tools", "knobs"),
    [pytest.param(*case[1:], id=case[0]) for case in REAL_STREAMS],
)
def test_same_events_as_a_real_stream(
    client: openai.OpenAI,
    read_real: Callable[[], bytes],
    kind: str,
    tools: list[Any],
    knobs: dict[str, str],
) -> None:
    real_events, real_error = _real_stream(read_real(), kind)
    emulated_events, emulated_error = _emulated_stream(client, kind, tools, knobs)
    assert emulated_events == real_events
    assert emulated_error == real_error
    # The comparison means something: the real stream got past its opening events.
    assert len(real_events) >= 6
