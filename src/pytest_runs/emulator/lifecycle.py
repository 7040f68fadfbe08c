"""The events of a run from ``queued``/``in_progress`` to its next resting state, in the real API's order.

:func:`progress` yields ``(event name, payload)`` pairs and applies each transition to the store as it yields
it, so the state after any prefix of the sequence is what that prefix announced. Streams frame the pairs as
server-sent events; polling drains the same generator and drops them. Per phase of the run's plan::

    (queued)  thread.run.in_progress
    code      thread.run.step.created, thread.run.step.in_progress,
              thread.run.step.delta (call id, empty input), thread.run.step.delta x input pieces,
              thread.run.step.delta (outputs), thread.run.step.completed
    tools     thread.run.step.created, thread.run.step.in_progress,
              per call: thread.run.step.delta (id, name), thread.run.step.delta (arguments);
              thread.run.requires_action                                   (rest)
    message   thread.run.step.created, thread.run.step.in_progress,
              thread.message.created, thread.message.in_progress, thread.message.delta x N,
              thread.message.completed | thread.message.incomplete, thread.run.step.completed
    end       thread.run.completed | thread.run.incomplete                 (rest)
    fail      thread.run.failed                                             (rest)
    expire    thread.run.expired                                            (rest)

A cancel requested meanwhile is honoured at the next checkpoint (before each phase and between deltas) with
``thread.run.cancelling``, ``thread.run.cancelled``. The generator is resumable: started again on a run that a
cut stream left mid-phase, it picks up that phase's step and message instead of creating new ones.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import Store

__all__ = ["Event", "progress"]

JsonDict = dict[str, Any]
#: A stream event before framing: its name and its payload.
Event = tuple[str, JsonDict]


def progress(store: Store, run_id: str) -> Iterator[Event]:
    """Events (with their transitions) from where the run is to its next resting state."""
    stop = store.cancel_point(run_id)
    if stop is not None:
        yield from stop
        return
    started = store.start(run_id)
    if started is not None:
        yield "thread.run.in_progress", started
    while True:
        stop = store.cancel_point(run_id)
        if stop is not None:
            yield from stop
            return
        phase = store.next_phase(run_id)
        if phase is None:
            yield from store.finish_run(run_id)
            return
        if phase.kind == "fail":
            yield from store.fail(run_id)
            return
        if phase.kind == "expire":
            yield from store.expire(run_id)
            return
        if phase.kind == "tools":
            yield from _tools(store, run_id)
            return
        cancelled = yield from (_code(store, run_id) if phase.kind == "code" else _message(store, run_id))
        if cancelled:
            return


def _step_delta(step_id: str, tool_call: JsonDict) -> Event:
    return (
        "thread.run.step.delta",
        {
            "id": step_id,
            "object": "thread.run.step.delta",
            "delta": {"step_details": {"type": "tool_calls", "tool_calls": [tool_call]}},
        },
    )


def _message_delta(message_id: str, value: str, first: bool) -> Event:
    text: JsonDict = {"value": value}
    if first:
        # The real stream sends the (empty) annotations list with the first delta of a text part only.
        text["annotations"] = []
    return (
        "thread.message.delta",
        {
            "id": message_id,
            "object": "thread.message.delta",
            "delta": {"content": [{"index": 0, "type": "text", "text": text}]},
        },
    )


def _code(store: Store, run_id: str) -> Generator[Event, None, bool]:
    """A code-interpreter step; returns True when the run was cancelled on the way."""
    step, call_id, pieces, logs = store.begin_code(run_id)
    yield "thread.run.step.created", step
    yield "thread.run.step.in_progress", step
    opening = {"input": "", "outputs": []}
    yield _step_delta(
        step["id"], {"index": 0, "id": call_id, "type": "code_interpreter", "code_interpreter": opening}
    )
    for piece in pieces:
        stop = store.cancel_point(run_id)
        if stop is not None:
            yield from stop
            return True
        yield _step_delta(
            step["id"], {"index": 0, "type": "code_interpreter", "code_interpreter": {"input": piece}}
        )
    outputs = {"outputs": [{"index": 0, "type": "logs", "logs": logs}]}
    yield _step_delta(step["id"], {"index": 0, "type": "code_interpreter", "code_interpreter": outputs})
    yield "thread.run.step.completed", store.complete_code(run_id)
    return False


def _tools(store: Store, run_id: str) -> Iterator[Event]:
    """A function-call step, ending at ``requires_action``."""
    step, calls = store.begin_tools(run_id)
    yield "thread.run.step.created", step
    yield "thread.run.step.in_progress", step
    for index, call in enumerate(calls):
        function = {"name": call.name, "arguments": "", "output": None}
        yield _step_delta(
            step["id"], {"index": index, "id": call.id, "type": "function", "function": function}
        )
        arguments = {"arguments": call.arguments}
        yield _step_delta(step["id"], {"index": index, "type": "function", "function": arguments})
    yield from store.require_action(run_id)


def _message(store: Store, run_id: str) -> Generator[Event, None, bool]:
    """The reply; returns True when the run was cancelled on the way."""
    step, message, pieces = store.begin_message(run_id)
    yield "thread.run.step.created", step
    yield "thread.run.step.in_progress", step
    yield "thread.message.created", message
    yield "thread.message.in_progress", message
    for index, piece in enumerate(pieces):
        stop = store.cancel_point(run_id)
        if stop is not None:
            yield from stop
            return True
        yield _message_delta(message["id"], piece, index == 0)
    yield store.finish_message(run_id)
    yield "thread.run.step.completed", store.complete_message_step(run_id)
    return False
