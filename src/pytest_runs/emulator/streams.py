"""Server-Sent-Events sequences of streamed runs, in the order the real API emits them.

Run create (``POST /threads/{tid}/runs`` with ``"stream": true``)::

    thread.run.created, thread.run.queued, thread.run.in_progress,
    thread.run.step.created, thread.run.step.in_progress,
    thread.message.created, thread.message.in_progress, thread.message.delta x N, thread.message.completed,
    thread.run.step.completed, thread.run.completed, done

A run that calls a function stops after its tool-calls step instead::

    ... thread.run.in_progress, thread.run.step.created, thread.run.step.in_progress,
    thread.run.step.delta (call id and function name), thread.run.step.delta (arguments),
    thread.run.requires_action, done

Submit tool outputs opens with the finished tool-calls step::

    thread.run.step.completed, thread.run.queued, thread.run.in_progress, <message step and message events>,
    thread.run.completed, done

``POST /threads/runs`` streams open with ``thread.created``. A run cancelled while streaming ends its stream
with ``thread.run.cancelled``, ``done``.

Events are produced lazily: producing an event applies its transition to the store, so the state after any
prefix of a stream equals what that prefix announced.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .store import Store

__all__ = ["DONE", "EventStream", "SseEvent", "compact_json", "run_stream", "submit_stream"]

JsonDict = dict[str, Any]


def compact_json(payload: Any) -> str:
    """Serialise an event payload the way the real stream does: compact, key order kept, raw UTF-8."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class SseEvent:
    """One server-sent event: an ``event:`` name and one ``data:`` line."""

    event: str
    data: str

    @classmethod
    def of(cls, event: str, payload: Any) -> SseEvent:
        """Build an event whose data is ``payload`` as compact JSON."""
        return cls(event, compact_json(payload))

    def encode(self) -> bytes:
        """Return the event's bytes: ``event: NAME\\ndata: DATA\\n\\n``."""
        return f"event: {self.event}\ndata: {self.data}\n\n".encode()


#: The event that ends every stream.
DONE = SseEvent("done", "[DONE]")


class EventStream:
    """The events of one streamed response, bound to the run they drive.

    Iterate to produce the events (each one applies its transition to the store); :meth:`close` must be called
    once the response is over, whether or not every event was written: it hands the run back to polling.
    """

    def __init__(
        self, store: Store, run_id: str, events: Iterator[SseEvent], event_delay: float, cut_after: int | None
    ):
        """Bind ``events`` to ``run_id``; ``event_delay`` and ``cut_after`` come from the run's scenario."""
        self._store = store
        self._events = events
        self._closed = False
        #: The run this stream drives.
        self.run_id = run_id
        #: Seconds to wait between two events.
        self.event_delay = event_delay
        #: Number of events after which the connection is dropped without the terminating chunk, or None.
        self.cut_after = cut_after

    def __iter__(self) -> Iterator[SseEvent]:
        """Produce the events in order."""
        return self._events

    def close(self) -> None:
        """Stop producing events and release the run (idempotent)."""
        if self._closed:
            return
        self._closed = True
        # A generator that never started ignores close(); releasing explicitly covers that case too.
        close = getattr(self._events, "close", None)
        if close is not None:
            close()
        self._store.release_stream(self.run_id)


def _message_delta(message_id: str, value: str, first: bool) -> JsonDict:
    text: JsonDict = {"value": value}
    if first:
        # The real stream sends the (empty) annotations list with the first delta of a text part only.
        text["annotations"] = []
    return {
        "id": message_id,
        "object": "thread.message.delta",
        "delta": {"content": [{"index": 0, "type": "text", "text": text}]},
    }


def _step_delta(step_id: str, tool_call: JsonDict) -> JsonDict:
    return {
        "id": step_id,
        "object": "thread.run.step.delta",
        "delta": {"step_details": {"type": "tool_calls", "tool_calls": [tool_call]}},
    }


def _progress(store: Store, run_id: str) -> Iterator[SseEvent]:
    """Events from ``queued`` to the next resting state (``requires_action``/``completed``), then ``done``."""

    def cancelled() -> SseEvent | None:
        run = store.stream_cancelled(run_id)
        return None if run is None else SseEvent.of("thread.run.cancelled", run)

    stop = cancelled()
    if stop is None:
        yield SseEvent.of("thread.run.in_progress", store.stream_start(run_id))
        if store.stream_awaiting_tools(run_id):
            yield from _tool_call(store, run_id)
            stop = cancelled()
            if stop is None:
                yield SseEvent.of("thread.run.requires_action", store.stream_require_action(run_id))
        else:
            step, message, pieces = store.stream_begin_message(run_id)
            yield SseEvent.of("thread.run.step.created", step)
            yield SseEvent.of("thread.run.step.in_progress", step)
            yield SseEvent.of("thread.message.created", message)
            yield SseEvent.of("thread.message.in_progress", message)
            for index, piece in enumerate(pieces):
                stop = cancelled()
                if stop is not None:
                    break
                yield SseEvent.of("thread.message.delta", _message_delta(message["id"], piece, index == 0))
            if stop is None:
                yield SseEvent.of("thread.message.completed", store.stream_complete_message(run_id))
                yield SseEvent.of("thread.run.step.completed", store.stream_complete_message_step(run_id))
                yield SseEvent.of("thread.run.completed", store.stream_complete_run(run_id))
    if stop is not None:
        yield stop
    yield DONE


def _tool_call(store: Store, run_id: str) -> Iterator[SseEvent]:
    step, call_id, name = store.stream_begin_tool_step(run_id)
    yield SseEvent.of("thread.run.step.created", step)
    yield SseEvent.of("thread.run.step.in_progress", step)
    first = {
        "index": 0,
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": "", "output": None},
    }
    yield SseEvent.of("thread.run.step.delta", _step_delta(step["id"], first))
    arguments = {"index": 0, "type": "function", "function": {"arguments": "{}"}}
    yield SseEvent.of("thread.run.step.delta", _step_delta(step["id"], arguments))


def run_stream(
    store: Store, run: JsonDict, event_delay: float, cut_after: int | None, thread: JsonDict | None = None
) -> EventStream:
    """Events of a run-create stream; ``run`` is the new run, ``thread`` the created thread if any."""

    def events() -> Iterator[SseEvent]:
        if thread is not None:
            yield SseEvent.of("thread.created", thread)
        yield SseEvent.of("thread.run.created", run)
        yield SseEvent.of("thread.run.queued", run)
        yield from _progress(store, run["id"])

    return EventStream(store, run["id"], events(), event_delay, cut_after)


def submit_stream(
    store: Store, run: JsonDict, tool_step: JsonDict, event_delay: float, cut_after: int | None
) -> EventStream:
    """Events of a submit-tool-outputs stream: ``run`` is the re-queued run, ``tool_step`` the done step."""

    def events() -> Iterator[SseEvent]:
        yield SseEvent.of("thread.run.step.completed", tool_step)
        yield SseEvent.of("thread.run.queued", run)
        yield from _progress(store, run["id"])

    return EventStream(store, run["id"], events(), event_delay, cut_after)
