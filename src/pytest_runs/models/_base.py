"""Private building blocks shared by the response-side models, the stream events and the parameter models.

:class:`_Response` (keep what the server adds later), :class:`_Other` (a variant of an open union this release does
not know), the discriminator helper :func:`_tag_of`, and :func:`_describe`, which words one pydantic error as
``path: message``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic_core import ErrorDetails


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
