"""What a run does: the scenario knobs read from run metadata, the reply text and its deltas, token counts.

Knobs are run ``metadata`` entries (metadata values are strings on the real API, so every knob is a string):

``emulator_reply``
    the assistant's reply text (default :data:`DEFAULT_REPLY`, or ``Tool output received: <output>`` after a
    function call); overrides both.
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
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import errors

__all__ = [
    "CUT_AFTER",
    "DEFAULT_REPLY",
    "DELTAS",
    "EVENT_DELAY_MS",
    "KNOBS",
    "POLLS",
    "POLL_AFTER_MS",
    "REPLY",
    "REPLY_REPEAT",
    "Scenario",
    "count_tokens",
    "function_to_call",
    "parse_scenario",
    "prompt_tokens",
    "reply_text",
    "split_reply",
]

DEFAULT_REPLY = "Hello from the emulator."
#: Prefix of the reply after the client submitted a tool output.
TOOL_REPLY_PREFIX = "Tool output received: "

REPLY = "emulator_reply"
POLLS = "emulator_polls"
POLL_AFTER_MS = "emulator_poll_after_ms"
DELTAS = "emulator_deltas"
EVENT_DELAY_MS = "emulator_event_delay_ms"
CUT_AFTER = "emulator_cut_after"
REPLY_REPEAT = "emulator_reply_repeat"
KNOBS = (REPLY, REPLY_REPEAT, POLLS, POLL_AFTER_MS, DELTAS, EVENT_DELAY_MS, CUT_AFTER)

#: Tokens the emulator charges for the instructions and framing of every model call.
BASE_PROMPT_TOKENS = 20
#: Completion tokens of a function call (name plus ``{}`` arguments).
TOOL_CALL_COMPLETION_TOKENS = 10

_WORD = re.compile(r"\s*\S+")


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


def parse_scenario(metadata: Mapping[str, Any], *, poll_after_ms: int, event_delay: float) -> Scenario:
    """Read the knobs out of run metadata; the emulator-wide defaults fill the gaps.

    Raises :class:`~pytest_runs.emulator.errors.ApiError` (400) for a knob that is not a non-negative integer.
    """
    polls = _non_negative_int(metadata, POLLS)
    after = _non_negative_int(metadata, POLL_AFTER_MS)
    delay_ms = _non_negative_int(metadata, EVENT_DELAY_MS)
    deltas = _non_negative_int(metadata, DELTAS)
    reply = metadata.get(REPLY)
    repeat = _non_negative_int(metadata, REPLY_REPEAT)
    return Scenario(
        polls=1 if polls is None else polls,
        poll_after_ms=poll_after_ms if after is None else after,
        event_delay=event_delay if delay_ms is None else delay_ms / 1000,
        reply=None if reply is None else str(reply),
        # Zero deltas would leave the message without any delta event; one is the smallest meaningful split.
        deltas=None if deltas is None else max(1, deltas),
        cut_after=_non_negative_int(metadata, CUT_AFTER),
        reply_repeat=1 if repeat is None else max(1, repeat),
    )


def function_to_call(tools: Sequence[Mapping[str, Any]], tool_choice: Any) -> str | None:
    """Return the function the run calls before replying, or None when it replies with text straight away.

    The first ``function`` tool is called, unless ``tool_choice`` is ``"none"`` (no call) or names a function.
    """
    if tool_choice == "none":
        return None
    if isinstance(tool_choice, Mapping) and tool_choice.get("type") == "function":
        chosen = tool_choice.get("function")
        if isinstance(chosen, Mapping) and isinstance(chosen.get("name"), str):
            return str(chosen["name"])
    for tool in tools:
        if tool.get("type") == "function":
            function = tool.get("function")
            if isinstance(function, Mapping) and isinstance(function.get("name"), str):
                return str(function["name"])
    return None


def reply_text(scenario: Scenario, tool_output: str | None) -> str:
    """Return the text the run writes as its assistant message."""
    if scenario.reply is not None:
        text = scenario.reply
    elif tool_output is not None:
        text = TOOL_REPLY_PREFIX + tool_output
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


def prompt_tokens(conversation: Sequence[str]) -> int:
    """Prompt tokens of a model call that sees ``conversation`` (the thread's message texts)."""
    return BASE_PROMPT_TOKENS + sum(count_tokens(text) for text in conversation)
