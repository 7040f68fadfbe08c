"""pytest-runs: record OpenAI-style Assistants runs and their SSE streams into readable cassettes, and replay them
deterministically offline in pytest.

The pytest plugin (entry point ``runs``) is what most users need; this module is the public Python API.
"""

from __future__ import annotations

from .cassette import CassetteFile, Interaction, RecordedRequest, RecordedResponse, SSEEvent
from .errors import (
    CassetteFormatError,
    CassetteMissError,
    CassetteNotFoundError,
    NetworkBlockedError,
    PytestRunsError,
    RecordingIncompleteError,
    RequestConstraintWarning,
    SecretLeakError,
)
from .models import Run, RunCreateParams, StreamEvent, ThreadCreateAndRunParams, UnknownEvent, parse_event
from .session import RECORD_MODES, Cassette
from .snapshot import RunSnapshotExtension
from .storage import load_cassette
from .transcript import transcript

__all__ = [
    "RECORD_MODES",
    "Cassette",
    "CassetteFile",
    "CassetteFormatError",
    "CassetteMissError",
    "CassetteNotFoundError",
    "Interaction",
    "NetworkBlockedError",
    "PytestRunsError",
    "RecordedRequest",
    "RecordedResponse",
    "RecordingIncompleteError",
    "RequestConstraintWarning",
    "Run",
    "RunCreateParams",
    "RunSnapshotExtension",
    "SSEEvent",
    "SecretLeakError",
    "StreamEvent",
    "ThreadCreateAndRunParams",
    "UnknownEvent",
    "load_cassette",
    "parse_event",
    "transcript",
]
