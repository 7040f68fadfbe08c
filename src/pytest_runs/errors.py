"""The errors pytest-runs raises: each one is a diagnosis that says what happened, where, and how to fix it."""

from __future__ import annotations

__all__ = [
    "CassetteFormatError",
    "CassetteMissError",
    "CassetteNotFoundError",
    "NetworkBlockedError",
    "PytestRunsError",
    "RecordingIncompleteError",
    "RequestConstraintWarning",
    "SecretLeakError",
]


class PytestRunsError(Exception):
    """Base class of every error pytest-runs raises on purpose.

    It deliberately does not derive from ``httpx.RequestError`` (or its ``httpx2`` twin): SDKs retry and wrap those
    into "Connection error.", while ours must reach the test as it is.
    """


class CassetteMissError(PytestRunsError):
    """A request was made that the cassette has no (unplayed) recorded response for, and recording is not allowed."""


class CassetteNotFoundError(CassetteMissError):
    """Replay was asked for, but the cassette file does not exist."""


class CassetteFormatError(PytestRunsError):
    """A cassette file could not be read: corrupt YAML, a hand edit that broke the schema, an unknown version."""


class NetworkBlockedError(PytestRunsError):
    """A connection to a non-loopback address was attempted while the test replays from a cassette."""


class RecordingIncompleteError(PytestRunsError):
    """A replayed stream asked for more than was recorded (the client had closed it early while recording)."""


class SecretLeakError(PytestRunsError):
    """A secret would have been written to a cassette; nothing was written."""


class RequestConstraintWarning(UserWarning):
    """A recorded run-creation request breaks a documented constraint of the API (metadata size, temperature range,
    token limits, ...): the cassette may not show what the real API would have done with a valid request."""
