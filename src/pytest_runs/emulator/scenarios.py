"""What a run does: the scenario knobs read from run metadata, the run's plan, the reply text and its deltas.

A run's scenario is chosen by the request that creates it:

* its **tools** (the run's own, or the assistant's when the run sends none) and ``tool_choice``: a
  ``code_interpreter`` tool makes the run execute code first (a ``tool_calls`` step streamed as code deltas);
  ``function`` tools make it stop at ``requires_action`` asking for calls; ``tool_choice`` ``"none"`` disables
  both, a named function or ``{"type": "code_interpreter"}`` keeps only that tool;
* its **max_completion_tokens**: a reply longer than what is left of that budget (one token per word, tool
  calls cost :data:`TOOL_CALL_COMPLETION_TOKENS` each) is cut there, the message ends ``incomplete``
  (``max_tokens``) and the run ends ``incomplete`` (``max_completion_tokens``);
* its **metadata knobs** below (metadata values are strings on the real API, so every knob is a string).
  Knobs are read once, when the run is created; updating the run's metadata later changes nothing.

Knobs that shape the reply, the polling and the stream:

``emulator_reply``
    the assistant's reply text (default :data:`DEFAULT_REPLY`, or ``Tool output received: <outputs>`` after
    function calls, the outputs joined with ``", "``); overrides both.
``emulator_reply_repeat``
    the reply is that many copies of its text (default 1): metadata values hold at most 512 characters, and
    long streams (benchmarks, stress tests) need longer replies.
``emulator_polls``
    how many retrieves answer ``in_progress`` before the run reaches its next resting state (default 1).
``emulator_poll_after_ms``
    the ``openai-poll-after-ms`` header for this run (default: the emulator's ``poll_after_ms``).
``emulator_deltas``
    how many ``thread.message.delta`` events the reply is split into (default: one per word).
``emulator_event_delay_ms``
    the pause between streamed events (default: the emulator's ``event_delay``).
``emulator_cut_after``
    stream only: write that many events, then drop the connection without the terminating chunk.

Knobs that choose the scenario:

``emulator_tool_calls``
    how many function calls the run asks for (default 1 when it has a function tool; ``"0"`` replies at once).
    The calls go through the run's function tools in order, round robin (all to the named function when
    ``tool_choice`` names one). With ``parallel_tool_calls`` (the default) they come together in one
    ``requires_action``; with ``parallel_tool_calls: false`` one per ``requires_action``, in turn.
``emulator_tool_arguments``
    the ``arguments`` string of every call (default ``"{}"``).
``emulator_code``
    the code the ``code_interpreter`` step runs (default :data:`DEFAULT_CODE`).
``emulator_code_output``
    the ``logs`` output of that code (default :data:`DEFAULT_CODE_OUTPUT`).
``emulator_fail``
    the run fails as soon as it starts, with ``last_error.code`` set to the value: ``server_error``,
    ``rate_limit_exceeded`` or ``invalid_prompt`` (see :data:`FAILURES` for the messages).
``emulator_expire``
    ``"true"``/``"1"``: the run expires where it would first wait for the client (instead of
    ``requires_action``), or, with no function call to make, instead of writing its reply.
``emulator_error_after``
    stream only: write that many events, then an ``event: error`` (``server_error``) that ends the stream
    without ``done``; the run is ``failed`` from then on.
``emulator_cancel_after``
    stream only: after that many events the run is asked to cancel, as if the client had called cancel; the
    stream then ends with ``thread.run.cancelling``, ``thread.run.cancelled``, ``done``.
``emulator_http_status``
    ``"429"`` or ``"500"``: the request that creates the run is answered with that HTTP error (a
    ``rate_limit_exceeded`` body with ``retry-after``, or ``server_error``) and no run is created.
``emulator_http_failures``
    with ``emulator_http_status``: only that many identical attempts fail, the next one succeeds (default:
    every attempt fails), so client retries can be exercised.
``emulator_retry_after_ms``
    with ``emulator_http_status: "429"``: the ``retry-after-ms`` header (default 1000; ``retry-after`` is the
    same delay in whole seconds, rounded up).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import errors

__all__ = [
    "CANCEL_AFTER",
    "CODE",
    "CODE_OUTPUT",
    "CUT_AFTER",
    "DEFAULT_CODE",
    "DEFAULT_CODE_OUTPUT",
    "DEFAULT_REPLY",
    "DELTAS",
    "ERROR_AFTER",
    "EVENT_DELAY_MS",
    "EXPIRE",
    "FAIL",
    "FAILURES",
    "HTTP_FAILURES",
    "HTTP_STATUS",
    "KNOBS",
    "POLLS",
    "POLL_AFTER_MS",
    "REPLY",
    "REPLY_REPEAT",
    "RETRY_AFTER_MS",
    "TOOL_ARGUMENTS",
    "TOOL_CALLS",
    "TOOL_CALL_COMPLETION_TOKENS",
    "TOOL_REPLY_PREFIX",
    "Phase",
    "Scenario",
    "count_tokens",
    "function_to_call",
    "parse_scenario",
    "plan_run",
    "prompt_tokens",
    "reply_text",
    "split_reply",
    "truncate_tokens",
]

DEFAULT_REPLY = "Hello from the emulator."
#: Prefix of the reply after the client submitted tool outputs.
TOOL_REPLY_PREFIX = "Tool output received: "
#: Code a ``code_interpreter`` step runs unless ``emulator_code`` says otherwise.
DEFAULT_CODE = "print(6 * 7)"
#: What that code prints.
DEFAULT_CODE_OUTPUT = "42\n"

REPLY = "emulator_reply"
POLLS = "emulator_polls"
POLL_AFTER_MS = "emulator_poll_after_ms"
DELTAS = "emulator_deltas"
EVENT_DELAY_MS = "emulator_event_delay_ms"
CUT_AFTER = "emulator_cut_after"
REPLY_REPEAT = "emulator_reply_repeat"
TOOL_CALLS = "emulator_tool_calls"
TOOL_ARGUMENTS = "emulator_tool_arguments"
CODE = "emulator_code"
CODE_OUTPUT = "emulator_code_output"
FAIL = "emulator_fail"
EXPIRE = "emulator_expire"
ERROR_AFTER = "emulator_error_after"
CANCEL_AFTER = "emulator_cancel_after"
HTTP_STATUS = "emulator_http_status"
HTTP_FAILURES = "emulator_http_failures"
RETRY_AFTER_MS = "emulator_retry_after_ms"
KNOBS = (
    REPLY,
    REPLY_REPEAT,
    POLLS,
    POLL_AFTER_MS,
    DELTAS,
    EVENT_DELAY_MS,
    CUT_AFTER,
    TOOL_CALLS,
    TOOL_ARGUMENTS,
    CODE,
    CODE_OUTPUT,
    FAIL,
    EXPIRE,
    ERROR_AFTER,
    CANCEL_AFTER,
    HTTP_STATUS,
    HTTP_FAILURES,
    RETRY_AFTER_MS,
)

#: ``last_error`` messages of the failures ``emulator_fail`` can ask for, by code.
FAILURES = {
    "server_error": "Sorry, something went wrong.",
    "rate_limit_exceeded": (
        "You exceeded your current quota, please check your plan and billing details. For more information on "
        "this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
    ),
    "invalid_prompt": "Your prompt was flagged as potentially violating our usage policy. Please try again "
    "with a different prompt.",
}
#: HTTP statuses ``emulator_http_status`` can ask for.
HTTP_STATUSES = (429, 500)

#: Tokens the emulator charges for the instructions and framing of every model call.
BASE_PROMPT_TOKENS = 20
#: Completion tokens of a function call (name plus arguments).
TOOL_CALL_COMPLETION_TOKENS = 10

_WORD = re.compile(r"\s*\S+")
_TRUE = frozenset({"1", "true", "yes"})
_FALSE = frozenset({"", "0", "false", "no"})


@dataclass(frozen=True)
class Scenario:
    """The knobs of one run, resolved against the emulator's defaults."""

    polls: int = 1
    poll_after_ms: int = 1000
    event_delay: float = 0.005
    reply: str | None = None
    deltas: int | None = None
    cut_after: int | None = None
    reply_repeat: int = 1
    tool_calls: int | None = None
    tool_arguments: str = "{}"
    code: str = DEFAULT_CODE
    code_output: str = DEFAULT_CODE_OUTPUT
    fail: str | None = None
    expire: bool = False
    error_after: int | None = None
    cancel_after: int | None = None
    http_status: int | None = None
    http_failures: int | None = None
    retry_after_ms: int = 1000


@dataclass(frozen=True)
class Phase:
    """One thing a run does on its way to the end, in order.

    ``kind`` is ``"code"`` (a code-interpreter step the service runs itself), ``"tools"`` (a function-call step
    that waits for the client's outputs; ``calls`` are the function names), ``"message"`` (the reply),
    ``"fail"`` or ``"expire"`` (the run ends there).
    """

    kind: str
    calls: tuple[str, ...] = field(default_factory=tuple)


def _non_negative_int(metadata: Mapping[str, Any], key: str) -> int | None:
    raw = metadata.get(key)
    if raw is None:
        return None
    text = str(raw).strip()
    if not text.isdigit():
        raise errors.invalid_value(
            "metadata", f"Invalid value for metadata '{key}': expected a non-negative integer, got {raw!r}."
        )
    return int(text)


def _boolean(metadata: Mapping[str, Any], key: str) -> bool:
    raw = metadata.get(key)
    if raw is None:
        return False
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise errors.invalid_value(
        "metadata", f"Invalid value for metadata '{key}': expected 'true' or 'false', got {raw!r}."
    )


def _choice(metadata: Mapping[str, Any], key: str, allowed: Sequence[str]) -> str | None:
    raw = metadata.get(key)
    if raw is None:
        return None
    if raw not in allowed:
        supported = ", ".join(f"'{value}'" for value in allowed)
        raise errors.invalid_value(
            "metadata", f"Invalid value for metadata '{key}': {raw!r}. Supported values are: {supported}."
        )
    return str(raw)


def _text(metadata: Mapping[str, Any], key: str, default: str) -> str:
    raw = metadata.get(key)
    return default if raw is None else str(raw)


def parse_scenario(metadata: Mapping[str, Any], *, poll_after_ms: int, event_delay: float) -> Scenario:
    """Read the knobs out of run metadata; the emulator-wide defaults fill the gaps.

    Raises :class:`~pytest_runs.emulator.errors.ApiError` (400) for a knob whose value the emulator cannot use.
    """
    polls = _non_negative_int(metadata, POLLS)
    after = _non_negative_int(metadata, POLL_AFTER_MS)
    delay_ms = _non_negative_int(metadata, EVENT_DELAY_MS)
    deltas = _non_negative_int(metadata, DELTAS)
    reply = metadata.get(REPLY)
    repeat = _non_negative_int(metadata, REPLY_REPEAT)
    status = _choice(metadata, HTTP_STATUS, [str(code) for code in HTTP_STATUSES])
    retry_after_ms = _non_negative_int(metadata, RETRY_AFTER_MS)
    return Scenario(
        polls=1 if polls is None else polls,
        poll_after_ms=poll_after_ms if after is None else after,
        event_delay=event_delay if delay_ms is None else delay_ms / 1000,
        reply=None if reply is None else str(reply),
        # Zero deltas would leave the message without any delta event; one is the smallest meaningful split.
        deltas=None if deltas is None else max(1, deltas),
        cut_after=_non_negative_int(metadata, CUT_AFTER),
        reply_repeat=1 if repeat is None else max(1, repeat),
        tool_calls=_non_negative_int(metadata, TOOL_CALLS),
        tool_arguments=_text(metadata, TOOL_ARGUMENTS, "{}"),
        code=_text(metadata, CODE, DEFAULT_CODE),
        code_output=_text(metadata, CODE_OUTPUT, DEFAULT_CODE_OUTPUT),
        fail=_choice(metadata, FAIL, list(FAILURES)),
        expire=_boolean(metadata, EXPIRE),
        error_after=_non_negative_int(metadata, ERROR_AFTER),
        cancel_after=_non_negative_int(metadata, CANCEL_AFTER),
        http_status=None if status is None else int(status),
        http_failures=_non_negative_int(metadata, HTTP_FAILURES),
        retry_after_ms=1000 if retry_after_ms is None else retry_after_ms,
    )


def _function_names(tools: Sequence[Mapping[str, Any]]) -> list[str]:
    names = []
    for tool in tools:
        if tool.get("type") == "function":
            function = tool.get("function")
            if isinstance(function, Mapping) and isinstance(function.get("name"), str):
                names.append(str(function["name"]))
    return names


def function_to_call(tools: Sequence[Mapping[str, Any]], tool_choice: Any) -> str | None:
    """Return the first function the run calls before replying, or None when it calls none.

    The first ``function`` tool is called, unless ``tool_choice`` is ``"none"`` (no call), names a function
    (that one) or names another kind of tool (no function call).
    """
    if tool_choice == "none":
        return None
    if isinstance(tool_choice, Mapping):
        if tool_choice.get("type") != "function":
            return None
        chosen = tool_choice.get("function")
        if isinstance(chosen, Mapping) and isinstance(chosen.get("name"), str):
            return str(chosen["name"])
    names = _function_names(tools)
    return names[0] if names else None


def _runs_code(tools: Sequence[Mapping[str, Any]], tool_choice: Any) -> bool:
    if tool_choice == "none":
        return False
    if isinstance(tool_choice, Mapping) and tool_choice.get("type") != "code_interpreter":
        return False
    return any(tool.get("type") == "code_interpreter" for tool in tools)


def plan_run(
    tools: Sequence[Mapping[str, Any]], tool_choice: Any, parallel_tool_calls: bool, scenario: Scenario
) -> list[Phase]:
    """Return what a run will do, in order: the scenario as a list of :class:`Phase`.

    ``fail`` alone; else an optional ``code`` phase, the ``tools`` phases of the function calls, then the
    ``message``; ``emulator_expire`` replaces the first ``tools`` phase (or the ``message``) with ``expire``.
    """
    if scenario.fail is not None:
        return [Phase("fail")]
    phases: list[Phase] = []
    if _runs_code(tools, tool_choice):
        phases.append(Phase("code"))
    first = function_to_call(tools, tool_choice)
    if first is not None:
        count = 1 if scenario.tool_calls is None else scenario.tool_calls
        named = isinstance(tool_choice, Mapping)
        names = [first] if named else _function_names(tools)
        calls = [names[index % len(names)] for index in range(count)]
        if calls:
            rounds = [calls] if parallel_tool_calls else [[call] for call in calls]
            phases.extend(Phase("tools", tuple(batch)) for batch in rounds)
    phases.append(Phase("message"))
    if scenario.expire:
        stop = next(index for index, phase in enumerate(phases) if phase.kind in ("tools", "message"))
        phases[stop:] = [Phase("expire")]
    return phases


def reply_text(scenario: Scenario, tool_output: str | Sequence[str] | None) -> str:
    """Return the text the run writes as its assistant message (``tool_output``: what the client submitted)."""
    if isinstance(tool_output, str):
        tool_output = [tool_output]
    if scenario.reply is not None:
        text = scenario.reply
    elif tool_output:
        text = TOOL_REPLY_PREFIX + ", ".join(tool_output)
    else:
        text = DEFAULT_REPLY
    return text * scenario.reply_repeat


def split_reply(text: str, deltas: int | None) -> list[str]:
    """Split the reply into the values of its ``thread.message.delta`` events.

    By default one piece per word, the word carrying its leading whitespace as the real stream does
    (``"Hello"``, ``" from"``, …). With ``deltas`` the text is cut into that many near-equal pieces (never
    more pieces than characters, never fewer than one).
    """
    if deltas is None:
        pieces = _WORD.findall(text)
        if not pieces:
            return [text]
        # Trailing whitespace belongs to the last piece so that the pieces always join back to the text.
        pieces[-1] += text[len("".join(pieces)) :]
        return pieces
    count = max(1, min(deltas, len(text)))
    size, extra = divmod(len(text), count)
    pieces = []
    start = 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


def count_tokens(text: str) -> int:
    """Count tokens the emulator way: one per whitespace-separated word."""
    return len(_WORD.findall(text))


def truncate_tokens(text: str, tokens: int) -> str:
    """Return the first ``tokens`` tokens of ``text`` (as :func:`count_tokens` counts them)."""
    return "".join(_WORD.findall(text)[: max(0, tokens)])


def prompt_tokens(conversation: Sequence[str]) -> int:
    """Prompt tokens of a model call that sees ``conversation`` (the thread's message texts)."""
    return BASE_PROMPT_TOKENS + sum(count_tokens(text) for text in conversation)
