"""Pydantic models of the Assistants *run* API: the ``Run`` object, the run-creation parameters, and stream events.

Written from the SDK reference pages in ``shared/seeds`` (``RunCreateParams``, ``RunCreateAndStreamParams``,
``ThreadCreateAndRunStreamParams`` and ``Run``).

Two families, with opposite attitudes:

* **Response-side models** (:class:`Run`, :class:`Thread`, :class:`Message`, :class:`RunStep`, the deltas,
  :class:`ErrorObject`) describe what a server sent. Cassettes outlive API versions, so these models never reject
  what the live API adds later: unknown fields are kept (``extra="allow"``), fields the reference marks nullable or
  optional default to ``None``, values of open-ended enumerations (tool types, content kinds, error codes) are plain
  strings or fall back to an ``Other...`` model, and nothing is checked across fields (a ``thread.run.completed``
  event whose run says ``"status": "incomplete"`` is kept as it is). :class:`Run` has exactly the fields, order and
  required fields of the SDK's ``openai.types.beta.threads.Run``, so both dump to the same dict.
* **Parameter models** (:class:`RunCreateParams`, :class:`ThreadCreateAndRunParams`) describe what a client sent,
  and enforce the constraints the reference documents (metadata size, ``temperature`` and ``top_p`` ranges,
  ``tool_choice``, ``truncation_strategy``, ``response_format``, token limits). Every violation is reported as one
  message that names the field and the limit, e.g. ``temperature: must be between 0 and 2, got 3.5``.

Stream events are parsed by :func:`parse_event` into one class per event name (all subclasses of
:class:`StreamEvent`); names it does not know, and payloads that do not fit their event, become an
:class:`UnknownEvent` that keeps the data as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, Literal, Self, cast, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

__all__ = [
    "CONSTRAINT_ERROR",
    "EVENT_NAMES",
    "MAX_METADATA_KEY_LENGTH",
    "MAX_METADATA_PAIRS",
    "MAX_METADATA_VALUE_LENGTH",
    "MIN_TOKEN_LIMIT",
    "RUN_STATUSES",
    "AdditionalMessage",
    "AssistantStreamEvent",
    "CodeInterpreterCall",
    "CodeInterpreterResources",
    "CodeInterpreterTool",
    "CodeInterpreterToolCall",
    "DoneEvent",
    "ErrorEnvelope",
    "ErrorEvent",
    "ErrorObject",
    "FileSearch",
    "FileSearchRankingOptions",
    "FileSearchResources",
    "FileSearchTool",
    "FileSearchToolCall",
    "FunctionCall",
    "FunctionDefinition",
    "FunctionTool",
    "FunctionToolCall",
    "ImageFile",
    "ImageFileContentBlock",
    "ImageFileDeltaBlock",
    "ImageURL",
    "ImageURLContentBlock",
    "ImageURLDeltaBlock",
    "IncompleteDetails",
    "JSONSchema",
    "LastError",
    "Message",
    "MessageAttachment",
    "MessageContent",
    "MessageCreation",
    "MessageCreationStepDetails",
    "MessageDelta",
    "MessageDeltaContent",
    "MessageDeltaDetail",
    "MessageEvent",
    "MessageIncompleteDetails",
    "OtherContentBlock",
    "OtherDeltaBlock",
    "OtherResponseFormat",
    "OtherStepDetails",
    "OtherTool",
    "OtherToolCall",
    "RefusalContentBlock",
    "RefusalDeltaBlock",
    "RequiredAction",
    "RequiredActionFunction",
    "RequiredActionFunctionToolCall",
    "RequiredActionSubmitToolOutputs",
    "ResponseFormat",
    "ResponseFormatJSONObject",
    "ResponseFormatJSONSchema",
    "ResponseFormatText",
    "Run",
    "RunCreateParams",
    "RunEvent",
    "RunStatus",
    "RunStep",
    "RunStepDelta",
    "RunStepDeltaDetail",
    "RunStepEvent",
    "StepDetails",
    "StepDetailsDelta",
    "StreamEvent",
    "TextContent",
    "TextContentBlock",
    "TextDelta",
    "TextDeltaBlock",
    "Thread",
    "ThreadCreateAndRunParams",
    "ThreadCreated",
    "ThreadMessageCompleted",
    "ThreadMessageCreated",
    "ThreadMessageDelta",
    "ThreadMessageInProgress",
    "ThreadMessageIncomplete",
    "ThreadParam",
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
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallsStepDetails",
    "ToolChoice",
    "ToolChoiceFunction",
    "ToolResources",
    "TruncationStrategy",
    "UnknownEvent",
    "Usage",
    "parse_event",
]


# ---------------------------------------------------------------------------------------------------------------------
# Shared building blocks
# ---------------------------------------------------------------------------------------------------------------------


class _Response(BaseModel):
    """Base of the response-side models: whatever the server adds later is kept, never rejected."""

    model_config = ConfigDict(extra="allow")


def _tag_of(known: frozenset[str], field: str = "type") -> Callable[[Any], str]:
    """A discriminator that picks the model named by ``field``, or ``"other"`` for a value it does not know."""

    def tag(value: Any) -> str:
        kind = value.get(field) if isinstance(value, dict) else getattr(value, field, None)
        return kind if isinstance(kind, str) and kind in known else "other"

    return tag


class _Other(_Response):
    """A variant of an open union that this release does not know: its ``type`` and every other field are kept."""

    type: str | None = None


class Usage(_Response):
    """Token usage of a run or a run step (present once it reached a terminal state)."""

    completion_tokens: int
    prompt_tokens: int
    total_tokens: int


# -- tools ------------------------------------------------------------------------------------------------------------


class CodeInterpreterTool(_Response):
    """The ``code_interpreter`` tool."""

    type: Literal["code_interpreter"]


class FileSearchRankingOptions(_Response):
    """How file search ranks its results."""

    score_threshold: float
    ranker: str | None = None


class FileSearch(_Response):
    """Overrides for the ``file_search`` tool."""

    max_num_results: int | None = None
    ranking_options: FileSearchRankingOptions | None = None


class FileSearchTool(_Response):
    """The ``file_search`` tool."""

    type: Literal["file_search"]
    file_search: FileSearch | None = None


class FunctionDefinition(_Response):
    """A function the model may call: its name, description and JSON-Schema parameters."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(_Response):
    """The ``function`` tool."""

    function: FunctionDefinition
    type: Literal["function"]


class OtherTool(_Other):
    """A tool of a type this release does not know (for example the v1 ``retrieval`` tool): kept as recorded."""


Tool = Annotated[
    Annotated[CodeInterpreterTool, Tag("code_interpreter")]
    | Annotated[FileSearchTool, Tag("file_search")]
    | Annotated[FunctionTool, Tag("function")]
    | Annotated[OtherTool, Tag("other")],
    Discriminator(_tag_of(frozenset({"code_interpreter", "file_search", "function"}))),
]
"""A tool of an assistant or a run, discriminated on ``type``."""


# -- tool choice, response format, truncation --------------------------------------------------------------------------


class ToolChoiceFunction(_Response):
    """The function a named ``tool_choice`` forces."""

    name: str


class ToolChoice(_Response):
    """A named tool choice: ``{"type": "file_search"}`` or ``{"type": "function", "function": {"name": ...}}``."""

    type: str
    function: ToolChoiceFunction | None = None


class ResponseFormatText(_Response):
    """``{"type": "text"}``: the model answers with text."""

    type: Literal["text"]


class ResponseFormatJSONObject(_Response):
    """``{"type": "json_object"}``: JSON mode."""

    type: Literal["json_object"]


class JSONSchema(_Response):
    """The schema of a ``json_schema`` response format (stored under the key ``schema``)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    name: str
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormatJSONSchema(_Response):
    """``{"type": "json_schema", "json_schema": {...}}``: Structured Outputs."""

    json_schema: JSONSchema
    type: Literal["json_schema"]


class OtherResponseFormat(_Other):
    """A response format of a type this release does not know: kept as recorded."""


ResponseFormat = Annotated[
    Annotated[ResponseFormatText, Tag("text")]
    | Annotated[ResponseFormatJSONObject, Tag("json_object")]
    | Annotated[ResponseFormatJSONSchema, Tag("json_schema")]
    | Annotated[OtherResponseFormat, Tag("other")],
    Discriminator(_tag_of(frozenset({"text", "json_object", "json_schema"}))),
]
"""A ``response_format`` given as an object, discriminated on ``type``."""


class TruncationStrategy(_Response):
    """How a thread is truncated before the run: ``auto``, or the ``last_messages`` most recent messages."""

    type: str
    last_messages: int | None = None


# ---------------------------------------------------------------------------------------------------------------------
# The Run object
# ---------------------------------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------------------------------
# Threads, messages, run steps, deltas, errors
# ---------------------------------------------------------------------------------------------------------------------


class CodeInterpreterResources(_Response):
    """The files the ``code_interpreter`` tool may use."""

    file_ids: list[str] | None = None


class FileSearchResources(_Response):
    """The vector stores the ``file_search`` tool may use."""

    vector_store_ids: list[str] | None = None


class ToolResources(_Response):
    """Resources made available to the tools of a thread, by tool type."""

    code_interpreter: CodeInterpreterResources | None = None
    file_search: FileSearchResources | None = None


class Thread(_Response):
    """A thread (the ``thread`` object, data of ``thread.created``)."""

    id: str
    created_at: int | None = None
    metadata: dict[str, Any] | None = None
    object: Literal["thread"]
    tool_resources: ToolResources | None = None


class TextContent(_Response):
    """The text of a message and its annotations (file citations, file paths)."""

    value: str
    annotations: list[dict[str, Any]] | None = None


class TextContentBlock(_Response):
    """A text part of a message."""

    type: Literal["text"]
    text: TextContent


class ImageFile(_Response):
    """An image stored as a file."""

    file_id: str
    detail: str | None = None


class ImageFileContentBlock(_Response):
    """An image-file part of a message."""

    type: Literal["image_file"]
    image_file: ImageFile


class ImageURL(_Response):
    """An image given by URL."""

    url: str
    detail: str | None = None


class ImageURLContentBlock(_Response):
    """An image-URL part of a message."""

    type: Literal["image_url"]
    image_url: ImageURL


class RefusalContentBlock(_Response):
    """A refusal by the model."""

    type: Literal["refusal"]
    refusal: str


class OtherContentBlock(_Other):
    """A message part of a type this release does not know: kept as recorded."""


MessageContent = Annotated[
    Annotated[TextContentBlock, Tag("text")]
    | Annotated[ImageFileContentBlock, Tag("image_file")]
    | Annotated[ImageURLContentBlock, Tag("image_url")]
    | Annotated[RefusalContentBlock, Tag("refusal")]
    | Annotated[OtherContentBlock, Tag("other")],
    Discriminator(_tag_of(frozenset({"text", "image_file", "image_url", "refusal"}))),
]
"""One part of a message's content, discriminated on ``type``."""


class MessageAttachment(_Response):
    """A file attached to a message and the tools it is for."""

    file_id: str | None = None
    tools: list[dict[str, Any]] | None = None


class MessageIncompleteDetails(_Response):
    """Why a message is incomplete."""

    reason: str | None = None


class Message(_Response):
    """A message in a thread (the ``thread.message`` object).

    Fields that early versions of the API did not send (``status``, ``attachments``, ...) default to ``None``.
    """

    id: str
    assistant_id: str | None = None
    attachments: list[MessageAttachment] | None = None
    completed_at: int | None = None
    content: list[MessageContent] | None = None
    created_at: int | None = None
    incomplete_at: int | None = None
    incomplete_details: MessageIncompleteDetails | None = None
    metadata: dict[str, Any] | None = None
    object: Literal["thread.message"]
    role: str | None = None
    run_id: str | None = None
    status: str | None = None
    thread_id: str | None = None


class TextDelta(_Response):
    """A piece of text added to a message."""

    value: str | None = None
    annotations: list[dict[str, Any]] | None = None


class TextDeltaBlock(_Response):
    """A text piece of a message delta."""

    index: int
    type: Literal["text"]
    text: TextDelta | None = None


class ImageFileDeltaBlock(_Response):
    """An image-file piece of a message delta."""

    index: int
    type: Literal["image_file"]
    image_file: dict[str, Any] | None = None


class ImageURLDeltaBlock(_Response):
    """An image-URL piece of a message delta."""

    index: int
    type: Literal["image_url"]
    image_url: dict[str, Any] | None = None


class RefusalDeltaBlock(_Response):
    """A refusal piece of a message delta."""

    index: int
    type: Literal["refusal"]
    refusal: str | None = None


class OtherDeltaBlock(_Other):
    """A message-delta piece of a type this release does not know: kept as recorded."""

    index: int | None = None


MessageDeltaContent = Annotated[
    Annotated[TextDeltaBlock, Tag("text")]
    | Annotated[ImageFileDeltaBlock, Tag("image_file")]
    | Annotated[ImageURLDeltaBlock, Tag("image_url")]
    | Annotated[RefusalDeltaBlock, Tag("refusal")]
    | Annotated[OtherDeltaBlock, Tag("other")],
    Discriminator(_tag_of(frozenset({"text", "image_file", "image_url", "refusal"}))),
]
"""One piece of a message delta, discriminated on ``type``."""


class MessageDeltaDetail(_Response):
    """What changed in a message: new content pieces (by ``index``) and possibly the role."""

    content: list[MessageDeltaContent] | None = None
    role: str | None = None


class MessageDelta(_Response):
    """A change to a message while it streams (the ``thread.message.delta`` object)."""

    id: str
    delta: MessageDeltaDetail
    object: Literal["thread.message.delta"]


class MessageCreation(_Response):
    """The message a ``message_creation`` step created."""

    message_id: str


class MessageCreationStepDetails(_Response):
    """Details of a step that created a message."""

    message_creation: MessageCreation
    type: Literal["message_creation"]


class CodeInterpreterCall(_Response):
    """What the code interpreter ran and what came out."""

    input: str | None = None
    outputs: list[dict[str, Any]] | None = None


class CodeInterpreterToolCall(_Response):
    """A call of the code interpreter."""

    id: str | None = None
    type: Literal["code_interpreter"]
    code_interpreter: CodeInterpreterCall | None = None


class FileSearchToolCall(_Response):
    """A call of file search (the results are included only when asked with ``include``)."""

    id: str | None = None
    type: Literal["file_search"]
    file_search: dict[str, Any] | None = None


class FunctionCall(_Response):
    """A function call: name, JSON-encoded arguments, and the output once submitted."""

    name: str | None = None
    arguments: str | None = None
    output: str | None = None


class FunctionToolCall(_Response):
    """A call of a function tool."""

    id: str | None = None
    type: Literal["function"]
    function: FunctionCall | None = None


class OtherToolCall(_Other):
    """A tool call of a type this release does not know: kept as recorded."""


ToolCall = Annotated[
    Annotated[CodeInterpreterToolCall, Tag("code_interpreter")]
    | Annotated[FileSearchToolCall, Tag("file_search")]
    | Annotated[FunctionToolCall, Tag("function")]
    | Annotated[OtherToolCall, Tag("other")],
    Discriminator(_tag_of(frozenset({"code_interpreter", "file_search", "function"}))),
]
"""A tool call of a run step (or a piece of one, in a delta), discriminated on ``type``."""


class ToolCallsStepDetails(_Response):
    """Details of a step that called tools."""

    tool_calls: list[ToolCall]
    type: Literal["tool_calls"]


class OtherStepDetails(_Other):
    """Step details of a type this release does not know: kept as recorded."""


StepDetails = Annotated[
    Annotated[MessageCreationStepDetails, Tag("message_creation")]
    | Annotated[ToolCallsStepDetails, Tag("tool_calls")]
    | Annotated[OtherStepDetails, Tag("other")],
    Discriminator(_tag_of(frozenset({"message_creation", "tool_calls"}))),
]
"""The details of a run step, discriminated on ``type``."""


class RunStep(_Response):
    """A step of a run (the ``thread.run.step`` object): creating a message or calling tools."""

    id: str
    assistant_id: str | None = None
    cancelled_at: int | None = None
    completed_at: int | None = None
    created_at: int | None = None
    expired_at: int | None = None
    failed_at: int | None = None
    last_error: LastError | None = None
    metadata: dict[str, Any] | None = None
    object: Literal["thread.run.step"]
    run_id: str | None = None
    status: str | None = None
    step_details: StepDetails | None = None
    thread_id: str | None = None
    type: str | None = None
    usage: Usage | None = None


class ToolCallDelta(_Response):
    """A piece of a tool call while a step streams: which call (``index``) and what was added."""

    index: int
    id: str | None = None
    type: str | None = None
    code_interpreter: CodeInterpreterCall | None = None
    file_search: dict[str, Any] | None = None
    function: FunctionCall | None = None


class StepDetailsDelta(_Response):
    """What changed in a step's details (``tool_calls`` pieces, or the message a step created)."""

    type: str
    tool_calls: list[ToolCallDelta] | None = None
    message_creation: dict[str, Any] | None = None


class RunStepDeltaDetail(_Response):
    """What changed in a run step."""

    step_details: StepDetailsDelta | None = None


class RunStepDelta(_Response):
    """A change to a run step while it streams (the ``thread.run.step.delta`` object)."""

    id: str
    delta: RunStepDeltaDetail
    object: Literal["thread.run.step.delta"]


class ErrorObject(_Response):
    """An API error: message, type, and the parameter and code when known."""

    code: str | None = None
    message: str
    param: str | None = None
    type: str


class ErrorEnvelope(_Response):
    """An error wrapped as in an HTTP error body, ``{"error": {...}}`` (seen as the data of stream ``error`` events)."""

    error: ErrorObject


# ---------------------------------------------------------------------------------------------------------------------
# Stream events
# ---------------------------------------------------------------------------------------------------------------------


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


def _path(loc: tuple[int | str, ...]) -> str:
    """``("additional_messages", 0, "content")`` -> ``additional_messages[0].content``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _describe(error: ErrorDetails) -> str:
    """One pydantic error as ``path: message``."""
    where = _path(error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


# ---------------------------------------------------------------------------------------------------------------------
# Run-creation parameters and their documented constraints
# ---------------------------------------------------------------------------------------------------------------------

MAX_METADATA_PAIRS: Final = 16
"""Metadata holds at most 16 key-value pairs."""
MAX_METADATA_KEY_LENGTH: Final = 64
"""Metadata keys are at most 64 characters long."""
MAX_METADATA_VALUE_LENGTH: Final = 512
"""Metadata values are at most 512 characters long."""
MIN_TOKEN_LIMIT: Final = 1
"""``max_prompt_tokens`` and ``max_completion_tokens`` must be positive (the reference gives no other minimum)."""

CONSTRAINT_ERROR: Final = "run_param_constraint"
"""The pydantic error type of a broken documented constraint; its message is the whole ``field: problem`` text."""

_UNCHECKED: Final = "pytest_runs.unchecked_constraints"
_TOOL_CHOICE_MODES: Final = ("none", "auto", "required")
_TOOL_CHOICE_TYPES: Final = ("function", "code_interpreter", "file_search")
_TRUNCATION_TYPES: Final = ("auto", "last_messages")
_RESPONSE_FORMAT_TYPES: Final = ("text", "json_object", "json_schema")


def _show(value: Any) -> str:
    """A value as a message shows it: its repr, long strings cut to their first 24 characters and ``...``."""
    if isinstance(value, str) and len(value) > 27:
        return repr(value[:24] + "...")
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_metadata(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [f"{path}: must be an object of string keys and values, got {type(value).__name__}"]
    problems = []
    if len(value) > MAX_METADATA_PAIRS:
        problems.append(f"{path}: at most {MAX_METADATA_PAIRS} key-value pairs, got {len(value)}")
    for key, item in value.items():
        if isinstance(key, str) and len(key) > MAX_METADATA_KEY_LENGTH:
            problems.append(
                f"{path}: keys are at most {MAX_METADATA_KEY_LENGTH} characters, got {len(key)} for key {_show(key)}"
            )
        if isinstance(item, str) and len(item) > MAX_METADATA_VALUE_LENGTH:
            problems.append(
                f"{path}: values are at most {MAX_METADATA_VALUE_LENGTH} characters, got {len(item)}"
                f" for key {_show(key)}"
            )
    return problems


def _range_check(low: int, high: int) -> Callable[[Any, str], list[str]]:
    def check(value: Any, path: str) -> list[str]:
        if _is_number(value) and not low <= value <= high:
            return [f"{path}: must be between {low} and {high}, got {_show(value)}"]
        return []

    return check


def _check_token_limit(value: Any, path: str) -> list[str]:
    if _is_number(value) and value < MIN_TOKEN_LIMIT:
        return [f"{path}: must be at least {MIN_TOKEN_LIMIT}, got {_show(value)}"]
    return []


def _check_tool_choice(value: Any, path: str) -> list[str]:
    if value is None or value in _TOOL_CHOICE_MODES:
        return []
    if not isinstance(value, Mapping):
        return [f"{path}: must be 'none', 'auto', 'required' or a named tool, got {_show(value)}"]
    kind = value.get("type")
    if kind not in _TOOL_CHOICE_TYPES:
        return [f"{path}.type: must be 'function', 'code_interpreter' or 'file_search', got {_show(kind)}"]
    function = value.get("function")
    if kind == "function" and not (isinstance(function, Mapping) and isinstance(function.get("name"), str)):
        return [f"{path}.function.name: required when type is 'function'"]
    return []


def _check_truncation_strategy(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [f"{path}: must be an object with type 'auto' or 'last_messages', got {_show(value)}"]
    kind = value.get("type")
    if kind not in _TRUNCATION_TYPES:
        return [f"{path}.type: must be 'auto' or 'last_messages', got {_show(kind)}"]
    last_messages = value.get("last_messages")
    if last_messages is None and kind == "last_messages":
        return [f"{path}.last_messages: required when type is 'last_messages'"]
    if last_messages is not None and _is_number(last_messages) and last_messages < 1:
        return [f"{path}.last_messages: must be at least 1, got {_show(last_messages)}"]
    return []


def _check_response_format(value: Any, path: str) -> list[str]:
    if value is None or value == "auto":
        return []
    if not isinstance(value, Mapping):
        return [
            f"{path}: must be 'auto' or an object with type 'text', 'json_object' or 'json_schema',"
            f" got {_show(value)}"
        ]
    kind = value.get("type")
    if kind not in _RESPONSE_FORMAT_TYPES:
        return [f"{path}.type: must be 'text', 'json_object' or 'json_schema', got {_show(kind)}"]
    if kind == "json_schema" and not isinstance(value.get("json_schema"), Mapping):
        return [f"{path}.json_schema: required when type is 'json_schema'"]
    return []


def _check_messages_metadata(value: Any, path: str) -> list[str]:
    if not isinstance(value, list):
        return []
    problems: list[str] = []
    for index, message in enumerate(value):
        if isinstance(message, Mapping):
            problems.extend(_check_metadata(message.get("metadata"), f"{path}[{index}].metadata"))
    return problems


def _check_thread(value: Any, path: str) -> list[str]:
    if not isinstance(value, Mapping):
        return []
    return _check_metadata(value.get("metadata"), f"{path}.metadata") + _check_messages_metadata(
        value.get("messages"), f"{path}.messages"
    )


_CHECKS: Final[dict[str, Callable[[Any, str], list[str]]]] = {
    "additional_messages": _check_messages_metadata,
    "max_completion_tokens": _check_token_limit,
    "max_prompt_tokens": _check_token_limit,
    "metadata": _check_metadata,
    "response_format": _check_response_format,
    "temperature": _range_check(0, 2),
    "thread": _check_thread,
    "tool_choice": _check_tool_choice,
    "top_p": _range_check(0, 1),
    "truncation_strategy": _check_truncation_strategy,
}


class _Params(BaseModel):
    """Base of the parameter models: the documented constraints, checked field by field."""

    # Parameters the API accepts that these models do not name (``reasoning_effort``, ...) are kept, not refused.
    model_config = ConfigDict(extra="allow")

    @field_validator(*_CHECKS, mode="before", check_fields=False)
    @classmethod
    def _documented_constraints(cls, value: Any, info: ValidationInfo) -> Any:
        context = info.context
        if isinstance(context, Mapping) and context.get(_UNCHECKED):
            return value
        problems = _CHECKS[info.field_name or ""](value, info.field_name or "")
        if problems:
            raise PydanticCustomError(CONSTRAINT_ERROR, "{problem}", {"problem": "; ".join(problems)})
        return value

    @classmethod
    def problems(cls, body: Any) -> list[str]:
        """Every problem of a request body, one ``field: problem`` message each; empty when the body is valid.

        The documented constraints come first (all of them, even several in one field), then what does not fit the
        model at all (a missing ``assistant_id``, a string where a number belongs, ...).
        """
        if not isinstance(body, Mapping):
            return [f"body: must be a JSON object, got {type(body).__name__}"]
        found: list[str] = []
        checked: set[tuple[int | str, ...]] = set()
        for name in cls.model_fields:
            if name in _CHECKS and (problems := _CHECKS[name](body.get(name), name)):
                found.extend(problems)
                checked.add((name,))
        try:
            cls.model_validate(body, context={_UNCHECKED: True})
        except ValidationError as error:
            # A field whose constraint message is already there would only repeat it in pydantic's words.
            found.extend(
                _describe(item) for item in error.errors(include_url=False) if item["loc"][:1] not in checked
            )
        return found

    @classmethod
    def from_recorded(cls, body: Mapping[str, Any]) -> Self:
        """The parameters of a recorded request body, whether or not it keeps the documented constraints.

        The body is validated for its types only; a body that does not even fit the types is taken as it is,
        unvalidated (``model_construct``). Use :meth:`problems` to learn what is wrong with it.
        """
        try:
            return cls.model_validate(body, context={_UNCHECKED: True})
        except ValidationError:
            # (the pydantic plugin types model_construct as returning the declaring class, not the subclass)
            return cast(Self, cls.model_construct(**{str(key): value for key, value in body.items()}))


class AdditionalMessage(BaseModel):
    """A message added to the thread before the run (``additional_messages``, or ``thread.messages``)."""

    model_config = ConfigDict(extra="allow")

    content: str | list[dict[str, Any]]
    role: str
    attachments: list[MessageAttachment] | None = None
    metadata: dict[str, str] | None = None


class ThreadParam(BaseModel):
    """The thread to create (``thread`` of :class:`ThreadCreateAndRunParams`); an empty one when omitted."""

    model_config = ConfigDict(extra="allow")

    messages: list[AdditionalMessage] | None = None
    metadata: dict[str, str] | None = None
    tool_resources: ToolResources | None = None


class RunCreateParams(_Params):
    """The parameters of ``POST /v1/threads/{thread_id}/runs`` (create a run, optionally streamed).

    ``include`` is a query parameter (``include[]=...`` in the URL); everything else is the JSON body.
    Constructing or validating one enforces the documented constraints; see :meth:`problems` for all of them at
    once and :meth:`from_recorded` to read a recorded body that breaks them.
    """

    assistant_id: str
    """The assistant that executes the run."""
    include: list[str] | None = None
    """Query parameter: extra fields to include in run steps."""
    additional_instructions: str | None = None
    """Appended to the instructions of the run."""
    additional_messages: list[AdditionalMessage] | None = None
    """Messages added to the thread before the run is created."""
    instructions: str | None = None
    """Overrides the assistant's instructions."""
    max_completion_tokens: int | None = None
    """At least 1: the run ends ``incomplete`` when it would use more completion tokens."""
    max_prompt_tokens: int | None = None
    """At least 1: the run ends ``incomplete`` when it would use more prompt tokens."""
    metadata: dict[str, str] | None = None
    """At most 16 pairs; keys at most 64 characters, values at most 512."""
    model: str | None = None
    """Overrides the assistant's model."""
    parallel_tool_calls: bool | None = None
    """Whether to enable parallel function calling during tool use."""
    response_format: str | ResponseFormat | None = None
    """``"auto"``, or an object of type ``text``, ``json_object`` or ``json_schema``."""
    stream: bool | None = None
    """Stream the run's events as server-sent events, ending with ``data: [DONE]``."""
    temperature: float | None = None
    """Sampling temperature, between 0 and 2."""
    tool_choice: str | ToolChoice | None = None
    """``none``, ``auto``, ``required`` or a named tool."""
    tools: list[Tool] | None = None
    """Overrides the assistant's tools."""
    top_p: float | None = None
    """Nucleus sampling probability mass, between 0 and 1."""
    truncation_strategy: TruncationStrategy | None = None
    """``auto``, or ``last_messages`` with ``last_messages`` at least 1."""


class ThreadCreateAndRunParams(_Params):
    """The parameters of ``POST /v1/threads/runs`` (create a thread and run it, optionally streamed).

    Constructing or validating one enforces the documented constraints (also on ``thread.metadata`` and the
    metadata of ``thread.messages``); see :meth:`problems` and :meth:`from_recorded`.
    """

    assistant_id: str
    """The assistant that executes the run."""
    instructions: str | None = None
    """Overrides the assistant's instructions."""
    max_completion_tokens: int | None = None
    """At least 1: the run ends ``incomplete`` when it would use more completion tokens."""
    max_prompt_tokens: int | None = None
    """At least 1: the run ends ``incomplete`` when it would use more prompt tokens."""
    metadata: dict[str, str] | None = None
    """At most 16 pairs; keys at most 64 characters, values at most 512."""
    model: str | None = None
    """Overrides the assistant's model."""
    parallel_tool_calls: bool | None = None
    """Whether to enable parallel function calling during tool use."""
    response_format: str | ResponseFormat | None = None
    """``"auto"``, or an object of type ``text``, ``json_object`` or ``json_schema``."""
    stream: bool | None = None
    """Stream the run's events as server-sent events, ending with ``data: [DONE]``."""
    temperature: float | None = None
    """Sampling temperature, between 0 and 2."""
    thread: ThreadParam | None = None
    """The thread to create; an empty thread when omitted."""
    tool_choice: str | ToolChoice | None = None
    """``none``, ``auto``, ``required`` or a named tool."""
    tool_resources: ToolResources | None = None
    """Resources for the assistant's tools (code interpreter files, file search vector stores)."""
    tools: list[Tool] | None = None
    """Overrides the assistant's tools."""
    top_p: float | None = None
    """Nucleus sampling probability mass, between 0 and 1."""
    truncation_strategy: TruncationStrategy | None = None
    """``auto``, or ``last_messages`` with ``last_messages`` at least 1."""
