"""Record a downstream suite against the emulator through real sockets, then replay it with the server gone.

Every call the SDK makes for runs is exercised with both HTTP stacks (openai's default ``httpx2`` client and a legacy
``httpx`` client), sync and async. Each inner test writes what it observed (final run, event names, texts) to a
results folder; the replay must observe exactly what the recording observed.
"""

from __future__ import annotations

import json

import pytest

from pytest_runs.emulator import Emulator

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SUITE = """
import json, os, asyncio
from pathlib import Path

import httpx
import openai
import pytest

BASE_URL = os.environ["EMULATOR_URL"]
RESULTS = Path(os.environ["RESULTS_DIR"])
PHASE = os.environ["PHASE"]
FUNCTION_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
STACKS = pytest.mark.parametrize("stack", ["httpx2", "httpx"])


def client(stack):
    extra = {"http_client": httpx.Client()} if stack == "httpx" else {}
    return openai.OpenAI(base_url=BASE_URL, api_key="test-key", max_retries=0, **extra)


def async_client(stack):
    extra = {"http_client": httpx.AsyncClient()} if stack == "httpx" else {}
    return openai.AsyncOpenAI(base_url=BASE_URL, api_key="test-key", max_retries=0, **extra)


def save(request, observed):
    if PHASE != "live":
        # IDs and times are the cassette's placeholders in both phases, as in a snapshot.
        observed = request.getfixturevalue("runs_cassette").normalised(observed)
    name = request.node.nodeid.replace("/", "_").replace(":", "_")
    (RESULTS / f"{name}.{PHASE}.json").write_text(json.dumps(observed, indent=1, sort_keys=True))


def setup(api, tools=()):
    assistant = api.beta.assistants.create(model="gpt-4o", name="helper", tools=list(tools))
    thread = api.beta.threads.create(messages=[{"role": "user", "content": "Hi there"}])
    return assistant, thread


class Handler(openai.AssistantEventHandler):
    def __init__(self):
        super().__init__()
        self.names = []

    def on_event(self, event):
        self.names.append(event.event)


@STACKS
@pytest.mark.runs_cassette
def test_create_then_poll_by_hand(stack, request):
    api = client(stack)
    assistant, thread = setup(api)
    run = api.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    statuses = [run.status]
    while run.status not in ("completed", "failed"):
        run = api.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        statuses.append(run.status)
    messages = api.beta.threads.messages.list(thread_id=thread.id)
    save(request, {"statuses": statuses, "run": run.to_dict(), "text": messages.data[0].content[0].text.value})


@STACKS
@pytest.mark.runs_cassette
def test_create_stream_true(stack, request):
    api = client(stack)
    assistant, thread = setup(api)
    events = list(api.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id, stream=True))
    save(request, {"events": [event.event for event in events], "run": events[-1].data.to_dict()})


@STACKS
@pytest.mark.runs_cassette
def test_stream_with_event_handler(stack, request):
    api = client(stack)
    assistant, thread = setup(api)
    handler = Handler()
    with api.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id, event_handler=handler) as stream:
        stream.until_done()
        final = stream.get_final_run()
        text = "".join(stream.get_final_messages()[0].content[0].text.value)
    save(request, {"events": handler.names, "run": final.to_dict(), "text": text})


@STACKS
@pytest.mark.runs_cassette
def test_create_and_poll(stack, request):
    api = client(stack)
    assistant, thread = setup(api)
    run = api.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, metadata={"emulator_polls": "3"}
    )
    save(request, {"run": run.to_dict()})


@STACKS
@pytest.mark.runs_cassette
def test_submit_tool_outputs_stream(stack, request):
    api = client(stack)
    assistant, thread = setup(api, [FUNCTION_TOOL])
    first = list(api.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id, stream=True))
    run = next(event.data for event in first if event.event == "thread.run.requires_action")
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    handler = Handler()
    with api.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}],
        event_handler=handler,
    ) as stream:
        stream.until_done()
        final = stream.get_final_run()
    save(request, {"first": [event.event for event in first], "events": handler.names, "run": final.to_dict()})


@STACKS
@pytest.mark.runs_cassette
def test_create_thread_and_run(stack, request):
    api = client(stack)
    assistant, _ = setup(api)
    run = api.beta.threads.create_and_run(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "Hello"}]}
    )
    streamed = list(api.beta.threads.create_and_run(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "Hello"}]}, stream=True
    ))
    save(request, {"run": run.to_dict(), "events": [event.event for event in streamed]})


@STACKS
@pytest.mark.runs_cassette
def test_early_close(stack, request):
    api = client(stack)
    assistant, thread = setup(api)
    stream = api.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, stream=True, metadata={"emulator_event_delay_ms": "20"}
    )
    seen = []
    for event in stream:
        seen.append(event.event)
        if event.event == "thread.run.in_progress":
            break
    stream.close()
    save(request, {"events": seen})


@STACKS
@pytest.mark.runs_cassette
def test_server_cut_mid_stream(stack, request):
    api = client(stack)
    assistant, thread = setup(api)
    stream = api.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, stream=True, metadata={"emulator_cut_after": "4"}
    )
    seen = []
    with pytest.raises(Exception) as info:
        for event in stream:
            seen.append(event.event)
    runs = api.beta.threads.runs.list(thread_id=thread.id)
    save(request, {
        "events": seen,
        "error": type(info.value).__name__,
        "cause": type(info.value.__cause__).__name__,
        "runs_created": len(runs.data),
    })


@STACKS
@pytest.mark.runs_cassette
@pytest.mark.asyncio
async def test_async_stream_and_poll(stack, request):
    api = async_client(stack)
    assistant = await api.beta.assistants.create(model="gpt-4o", tools=[FUNCTION_TOOL])
    thread = await api.beta.threads.create(messages=[{"role": "user", "content": "Weather?"}])
    run = await api.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    run = await api.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": call.id, "output": "rain"}]
    )
    async with api.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        names = [event.event async for event in stream]
        final = await stream.get_final_run()
    save(request, {"polled": run.to_dict(), "events": names, "run": final.to_dict()})
"""


@pytest.fixture
def suite(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
):
    results = tmp_path_factory.mktemp("results")
    monkeypatch.setenv("RESULTS_DIR", str(results))
    pytester.makepyfile(test_downstream=SUITE)
    return pytester, results


def test_recorded_suite_replays_offline_with_the_same_observations(suite) -> None:
    pytester, results = suite
    with Emulator(event_delay=0.001, poll_after_ms=5) as emulator:
        pytester._monkeypatch.setenv("EMULATOR_URL", emulator.base_url)
        pytester._monkeypatch.setenv("PHASE", "record")
        recorded = pytester.runpytest_subprocess("--runs-record-mode=once", "-p", "no:randomly")
    recorded.assert_outcomes(passed=18)
    cassettes = sorted((pytester.path / "cassettes" / "test_downstream").glob("*.yaml"))
    assert len(cassettes) == 18

    # The server is gone, and replay uses another base URL: host and port are not part of matching.
    pytester._monkeypatch.setenv("EMULATOR_URL", "http://127.0.0.1:9/v1")
    pytester._monkeypatch.setenv("PHASE", "replay")
    replayed = pytester.runpytest_subprocess("-p", "no:randomly")
    replayed.assert_outcomes(passed=18)

    record_files = sorted(results.glob("*.record.json"))
    assert len(record_files) == 18
    for record_file in record_files:
        replay_file = record_file.with_name(record_file.name.replace(".record.", ".replay."))
        assert json.loads(replay_file.read_text()) == json.loads(record_file.read_text()), record_file.name

    observed = {path.name: json.loads(path.read_text()) for path in record_files}
    cut = observed["test_downstream.py__test_server_cut_mid_stream[httpx2].record.json"]
    # The cut stream surfaced as the transport error, the POST was not retried (one run exists), and the
    # events before the cut were delivered.
    assert cut["error"] == "APIConnectionError"
    assert cut["cause"] == "RemoteProtocolError"
    assert cut["runs_created"] == 1
    assert cut["events"] == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
    ]
    # ... exactly as the same client sees it with no pytest-runs at all.
    with Emulator(event_delay=0.001, poll_after_ms=5) as emulator:
        pytester._monkeypatch.setenv("EMULATOR_URL", emulator.base_url)
        pytester._monkeypatch.setenv("PHASE", "live")
        live = pytester.runpytest_subprocess("-p", "no:runs", "-k", "cut_mid_stream or early_close")
    live.assert_outcomes(passed=4)
    for name in (
        "test_server_cut_mid_stream[httpx2]",
        "test_server_cut_mid_stream[httpx]",
        "test_early_close[httpx]",
    ):
        live_observed = json.loads((results / f"test_downstream.py__{name}.live.json").read_text())
        assert live_observed == observed[f"test_downstream.py__{name}.record.json"]

    handler = observed["test_downstream.py__test_stream_with_event_handler[httpx].record.json"]
    assert handler["run"]["status"] == "completed"
    assert handler["events"][0] == "thread.run.created"
    assert handler["events"][-1] == "thread.run.completed"
    assert handler["text"] == "Hello from the emulator."
