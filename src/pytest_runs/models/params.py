"""Run-creation parameters and their documented constraints."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Self, cast

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from ._base import _describe
from .objects import MessageAttachment, ToolResources
from .tools import ResponseFormat, Tool, ToolChoice, TruncationStrategy

__all__ = [
    "CONSTRAINT_ERROR",
    "MAX_METADATA_KEY_LENGTH",
    "MAX_METADATA_PAIRS",
    "MAX_METADATA_VALUE_LENGTH",
    "MIN_TOKEN_LIMIT",
    "AdditionalMessage",
    "RunCreateParams",
    "ThreadCreateAndRunParams",
    "ThreadParam",
]


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
