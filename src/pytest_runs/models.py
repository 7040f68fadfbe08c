"""Pydantic models of what a cassette holds about runs: the ``Run`` object and stream events.

Fields the API adds later are kept (``extra="allow"``), never rejected: cassettes outlive API versions.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["Run", "StreamEvent"]


class Run(BaseModel):
    """An execution run on a thread (the ``thread.run`` object)."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: str = "thread.run"
    status: str
    thread_id: str | None = None
    assistant_id: str | None = None
    created_at: int | None = None


class StreamEvent(BaseModel):
    """One Server-Sent Event of a run stream: its name and its parsed data."""

    model_config = ConfigDict(extra="forbid")

    event: str | None
    data: Any
