"""Views of a cassette's interactions as parsed objects: the runs it saw and the stream events it holds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from .cassette import Interaction, JsonBody, SSEBody
from .models import Run, StreamEvent

__all__ = ["events_of", "runs_of"]


def events_of(interactions: Sequence[Interaction]) -> list[StreamEvent]:
    """Every SSE event of every response, in order."""
    return [
        StreamEvent(event=event.event, data=event.data)
        for interaction in interactions
        if isinstance(interaction.response.body, SSEBody)
        for event in interaction.response.body.sse
    ]


def _objects(interactions: Sequence[Interaction]) -> Iterator[Any]:
    """Every JSON object a response carried: whole bodies, list items, and SSE event data, in order."""
    for interaction in interactions:
        body = interaction.response.body
        if isinstance(body, JsonBody):
            value = body.json_
            if isinstance(value, dict) and value.get("object") == "list":
                yield from value.get("data") or []
            else:
                yield value
        elif isinstance(body, SSEBody):
            for event in body.sse:
                yield event.data


def runs_of(interactions: Sequence[Interaction]) -> list[Run]:
    """The latest state of each run, in order of first appearance."""
    latest: dict[str, Run] = {}
    for value in _objects(interactions):
        if (
            isinstance(value, dict)
            and value.get("object") == "thread.run"
            and isinstance(value.get("id"), str)
        ):
            latest[value["id"]] = Run.model_validate(value)
    return list(latest.values())
