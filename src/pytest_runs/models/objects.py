"""Threads, messages, run steps, deltas, errors: the other objects a run stream carries."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Tag

from ._base import _Other, _Response, _tag_of
from .run import LastError
from .tools import Usage

__all__ = [
    "CodeInterpreterCall",
    "CodeInterpreterResources",
    "CodeInterpreterToolCall",
    "ErrorEnvelope",
    "ErrorObject",
    "FileSearchResources",
    "FileSearchToolCall",
    "FunctionCall",
    "FunctionToolCall",
    "ImageFile",
    "ImageFileContentBlock",
    "ImageFileDeltaBlock",
    "ImageURL",
    "ImageURLContentBlock",
    "ImageURLDeltaBlock",
    "Message",
    "MessageAttachment",
    "MessageContent",
    "MessageCreation",
    "MessageCreationStepDetails",
    "MessageDelta",
    "MessageDeltaContent",
    "MessageDeltaDetail",
    "MessageIncompleteDetails",
    "OtherContentBlock",
    "OtherDeltaBlock",
    "OtherStepDetails",
    "OtherToolCall",
    "RefusalContentBlock",
    "RefusalDeltaBlock",
    "RunStep",
    "RunStepDelta",
    "RunStepDeltaDetail",
    "StepDetails",
    "StepDetailsDelta",
    "TextContent",
    "TextContentBlock",
    "TextDelta",
    "TextDeltaBlock",
    "Thread",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallsStepDetails",
    "ToolResources",
]


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
