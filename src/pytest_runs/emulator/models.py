"""The emulator's in-memory objects and their wire shapes.

Every ``to_dict`` returns a fresh structure whose keys are in the order the real API writes them (the 2025
shapes: ``reasoning_effort`` after ``top_p``, ``parallel_tool_calls`` last), so compact SSE payloads and
pretty-printed JSON bodies look like the recordings. Callers serialise these copies outside the store's lock.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .scenarios import Phase, Scenario

__all__ = [
    "ACTIVE_STATUSES",
    "EXPIRY_SECONDS",
    "TERMINAL_STATUSES",
    "Assistant",
    "Message",
    "Run",
    "Step",
    "Thread",
    "ToolCall",
    "text_content",
    "usage_dict",
]

JsonDict = dict[str, Any]

#: Statuses that block a new run on the same thread.
ACTIVE_STATUSES = frozenset({"queued", "in_progress", "requires_action", "cancelling"})
#: Statuses after which a run never changes again (``expires_at`` becomes null, ``usage`` is filled).
TERMINAL_STATUSES = frozenset({"completed", "cancelled", "failed", "expired", "incomplete"})
#: ``expires_at`` is ``created_at`` plus ten minutes while a run is active.
EXPIRY_SECONDS = 600


def usage_dict(prompt_tokens: int, completion_tokens: int) -> JsonDict:
    """Return a usage object as runs and steps carry it (the 2025 shape, with the token details)."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_token_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


@dataclass
class ToolCall:
    """A function call a run asks the client to make (and, once submitted, its output)."""

    id: str
    name: str
    arguments: str
    output: str | None = None


def text_content(value: str) -> JsonDict:
    """Return one text content part of a message."""
    return {"type": "text", "text": {"value": value, "annotations": []}}


@dataclass
class Assistant:
    """An assistant: the defaults (model, instructions, tools) its runs start from."""

    id: str
    created_at: int
    model: str
    name: str | None = None
    description: str | None = None
    instructions: str | None = None
    tools: list[JsonDict] = field(default_factory=list)
    top_p: float = 1.0
    temperature: float = 1.0
    reasoning_effort: str | None = None
    tool_resources: JsonDict = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    response_format: Any = "auto"
    #: Deleted objects stay in memory (runs still point at them) but answer 404 to clients.
    deleted: bool = False

    def to_dict(self) -> JsonDict:
        """Return the ``assistant`` object."""
        return copy.deepcopy(
            {
                "id": self.id,
                "object": "assistant",
                "created_at": self.created_at,
                "name": self.name,
                "description": self.description,
                "model": self.model,
                "instructions": self.instructions,
                "tools": self.tools,
                "top_p": self.top_p,
                "temperature": self.temperature,
                "reasoning_effort": self.reasoning_effort,
                "tool_resources": self.tool_resources,
                "metadata": self.metadata,
                "response_format": self.response_format,
            }
        )


@dataclass
class Thread:
    """A thread: its messages and runs, oldest first."""

    id: str
    created_at: int
    metadata: dict[str, str] = field(default_factory=dict)
    tool_resources: JsonDict = field(default_factory=dict)
    message_ids: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    #: Deleted objects stay in memory (a stream may still be writing to them) but answer 404 to clients.
    deleted: bool = False

    def to_dict(self) -> JsonDict:
        """Return the ``thread`` object."""
        return copy.deepcopy(
            {
                "id": self.id,
                "object": "thread",
                "created_at": self.created_at,
                "metadata": self.metadata,
                "tool_resources": self.tool_resources,
            }
        )


@dataclass
class Message:
    """A thread message, written by the user or by a run."""

    id: str
    created_at: int
    thread_id: str
    role: str
    content: list[JsonDict]
    assistant_id: str | None = None
    run_id: str | None = None
    status: str = "completed"
    incomplete_details: JsonDict | None = None
    incomplete_at: int | None = None
    completed_at: int | None = None
    attachments: list[JsonDict] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> JsonDict:
        """Return the ``thread.message`` object (the same shape in JSON bodies and in stream events)."""
        return copy.deepcopy(
            {
                "id": self.id,
                "object": "thread.message",
                "created_at": self.created_at,
                "assistant_id": self.assistant_id,
                "thread_id": self.thread_id,
                "run_id": self.run_id,
                "status": self.status,
                "incomplete_details": self.incomplete_details,
                "incomplete_at": self.incomplete_at,
                "completed_at": self.completed_at,
                "role": self.role,
                "content": self.content,
                "attachments": self.attachments,
                "metadata": self.metadata,
            }
        )

    def text(self) -> str:
        """Return the concatenated text parts (used to count prompt tokens)."""
        parts = [part["text"]["value"] for part in self.content if part.get("type") == "text"]
        return " ".join(str(part) for part in parts)


@dataclass
class Step:
    """A run step: a ``tool_calls`` step (function calls or code) or the ``message_creation`` step of a reply."""

    id: str
    created_at: int
    run_id: str
    assistant_id: str
    thread_id: str
    type: str
    step_details: JsonDict
    status: str = "in_progress"
    cancelled_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    last_error: JsonDict | None = None
    usage: JsonDict | None = None

    def to_dict(self, expires_at: int | None) -> JsonDict:
        """Return the ``thread.run.step`` object; ``expires_at`` follows the run's (null once it finished)."""
        return copy.deepcopy(
            {
                "id": self.id,
                "object": "thread.run.step",
                "created_at": self.created_at,
                "run_id": self.run_id,
                "assistant_id": self.assistant_id,
                "thread_id": self.thread_id,
                "type": self.type,
                "status": self.status,
                "cancelled_at": self.cancelled_at,
                "completed_at": self.completed_at,
                "expires_at": expires_at,
                "failed_at": self.failed_at,
                "last_error": self.last_error,
                "step_details": self.step_details,
                "usage": self.usage,
            }
        )


@dataclass
class Run:
    """A run plus the emulator's bookkeeping for where it is in its scenario."""

    id: str
    created_at: int
    assistant_id: str
    thread_id: str
    model: str
    instructions: str | None
    tools: list[JsonDict]
    metadata: dict[str, str]
    scenario: Scenario
    #: What the run does, in order (see :func:`pytest_runs.emulator.scenarios.plan_run`).
    phases: list[Phase] = field(default_factory=list)
    status: str = "queued"
    started_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    completed_at: int | None = None
    required_action: JsonDict | None = None
    last_error: JsonDict | None = None
    tool_resources: JsonDict = field(default_factory=dict)
    temperature: float | None = 1.0
    top_p: float | None = 1.0
    reasoning_effort: str | None = None
    max_completion_tokens: int | None = None
    max_prompt_tokens: int | None = None
    truncation_strategy: JsonDict = field(default_factory=lambda: {"type": "auto", "last_messages": None})
    incomplete_details: JsonDict | None = None
    usage: JsonDict | None = None
    response_format: Any = "auto"
    tool_choice: Any = "auto"
    parallel_tool_calls: bool = True
    # --- bookkeeping, never serialised ---
    #: Index in :attr:`phases` of what the run does next (or is doing).
    phase_index: int = 0
    #: Retrieves still answered ``in_progress`` before the run moves to its next resting state.
    polls_left: int = 0
    #: The calls of the current ``tools`` phase, fixed when its step is created.
    pending_calls: list[ToolCall] = field(default_factory=list)
    #: Every output the client submitted, in order (the default reply quotes them).
    tool_outputs: list[str] = field(default_factory=list)
    step_ids: list[str] = field(default_factory=list)
    #: The step / message the run is working on (kept so a cut stream can be finished by polling).
    pending_step_id: str | None = None
    pending_message_id: str | None = None
    #: Set when the reply was cut by ``max_completion_tokens``: the run then ends ``incomplete``.
    cut_short: bool = False
    #: True while a stream owns the run: retrieves then report the state without advancing it.
    streaming: bool = False

    @property
    def phase(self) -> Phase | None:
        """What the run does next, or None when only finishing is left."""
        return self.phases[self.phase_index] if self.phase_index < len(self.phases) else None

    @property
    def awaiting_tools(self) -> bool:
        """Whether the run's next resting state is ``requires_action``."""
        phase = self.phase
        return phase is not None and phase.kind == "tools"

    @property
    def terminal(self) -> bool:
        """Whether the run has finished."""
        return self.status in TERMINAL_STATUSES

    @property
    def expires_at(self) -> int | None:
        """``created_at + 600`` while the run is active, null once it finished."""
        return None if self.terminal else self.created_at + EXPIRY_SECONDS

    def to_dict(self) -> JsonDict:
        """Return the ``thread.run`` object."""
        return copy.deepcopy(
            {
                "id": self.id,
                "object": "thread.run",
                "created_at": self.created_at,
                "assistant_id": self.assistant_id,
                "thread_id": self.thread_id,
                "status": self.status,
                "started_at": self.started_at,
                "expires_at": self.expires_at,
                "cancelled_at": self.cancelled_at,
                "failed_at": self.failed_at,
                "completed_at": self.completed_at,
                "required_action": self.required_action,
                "last_error": self.last_error,
                "model": self.model,
                "instructions": self.instructions,
                "tools": self.tools,
                "tool_resources": self.tool_resources,
                "metadata": self.metadata,
                "temperature": self.temperature,
                "top_p": self.top_p,
                "reasoning_effort": self.reasoning_effort,
                "max_completion_tokens": self.max_completion_tokens,
                "max_prompt_tokens": self.max_prompt_tokens,
                "truncation_strategy": self.truncation_strategy,
                "incomplete_details": self.incomplete_details,
                "usage": self.usage,
                "response_format": self.response_format,
                "tool_choice": self.tool_choice,
                "parallel_tool_calls": self.parallel_tool_calls,
            }
        )
