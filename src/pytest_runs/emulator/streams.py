"""Server-Sent-Events streams of runs, in the order the real API emits them.

Run create (``POST /threads/{tid}/runs`` with ``"stream": true``)::

    thread.run.created, thread.run.queued, <progress>, done

``POST /threads/runs`` streams open with ``thread.created``. Submit tool outputs opens with the finished
tool-calls step::

    thread.run.step.completed, thread.run.queued, <progress>, done

``<progress>`` is :func:`pytest_runs.emulator.lifecycle.progress`: a text reply reads ``thread.run.in_progress,
thread.run.step.created, thread.run.step.in_progress, thread.message.created, thread.message.in_progress,
thread.message.delta x N, thread.message.completed, thread.run.step.completed, thread.run.completed``; a run that
calls functions stops at its tool-calls step with ``… thread.run.step.delta …, thread.run.requires_action``.

Stream-only knobs act here: ``emulator_cancel_after`` asks the run to cancel after that many events (the stream
goes on to ``thread.run.cancelling``, ``thread.run.cancelled``, ``done``); ``emulator_error_after`` ends the stream
after that many events with ``event: error`` (a ``server_error`` citing the request ID) and no ``done``, and the
run fails. ``emulator_cut_after`` is the server's: it stops writing mid-body.

Events are produced lazily: producing an event applies its transition to the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import lifecycle
from .errors import stream_error_body
from .lifecycle import Event
from .scenarios import Scenario
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


#: The event that ends every complete stream.
DONE = SseEvent("done", "[DONE]")


class EventStream:
    """The events of one streamed response, bound to the run they drive.

    Iterate to produce the events (each one applies its transition to the store); :meth:`close` must be called
    once the response is over, whether or not every event was written: it hands the run back to polling.
    """

    def __init__(
        self,
        store: Store,
        run_id: str,
        events: Iterator[SseEvent],
        event_delay: float,
        cut_after: int | None,
        *,
        cancel_after: int | None = None,
        error_after: int | None = None,
        request_id: str = "",
    ):
        """Bind ``events`` to ``run_id``; the delays, cuts, cancels and errors come from the run's scenario."""
        self._store = store
        self._events = events
        self._closed = False
        self._cancel_after = cancel_after
        self._error_after = error_after
        self._request_id = request_id
        #: The run this stream drives.
        self.run_id = run_id
        #: Seconds to wait between two events.
        self.event_delay = event_delay
        #: Number of events after which the connection is dropped without the terminating chunk, or None.
        self.cut_after = cut_after

    def __iter__(self) -> Iterator[SseEvent]:
        """Produce the events in order."""
        return self._produce()

    def _produce(self) -> Iterator[SseEvent]:
        if self._error_after == 0:
            yield self._error()
            return
        for count, event in enumerate(self._events, start=1):
            yield event
            if count == self._cancel_after:
                self._store.request_cancel(self.run_id)
            if count == self._error_after:
                yield self._error()
                return

    def _error(self) -> SseEvent:
        self._store.fail_from_stream(self.run_id)
        return SseEvent.of("error", stream_error_body(self._request_id))

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


def _framed(events: Iterator[Event]) -> Iterator[SseEvent]:
    for name, payload in events:
        yield SseEvent.of(name, payload)


def _bind(
    store: Store, run_id: str, events: Iterator[SseEvent], scenario: Scenario, request_id: str
) -> EventStream:
    return EventStream(
        store,
        run_id,
        events,
        scenario.event_delay,
        scenario.cut_after,
        cancel_after=scenario.cancel_after,
        error_after=scenario.error_after,
        request_id=request_id,
    )


def run_stream(
    store: Store,
    run: JsonDict,
    scenario: Scenario,
    thread: JsonDict | None = None,
    *,
    request_id: str = "",
) -> EventStream:
    """Events of a run-create stream; ``run`` is the new run, ``thread`` the created thread if any."""

    def events() -> Iterator[SseEvent]:
        if thread is not None:
            yield SseEvent.of("thread.created", thread)
        yield SseEvent.of("thread.run.created", run)
        yield SseEvent.of("thread.run.queued", run)
        yield from _framed(lifecycle.progress(store, run["id"]))
        yield DONE

    return _bind(store, run["id"], events(), scenario, request_id)


def submit_stream(
    store: Store, run: JsonDict, tool_step: JsonDict, scenario: Scenario, *, request_id: str = ""
) -> EventStream:
    """Events of a submit-tool-outputs stream: ``run`` is the re-queued run, ``tool_step`` the done step."""

    def events() -> Iterator[SseEvent]:
        yield SseEvent.of("thread.run.step.completed", tool_step)
        yield SseEvent.of("thread.run.queued", run)
        yield from _framed(lifecycle.progress(store, run["id"]))
        yield DONE

    return _bind(store, run["id"], events(), scenario, request_id)
