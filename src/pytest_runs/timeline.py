"""A cassette as a readable timeline: what was asked, what came back, how the runs ended (``pytest-runs show``).

One line per request (method, path, the parameters that say what it was for: model, assistant, ``stream=true``, tool
names), then what the response was. Repeated identical requests (polls) collapse into one line with the sequence of
statuses they saw, e.g. ``GET /v1/threads/thread_1/runs/run_1 x19: in_progress x18 → completed`` (with a multiplication sign for ``x``). Streams show their
events counted by type, the message text joined from its deltas, and the statuses the run went through. The output
depends on nothing but the cassette, so it is stable enough to compare in tests and reviews.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from .cassette import CassetteFile, Interaction, JsonBody, SSEBody, TextBody
from .matching import match_key, short_request

__all__ = ["TIMES", "render_timeline", "timeline_lines"]

_INDENT = "      "
# Spelled by name: a literal multiplication sign reads as an x in most fonts, and linters flag it.
TIMES = "\N{MULTIPLICATION SIGN}"
"""The sign between a label and its count."""
_EXCERPT = 100


def _quoted(text: str, limit: int | None = None) -> str:
    """Text on one line, JSON-quoted (line breaks show as ``\\n``), shortened to ``limit`` characters when given."""
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return json.dumps(text, ensure_ascii=False)


def _counted(labels: Iterable[str], separator: str) -> str:
    """Consecutive equal labels collapsed: ``a x3 → b`` (``x`` being :data:`TIMES`)."""
    runs: list[list[Any]] = []
    for label in labels:
        if runs and runs[-1][0] == label:
            runs[-1][1] += 1
        else:
            runs.append([label, 1])
    return separator.join(label if count == 1 else f"{label} {TIMES}{count}" for label, count in runs)


def _by_type(names: Iterable[str]) -> str:
    """Names counted by type, in order of first appearance: ``a, b x40, done``."""
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(name if count == 1 else f"{name} {TIMES}{count}" for name, count in counts.items())


# -- requests ----------------------------------------------------------------------------------------------------------


def _tool_names(tools: Any) -> list[str]:
    names: list[str] = []
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict):
            function = tool.get("function")
            name = function.get("name") if isinstance(function, dict) else None
            names.append(str(name or tool.get("type") or "?"))
    return names


def _parameters(body: Any) -> list[str]:
    """The request parameters worth showing, as ``name=value``."""
    if not isinstance(body, dict):
        return []
    shown: list[str] = []
    for key in ("model", "assistant_id", "role"):
        if isinstance(body.get(key), str):
            shown.append(f"{key}={body[key]}")
    if isinstance(body.get("stream"), bool):
        shown.append(f"stream={'true' if body['stream'] else 'false'}")
    if body.get("tools"):
        shown.append("tools=" + ",".join(_tool_names(body["tools"])))
    for key in ("tool_outputs", "messages", "additional_messages"):
        if isinstance(body.get(key), list) and body[key]:
            shown.append(f"{key}={len(body[key])}")
    return shown


def _request_text(interaction: Interaction) -> str:
    request = interaction.request
    parameters = _parameters(request.body.json_ if isinstance(request.body, JsonBody) else None)
    return short_request(request) + (f" ({', '.join(parameters)})" if parameters else "")


# -- responses ---------------------------------------------------------------------------------------------------------


def _message_text(message: dict[str, Any]) -> str:
    """The text parts of a message (or of a message delta), joined."""
    parts = message.get("content")
    if not isinstance(parts, list):
        return ""
    return "".join(
        str(part["text"].get("value", ""))
        for part in parts
        if isinstance(part, dict) and isinstance(part.get("text"), dict)
    )


def _usage_text(usage: Any) -> str | None:
    if not isinstance(usage, dict):
        return None
    return (
        f"{usage.get('prompt_tokens', '?')} prompt + {usage.get('completion_tokens', '?')} completion = "
        f"{usage.get('total_tokens', '?')} tokens"
    )


def _object_summary(value: Any) -> tuple[str, list[str]]:
    """(what a JSON response is, in a few words; detail lines) for the objects the Assistants API returns."""
    if not isinstance(value, dict):
        return ("JSON " + type(value).__name__, [])
    error = value.get("error")
    if isinstance(error, dict):
        return (f"error: {_quoted(str(error.get('message', '')), 200)}", [])
    kind = value.get("object")
    ident = value.get("id")
    if kind == "list" and isinstance(value.get("data"), list):
        items = value["data"]
        kinds = _by_type(str(item.get("object", "?")) for item in items if isinstance(item, dict))
        details = [
            f"{item.get('role')}: {_quoted(_message_text(item), _EXCERPT)}"
            for item in items
            if isinstance(item, dict) and item.get("object") == "thread.message"
        ]
        return (f"list of {len(items)}" + (f" ({kinds})" if kinds else ""), details)
    if kind == "thread.run":
        return (f"run {ident}: {value.get('status')}", [])
    if kind == "thread.message":
        return (f"message {ident} ({value.get('role')})", [])
    if kind == "assistant":
        name = f" {_quoted(str(value['name']))}" if value.get("name") else ""
        return (f"assistant {ident}{name}", [])
    if kind == "chat.completion":
        choices = value.get("choices") or [{}]
        first = choices[0] if isinstance(choices[0], dict) else {}
        message = first.get("message")
        if not isinstance(message, dict):
            message = {}
        return (
            f"chat.completion {ident}",
            [f"assistant: {_quoted(str(message.get('content') or ''), _EXCERPT)}"],
        )
    if isinstance(kind, str):
        return (f"{kind} {ident}" if ident else kind, [])
    return ("JSON object", [])


def _stream_details(body: SSEBody) -> tuple[str, list[str]]:
    """(``stream of N events``; lines: events by type, message texts, run statuses and usage)."""
    names = [event.event or "message" for event in body.sse if event.event or event.data is not None]
    details = [f"events: {_by_type(names)}"]
    texts: dict[str, list[str]] = {}
    completed: dict[str, str] = {}
    statuses: dict[str, list[str]] = {}
    usage: dict[str, Any] = {}
    for event in body.sse:
        data = event.data
        if not isinstance(data, dict):
            continue
        if event.event == "thread.message.delta":
            delta = data.get("delta")
            if not isinstance(delta, dict):
                delta = {}
            texts.setdefault(str(data.get("id")), []).append(_message_text(delta))
        elif event.event == "thread.message.completed":
            completed[str(data.get("id"))] = _message_text(data)
        elif data.get("object") == "thread.run":
            statuses.setdefault(str(data.get("id")), []).append(str(data.get("status")))
            if data.get("usage"):
                usage[str(data.get("id"))] = data["usage"]
    for message_id in dict.fromkeys([*texts, *completed]):
        text = "".join(texts[message_id]) if message_id in texts else completed[message_id]
        details.append(f"text ({message_id}): {_quoted(text)}")
    for run_id, seen in statuses.items():
        line = f"run {run_id}: {_counted(seen, ' → ')}"
        usage_text = _usage_text(usage.get(run_id))
        details.append(line + (f"; usage {usage_text}" if usage_text else ""))
    if body.tail:
        details.append(f"unterminated event at the end: {_quoted(body.tail, _EXCERPT)}")
    return (f"stream of {len(names)} events", details)


def _response_summary(interaction: Interaction) -> tuple[str, list[str]]:
    response = interaction.response
    body = response.body
    summary: tuple[str, list[str]]
    if isinstance(body, SSEBody):
        summary = _stream_details(body)
    elif isinstance(body, JsonBody):
        summary = _object_summary(body.json_)
    elif isinstance(body, TextBody):
        summary = (f"text {_quoted(body.text, _EXCERPT)}", [])
    elif body is None:
        summary = ("no body", [])
    else:
        summary = ("binary body", [])
    if response.end != "complete":
        how = "closed by the client" if response.end == "client_closed" else f"cut by {response.error}"
        summary = (summary[0] + f" (body {how})", summary[1])
    return summary


def _outcome(interaction: Interaction) -> str:
    """A short label of a response, for collapsed repeats: the run status, else the HTTP status."""
    body = interaction.response.body
    status = interaction.response.status
    if (
        isinstance(body, JsonBody)
        and isinstance(body.json_, dict)
        and isinstance(body.json_.get("status"), str)
    ):
        return body.json_["status"] if status == 200 else f"{status} {body.json_['status']}"
    return str(status)


# -- the whole cassette ------------------------------------------------------------------------------------------------


def _groups(interactions: Sequence[Interaction]) -> list[tuple[int, list[Interaction]]]:
    """Consecutive interactions asking the same thing, with the 1-based number of the first."""
    groups: list[tuple[int, list[Interaction]]] = []
    previous = None
    for number, interaction in enumerate(interactions, start=1):
        key = match_key(interaction.request)
        if groups and previous is not None and previous.matches(key):
            groups[-1][1].append(interaction)
        else:
            groups.append((number, [interaction]))
        previous = key
    return groups


def _group_lines(first: int, group: list[Interaction]) -> list[str]:
    if len(group) > 1:
        numbers = f"#{first}-{first + len(group) - 1}"
        return [
            f"{numbers} {short_request(group[0].request)} {TIMES}{len(group)}: {_counted(map(_outcome, group), ' → ')}"
        ]
    interaction = group[0]
    summary, details = _response_summary(interaction)
    head = f"#{first} {_request_text(interaction)} → {interaction.response.status} {summary}"
    return [head, *(f"{_INDENT}{line}" for line in details)]


def _final_runs(interactions: Sequence[Interaction]) -> list[str]:
    """One line per run: its last status and usage, from every run object the cassette holds, in order."""
    latest: dict[str, dict[str, Any]] = {}
    for interaction in interactions:
        body = interaction.response.body
        values: list[Any] = []
        if isinstance(body, JsonBody):
            value = body.json_
            values = (
                value.get("data") or []
                if isinstance(value, dict) and value.get("object") == "list"
                else [value]
            )
        elif isinstance(body, SSEBody):
            values = [event.data for event in body.sse]
        for value in values:
            if (
                isinstance(value, dict)
                and value.get("object") == "thread.run"
                and isinstance(value.get("id"), str)
            ):
                latest[value["id"]] = value
    lines = []
    for run_id, run in latest.items():
        usage = _usage_text(run.get("usage"))
        lines.append(f"  {run_id}: {run.get('status')}" + (f"; usage {usage}" if usage else ""))
    return lines


def timeline_lines(cassette: CassetteFile, name: str = "cassette") -> list[str]:
    """The timeline of ``cassette`` as lines (no line ends); ``name`` heads it."""
    interactions = cassette.interactions
    streams = sum(isinstance(item.response.body, SSEBody) for item in interactions)
    lines = [f"{name}: {len(interactions)} interaction(s), {streams} stream(s)"]
    for first, group in _groups(interactions):
        lines.extend(_group_lines(first, group))
    runs = _final_runs(interactions)
    lines.append("runs:" if runs else "runs: none")
    lines.extend(runs)
    return lines


def render_timeline(cassette: CassetteFile, name: str = "cassette") -> str:
    """The timeline of ``cassette`` as text, ending with a line end."""
    return "\n".join(timeline_lines(cassette, name)) + "\n"
