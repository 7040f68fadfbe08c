"""Stream events: one class per event name, the union of them all, and :func:`parse_event`."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Tag, TypeAdapter, ValidationError

from ._base import _describe
from .objects import ErrorEnvelope, ErrorObject, Message, MessageDelta, RunStep, RunStepDelta, Thread
from .run import Run

__all__ = [
    "EVENT_NAMES",
    "AssistantStreamEvent",
    "DoneEvent",
    "ErrorEvent",
    "MessageEvent",
    "RunEvent",
    "RunStepEvent",
    "StreamEvent",
    "ThreadCreated",
    "ThreadMessageCompleted",
    "ThreadMessageCreated",
    "ThreadMessageDelta",
    "ThreadMessageInProgress",
    "ThreadMessageIncomplete",
    "ThreadRunCancelled",
    "ThreadRunCancelling",
    "ThreadRunCompleted",
    "ThreadRunCreated",
    "ThreadRunExpired",
    "ThreadRunFailed",
    "ThreadRunInProgress",
    "ThreadRunIncomplete",
    "ThreadRunQueued",
    "ThreadRunRequiresAction",
    "ThreadRunStepCancelled",
    "ThreadRunStepCompleted",
    "ThreadRunStepCreated",
    "ThreadRunStepDelta",
    "ThreadRunStepExpired",
    "ThreadRunStepFailed",
    "ThreadRunStepInProgress",
    "UnknownEvent",
    "parse_event",
]


class StreamEvent(BaseModel):
    """One Server-Sent Event of a run stream: its name (``event``) and its parsed payload (``data``).

    :func:`parse_event` returns the subclass named by the event (``ThreadRunCreated``, ``ThreadMessageDelta``,
    ...), whose ``data`` is typed, or an :class:`UnknownEvent`.
    """

    model_config = ConfigDict(extra="forbid")

    event: str | None
    data: Any


class ThreadCreated(StreamEvent):
    """``thread.created``: a thread was created (first event of a create-thread-and-run stream)."""

    event: Literal["thread.created"] = "thread.created"
    data: Thread


class RunEvent(StreamEvent):
    """Base of the ``thread.run.*`` events, whose data is the :class:`Run` (as sent: never checked against the name)."""

    data: Run


class ThreadRunCreated(RunEvent):
    """``thread.run.created``: a run was created."""

    event: Literal["thread.run.created"] = "thread.run.created"


class ThreadRunQueued(RunEvent):
    """``thread.run.queued``: a run moved to ``queued``."""

    event: Literal["thread.run.queued"] = "thread.run.queued"


class ThreadRunInProgress(RunEvent):
    """``thread.run.in_progress``: a run moved to ``in_progress``."""

    event: Literal["thread.run.in_progress"] = "thread.run.in_progress"


class ThreadRunRequiresAction(RunEvent):
    """``thread.run.requires_action``: a run needs tool outputs (the stream ends after this event)."""

    event: Literal["thread.run.requires_action"] = "thread.run.requires_action"


class ThreadRunCompleted(RunEvent):
    """``thread.run.completed``: a run completed."""

    event: Literal["thread.run.completed"] = "thread.run.completed"


class ThreadRunIncomplete(RunEvent):
    """``thread.run.incomplete``: a run ended because it reached a token limit."""

    event: Literal["thread.run.incomplete"] = "thread.run.incomplete"


class ThreadRunFailed(RunEvent):
    """``thread.run.failed``: a run failed."""

    event: Literal["thread.run.failed"] = "thread.run.failed"


class ThreadRunCancelling(RunEvent):
    """``thread.run.cancelling``: a run moved to ``cancelling``."""

    event: Literal["thread.run.cancelling"] = "thread.run.cancelling"


class ThreadRunCancelled(RunEvent):
    """``thread.run.cancelled``: a run was cancelled."""

    event: Literal["thread.run.cancelled"] = "thread.run.cancelled"


class ThreadRunExpired(RunEvent):
    """``thread.run.expired``: a run expired."""

    event: Literal["thread.run.expired"] = "thread.run.expired"


class RunStepEvent(StreamEvent):
    """Base of the ``thread.run.step.*`` events (except the delta), whose data is the :class:`RunStep`."""

    data: RunStep


class ThreadRunStepCreated(RunStepEvent):
    """``thread.run.step.created``: a run step was created."""

    event: Literal["thread.run.step.created"] = "thread.run.step.created"


class ThreadRunStepInProgress(RunStepEvent):
    """``thread.run.step.in_progress``: a run step moved to ``in_progress``."""

    event: Literal["thread.run.step.in_progress"] = "thread.run.step.in_progress"


class ThreadRunStepCompleted(RunStepEvent):
    """``thread.run.step.completed``: a run step completed."""

    event: Literal["thread.run.step.completed"] = "thread.run.step.completed"


class ThreadRunStepFailed(RunStepEvent):
    """``thread.run.step.failed``: a run step failed."""

    event: Literal["thread.run.step.failed"] = "thread.run.step.failed"


class ThreadRunStepCancelled(RunStepEvent):
    """``thread.run.step.cancelled``: a run step was cancelled."""

    event: Literal["thread.run.step.cancelled"] = "thread.run.step.cancelled"


class ThreadRunStepExpired(RunStepEvent):
    """``thread.run.step.expired``: a run step expired."""

    event: Literal["thread.run.step.expired"] = "thread.run.step.expired"


class ThreadRunStepDelta(StreamEvent):
    """``thread.run.step.delta``: a piece of a run step (tool-call code, arguments, outputs)."""

    event: Literal["thread.run.step.delta"] = "thread.run.step.delta"
    data: RunStepDelta


class MessageEvent(StreamEvent):
    """Base of the ``thread.message.*`` events (except the delta), whose data is the :class:`Message`."""

    data: Message


class ThreadMessageCreated(MessageEvent):
    """``thread.message.created``: a message was created."""

    event: Literal["thread.message.created"] = "thread.message.created"


class ThreadMessageInProgress(MessageEvent):
    """``thread.message.in_progress``: a message moved to ``in_progress``."""

    event: Literal["thread.message.in_progress"] = "thread.message.in_progress"


class ThreadMessageCompleted(MessageEvent):
    """``thread.message.completed``: a message is complete."""

    event: Literal["thread.message.completed"] = "thread.message.completed"


class ThreadMessageIncomplete(MessageEvent):
    """``thread.message.incomplete``: a message ended before it was complete."""

    event: Literal["thread.message.incomplete"] = "thread.message.incomplete"


class ThreadMessageDelta(StreamEvent):
    """``thread.message.delta``: a piece of a message's content."""

    event: Literal["thread.message.delta"] = "thread.message.delta"
    data: MessageDelta


class ErrorEvent(StreamEvent):
    """``error``: the server reported an error in the stream.

    The data is an :class:`ErrorObject`, or an :class:`ErrorEnvelope` (``{"error": {...}}``) when the server wrapped
    it as in an HTTP error body; :attr:`error` gives the error object either way.
    """

    event: Literal["error"] = "error"
    data: ErrorObject | ErrorEnvelope

    @property
    def error(self) -> ErrorObject:
        """The error object, unwrapped from an envelope if there is one."""
        return self.data.error if isinstance(self.data, ErrorEnvelope) else self.data


class DoneEvent(StreamEvent):
    """``done``: the end of the stream; its data is the string ``[DONE]``."""

    event: Literal["done"] = "done"
    data: Literal["[DONE]"] = "[DONE]"


class UnknownEvent(StreamEvent):
    """An event this release cannot type: an unknown name, or a payload that does not fit its event's model.

    ``event`` and ``data`` are kept as recorded; ``problem`` says why the payload did not fit (``None`` for an
    unknown name).
    """

    problem: str | None = None


_EVENT_CLASSES: Final[tuple[type[StreamEvent], ...]] = (
    ThreadCreated,
    ThreadRunCreated,
    ThreadRunQueued,
    ThreadRunInProgress,
    ThreadRunRequiresAction,
    ThreadRunCompleted,
    ThreadRunIncomplete,
    ThreadRunFailed,
    ThreadRunCancelling,
    ThreadRunCancelled,
    ThreadRunExpired,
    ThreadRunStepCreated,
    ThreadRunStepInProgress,
    ThreadRunStepDelta,
    ThreadRunStepCompleted,
    ThreadRunStepFailed,
    ThreadRunStepCancelled,
    ThreadRunStepExpired,
    ThreadMessageCreated,
    ThreadMessageInProgress,
    ThreadMessageDelta,
    ThreadMessageCompleted,
    ThreadMessageIncomplete,
    ErrorEvent,
    DoneEvent,
)

EVENT_NAMES: Final[frozenset[str]] = frozenset(cls.model_fields["event"].default for cls in _EVENT_CLASSES)
"""The event names :func:`parse_event` types (every other name gives an :class:`UnknownEvent`)."""


def _event_tag(value: Any) -> str:
    name = value.get("event") if isinstance(value, dict) else getattr(value, "event", None)
    return name if isinstance(name, str) and name in EVENT_NAMES else "unknown"


AssistantStreamEvent = Annotated[
    Annotated[ThreadCreated, Tag("thread.created")]
    | Annotated[ThreadRunCreated, Tag("thread.run.created")]
    | Annotated[ThreadRunQueued, Tag("thread.run.queued")]
    | Annotated[ThreadRunInProgress, Tag("thread.run.in_progress")]
    | Annotated[ThreadRunRequiresAction, Tag("thread.run.requires_action")]
    | Annotated[ThreadRunCompleted, Tag("thread.run.completed")]
    | Annotated[ThreadRunIncomplete, Tag("thread.run.incomplete")]
    | Annotated[ThreadRunFailed, Tag("thread.run.failed")]
    | Annotated[ThreadRunCancelling, Tag("thread.run.cancelling")]
    | Annotated[ThreadRunCancelled, Tag("thread.run.cancelled")]
    | Annotated[ThreadRunExpired, Tag("thread.run.expired")]
    | Annotated[ThreadRunStepCreated, Tag("thread.run.step.created")]
    | Annotated[ThreadRunStepInProgress, Tag("thread.run.step.in_progress")]
    | Annotated[ThreadRunStepDelta, Tag("thread.run.step.delta")]
    | Annotated[ThreadRunStepCompleted, Tag("thread.run.step.completed")]
    | Annotated[ThreadRunStepFailed, Tag("thread.run.step.failed")]
    | Annotated[ThreadRunStepCancelled, Tag("thread.run.step.cancelled")]
    | Annotated[ThreadRunStepExpired, Tag("thread.run.step.expired")]
    | Annotated[ThreadMessageCreated, Tag("thread.message.created")]
    | Annotated[ThreadMessageInProgress, Tag("thread.message.in_progress")]
    | Annotated[ThreadMessageDelta, Tag("thread.message.delta")]
    | Annotated[ThreadMessageCompleted, Tag("thread.message.completed")]
    | Annotated[ThreadMessageIncomplete, Tag("thread.message.incomplete")]
    | Annotated[ErrorEvent, Tag("error")]
    | Annotated[DoneEvent, Tag("done")]
    | Annotated[UnknownEvent, Tag("unknown")],
    Discriminator(_event_tag),
]
"""Every stream event, discriminated by event name (names it does not know give an :class:`UnknownEvent`)."""

_EVENT_ADAPTER: Final[TypeAdapter[AssistantStreamEvent]] = TypeAdapter(AssistantStreamEvent)


def parse_event(event: str | None, data: Any) -> StreamEvent:
    """Parse one stream event from its name and its data (parsed JSON, or a string such as ``[DONE]``).

    Never raises: an unknown name, or data that does not fit the event's model, gives an :class:`UnknownEvent` that
    keeps ``event`` and ``data`` as they were (with the reason in ``problem`` for data that did not fit).
    """
    try:
        return _EVENT_ADAPTER.validate_python({"event": event, "data": data})
    except ValidationError as error:
        # Drop the first place of each error: it is the event name the union dispatched on.
        problem = "; ".join(
            _describe({**item, "loc": item["loc"][1:]}) for item in error.errors(include_url=False)
        )
        return UnknownEvent(event=event, data=data, problem=problem)
