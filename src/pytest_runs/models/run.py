"""The Run object (``thread.run``), its nested parts, and the nine documented run statuses."""

from __future__ import annotations

from typing import Any, Final, Literal, get_args

from pydantic import model_validator

from ._base import _Response
from .tools import ResponseFormat, Tool, ToolChoice, TruncationStrategy, Usage

__all__ = [
    "RUN_STATUSES",
    "IncompleteDetails",
    "LastError",
    "RequiredAction",
    "RequiredActionFunction",
    "RequiredActionFunctionToolCall",
    "RequiredActionSubmitToolOutputs",
    "Run",
    "RunStatus",
]


RunStatus = Literal[
    "queued",
    "in_progress",
    "requires_action",
    "cancelling",
    "cancelled",
    "failed",
    "completed",
    "incomplete",
    "expired",
]
"""The nine documented statuses of a run."""

RUN_STATUSES: Final[tuple[str, ...]] = get_args(RunStatus)
"""The nine documented statuses of a run, in the reference's order."""


class IncompleteDetails(_Response):
    """Why a run is incomplete (which token limit it reached)."""

    reason: str | None = None


class LastError(_Response):
    """The last error of a run."""

    code: str
    message: str


class RequiredActionFunction(_Response):
    """The function call a run waits on: its name and JSON-encoded arguments."""

    arguments: str
    name: str


class RequiredActionFunctionToolCall(_Response):
    """A tool call whose output the run needs (its ``id`` is what the tool output refers to)."""

    id: str
    function: RequiredActionFunction
    type: str


class RequiredActionSubmitToolOutputs(_Response):
    """The tool calls whose outputs the run needs to continue."""

    tool_calls: list[RequiredActionFunctionToolCall]


class RequiredAction(_Response):
    """What a run in ``requires_action`` needs to continue."""

    submit_tool_outputs: RequiredActionSubmitToolOutputs
    type: str


class Run(_Response):
    """An execution run on a thread (the ``thread.run`` object).

    The fields, their order and which of them are required are those of the SDK's
    ``openai.types.beta.threads.Run``; for the same payload both give the same ``model_dump(mode="json")``.
    Two allowances for real recordings, both matching how the SDK's client builds the object: ``instructions`` may
    be ``null`` (the live API sends it), and a required field that may be ``null`` is ``None`` when a payload
    recorded before the API had it lacks it (``parallel_tool_calls`` arrived in 2024).
    """

    id: str
    """The identifier, which can be referenced in API endpoints."""
    assistant_id: str
    """The ID of the assistant used for execution of this run."""
    cancelled_at: int | None = None
    """Unix time (seconds) at which the run was cancelled."""
    completed_at: int | None = None
    """Unix time (seconds) at which the run was completed."""
    created_at: int
    """Unix time (seconds) at which the run was created."""
    expires_at: int | None = None
    """Unix time (seconds) at which the run will expire."""
    failed_at: int | None = None
    """Unix time (seconds) at which the run failed."""
    incomplete_details: IncompleteDetails | None = None
    """Why the run is incomplete; ``None`` unless it is."""
    instructions: str | None
    """The instructions the assistant used for this run."""
    last_error: LastError | None = None
    """The last error of the run; ``None`` if there was none."""
    max_completion_tokens: int | None = None
    """The completion-token limit the run was given."""
    max_prompt_tokens: int | None = None
    """The prompt-token limit the run was given."""
    metadata: dict[str, Any] | None = None
    """Up to 16 key-value pairs attached to the run."""
    model: str
    """The model the assistant used for this run."""
    object: Literal["thread.run"]
    """Always ``thread.run``."""
    parallel_tool_calls: bool | None
    """Whether parallel function calling is enabled during tool use."""
    required_action: RequiredAction | None = None
    """What the run needs to continue; ``None`` unless it is ``requires_action``."""
    response_format: str | ResponseFormat | None = None
    """``"auto"`` or the format the model must output."""
    started_at: int | None = None
    """Unix time (seconds) at which the run was started."""
    status: RunStatus
    """One of the nine documented statuses."""
    thread_id: str
    """The thread the run executes on."""
    tool_choice: str | ToolChoice | None = None
    """``none``, ``auto``, ``required`` or a named tool."""
    tools: list[Tool]
    """The tools the assistant used for this run."""
    truncation_strategy: TruncationStrategy | None = None
    """How the thread was truncated before the run."""
    usage: Usage | None = None
    """Token usage; ``None`` until the run reaches a terminal state."""
    temperature: float | None = None
    """The sampling temperature of the run."""
    top_p: float | None = None
    """The nucleus-sampling value of the run."""

    @model_validator(mode="before")
    @classmethod
    def _absent_means_null(cls, data: Any) -> Any:
        # Required-but-nullable fields: a payload from before the API had them parses with None (like the SDK).
        if isinstance(data, dict) and any(name not in data for name in _NULLABLE_REQUIRED):
            data = {**dict.fromkeys(_NULLABLE_REQUIRED), **data}
        return data


_NULLABLE_REQUIRED: Final[tuple[str, ...]] = ("instructions", "parallel_tool_calls")
