"""The parsed models (Run, run-creation parameters, stream events) and the cassette views built on them.

Real recorded traffic from ``shared/realworld`` is the main fixture: every run object and every stream event in it
must parse, and our ``Run`` must dump exactly like the SDK's for the same payload.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from pytest_runs.bodies import body_from_bytes
from pytest_runs.cassette import CassetteFile, Interaction, RecordedRequest, RecordedResponse
from pytest_runs.errors import CassetteFormatError
from pytest_runs.models import (
    CONSTRAINT_ERROR,
    EVENT_NAMES,
    RUN_STATUSES,
    DoneEvent,
    ErrorEvent,
    FileSearchTool,
    FunctionTool,
    Message,
    OtherTool,
    Run,
    RunCreateParams,
    RunEvent,
    RunStep,
    StreamEvent,
    Thread,
    ThreadCreateAndRunParams,
    ThreadCreated,
    ThreadMessageDelta,
    ThreadRunCompleted,
    ThreadRunCreated,
    ThreadRunStepDelta,
    UnknownEvent,
    parse_event,
)
from pytest_runs.sse import decode_all
from pytest_runs.storage import load_cassette
from pytest_runs.views import constraint_problems, events_of, requests_of, runs_of

REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld"
OWN_CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"

needs_realworld = pytest.mark.skipif(
    not REALWORLD.is_dir(), reason=f"the real recordings are not available here ({REALWORLD} is absent)"
)


# ---------------------------------------------------------------------------------------------------------------------
# Reading the real recordings (four formats) into (method, url, request body, status, response bytes)
# ---------------------------------------------------------------------------------------------------------------------


class _RecordingLoader(yaml.SafeLoader):
    """YAML loader for vcrpy (``!!binary``, understood by SafeLoader) and Ruby VCR (single-``!`` ``!binary``)."""


def _binary(loader: yaml.SafeLoader, node: yaml.Node) -> bytes:
    assert isinstance(node, yaml.ScalarNode)
    return base64.b64decode(loader.construct_scalar(node))


_RecordingLoader.add_constructor("!binary", _binary)


def _bytes(value: Any) -> bytes:
    """A stored body as the bytes the client saw: text encoded, gzip undone."""
    if value is None:
        return b""
    data = value if isinstance(value, bytes) else value.encode("utf-8")
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


@dataclass(frozen=True)
class Exchange:
    """One recorded request and response, whatever format it came from."""

    method: str
    url: str
    request: bytes
    status: int
    response: bytes

    @property
    def is_sse(self) -> bool:
        return self.response.lstrip().startswith((b"event:", b"data:"))


def _exchanges(path: Path) -> list[Exchange]:
    """The exchanges of a vcrpy, Ruby VCR or .NET recording."""
    found = []
    if path.suffix in (".yaml", ".yml"):
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_RecordingLoader)
        for item in document.get("interactions") or document.get("http_interactions"):
            request, response = item["request"], item["response"]
            request_body = request.get("body")
            if isinstance(request_body, dict):  # Ruby VCR: {encoding, string}
                request_body = request_body.get("string")
            found.append(
                Exchange(
                    request["method"].upper(),
                    request["uri"],
                    _bytes(request_body),
                    int(response["status"]["code"]),
                    _bytes(response["body"]["string"]),
                )
            )
    else:  # .NET test proxy: bodies stored parsed; SSE as a list of lines
        for entry in json.loads(path.read_text(encoding="utf-8"))["Entries"]:
            response_body = entry.get("ResponseBody")
            if isinstance(response_body, list):
                response_bytes = "".join(response_body).encode("utf-8")
            else:
                response_bytes = b"" if response_body is None else json.dumps(response_body).encode("utf-8")
            request_body = entry.get("RequestBody")
            found.append(
                Exchange(
                    entry["RequestMethod"],
                    entry["RequestUri"],
                    b"" if request_body is None else json.dumps(request_body).encode("utf-8"),
                    int(entry["StatusCode"]),
                    response_bytes,
                )
            )
    return found


def _recordings() -> list[Path]:
    if not REALWORLD.is_dir():
        return []
    return sorted(
        path
        for path in REALWORLD.iterdir()
        if path.suffix in (".yaml", ".yml")
        or (path.suffix == ".json" and path.name.startswith("openai-dotnet__"))
    )


def _raw_streams() -> list[Path]:
    return sorted(REALWORLD.glob("*.txt")) if REALWORLD.is_dir() else []


def _frames(body: bytes, name: str) -> list[tuple[str | None, Any]]:
    """The (event, data) pairs of an SSE body, data parsed as JSON where it is JSON."""
    if name.startswith("openai-php__"):
        # Altered framing: no blank line anywhere (and no ``data: [DONE]``). Put back the blank line after each data
        # line so the payloads, which are real, can still be checked.
        body = re.sub(rb"(?m)^(data:[^\n]*\n)", rb"\1\n", body)
    frames, tail = decode_all(body)
    if tail:
        # Files that end without the blank line closing their last frame (``event: done`` / ``event: error``).
        more, rest = decode_all(tail + b"\n")
        assert not rest
        frames.extend(more)
    pairs = []
    for frame in frames:
        if frame.event is None and frame.data is None:
            continue
        try:
            data = json.loads(frame.data) if frame.data is not None else None
        except json.JSONDecodeError:
            data = frame.data
        pairs.append((frame.event, data))
    return pairs


def _streams() -> Iterator[tuple[str, list[tuple[str | None, Any]]]]:
    """Every SSE body of the real recordings: name and events."""
    for path in _recordings():
        for number, exchange in enumerate(_exchanges(path)):
            if exchange.is_sse:
                yield f"{path.name}#{number}", _frames(exchange.response, path.name)
    for path in _raw_streams():
        yield path.name, _frames(path.read_bytes(), path.name)


def _objects() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON object the real responses carried (list bodies flattened), and every event's data object."""
    for path in _recordings():
        for number, exchange in enumerate(_exchanges(path)):
            if exchange.is_sse or not exchange.response.strip():
                continue
            value = json.loads(exchange.response)
            items = value["data"] if value.get("object") == "list" else [value]
            yield from ((f"{path.name}#{number}", item) for item in items)
    if REALWORLD.is_dir():
        single = REALWORLD / "simple-openai__threads_runs_submittool_stream_1.json"
        yield single.name, json.loads(single.read_text(encoding="utf-8"))
    for name, events in _streams():
        yield from ((name, data) for _, data in events if isinstance(data, dict))


def _run_payloads() -> list[tuple[str, dict[str, Any]]]:
    return [(name, value) for name, value in _objects() if value.get("object") == "thread.run"]


# ---------------------------------------------------------------------------------------------------------------------
# Real recordings parse
# ---------------------------------------------------------------------------------------------------------------------


def _keeps(dumped: Any, recorded: Any) -> bool:
    """Whether ``dumped`` holds everything ``recorded`` does (a dump may add optional fields as ``None``)."""
    if isinstance(recorded, dict):
        return isinstance(dumped, dict) and all(
            key in dumped and _keeps(dumped[key], value) for key, value in recorded.items()
        )
    if isinstance(recorded, list):
        return (
            isinstance(dumped, list)
            and len(dumped) == len(recorded)
            and all(_keeps(mine, theirs) for mine, theirs in zip(dumped, recorded, strict=True))
        )
    return bool(dumped == recorded and type(dumped) is type(recorded)) or (
        isinstance(recorded, float) and dumped == recorded
    )


_STREAMS = list(_streams())
_MODELS: dict[str, type[Run | Thread | Message | RunStep]] = {
    "thread.run": Run,
    "thread": Thread,
    "thread.message": Message,
    "thread.run.step": RunStep,
}


@needs_realworld
@pytest.mark.parametrize(("name", "events"), _STREAMS, ids=[name for name, _ in _STREAMS])
def test_every_real_stream_event_parses_into_its_typed_model(
    name: str, events: list[tuple[str | None, Any]]
) -> None:
    assert events, f"{name}: no events found"
    for event, data in events:
        parsed = parse_event(event, data)
        if name.startswith("openai-php__") and (event, data) == ("done", None):
            # The altered sample dropped ``data: [DONE]``: a ``done`` without data is not the documented event.
            assert isinstance(parsed, UnknownEvent)
            continue
        assert not isinstance(parsed, UnknownEvent), f"{name}: {event}: {parsed.problem}"
        assert parsed.event == event
        assert type(parsed).model_fields["event"].default == event
        # Parsing keeps the payload: the dump has every recorded key with its recorded value, at every level.
        assert _keeps(parsed.model_dump(mode="json", by_alias=True)["data"], data), f"{name}: {event}"


@needs_realworld
def test_real_streams_cover_every_kind_of_payload() -> None:
    kinds = {type(parse_event(event, data)) for _, events in _STREAMS for event, data in events}
    assert {
        ThreadCreated,
        ThreadRunCreated,
        ThreadRunCompleted,
        ThreadRunStepDelta,
        ThreadMessageDelta,
    } <= kinds
    assert {DoneEvent, ErrorEvent} <= kinds
    assert len(_STREAMS) >= 15


@needs_realworld
def test_the_spliced_error_event_is_kept_with_its_envelope() -> None:
    [(_, events)] = [
        item for item in _STREAMS if item[0] == "simple-openai__threads_runs_create_stream_error_1.txt"
    ]
    event, data = events[-1]
    parsed = parse_event(event, data)
    assert isinstance(parsed, ErrorEvent)
    assert parsed.error.type == "server_error"
    assert parsed.error.message.startswith("The server had an error processing your request.")
    assert parsed.model_dump(mode="json")["data"] == data


@needs_realworld
def test_a_completed_event_carrying_an_incomplete_run_is_kept_as_recorded() -> None:
    completed = [
        parse_event(event, data)
        for name, events in _STREAMS
        if name.startswith("ruby-openai__runs_streamed_create")
        for event, data in events
        if event == "thread.run.completed"
    ]
    incomplete = [
        event for event in completed if isinstance(event, RunEvent) and event.data.status == "incomplete"
    ]
    assert incomplete, "the recording with an incomplete run in thread.run.completed was not found"
    [event] = incomplete
    assert isinstance(event, ThreadRunCompleted)
    assert event.data.incomplete_details is not None
    assert event.data.incomplete_details.reason == "max_prompt_tokens"


@needs_realworld
def test_every_real_object_parses_into_its_model() -> None:
    counts: dict[str, int] = {}
    for name, value in _objects():
        model = _MODELS.get(value.get("object", ""))
        if model is None:
            continue
        parsed = model.model_validate(value)
        assert parsed.id == value["id"], name
        counts[value["object"]] = counts.get(value["object"], 0) + 1
    assert counts["thread.run"] >= 200
    assert counts["thread.message"] >= 40
    assert counts["thread.run.step"] >= 50
    assert counts["thread"] >= 20


@needs_realworld
def test_old_payloads_without_parallel_tool_calls_and_with_null_instructions_parse() -> None:
    runs = [Run.model_validate(value) for _, value in _run_payloads()]
    assert any(run.parallel_tool_calls is None for run in runs)
    assert any(run.instructions is None for run in runs)
    assert {run.status for run in runs} <= set(RUN_STATUSES)


# ---------------------------------------------------------------------------------------------------------------------
# Our Run and the SDK's
# ---------------------------------------------------------------------------------------------------------------------


def test_run_has_the_sdks_fields_in_the_sdks_order_and_optionality() -> None:
    from openai.types.beta.threads import Run as SdkRun

    assert list(Run.model_fields) == list(SdkRun.model_fields)
    assert {name: field.is_required() for name, field in Run.model_fields.items()} == {
        name: field.is_required() for name, field in SdkRun.model_fields.items()
    }


def test_nested_run_models_have_the_sdks_fields() -> None:
    from openai.types.beta.threads import run as sdk
    from openai.types.beta.threads.required_action_function_tool_call import (
        Function as SdkFunction,
    )
    from openai.types.beta.threads.required_action_function_tool_call import (
        RequiredActionFunctionToolCall as SdkToolCall,
    )

    from pytest_runs import models as ours

    pairs = [
        (ours.IncompleteDetails, sdk.IncompleteDetails),
        (ours.LastError, sdk.LastError),
        (ours.RequiredAction, sdk.RequiredAction),
        (ours.RequiredActionSubmitToolOutputs, sdk.RequiredActionSubmitToolOutputs),
        (ours.TruncationStrategy, sdk.TruncationStrategy),
        (ours.Usage, sdk.Usage),
        (ours.RequiredActionFunctionToolCall, SdkToolCall),
        (ours.RequiredActionFunction, SdkFunction),
    ]
    for mine, theirs in pairs:
        assert list(mine.model_fields) == list(theirs.model_fields), mine.__name__
        assert [field.is_required() for field in mine.model_fields.values()] == [
            field.is_required() for field in theirs.model_fields.values()
        ], mine.__name__


def _sdk_dump(payload: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The SDK's ``model_dump(mode="json")`` of a payload, and whether the SDK's model validated it.

    Payloads the SDK's model rejects (``instructions: null``, no ``parallel_tool_calls``, a ranker name it does not
    list) are built the way the SDK's client builds every response, without validation.
    """
    from openai.types.beta.threads import Run as SdkRun

    try:
        return SdkRun.model_validate(payload).model_dump(mode="json"), True
    except ValidationError:
        from openai._models import construct_type

        built = construct_type(type_=SdkRun, value=payload)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its serializer warns about the values it did not validate
            return built.model_dump(mode="json"), False


@needs_realworld
def test_ours_and_the_sdks_run_dump_the_same_for_every_real_run() -> None:
    validated = built = 0
    for name, payload in _run_payloads():
        expected, strict = _sdk_dump(payload)
        assert Run.model_validate(payload).model_dump(mode="json") == expected, name
        validated += strict
        built += not strict
    assert validated >= 100
    assert built >= 50


def _full_run() -> dict[str, Any]:
    """A run with every nested structure filled in (the real recordings lack some of them)."""
    return {
        "id": "run_1",
        "object": "thread.run",
        "created_at": 1700000000,
        "assistant_id": "asst_1",
        "thread_id": "thread_1",
        "status": "requires_action",
        "started_at": 1700000001,
        "expires_at": 1700000600,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "required_action": {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Lima"}'},
                    }
                ]
            },
        },
        "last_error": {"code": "rate_limit_exceeded", "message": "Slow down."},
        "model": "gpt-4o",
        "instructions": "Be brief.",
        "tools": [
            {"type": "code_interpreter"},
            {
                "type": "file_search",
                "file_search": {"max_num_results": 5, "ranking_options": {"score_threshold": 0.5}},
            },
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "description": "The weather in a city.",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                    "strict": True,
                },
            },
        ],
        "metadata": {"team": "blue"},
        "temperature": 0.2,
        "top_p": 0.9,
        "max_completion_tokens": 1000,
        "max_prompt_tokens": 2000,
        "truncation_strategy": {"type": "last_messages", "last_messages": 4},
        "incomplete_details": {"reason": "max_completion_tokens"},
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
        },
        "tool_choice": {"type": "function", "function": {"name": "weather"}},
        "parallel_tool_calls": False,
    }


def test_a_run_with_every_nested_structure_dumps_like_the_sdks() -> None:
    payload = _full_run()
    expected, strict = _sdk_dump(payload)
    assert strict
    run = Run.model_validate(payload)
    assert run.model_dump(mode="json") == expected
    assert run.required_action is not None
    assert run.required_action.submit_tool_outputs.tool_calls[0].function.name == "weather"
    assert isinstance(run.tools[1], FileSearchTool)
    assert isinstance(run.tools[2], FunctionTool)


def test_fields_the_api_adds_later_are_kept_at_every_level() -> None:
    payload = _full_run()
    payload["reasoning_effort"] = "low"
    payload["usage"] = {**payload["usage"], "prompt_token_details": {"cached_tokens": 3}}
    payload["tools"] = [*payload["tools"], {"type": "web_browser", "web_browser": {"depth": 2}}]
    run = Run.model_validate(payload)
    dumped = run.model_dump(mode="json", by_alias=True)
    assert dumped["reasoning_effort"] == "low"
    assert dumped["usage"]["prompt_token_details"] == {"cached_tokens": 3}
    assert isinstance(run.tools[3], OtherTool)
    assert dumped["tools"][3] == {"type": "web_browser", "web_browser": {"depth": 2}}


def test_a_run_is_never_checked_against_its_event_name() -> None:
    payload = {**_full_run(), "status": "incomplete", "required_action": None}
    parsed = parse_event("thread.run.completed", payload)
    assert isinstance(parsed, ThreadRunCompleted)
    assert parsed.data.status == "incomplete"


def test_run_status_is_one_of_the_nine_documented_values() -> None:
    assert RUN_STATUSES == (
        "queued",
        "in_progress",
        "requires_action",
        "cancelling",
        "cancelled",
        "failed",
        "completed",
        "incomplete",
        "expired",
    )
    with pytest.raises(ValidationError, match="status"):
        Run.model_validate({**_full_run(), "status": "paused"})


# ---------------------------------------------------------------------------------------------------------------------
# parse_event
# ---------------------------------------------------------------------------------------------------------------------


def test_every_documented_event_name_has_its_own_model() -> None:
    assert len(EVENT_NAMES) == 25
    assert {"thread.created", "error", "done"} <= EVENT_NAMES
    for name in EVENT_NAMES:
        assert name in {"thread.created", "error", "done"} or name.startswith(
            ("thread.run.", "thread.message.")
        )


def test_unknown_event_names_are_kept_not_refused() -> None:
    parsed = parse_event("thread.run.paused", {"id": "run_1"})
    assert isinstance(parsed, UnknownEvent)
    assert isinstance(parsed, StreamEvent)
    assert (parsed.event, parsed.data, parsed.problem) == ("thread.run.paused", {"id": "run_1"}, None)
    nameless = parse_event(None, {"choices": []})
    assert isinstance(nameless, UnknownEvent)
    assert nameless.event is None


def test_a_payload_that_does_not_fit_its_event_is_kept_with_the_reason() -> None:
    parsed = parse_event("thread.run.created", {"id": "run_1", "object": "thread.run"})
    assert isinstance(parsed, UnknownEvent)
    assert parsed.data == {"id": "run_1", "object": "thread.run"}
    assert parsed.problem is not None
    assert parsed.problem.startswith("data.assistant_id: Field required; data.created_at: Field required")
    done = parse_event("done", "finished")
    assert isinstance(done, UnknownEvent)
    assert done.problem == "data: Input should be '[DONE]'"


def test_done_event_and_bare_error_object() -> None:
    done = parse_event("done", "[DONE]")
    assert isinstance(done, DoneEvent)
    assert done.data == "[DONE]"
    error = parse_event("error", {"message": "boom", "type": "server_error", "param": None, "code": None})
    assert isinstance(error, ErrorEvent)
    assert error.error.message == "boom"


# ---------------------------------------------------------------------------------------------------------------------
# Documented constraints on the parameters: the boundary is accepted, one step past it is refused, verbatim
# ---------------------------------------------------------------------------------------------------------------------

PARAMS = [RunCreateParams, ThreadCreateAndRunParams]
Params = type[RunCreateParams] | type[ThreadCreateAndRunParams]


def _messages(model: Params, body: dict[str, Any]) -> list[str]:
    """What validating ``body`` says, and checks that problems() says the same."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    errors = caught.value.errors()
    assert {error["type"] for error in errors} == {CONSTRAINT_ERROR}
    messages = [error["msg"] for error in errors]
    # problems() gives the same, one problem per message (validation joins several in one field with "; ").
    assert model.problems(body) == [part for message in messages for part in message.split("; ")]
    return messages


def _accepts(model: Params, body: dict[str, Any]) -> None:
    model.model_validate(body)
    assert model.problems(body) == []


def _pairs(count: int) -> dict[str, str]:
    return {f"key{index}": "value" for index in range(count)}


@pytest.mark.parametrize("model", PARAMS)
def test_metadata_at_most_16_pairs(model: Params) -> None:
    _accepts(model, {"assistant_id": "asst_1", "metadata": _pairs(16)})
    assert _messages(model, {"assistant_id": "asst_1", "metadata": _pairs(17)}) == [
        "metadata: at most 16 key-value pairs, got 17"
    ]


@pytest.mark.parametrize("model", PARAMS)
def test_metadata_keys_at_most_64_characters(model: Params) -> None:
    _accepts(model, {"assistant_id": "asst_1", "metadata": {"k" * 64: "v"}})
    assert _messages(model, {"assistant_id": "asst_1", "metadata": {"k" * 65: "v"}}) == [
        "metadata: keys are at most 64 characters, got 65 for key 'kkkkkkkkkkkkkkkkkkkkkkkk...'"
    ]


@pytest.mark.parametrize("model", PARAMS)
def test_metadata_values_at_most_512_characters(model: Params) -> None:
    _accepts(model, {"assistant_id": "asst_1", "metadata": {"note": "v" * 512}})
    assert _messages(model, {"assistant_id": "asst_1", "metadata": {"note": "v" * 513}}) == [
        "metadata: values are at most 512 characters, got 513 for key 'note'"
    ]


def test_metadata_of_messages_and_of_the_thread_is_checked_too() -> None:
    message = {"role": "user", "content": "Hi", "metadata": _pairs(17)}
    _accepts(
        RunCreateParams,
        {"assistant_id": "asst_1", "additional_messages": [{**message, "metadata": _pairs(16)}]},
    )
    assert _messages(RunCreateParams, {"assistant_id": "asst_1", "additional_messages": [message]}) == [
        "additional_messages[0].metadata: at most 16 key-value pairs, got 17"
    ]
    _accepts(ThreadCreateAndRunParams, {"assistant_id": "asst_1", "thread": {"metadata": {"k" * 64: "v"}}})
    assert _messages(
        ThreadCreateAndRunParams,
        {"assistant_id": "asst_1", "thread": {"metadata": {"k" * 65: "v"}, "messages": [message]}},
    ) == [
        "thread.metadata: keys are at most 64 characters, got 65 for key 'kkkkkkkkkkkkkkkkkkkkkkkk...'; "
        "thread.messages[0].metadata: at most 16 key-value pairs, got 17"
    ]
    # problems() gives them one by one
    assert ThreadCreateAndRunParams.problems(
        {"assistant_id": "asst_1", "thread": {"metadata": {"k" * 65: "v"}, "messages": [message]}}
    ) == [
        "thread.metadata: keys are at most 64 characters, got 65 for key 'kkkkkkkkkkkkkkkkkkkkkkkk...'",
        "thread.messages[0].metadata: at most 16 key-value pairs, got 17",
    ]


@pytest.mark.parametrize("model", PARAMS)
def test_temperature_between_0_and_2(model: Params) -> None:
    for boundary in (0, 2, 2.0):
        _accepts(model, {"assistant_id": "asst_1", "temperature": boundary})
    assert _messages(model, {"assistant_id": "asst_1", "temperature": 2.01}) == [
        "temperature: must be between 0 and 2, got 2.01"
    ]
    assert _messages(model, {"assistant_id": "asst_1", "temperature": -0.01}) == [
        "temperature: must be between 0 and 2, got -0.01"
    ]


@pytest.mark.parametrize("model", PARAMS)
def test_top_p_between_0_and_1(model: Params) -> None:
    for boundary in (0, 1, 1.0):
        _accepts(model, {"assistant_id": "asst_1", "top_p": boundary})
    assert _messages(model, {"assistant_id": "asst_1", "top_p": 1.01}) == [
        "top_p: must be between 0 and 1, got 1.01"
    ]
    assert _messages(model, {"assistant_id": "asst_1", "top_p": -0.01}) == [
        "top_p: must be between 0 and 1, got -0.01"
    ]


@pytest.mark.parametrize("model", PARAMS)
@pytest.mark.parametrize("field", ["max_prompt_tokens", "max_completion_tokens"])
def test_token_limits_are_positive(model: Params, field: str) -> None:
    _accepts(model, {"assistant_id": "asst_1", field: 1})
    assert _messages(model, {"assistant_id": "asst_1", field: 0}) == [f"{field}: must be at least 1, got 0"]


@pytest.mark.parametrize("model", PARAMS)
def test_tool_choice_is_a_mode_or_a_named_tool(model: Params) -> None:
    for choice in (
        "none",
        "auto",
        "required",
        {"type": "file_search"},
        {"type": "code_interpreter"},
        {"type": "function", "function": {"name": "weather"}},
    ):
        _accepts(model, {"assistant_id": "asst_1", "tool_choice": choice})
    assert _messages(model, {"assistant_id": "asst_1", "tool_choice": "always"}) == [
        "tool_choice: must be 'none', 'auto', 'required' or a named tool, got 'always'"
    ]
    assert _messages(model, {"assistant_id": "asst_1", "tool_choice": {"type": "retrieval"}}) == [
        "tool_choice.type: must be 'function', 'code_interpreter' or 'file_search', got 'retrieval'"
    ]
    assert _messages(model, {"assistant_id": "asst_1", "tool_choice": {"type": "function"}}) == [
        "tool_choice.function.name: required when type is 'function'"
    ]


@pytest.mark.parametrize("model", PARAMS)
def test_truncation_strategy_is_auto_or_last_messages(model: Params) -> None:
    _accepts(model, {"assistant_id": "asst_1", "truncation_strategy": {"type": "auto"}})
    _accepts(
        model, {"assistant_id": "asst_1", "truncation_strategy": {"type": "auto", "last_messages": None}}
    )
    _accepts(
        model,
        {"assistant_id": "asst_1", "truncation_strategy": {"type": "last_messages", "last_messages": 1}},
    )
    assert _messages(
        model,
        {"assistant_id": "asst_1", "truncation_strategy": {"type": "last_messages", "last_messages": 0}},
    ) == ["truncation_strategy.last_messages: must be at least 1, got 0"]
    assert _messages(model, {"assistant_id": "asst_1", "truncation_strategy": {"type": "last_messages"}}) == [
        "truncation_strategy.last_messages: required when type is 'last_messages'"
    ]
    assert _messages(
        model, {"assistant_id": "asst_1", "truncation_strategy": {"type": "first_messages"}}
    ) == ["truncation_strategy.type: must be 'auto' or 'last_messages', got 'first_messages'"]


@pytest.mark.parametrize("model", PARAMS)
def test_response_format_is_auto_text_json_object_or_json_schema(model: Params) -> None:
    for response_format in (
        "auto",
        {"type": "text"},
        {"type": "json_object"},
        {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}},
    ):
        _accepts(model, {"assistant_id": "asst_1", "response_format": response_format})
    assert _messages(model, {"assistant_id": "asst_1", "response_format": "json"}) == [
        "response_format: must be 'auto' or an object with type 'text', 'json_object' or 'json_schema', got 'json'"
    ]
    assert _messages(model, {"assistant_id": "asst_1", "response_format": {"type": "xml"}}) == [
        "response_format.type: must be 'text', 'json_object' or 'json_schema', got 'xml'"
    ]
    assert _messages(model, {"assistant_id": "asst_1", "response_format": {"type": "json_schema"}}) == [
        "response_format.json_schema: required when type is 'json_schema'"
    ]


def test_constraints_apply_when_building_params_in_python() -> None:
    with pytest.raises(ValidationError) as caught:
        RunCreateParams(assistant_id="asst_1", temperature=3.5)
    assert [error["msg"] for error in caught.value.errors()] == [
        "temperature: must be between 0 and 2, got 3.5"
    ]
    assert RunCreateParams(assistant_id="asst_1", temperature=0.5, stream=True).temperature == 0.5


def test_problems_lists_every_problem_then_what_does_not_fit_at_all() -> None:
    body = {"temperature": "warm", "top_p": 2, "tool_choice": 3, "metadata": {"k" * 65: "v" * 513}}
    assert RunCreateParams.problems(body) == [
        "metadata: keys are at most 64 characters, got 65 for key 'kkkkkkkkkkkkkkkkkkkkkkkk...'",
        "metadata: values are at most 512 characters, got 513 for key 'kkkkkkkkkkkkkkkkkkkkkkkk...'",
        "tool_choice: must be 'none', 'auto', 'required' or a named tool, got 3",
        "top_p: must be between 0 and 1, got 2",
        "assistant_id: Field required",
        "temperature: Input should be a valid number, unable to parse string as a number",
    ]
    assert RunCreateParams.problems(["not", "an", "object"]) == ["body: must be a JSON object, got list"]


def test_params_keep_fields_they_do_not_name() -> None:
    params = RunCreateParams.model_validate({"assistant_id": "asst_1", "reasoning_effort": "low"})
    assert params.model_dump(exclude_none=True) == {"assistant_id": "asst_1", "reasoning_effort": "low"}


def test_params_carry_the_documented_fields() -> None:
    run_fields = set(RunCreateParams.model_fields)
    assert {
        "assistant_id",
        "include",
        "additional_instructions",
        "additional_messages",
        "stream",
    } <= run_fields
    thread_fields = set(ThreadCreateAndRunParams.model_fields)
    assert {"assistant_id", "thread", "tool_resources", "stream"} <= thread_fields
    assert "include" not in thread_fields


def test_from_recorded_never_raises() -> None:
    out_of_range = RunCreateParams.from_recorded({"assistant_id": "asst_1", "temperature": 9})
    assert out_of_range.temperature == 9.0
    wrong_types = RunCreateParams.from_recorded({"temperature": "warm"})
    assert wrong_types.temperature == "warm"  # kept as recorded, unvalidated


# ---------------------------------------------------------------------------------------------------------------------
# Views over interactions
# ---------------------------------------------------------------------------------------------------------------------


def _interaction(
    method: str,
    url: str,
    response: bytes | str,
    *,
    request: Any = None,
    content_type: str = "application/json",
    status: int = 200,
) -> Interaction:
    raw = response.encode("utf-8") if isinstance(response, str) else response
    request_bytes = b"" if request is None else json.dumps(request).encode("utf-8")
    return Interaction(
        request=RecordedRequest(
            method=method, url=url, body=body_from_bytes(request_bytes, "application/json")
        ),
        response=RecordedResponse(
            status=status, headers={"content-type": content_type}, body=body_from_bytes(raw, content_type)
        ),
    )


def _run(run_id: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": run_id,
        "object": "thread.run",
        "created_at": 1700000000,
        "assistant_id": "asst_1",
        "thread_id": "thread_1",
        "status": status,
        "model": "gpt-4o",
        "instructions": "",
        "tools": [],
        "parallel_tool_calls": True,
        **extra,
    }


def _sse(*events: tuple[str, Any]) -> str:
    return "".join(
        f"event: {name}\ndata: {data if isinstance(data, str) else json.dumps(data, separators=(',', ':'))}\n\n"
        for name, data in events
    )


BASE = "https://api.openai.com/v1"


def _cassette() -> CassetteFile:
    """A small cassette: a created run, a stream of a second run, polls of the first, a list, an error."""
    stream = _sse(
        ("thread.run.created", _run("run_2", "queued")),
        ("thread.run.in_progress", _run("run_2", "in_progress")),
        ("thread.message.delta", {"id": "msg_1", "object": "thread.message.delta", "delta": {"content": []}}),
        ("thread.run.completed", _run("run_2", "incomplete")),
        ("done", "[DONE]"),
    )
    return CassetteFile(
        interactions=[
            _interaction(
                "POST",
                f"{BASE}/threads/thread_1/runs",
                json.dumps(_run("run_1", "queued"), indent=2),
                request={"assistant_id": "asst_1", "temperature": 0.2},
            ),
            _interaction(
                "POST",
                f"{BASE}/threads/thread_1/runs?include%5B%5D=step_details.tool_calls%5B%2A%5D.file_search.results%5B%2A%5D.content",
                "\n" + stream,  # a stray blank line first: a frame with no field
                request={"assistant_id": "asst_1", "stream": True, "temperature": 3.5},
                content_type="text/event-stream; charset=utf-8",
            ),
            _interaction(
                "GET", f"{BASE}/threads/thread_1/runs/run_1", json.dumps(_run("run_1", "in_progress"))
            ),
            _interaction(
                "GET",
                f"{BASE}/threads/thread_1/runs",
                json.dumps({"object": "list", "data": [_run("run_3", "failed"), _run("run_1", "completed")]}),
            ),
            _interaction(
                "POST",
                f"{BASE}/threads/runs",
                json.dumps(_run("run_4", "queued", thread_id="thread_2")),
                request={"assistant_id": "asst_1", "thread": {"metadata": _pairs(17)}, "top_p": 0.5},
            ),
            _interaction(
                "POST",
                f"{BASE}/threads/thread_1/runs/run_1/submit_tool_outputs",
                json.dumps(_run("run_1", "completed")),
                request={"tool_outputs": [], "temperature": 7},
            ),
            _interaction(
                "GET",
                f"{BASE}/threads/thread_9",
                json.dumps({"error": {"message": "No thread found", "type": "invalid_request_error"}}),
                status=404,
            ),
        ]
    )


def test_runs_of_gives_the_latest_state_of_each_run_in_order_of_first_appearance() -> None:
    runs = runs_of(_cassette().interactions)
    assert [(run.id, run.status) for run in runs] == [
        ("run_1", "completed"),
        ("run_2", "incomplete"),  # as the completed event carried it
        ("run_3", "failed"),
        ("run_4", "queued"),
    ]
    assert all(isinstance(run, Run) for run in runs)


def test_runs_of_names_the_interaction_of_a_run_that_does_not_fit() -> None:
    interactions = [
        _interaction("GET", f"{BASE}/threads/thread_1/runs/run_1", json.dumps(_run("run_1", "paused"))),
    ]
    with pytest.raises(CassetteFormatError) as caught:
        runs_of(interactions)
    assert str(caught.value).startswith(
        "interaction 0 (GET /v1/threads/thread_1/runs/run_1): run run_1 is not a valid run object: status: "
    )


def test_events_of_parses_every_event_in_order_and_skips_empty_frames() -> None:
    events = events_of(_cassette().interactions)
    assert [type(event).__name__ for event in events] == [
        "ThreadRunCreated",
        "ThreadRunInProgress",
        "ThreadMessageDelta",
        "ThreadRunCompleted",
        "DoneEvent",
    ]
    assert isinstance(events[3], ThreadRunCompleted)
    assert events[3].data.status == "incomplete"


def test_events_of_keeps_events_it_does_not_know() -> None:
    interactions = [
        _interaction(
            "POST",
            f"{BASE}/threads/thread_1/runs",
            _sse(("thread.run.paused", {"id": "run_1"}), ("done", "[DONE]")),
            content_type="text/event-stream",
        )
    ]
    first, done = events_of(interactions)
    assert isinstance(first, UnknownEvent)
    assert (first.event, first.data) == ("thread.run.paused", {"id": "run_1"})
    assert isinstance(done, DoneEvent)


def test_requests_of_reads_run_creations_with_their_include_query() -> None:
    requests = requests_of(_cassette().interactions)
    assert [type(request).__name__ for request in requests] == [
        "RunCreateParams",
        "RunCreateParams",
        "ThreadCreateAndRunParams",
    ]
    first, streamed, thread_and_run = requests
    assert isinstance(first, RunCreateParams)
    assert (first.temperature, first.include, first.stream) == (0.2, None, None)
    assert isinstance(streamed, RunCreateParams)
    assert streamed.include == ["step_details.tool_calls[*].file_search.results[*].content"]
    assert streamed.stream is True
    assert streamed.temperature == 3.5  # out of range, kept as recorded
    assert isinstance(thread_and_run, ThreadCreateAndRunParams)
    assert thread_and_run.thread is not None
    assert thread_and_run.thread.metadata == _pairs(17)
    assert thread_and_run.top_p == 0.5


def test_requests_of_accepts_the_unencoded_include_form_and_skips_non_json_bodies() -> None:
    interactions = [
        _interaction(
            "POST",
            f"{BASE}/threads/thread_1/runs?include[]=step_details.tool_calls[*].file_search.results[*].content",
            json.dumps(_run("run_1", "queued")),
            request={"assistant_id": "asst_1"},
        ),
        _interaction("POST", f"{BASE}/threads/thread_1/runs", json.dumps(_run("run_2", "queued"))),  # no body
    ]
    [params] = requests_of(interactions)
    assert isinstance(params, RunCreateParams)
    assert params.include == ["step_details.tool_calls[*].file_search.results[*].content"]


def test_constraint_problems_names_the_interaction_and_the_field() -> None:
    assert constraint_problems(_cassette().interactions) == [
        "interaction 1 (POST /v1/threads/thread_1/runs): temperature: must be between 0 and 2, got 3.5",
        "interaction 4 (POST /v1/threads/runs): thread.metadata: at most 16 key-value pairs, got 17",
    ]


def test_constraint_problems_reports_a_run_creation_without_a_body() -> None:
    interactions = [_interaction("POST", f"{BASE}/threads/runs", json.dumps(_run("run_1", "queued")))]
    assert constraint_problems(interactions) == [
        "interaction 0 (POST /v1/threads/runs): body: must be a JSON object, got no JSON body"
    ]


def _as_interactions(path: Path) -> list[Interaction]:
    """A real recording in the cassette model, bodies stored by kind as the recorder stores them."""
    interactions = []
    for exchange in _exchanges(path):
        content_type = "text/event-stream" if exchange.is_sse else "application/json"
        interactions.append(
            Interaction(
                request=RecordedRequest(
                    method=exchange.method,
                    url=exchange.url,
                    body=body_from_bytes(exchange.request, "application/json"),
                ),
                response=RecordedResponse(
                    status=exchange.status,
                    headers={"content-type": content_type},
                    body=body_from_bytes(exchange.response, content_type),
                ),
            )
        )
    return interactions


@needs_realworld
def test_views_of_the_real_recordings() -> None:
    total_runs = total_events = total_requests = 0
    for path in _recordings():
        interactions = _as_interactions(path)
        runs = runs_of(interactions)
        events = events_of(interactions)
        requests = requests_of(interactions)
        assert not [event for event in events if isinstance(event, UnknownEvent)], path.name
        # Requests the real API accepted keep every documented constraint.
        assert constraint_problems(interactions) == [], path.name
        assert len({run.id for run in runs}) == len(runs)
        total_runs += len(runs)
        total_events += len(events)
        total_requests += len(requests)
    assert total_runs >= 25
    assert total_events >= 600
    assert total_requests >= 25


@needs_realworld
def test_real_requests_give_their_parameters() -> None:
    requests = requests_of(_as_interactions(REALWORLD / "openai-dotnet__FileSearchStreamingWorks.json"))
    [params] = requests
    assert isinstance(params, RunCreateParams)
    assert params.include == ["step_details.tool_calls[*].file_search.results[*].content"]
    assert (params.stream, params.additional_messages) == (True, [])
    [thread_and_run] = requests_of(_as_interactions(REALWORLD / "openai-dotnet__StreamingToolCall.json"))
    assert isinstance(thread_and_run, ThreadCreateAndRunParams)
    assert thread_and_run.thread is not None
    assert thread_and_run.thread.messages is not None
    assert thread_and_run.thread.messages[0].content == "What should I wear outside right now?"
    limited = requests_of(_as_interactions(REALWORLD / "ruby-openai__runs_create.yml"))
    assert [(p.max_prompt_tokens, p.max_completion_tokens) for p in limited][-1] == (256, 16)


def test_views_of_the_projects_own_cassettes() -> None:
    paths = sorted(OWN_CASSETTES.rglob("*.yaml")) if OWN_CASSETTES.is_dir() else []
    if not paths:
        pytest.skip(f"no recorded cassettes under {OWN_CASSETTES}")
    for path in paths:
        interactions = load_cassette(path).interactions
        events = events_of(interactions)
        assert not [event for event in events if isinstance(event, UnknownEvent)], path.name
        runs_of(interactions)
        assert constraint_problems(interactions) == [], path.name
