"""The Assistants endpoints: authentication, routing, request parsing, and what each endpoint answers.

This layer knows nothing about sockets: it turns a :class:`Request` into a :class:`JsonResponse` or a
:class:`StreamResponse`, which :mod:`pytest_runs.emulator.server` frames on the wire.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .errors import ApiError
from .models import text_content
from .scenarios import Scenario, parse_scenario
from .store import AssistantParams, MessageInput, Page, RunParams, RunResult, Store
from .streams import EventStream, run_stream, submit_stream

__all__ = ["API_PREFIX", "Api", "JsonResponse", "Request", "Response", "StreamResponse"]

JsonDict = dict[str, Any]

#: Every route lives under this prefix, as on the real API.
API_PREFIX = "/v1"
#: Header with which run responses tell pollers how long to wait.
POLL_AFTER_HEADER = "openai-poll-after-ms"
#: The values the ``include[]`` query parameter of runs and run steps accepts.
INCLUDABLE = ("step_details.tool_calls[*].file_search.results[*].content",)


@dataclass(frozen=True)
class Request:
    """An HTTP request as the API layer sees it."""

    method: str
    #: The path without the query string, e.g. ``/v1/threads``.
    path: str
    query: Mapping[str, list[str]]
    #: Header names in lower case.
    headers: Mapping[str, str]
    body: bytes = b""
    #: The ``x-request-id`` the answer will carry (an in-stream error cites it).
    request_id: str = ""


@dataclass(frozen=True)
class JsonResponse:
    """A JSON answer (success or error)."""

    status: int
    body: JsonDict
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamResponse:
    """A ``text/event-stream`` answer."""

    stream: EventStream
    headers: dict[str, str] = field(default_factory=dict)


Response = JsonResponse | StreamResponse
_Endpoint = Callable[["Api", Request, dict[str, str]], Response]

# --------------------------------------------------------------------------- body parsing


def _json_object(request: Request) -> JsonDict:
    if not request.body.strip():
        return {}
    try:
        parsed = json.loads(request.body)
    except (UnicodeDecodeError, ValueError):
        raise errors.bad_json() from None
    if not isinstance(parsed, dict):
        raise errors.bad_json()
    return parsed


def _type_error(param: str, expected: str, value: Any) -> ApiError:
    return errors.invalid_type(param, expected, value)


def _optional_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _type_error(key, "a string", value)


def _required_str(body: Mapping[str, Any], key: str) -> str:
    value = _optional_str(body, key)
    if value is None:
        raise errors.missing_parameter(key)
    return value


def _optional_number(body: Mapping[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error(key, "a number", value)
    return float(value)


def _optional_int(body: Mapping[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(key, "an integer", value)
    return value


def _optional_dict(body: Mapping[str, Any], key: str) -> JsonDict | None:
    value = body.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise _type_error(key, "an object", value)


def _metadata(body: Mapping[str, Any], key: str = "metadata") -> dict[str, str]:
    value = _optional_dict(body, key)
    if value is None:
        return {}
    # Values must be strings: the real API answers ``true`` with an ``invalid_type`` error (it converted them
    # silently in 2023, but no longer).
    for name, item in value.items():
        if not isinstance(item, str):
            raise errors.invalid_type(f"{key}.{name}", "a string", item)
    return dict(value)


def _tools(body: Mapping[str, Any], key: str = "tools") -> list[JsonDict] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise _type_error(key, "an array", value)
    tools = []
    for index, tool in enumerate(value):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise errors.missing_parameter(f"{key}[{index}].type")
        tools.append(_normalise_tool(tool, f"{key}[{index}]"))
    return tools


def _normalise_tool(tool: JsonDict, param: str) -> JsonDict:
    """Give a function tool the fields the real API fills in (``parameters``, ``strict``), in its order."""
    if tool["type"] != "function":
        return dict(tool)
    function = tool.get("function")
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise errors.missing_parameter(f"{param}.function.name")
    normalised: JsonDict = {"name": function["name"]}
    if function.get("description") is not None:
        normalised["description"] = function["description"]
    normalised["parameters"] = function.get("parameters") or {"type": "object", "properties": {}}
    normalised["strict"] = bool(function.get("strict") or False)
    return {"type": "function", "function": normalised}


def _message_input(value: Any, param: str) -> MessageInput:
    if not isinstance(value, dict):
        raise _type_error(param, "an object", value)
    role = value.get("role")
    if role is None:
        raise errors.missing_parameter(f"{param}.role" if param else "role")
    if role not in ("user", "assistant"):
        raise errors.invalid_value(
            f"{param}.role" if param else "role",
            f"Invalid value: '{role}'. Supported values are: 'user' and 'assistant'.",
        )
    content = value.get("content")
    parts: list[JsonDict]
    if isinstance(content, str):
        parts = [text_content(content)]
    elif isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append(text_content(part["text"]))
            elif isinstance(part, dict):
                parts.append(dict(part))
            else:
                raise _type_error(f"{param}.content" if param else "content", "an object", part)
    elif content is None:
        raise errors.missing_parameter(f"{param}.content" if param else "content")
    else:
        raise _type_error(f"{param}.content" if param else "content", "a string or an array", content)
    attachments = value.get("attachments") or []
    if not isinstance(attachments, list):
        raise _type_error("attachments", "an array", attachments)
    return MessageInput(role=str(role), content=parts, attachments=attachments, metadata=_metadata(value))


def _messages(body: Mapping[str, Any], key: str, prefix: str = "") -> list[MessageInput]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _type_error(key, "an array", value)
    return [_message_input(item, f"{prefix}{key}[{index}]") for index, item in enumerate(value)]


def _page(request: Request) -> Page:
    def first(key: str) -> str | None:
        values = request.query.get(key)
        return values[0] if values else None

    order = first("order") or "desc"
    if order not in ("asc", "desc"):
        raise errors.invalid_value(
            "order", f"Invalid value for 'order': expected 'asc' or 'desc', got '{order}'."
        )
    raw_limit = first("limit")
    limit = 20
    if raw_limit is not None:
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
            raise errors.invalid_value(
                "limit", "Invalid 'limit': integer below minimum value or above maximum value."
            )
        limit = int(raw_limit)
    return Page(order=order, after=first("after"), before=first("before"), limit=limit)


def _include(request: Request) -> list[str]:
    """Validate the ``include[]`` query parameter (the file-search content is the only value it takes)."""
    values = [*request.query.get("include[]", []), *request.query.get("include", [])]
    for value in values:
        if value not in INCLUDABLE:
            raise errors.invalid_value(
                "include",
                f"Invalid value: '{value}'. Supported values are: "
                + ", ".join(f"'{item}'" for item in INCLUDABLE)
                + ".",
            )
    return values


def _stream_flag(body: Mapping[str, Any]) -> bool:
    value = body.get("stream")
    if value is None or isinstance(value, bool):
        return bool(value)
    raise _type_error("stream", "a boolean", value)


# --------------------------------------------------------------------------- the API


class Api:
    """The Assistants endpoints over a :class:`Store`."""

    def __init__(self, store: Store, *, poll_after_ms: int, event_delay: float, api_key: str | None) -> None:
        """Serve ``store``; the defaults apply to runs whose metadata does not override them."""
        self._store = store
        self._poll_after_ms = poll_after_ms
        self._event_delay = event_delay
        self._api_key = api_key
        # Failed attempts per identical run-create request (``emulator_http_failures``).
        self._attempts: dict[tuple[str, str, bytes], int] = {}
        self._attempts_lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        """Answer one request; API errors become their JSON error responses."""
        try:
            self._authenticate(request)
            endpoint, params = self._route(request)
            return endpoint(self, request, params)
        except ApiError as error:
            return JsonResponse(error.status, error.body(), dict(error.headers))

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise errors.missing_api_key()
        if self._api_key is not None and token != self._api_key:
            raise errors.incorrect_api_key(token)

    def _route(self, request: Request) -> tuple[_Endpoint, dict[str, str]]:
        path = request.path
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            relative = path[len(API_PREFIX) :].rstrip("/") or "/"
            for method, pattern, endpoint in _ROUTES:
                match = pattern.fullmatch(relative)
                if match is not None and method == request.method:
                    return endpoint, match.groupdict()
        raise errors.invalid_url(request.method, path)

    # ------------------------------------------------------------------ helpers

    def _scenario(self, metadata: Mapping[str, str]) -> Scenario:
        return parse_scenario(metadata, poll_after_ms=self._poll_after_ms, event_delay=self._event_delay)

    def _http_failure(self, request: Request, params: RunParams) -> None:
        """Answer a run-create request with the HTTP error its ``emulator_http_status`` asks for, if any."""
        scenario = params.scenario
        if scenario.http_status is None:
            return
        # Identical requests are retries of one another: count them together.
        key = (request.method, request.path, request.body)
        with self._attempts_lock:
            failed = self._attempts.get(key, 0)
            if scenario.http_failures is not None and failed >= scenario.http_failures:
                return
            self._attempts[key] = failed + 1
        if scenario.http_status == 429:
            model = params.model
            if model is None:
                try:
                    model = str(self._store.get_assistant(params.assistant_id)["model"])
                except ApiError:
                    model = "gpt-4o"
            raise errors.rate_limited(model, scenario.retry_after_ms)
        raise errors.server_error()

    def _run_params(self, body: Mapping[str, Any]) -> RunParams:
        metadata = _metadata(body)
        parallel = body.get("parallel_tool_calls")
        if parallel is not None and not isinstance(parallel, bool):
            raise _type_error("parallel_tool_calls", "a boolean", parallel)
        return RunParams(
            assistant_id=_required_str(body, "assistant_id"),
            scenario=self._scenario(metadata),
            metadata=metadata,
            model=_optional_str(body, "model"),
            instructions=_optional_str(body, "instructions"),
            tools=_tools(body),
            temperature=_optional_number(body, "temperature"),
            top_p=_optional_number(body, "top_p"),
            reasoning_effort=_optional_str(body, "reasoning_effort"),
            max_completion_tokens=_optional_int(body, "max_completion_tokens"),
            max_prompt_tokens=_optional_int(body, "max_prompt_tokens"),
            truncation_strategy=_optional_dict(body, "truncation_strategy"),
            response_format=body.get("response_format"),
            tool_choice=body.get("tool_choice"),
            parallel_tool_calls=parallel,
            tool_resources=_optional_dict(body, "tool_resources"),
            additional_messages=_messages(body, "additional_messages"),
        )

    @staticmethod
    def _run_response(result: RunResult) -> JsonResponse:
        return JsonResponse(200, result.body, {POLL_AFTER_HEADER: str(result.scenario.poll_after_ms)})

    def _stream_or_json(
        self, request: Request, result: RunResult, stream: bool, thread: JsonDict | None = None
    ) -> Response:
        if not stream:
            return self._run_response(result)
        events = run_stream(self._store, result.body, result.scenario, thread, request_id=request.request_id)
        return StreamResponse(events)

    # ------------------------------------------------------------------ endpoints

    def create_assistant(self, request: Request, params: dict[str, str]) -> Response:
        """``POST /assistants``."""
        body = _json_object(request)
        assistant = AssistantParams(
            model=_required_str(body, "model"),
            name=_optional_str(body, "name"),
            description=_optional_str(body, "description"),
            instructions=_optional_str(body, "instructions"),
            tools=_tools(body) or [],
            metadata=_metadata(body),
            temperature=_optional_number(body, "temperature"),
            top_p=_optional_number(body, "top_p"),
            reasoning_effort=_optional_str(body, "reasoning_effort"),
            tool_resources=_optional_dict(body, "tool_resources") or {},
            response_format=body.get("response_format"),
        )
        return JsonResponse(200, self._store.create_assistant(assistant))

    def get_assistant(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /assistants/{assistant_id}``."""
        return JsonResponse(200, self._store.get_assistant(params["assistant_id"]))

    def list_assistants(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /assistants`` (``order``, ``after``, ``before``, ``limit``)."""
        return JsonResponse(200, self._store.list_assistants(_page(request)))

    def delete_assistant(self, request: Request, params: dict[str, str]) -> Response:
        """``DELETE /assistants/{assistant_id}``."""
        return JsonResponse(200, self._store.delete_assistant(params["assistant_id"]))

    def create_thread(self, request: Request, params: dict[str, str]) -> Response:
        """``POST /threads``."""
        body = _json_object(request)
        thread = self._store.create_thread(
            _messages(body, "messages"), _metadata(body), _optional_dict(body, "tool_resources") or {}
        )
        return JsonResponse(200, thread)

    def get_thread(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /threads/{thread_id}``."""
        return JsonResponse(200, self._store.get_thread(params["thread_id"]))

    def update_thread(self, request: Request, params: dict[str, str]) -> Response:
        """``POST /threads/{thread_id}``: replace metadata and/or tool resources."""
        body = _json_object(request)
        metadata = _metadata(body) if "metadata" in body else None
        tool_resources = _optional_dict(body, "tool_resources")
        return JsonResponse(200, self._store.update_thread(params["thread_id"], metadata, tool_resources))

    def delete_thread(self, request: Request, params: dict[str, str]) -> Response:
        """``DELETE /threads/{thread_id}``."""
        return JsonResponse(200, self._store.delete_thread(params["thread_id"]))

    def create_message(self, request: Request, params: dict[str, str]) -> Response:
        """``POST /threads/{thread_id}/messages``."""
        message = _message_input(_json_object(request), "")
        return JsonResponse(200, self._store.add_message(params["thread_id"], message))

    def list_messages(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /threads/{thread_id}/messages`` (``order``, ``after``, ``before``, ``limit``, ``run_id``)."""
        run_ids = request.query.get("run_id")
        return JsonResponse(
            200,
            self._store.list_messages(params["thread_id"], _page(request), run_ids[0] if run_ids else None),
        )

    def get_message(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /threads/{thread_id}/messages/{message_id}``."""
        return JsonResponse(200, self._store.get_message(params["thread_id"], params["message_id"]))

    def create_run(self, request: Request, params: dict[str, str]) -> Response:
        """``POST /threads/{thread_id}/runs`` (``include[]`` in the query is validated; no file search runs)."""
        _include(request)
        body = _json_object(request)
        stream = _stream_flag(body)
        run_params = self._run_params(body)
        self._http_failure(request, run_params)
        result = self._store.create_run(params["thread_id"], run_params, stream=stream)
        return self._stream_or_json(request, result, stream)

    def create_thread_and_run(self, request: Request, params: dict[str, str]) -> Response:
        """``POST /threads/runs``."""
        body = _json_object(request)
        stream = _stream_flag(body)
        thread_body = _optional_dict(body, "thread") or {}
        run_params = self._run_params(body)
        self._http_failure(request, run_params)
        thread, result = self._store.create_thread_and_run(
            _messages(thread_body, "messages", "thread."),
            _metadata(thread_body),
            _optional_dict(thread_body, "tool_resources") or {},
            run_params,
            stream=stream,
        )
        return self._stream_or_json(request, result, stream, thread)

    def list_runs(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /threads/{thread_id}/runs``."""
        return JsonResponse(200, self._store.list_runs(params["thread_id"], _page(request)))

    def retrieve_run(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /threads/{thread_id}/runs/{run_id}``: one step along the polling state machine."""
        return self._run_response(self._store.retrieve_run(params["thread_id"], params["run_id"]))

    def update_run(self, request: Request, params: dict[str, str]) -> Response:
        """``POST /threads/{thread_id}/runs/{run_id}``: replace the run's metadata (once it is not working)."""
        body = _json_object(request)
        metadata = _metadata(body) if "metadata" in body else None
        return self._run_response(self._store.update_run(params["thread_id"], params["run_id"], metadata))

    def cancel_run(self, request: Request, params: dict[str, str]) -> Response:
        """``POST /threads/{thread_id}/runs/{run_id}/cancel``."""
        return self._run_response(self._store.cancel_run(params["thread_id"], params["run_id"]))

    def submit_tool_outputs(self, request: Request, params: dict[str, str]) -> Response:
        """``POST /threads/{thread_id}/runs/{run_id}/submit_tool_outputs``."""
        body = _json_object(request)
        stream = _stream_flag(body)
        raw = body.get("tool_outputs")
        if raw is None:
            raise errors.missing_parameter("tool_outputs")
        if not isinstance(raw, list):
            raise _type_error("tool_outputs", "an array", raw)
        outputs = []
        for index, item in enumerate(raw):
            if not isinstance(item, dict):
                raise _type_error(f"tool_outputs[{index}]", "an object", item)
            call_id = _required_str(item, "tool_call_id")
            output = item.get("output")
            outputs.append((call_id, "" if output is None else str(output)))
        result, step = self._store.submit_tool_outputs(
            params["thread_id"], params["run_id"], outputs, stream=stream
        )
        if not stream:
            return self._run_response(result)
        return StreamResponse(
            submit_stream(self._store, result.body, step, result.scenario, request_id=request.request_id)
        )

    def list_steps(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /threads/{thread_id}/runs/{run_id}/steps`` (``include[]`` validated)."""
        _include(request)
        return JsonResponse(
            200, self._store.list_steps(params["thread_id"], params["run_id"], _page(request))
        )

    def get_step(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /threads/{thread_id}/runs/{run_id}/steps/{step_id}`` (``include[]`` validated)."""
        _include(request)
        return JsonResponse(
            200, self._store.get_step(params["thread_id"], params["run_id"], params["step_id"])
        )


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template))


_ROUTES: list[tuple[str, re.Pattern[str], _Endpoint]] = [
    ("POST", _pattern("/assistants"), Api.create_assistant),
    ("GET", _pattern("/assistants"), Api.list_assistants),
    ("GET", _pattern("/assistants/{assistant_id}"), Api.get_assistant),
    ("DELETE", _pattern("/assistants/{assistant_id}"), Api.delete_assistant),
    ("POST", _pattern("/threads"), Api.create_thread),
    # Before the ``{thread_id}`` routes: ``POST /threads/{thread_id}`` would take ``runs`` for a thread id.
    ("POST", _pattern("/threads/runs"), Api.create_thread_and_run),
    ("GET", _pattern("/threads/{thread_id}"), Api.get_thread),
    ("POST", _pattern("/threads/{thread_id}"), Api.update_thread),
    ("DELETE", _pattern("/threads/{thread_id}"), Api.delete_thread),
    ("POST", _pattern("/threads/{thread_id}/messages"), Api.create_message),
    ("GET", _pattern("/threads/{thread_id}/messages"), Api.list_messages),
    ("GET", _pattern("/threads/{thread_id}/messages/{message_id}"), Api.get_message),
    ("POST", _pattern("/threads/{thread_id}/runs"), Api.create_run),
    ("GET", _pattern("/threads/{thread_id}/runs"), Api.list_runs),
    ("GET", _pattern("/threads/{thread_id}/runs/{run_id}"), Api.retrieve_run),
    ("POST", _pattern("/threads/{thread_id}/runs/{run_id}"), Api.update_run),
    ("POST", _pattern("/threads/{thread_id}/runs/{run_id}/submit_tool_outputs"), Api.submit_tool_outputs),
    ("POST", _pattern("/threads/{thread_id}/runs/{run_id}/cancel"), Api.cancel_run),
    ("GET", _pattern("/threads/{thread_id}/runs/{run_id}/steps"), Api.list_steps),
    ("GET", _pattern("/threads/{thread_id}/runs/{run_id}/steps/{step_id}"), Api.get_step),
]
