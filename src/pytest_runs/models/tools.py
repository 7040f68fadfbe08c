"""Tools, tool choice, response format, truncation strategy and token usage, as runs and run steps carry them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag

from ._base import _Other, _Response, _tag_of

__all__ = [
    "CodeInterpreterTool",
    "FileSearch",
    "FileSearchRankingOptions",
    "FileSearchTool",
    "FunctionDefinition",
    "FunctionTool",
    "JSONSchema",
    "OtherResponseFormat",
    "OtherTool",
    "ResponseFormat",
    "ResponseFormatJSONObject",
    "ResponseFormatJSONSchema",
    "ResponseFormatText",
    "Tool",
    "ToolChoice",
    "ToolChoiceFunction",
    "TruncationStrategy",
    "Usage",
]


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
