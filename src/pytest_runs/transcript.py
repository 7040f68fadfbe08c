"""A run's event stream as a few readable lines, for snapshots that show a behaviour change as a small diff.

One line per event, except that consecutive delta events collapse into one line with their count and their joined
text. Each line keeps what matters and drops what churns (IDs, times, indexes)::

    thread.run.created: queued
    thread.run.queued: queued
    thread.run.in_progress: in_progress
    thread.run.step.created: message_creation in_progress
    thread.message.created: assistant in_progress
    thread.message.delta ×5: "Hello from the emulator."
    thread.message.completed: assistant "Hello from the emulator."
    thread.run.step.completed: message_creation completed
    thread.run.completed: completed
    done
"""  # noqa: RUF002 (the multiplication sign is what the transcript prints)

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

__all__ = ["transcript"]

_TIMES = "\N{MULTIPLICATION SIGN}"


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value


def _parts(event: Any) -> tuple[str, Any]:
    """(name, data as JSON-like) of an SDK event, one of our events, a cassette's SSE event, or a dict."""
    if isinstance(event, dict):
        return str(event.get("event")), event.get("data")
    return str(getattr(event, "event", None)), _plain(getattr(event, "data", None))


def _text_of(content: Any) -> str:
    """The text of message content parts (full messages and deltas alike)."""
    if not isinstance(content, list):
        return ""
    pieces = []
    for part in content:
        if isinstance(part, dict) and isinstance(part.get("text"), dict):
            pieces.append(str(part["text"].get("value") or ""))
    return "".join(pieces)


def _tool_calls(calls: Any) -> str:
    rendered = []
    for call in calls if isinstance(calls, list) else []:
        if not isinstance(call, dict):
            continue
        kind = call.get("type")
        if kind == "function" and isinstance(call.get("function"), dict):
            function = call["function"]
            rendered.append(f"{function.get('name')}({function.get('arguments') or ''})")
        elif kind is not None:
            rendered.append(str(kind))
    return ", ".join(rendered)


def _run_line(data: dict[str, Any]) -> str:
    line = str(data.get("status"))
    action = data.get("required_action")
    if isinstance(action, dict) and isinstance(action.get("submit_tool_outputs"), dict):
        line += " → " + _tool_calls(action["submit_tool_outputs"].get("tool_calls"))
    error = data.get("last_error")
    if isinstance(error, dict):
        line += f" ({error.get('code')}: {error.get('message')})"
    details = data.get("incomplete_details")
    if isinstance(details, dict) and details.get("reason"):
        line += f" ({details['reason']})"
    return line


def _step_line(data: dict[str, Any]) -> str:
    details = data.get("step_details")
    kind = data.get("type") or (details.get("type") if isinstance(details, dict) else None)
    line = f"{kind} {data.get('status')}"
    if isinstance(details, dict) and details.get("tool_calls"):
        line += ": " + _tool_calls(details["tool_calls"])
    return line


def _describe(name: str, data: Any) -> str:
    if not isinstance(data, dict):
        return name if data in (None, "[DONE]") else f"{name}: {data}"
    if name.startswith("thread.run.step."):
        return f"{name}: {_step_line(data)}"
    if name.startswith("thread.run."):
        return f"{name}: {_run_line(data)}"
    if name.startswith("thread.message."):
        # Text only once the message is final: the SDK fills the content of the ``created`` event's object in place
        # as deltas arrive, so earlier events would show the final text where the wire had none.
        final = name in ("thread.message.completed", "thread.message.incomplete")
        text = _text_of(data.get("content")) if final else ""
        return f"{name}: {data.get('role')} {data.get('status')}" + (
            f" {json.dumps(text, ensure_ascii=False)}" if text else ""
        )
    if name == "error":
        error = data.get("error", data)
        return f"error: {error.get('code')}: {error.get('message')}" if isinstance(error, dict) else "error"
    return name


def _delta_text(name: str, data: Any) -> str:
    if not isinstance(data, dict) or not isinstance(data.get("delta"), dict):
        return ""
    delta = data["delta"]
    if name == "thread.message.delta":
        return _text_of(delta.get("content"))
    details = delta.get("step_details")
    pieces = []
    for call in details.get("tool_calls") or [] if isinstance(details, dict) else []:
        if isinstance(call, dict):
            code = call.get("code_interpreter")
            function = call.get("function")
            if isinstance(code, dict) and code.get("input"):
                pieces.append(str(code["input"]))
            elif isinstance(function, dict) and function.get("arguments"):
                pieces.append(str(function["arguments"]))
    return "".join(pieces)


def transcript(events: Iterable[Any]) -> str:
    """The events of one or more streams (the SDK's, ours, a cassette's, or ``{"event", "data"}`` dicts) as lines
    of text; see the module docstring for an example."""
    lines: list[str] = []
    run_name: str | None = None
    run_count = 0
    run_text = ""

    def flush() -> None:
        nonlocal run_name, run_count, run_text
        if run_name is not None:
            suffix = f": {json.dumps(run_text, ensure_ascii=False)}" if run_text else ""
            lines.append(f"{run_name} {_TIMES}{run_count}{suffix}")
        run_name, run_count, run_text = None, 0, ""

    for event in events:
        name, data = _parts(event)
        if name == "None" and data is None:
            continue  # a blank frame, not an event
        if name.endswith(".delta"):
            if name != run_name:
                flush()
                run_name = name
            run_count += 1
            run_text += _delta_text(name, data)
            continue
        flush()
        lines.append(_describe(name, data))
    flush()
    return "".join(line + "\n" for line in lines)
